"""The reward server: ``skreward serve MODEL`` (FastAPI on uvicorn, the ``serve`` extra).

Endpoints:

* ``POST /get_reward`` - OpenRLHF's remote reward-model protocol:
  ``{"query": [full texts], "prompts": [prompts]}`` -> ``{"rewards": [...]}``
  (and ``"uncertainty"`` for an ensemble); each query is its prompt followed
  by the response;
* ``POST /rerank`` - ``{"prompt": str, "responses": [...]}`` -> ``best``,
  ``order``, ``rewards``, ``sorted_rewards``, ``uncertainty``;
* ``GET /health`` - status, limits, and the model card's main fields.

Concurrent requests are scored together in one forward pass of the model.
FastAPI and uvicorn are imported only when a server is created.
"""

import argparse
import os

__all__ = ["create_app"]

DEFAULT_HOST = "127.0.0.1"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def create_app(model, **kwargs):
    """The reward server's ASGI application (FastAPI) for a fitted model from texts to rewards.

    Parameters
    ----------
    model : estimator
        A fitted model from texts to rewards, e.g. a pipeline of a
        :class:`~skreward.SentenceEmbedder` and a reward model (see
        :func:`skreward.score_texts`).
    **kwargs : dict
        ``token``, ``max_batch``, ``max_body_bytes``, ``max_batch_items``,
        ``max_wait_ms``, ``info``: see the :ref:`deployment guide <deployment>`.

    Returns
    -------
    app : fastapi.FastAPI
        Start it with uvicorn, or test it with ``fastapi.testclient.TestClient``.

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skreward import OrderConsistentClassifier, TextVectorizer
    >>> from skreward.serve import create_app
    >>> triples = {"prompt": ["Hi", "Hello"], "chosen": ["Hello! How can I help?",
    ...            "Hello, how can I help you?"], "rejected": ["No.", "Go away."]}
    >>> model = make_pipeline(TextVectorizer(TfidfVectorizer()),
    ...                       OrderConsistentClassifier(LogisticRegression())).fit(triples)
    >>> with TestClient(create_app(model)) as client:
    ...     answer = client.post("/get_reward", json={"query": ["Hi Hello!", "Hi No."],
    ...                                               "prompts": ["Hi ", "Hi "]})
    >>> answer.status_code, len(answer.json()["rewards"])
    (200, 2)
    """
    try:
        from ._app import create_app as make
    except ImportError as error:
        raise ImportError("the reward server needs FastAPI and uvicorn: pip install "
                          "'skreward[serve]'.") from error
    return make(model, **kwargs)


def add_parser(commands):
    """Add ``serve`` to the ``skreward`` command's subcommands."""
    serve = commands.add_parser(
        "serve", help="serve a saved model's rewards over HTTP (OpenRLHF's remote reward "
                      "model protocol, a rerank endpoint)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    serve.add_argument("model", help="a model file written by skreward.save")
    serve.add_argument("--host", default=DEFAULT_HOST,
                       help="address to bind (loopback by default; another address exposes "
                            "the server to the network)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind")
    serve.add_argument("--token", default=None,
                       help="bearer token required by POST requests (default: the "
                            "SKREWARD_TOKEN environment variable, else none)")
    serve.add_argument("--max-batch", type=int, default=1024, help="texts per request")
    serve.add_argument("--max-body-bytes", type=int, default=4_000_000,
                       help="bytes per request body")
    serve.add_argument("--max-batch-items", type=int, default=256,
                       help="items per forward pass (concurrent requests are batched)")
    serve.add_argument("--max-wait-ms", type=float, default=0.0,
                       help="how long a forward pass waits for more requests once the model "
                            "is free (0: it starts at once)")
    serve.add_argument("--torch-threads", type=int, default=None,
                       help="torch's intra-op threads (default: torch's choice; 1 suits a "
                            "busy machine)")
    serve.add_argument("--device", default=None,
                       help="torch device of the model (default: as saved, or cpu)")
    serve.add_argument("--trust", nargs="*", default=None, metavar="TYPE",
                       help="type names in the file to trust beyond skreward's own")
    return serve


def main(args, parser):
    """Run ``skreward serve`` with parsed ``args``."""
    from .._persistence import load, read_card

    for name in ("port", "max_batch", "max_body_bytes", "max_batch_items"):
        value = getattr(args, name)
        if value < (0 if name == "port" else 1) or (name == "port" and value > 65535):
            parser.exit(2, f"skreward: error: --{name.replace('_', '-')} must be a positive "
                           f"integer (a port in 0-65535); got {value}.\n")
    if args.torch_threads is not None:
        if args.torch_threads < 1:
            parser.exit(2, "skreward: error: --torch-threads must be a positive integer; got "
                           f"{args.torch_threads}.\n")
        import torch

        torch.set_num_threads(args.torch_threads)
    try:
        model = load(args.model, trusted=args.trust, device=args.device)
        card = read_card(args.model)
    except (ValueError, OSError) as error:
        parser.exit(2, f"skreward: error: {error}\n")
    info = {"model": card["model"]["class"], "skreward": card["versions"].get("skreward"),
            "embedders": [e.get("model") for e in card["embedders"]],
            "normalization": card["normalization"]}
    token = args.token if args.token is not None else os.environ.get("SKREWARD_TOKEN") or None
    app = create_app(model, token=token, max_batch=args.max_batch,
                     max_body_bytes=args.max_body_bytes, max_batch_items=args.max_batch_items,
                     max_wait_ms=max(args.max_wait_ms, 0.0), info=info)
    import uvicorn

    if args.host not in LOOPBACK:
        print(f"warning: binding {args.host} exposes the server beyond this machine"
              + ("" if token else "; no --token is set"), flush=True)
    print(f"skreward: serving {args.model} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=5)
    return 0
