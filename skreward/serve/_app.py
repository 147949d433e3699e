"""The FastAPI application of the reward server (imported only when serving)."""

import json
import secrets
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .._rerank import _ranked, score_texts
from ._batcher import MicroBatcher


class ServeError(Exception):
    """A request the server answers with ``status`` and a message, never a crash."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _strings(value, name, max_batch, *, allow_empty_list=False):
    if not isinstance(value, list):
        raise ServeError(422, f"'{name}' must be a list of strings; got "
                              f"{type(value).__name__}.")
    if not value and not allow_empty_list:
        raise ServeError(422, f"'{name}' must hold at least one string; got an empty list.")
    if len(value) > max_batch:
        raise ServeError(413, f"'{name}' holds {len(value)} texts; this server takes at most "
                              f"{max_batch} per request (--max-batch): split the request.")
    bad = next((i for i, v in enumerate(value) if not isinstance(v, str)), None)
    if bad is not None:
        raise ServeError(422, f"'{name}[{bad}]' must be a string; got "
                              f"{type(value[bad]).__name__}.")
    return value


def create_app(model, *, token=None, max_batch=1024, max_body_bytes=4_000_000,
               max_batch_items=256, max_wait_ms=0.0, info=None):
    """The reward server's ASGI application for a fitted model from texts to rewards.

    Parameters
    ----------
    model : estimator
        A fitted model from texts to rewards (see :func:`skreward.score_texts`).
    token : str, default=None
        Bearer token required by ``POST`` endpoints; ``None``: none required.
    max_batch : int, default=1024
        Texts per request; more is answered 413.
    max_body_bytes : int, default=4_000_000
        Bytes per request body; more is answered 413.
    max_batch_items : int, default=256
        Items per forward pass of the model (requests are batched together).
    max_wait_ms : float, default=0.0
        How long a batch waits for more requests once the model is free.
    info : dict, default=None
        Shown by ``GET /health`` (e.g. the model card's main fields).

    Returns
    -------
    app : fastapi.FastAPI
    """
    def score(prompts, responses):
        return score_texts(model, {"prompt": prompts, "response": responses})

    batcher = MicroBatcher(score, max_batch_items=max_batch_items, max_wait_ms=max_wait_ms)

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(title="skreward reward server", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.batcher = batcher

    @app.exception_handler(ServeError)
    async def serve_error(request, error):
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return JSONResponse({"detail": error.message}, status_code=error.status,
                            headers=headers)

    @app.exception_handler(Exception)
    async def internal_error(request, error):  # the model failed: answer, stay up
        return JSONResponse({"detail": f"internal error: {type(error).__name__}: {error}"},
                            status_code=500)

    async def read_json(request):
        if token is not None:
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
                raise ServeError(401, "missing or wrong bearer token: send the header "
                                      "'Authorization: Bearer <token>'.")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            raise ServeError(413, f"request body of {length} bytes; this server takes at most "
                                  f"{max_body_bytes} (--max-body-bytes).")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                raise ServeError(413, f"request body over {max_body_bytes} bytes "
                                      "(--max-body-bytes).")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise ServeError(400, f"malformed JSON: {error}.") from None
        except RecursionError:  # nesting deeper than the parser's recursion limit
            raise ServeError(400, "malformed JSON: nested too deeply.") from None
        if not isinstance(data, dict):
            raise ServeError(422, f"the body must be a JSON object; got "
                                  f"{type(data).__name__}.")
        return data

    async def rewards_of(request, prompts, responses, hint=""):
        if await request.is_disconnected():  # the client has gone: score nothing for it
            raise ServeError(499, "the client closed the connection before the answer.")
        try:
            return await batcher.submit(prompts, responses)
        except (ValueError, TypeError) as error:  # the model's validation of the texts
            raise ServeError(422, f"{error}{hint}") from None

    @app.get("/health")
    async def health():
        return {"status": "ok", "max_batch": max_batch, "max_body_bytes": max_body_bytes,
                "batches": batcher.n_batches, "items": batcher.n_items, **(info or {})}

    @app.post("/get_reward")
    async def get_reward(request: Request):
        """OpenRLHF's remote reward model: {"query": [...], "prompts": [...]} -> rewards."""
        data = await read_json(request)
        if "query" not in data:
            raise ServeError(422, "the body must have 'query': a list of full texts (prompt "
                                  "and response), and optionally 'prompts'.")
        queries = _strings(data["query"], "query", max_batch)
        hint = ""
        if data.get("prompts") is None:
            prompts = [""] * len(queries)
            responses = queries
            hint = (" (the request had no 'prompts': send them, one per query, so that each "
                    "query splits into its prompt and response)")
        else:
            prompts = _strings(data["prompts"], "prompts", max_batch)
            if len(prompts) != len(queries):
                raise ServeError(422, f"'prompts' must have one prompt per query: got "
                                      f"{len(prompts)} prompts for {len(queries)} queries.")
            bad = next((i for i, (q, p) in enumerate(zip(queries, prompts))
                        if not q.startswith(p)), None)
            if bad is not None:
                raise ServeError(422, f"query[{bad}] does not start with prompts[{bad}]: each "
                                      "query must be its prompt followed by the response.")
            responses = [q[len(p):] for q, p in zip(queries, prompts)]
        rewards, std = await rewards_of(request, prompts, responses, hint)
        # newer OpenRLHF servers also answer "scores" (its dynamic filtering reads them)
        out = {"rewards": rewards.tolist(), "scores": rewards.tolist()}
        if std is not None:
            out["uncertainty"] = std.tolist()
        return out

    @app.post("/rerank")
    async def rerank(request: Request):
        """{"prompt": str, "responses": [...]} -> the best response and the ranking."""
        data = await read_json(request)
        prompt = data.get("prompt")
        if not isinstance(prompt, str):
            raise ServeError(422, "the body must have 'prompt' (a string) and 'responses' "
                                  "(a list of strings).")
        responses = _strings(data.get("responses"), "responses", max_batch)
        rewards, std = await rewards_of(request, [prompt] * len(responses), responses)
        ranked = _ranked(rewards, std)
        return {"best": ranked.best, "order": ranked.order.tolist(),
                "rewards": ranked.rewards.tolist(),
                "sorted_rewards": ranked.sorted_rewards.tolist(),
                "uncertainty": None if std is None else std.tolist()}

    return app
