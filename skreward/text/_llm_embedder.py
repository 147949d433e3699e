"""LLMEmbedder: items or triples -> arrays from a language model's last hidden state."""

from numbers import Integral
import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._validation import check_texts
from ._base import EmbedderMixin
from ._cache import EmbeddingCache
from ._formats import as_text_table
from ._llm_model import (DTYPES, context_length, forward, load, model_identity, render_pair,
                         token_ids)


class LLMEmbedder(EmbedderMixin, TransformerMixin, BaseEstimator):
    """Embed items or triples with a language model's last hidden state (the paper's recipe).

    A scikit-learn transformer over a Hugging Face ``transformers`` model:
    each (prompt, response) is rendered as a chat, the prompt as the user's
    turn and the response as the assistant's (with the tokenizer's chat
    template when it has one), and the embedding is the last layer's hidden
    state at the last token of that text, as Sun, Shen & Ton embed their
    data. The output has the shapes of :class:`SentenceEmbedder`: items
    ``(n_items, d)``, comparisons ``(n_pairs, 2, d)`` with the chosen
    response first, ``d`` the model's hidden size.

    Texts are batched by length (longest first, so each batch holds texts of
    about one length) and padded on the tokenizer's ``padding_side``; the
    attention mask says where each text ends, and positions count its real
    tokens only, so left and right padding give the same embedding. A text
    longer than ``max_length`` keeps its end: the response and the last turns
    of the prompt.

    Parameters
    ----------
    model : str, path-like or transformers model
        A local folder of a Hugging Face ``transformers`` model (as
        ``save_pretrained`` writes it; a causal LM's folder is fine, its head
        is not loaded), a model name already in the local Hugging Face cache,
        or a loaded model (``PreTrainedModel``), used where it is, in its
        own dtype (``device`` and ``torch_dtype`` are ignored) and never
        changed. Nothing is downloaded. Loading happens on first use.
    tokenizer : transformers tokenizer, default=None
        The model's tokenizer; ``None`` loads it from the model's folder. It
        is required with a loaded model. It is never changed.
    pooling : {"last", "mean"}, default="last"
        ``"last"``: the hidden state at the last token (the paper's recipe).
        ``"mean"``: the mean of the hidden states of all tokens of the text.
    chat_template : {"auto", "plain"}, default="auto"
        ``"auto"``: the tokenizer's chat template when it has one, applied to
        ``[{"role": "user", "content": prompt}, {"role": "assistant",
        "content": response}]`` (a multi-turn prompt, as in HH-RLHF, is one
        user turn); otherwise, and with ``"plain"``, the plain rendering
        ``prompt + "\\n\\nAssistant: " + response``.
    batch_size : int, default=8
        Texts per forward pass.
    max_length : int, default=None
        Tokens read per text; longer texts lose their start. ``None``: the
        model's context length (``max_position_embeddings``), or the
        tokenizer's ``model_max_length`` if smaller.
    device : str, default=None
        Torch device of a model loaded from a folder; ``None``: ``"cuda"``
        when a GPU is available, else ``"cpu"``.
    torch_dtype : {"auto", "float32", "bfloat16", "float16"}, default="auto"
        Weights' dtype of a model loaded from a folder. ``"auto"``: bfloat16
        on a GPU, float32 on a CPU. Embeddings are returned as float32.
    show_progress_bar : bool, default=False
        Show a progress bar (tqdm) while embedding.
    cache : str, path-like or EmbeddingCache, default=None
        Where embeddings are kept so that each distinct text is embedded
        once: a directory (shared by runs and processes) or an
        :class:`~skreward.EmbeddingCache`. Entries are keyed by the model's
        weights (or folder), its tokenizer, ``pooling``, ``chat_template``,
        ``max_length`` and the dtype, and the text.
    allow_empty : bool, default=False
        Whether responses may be empty or whitespace-only strings.

    Attributes
    ----------
    None: the embedder is stateless. A model it loads is kept privately for
    later calls and is never pickled.

    See Also
    --------
    skreward.SentenceEmbedder : Embeddings from a sentence-transformers model.
    skreward.EmbeddingCache : The cache of embeddings.

    Notes
    -----
    :func:`sklearn.clone` deep-copies parameters, a loaded ``model`` among
    them; in a searched pipeline, pass the model's folder instead, or embed
    once before the search. A loaded model is fingerprinted (all its weights
    hashed) once per embedder, for the cache.

    Examples
    --------
    A tiny randomly initialised model stands in for a real one here:

    >>> import torch
    >>> from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast
    >>> from tokenizers import Tokenizer, models, pre_tokenizers, Regex
    >>> from skreward import LLMEmbedder
    >>> vocab = {c: i for i, c in enumerate(["<unk>"] + [chr(i) for i in range(32, 127)])}
    >>> backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    >>> backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    >>> tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")
    >>> with torch.random.fork_rng():
    ...     _ = torch.manual_seed(0)
    ...     model = GPT2Model(GPT2Config(vocab_size=len(vocab), n_embd=16, n_layer=1,
    ...                                  n_head=2, n_positions=128))
    >>> embedder = LLMEmbedder(model, tokenizer=tokenizer)
    >>> triples = {"prompt": ["How do I pick a lock?"],
    ...            "chosen": ["I can't help with that."],
    ...            "rejected": ["Insert a tension wrench."]}
    >>> embedder.transform(triples).shape
    (1, 2, 16)
    """

    _parameter_constraints = {
        "model": [str, os.PathLike, HasMethods(["forward", "parameters"])],
        "tokenizer": [HasMethods(["__call__", "convert_tokens_to_ids"]), None],
        "pooling": [StrOptions({"last", "mean"})],
        "chat_template": [StrOptions({"auto", "plain"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_length": [Interval(Integral, 2, None, closed="left"), None],
        "device": [str, None],
        "torch_dtype": [StrOptions(set(DTYPES))],
        "show_progress_bar": ["boolean"],
        "cache": [str, os.PathLike, EmbeddingCache, None],
        "allow_empty": ["boolean"],
    }

    def __init__(self, model, *, tokenizer=None, pooling="last", chat_template="auto",
                 batch_size=8, max_length=None, device=None, torch_dtype="auto",
                 show_progress_bar=False, cache=None, allow_empty=False):
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.chat_template = chat_template
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.torch_dtype = torch_dtype
        self.show_progress_bar = show_progress_bar
        self.cache = cache
        self.allow_empty = allow_empty

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
        self : LLMEmbedder
        """
        self._validate_params()
        check_texts(self._table(X), allow_empty=self.allow_empty)
        return self

    def transform(self, X):
        """Embed items or triples.

        Parameters
        ----------
        X : DataFrame, dict of lists or datasets.Dataset
            Items: columns ``prompt`` and ``response``. Triples: columns
            ``prompt``, ``chosen`` and ``rejected``. Other columns are
            ignored. Preferences in TRL's formats (implicit prompt,
            conversational, unpaired) are normalised first by
            :func:`~skreward.text.normalize_preferences`, conversations in
            its plain rendering; the chat template is then applied to each
            (prompt, response) as described above.

        Returns
        -------
        X_out : ndarray of shape (n_items, d) or (n_pairs, 2, d)
            Items, or comparisons with the chosen response first. float32.
        """
        self._validate_params()
        kind, columns = check_texts(self._table(X), allow_empty=self.allow_empty)
        return self._arrays(kind, columns)

    def _table(self, X):
        """``X`` as a table of strings: TRL's formats normalised, conversations rendered plain.

        The chat template (if any) is applied later, to each (prompt, response)
        pair, so that a conversation and its plain text (HH-RLHF's strings)
        give one embedding.
        """
        return as_text_table(X, tokenizer=None, allow_empty=self.allow_empty)

    # -- embedding ---------------------------------------------------------------

    def _embed_items(self, prompts, responses):
        return self._embed([("chat", p, r) for p, r in zip(prompts, responses)])

    def _encode(self, requests):
        """Run the model on the rendered texts, longest first, one batch at a time."""
        from tqdm.auto import tqdm

        module, tokenizer, _ = self._load()
        rendered = [render_pair(tokenizer, p, r, self.chat_template) for _, p, r in requests]
        templated = rendered[0][1]
        ids = token_ids(tokenizer, [text for text, _ in rendered],
                        special_tokens=not templated,
                        max_length=context_length(module, tokenizer, self.max_length))
        order = np.argsort([-len(row) for row in ids], kind="stable")
        pad_id = _pad_id(tokenizer)
        padding_side = getattr(tokenizer, "padding_side", "right")
        was_training = module.training
        module.eval()
        try:
            with tqdm(total=len(ids), desc="Embedding", unit="text",
                      disable=not self.show_progress_bar) as bar:
                for start in range(0, len(order), self.batch_size):
                    chunk = order[start:start + self.batch_size]
                    vectors = forward(module, [ids[i] for i in chunk], pad_id=pad_id,
                                      padding_side=padding_side, pooling=self.pooling)
                    bar.update(len(chunk))
                    yield chunk, vectors
        finally:
            module.train(was_training)

    # -- what is kept between calls -----------------------------------------------------

    def _source_key(self):
        """What identifies the model and tokenizer given: a path, or the objects' ids."""
        model = self.model if isinstance(self.model, (str, os.PathLike)) else id(self.model)
        return model, None if self.tokenizer is None else id(self.tokenizer)

    def _load(self):
        """(base module, tokenizer, device), loaded on first use."""
        return self._memo(
            "model", (self._source_key(), self.device, self.torch_dtype),
            lambda: load(self.model, self.tokenizer, device=self.device,
                         torch_dtype=self.torch_dtype, quiet=not self.show_progress_bar))

    def _namespace(self):
        """Identity of the model, the tokenizer and the settings that change the vectors."""
        def compute():
            module, tokenizer, device = self._load()
            dtype = next(module.parameters()).dtype
            identity = self._memo("identity", self._source_key(),
                                  lambda: model_identity(self.model, tokenizer))
            return (f"llm|{identity}|pooling={self.pooling}|chat_template={self.chat_template}"
                    f"|max_length={self.max_length}|dtype={dtype}|v1")

        return self._memo("namespace", (self._source_key(), self.device, self.torch_dtype,
                                        self.pooling, self.chat_template, self.max_length),
                          compute)


def _pad_id(tokenizer):
    """A token id to pad with (masked out, so any id will do): pad, else eos, else 0."""
    for name in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, Integral):
            return int(value)
    return 0

