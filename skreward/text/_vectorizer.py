"""TextVectorizer: items or triples -> arrays with a scikit-learn text vectorizer."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from .._validation import check_texts
from ._formats import as_text_table


def default_vectorizer():
    """TF-IDF of character 2-5-grams, reduced to 256 dense dimensions (LSA)."""
    return make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                        max_features=100_000, dtype=np.float32),
        TruncatedSVD(256, random_state=0),
    )


class TextVectorizer(TransformerMixin, BaseEstimator):
    """Vectorize the responses of items or triples with a scikit-learn text transformer.

    The counterpart of :class:`SentenceEmbedder` for features learned from the
    training texts: ``fit`` fits ``vectorizer`` on the responses it is given
    (both answers of every triple), ``transform`` turns items into
    ``(n_items, n_features)`` and triples into ``(n_pairs, 2, n_features)``
    with the chosen response first. In a :class:`~sklearn.pipeline.Pipeline`
    before a reward model, cross-validation therefore fits the vocabulary on
    each training fold only. The whole response is read, however long; the
    prompt is not used (its features would cancel in same-prompt comparisons).
    Preferences in TRL's formats or a ``datasets.Dataset`` are read through
    :func:`~skreward.text.normalize_preferences` (conversations in its plain
    rendering); pairs of strings without a prompt are the responses as given.

    On real preference data, n-grams of the answers can be stronger features
    than a small pre-trained embedding; the :ref:`user guide <text>` compares
    them.

    Parameters
    ----------
    vectorizer : transformer, default=None
        Maps a list of strings to a matrix, e.g. a
        :class:`~sklearn.feature_extraction.text.TfidfVectorizer`, or a
        pipeline ending in :class:`~sklearn.decomposition.TruncatedSVD`; it is
        cloned before fitting. ``None``: TF-IDF of character 2-5-grams
        (``analyzer="char_wb"``, sublinear, ``min_df=2``, at most 100,000
        n-grams) reduced to 256 dimensions by ``TruncatedSVD(256,
        random_state=0)`` (fewer when fitted on fewer than 256 responses:
        one per response). Sparse output is made dense, since reward models
        take dense arrays: reduce wide vocabularies first.
    allow_empty : bool, default=False
        Whether responses may be empty or whitespace-only strings. ``False``
        refuses them with an error naming the row; ``True`` vectorizes them
        as they are (with TF-IDF, a row of zeros), so that every candidate
        of a Best-of-N set keeps a row.

    Attributes
    ----------
    vectorizer_ : transformer
        The fitted clone of ``vectorizer``.
    n_features_out_ : int
        Features per response.

    See Also
    --------
    skreward.SentenceEmbedder : Embeddings from a pre-trained model.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from skreward import TextVectorizer
    >>> triples = {"prompt": ["Hi", "Hi"],
    ...            "chosen": ["Hello, how can I help?", "Hello there!"],
    ...            "rejected": ["Go away.", "What do you want?"]}
    >>> vectorizer = TextVectorizer(TfidfVectorizer()).fit(triples)
    >>> vectorizer.transform(triples).shape
    (2, 2, 11)
    >>> vectorizer.transform({"response": ["Hello!"]}).shape
    (1, 11)
    """

    _parameter_constraints = {"vectorizer": [HasMethods(["fit", "transform"]), None],
                              "allow_empty": ["boolean"]}

    def __init__(self, vectorizer=None, *, allow_empty=False):
        self.vectorizer = vectorizer
        self.allow_empty = allow_empty

    def fit(self, X, y=None):
        """Fit the vectorizer on the responses of ``X``.

        Parameters
        ----------
        X : DataFrame or dict of lists
            Items (``response``) or triples (``chosen``, ``rejected``); a
            ``prompt`` column may be present and is ignored.
        y : None
            Ignored.

        Returns
        -------
        self : TextVectorizer
        """
        self._validate_params()
        self.vectorizer_ = clone(self.vectorizer) if self.vectorizer is not None \
            else default_vectorizer()
        self.vectorizer_.fit(_responses(X, self.allow_empty))
        self.n_features_out_ = self._vectorize(["x"]).shape[1]  # any vectorizer's width
        return self

    def transform(self, X):
        """Vectorize the responses of items or triples.

        Parameters
        ----------
        X : DataFrame or dict of lists
            As in :meth:`fit`; every response must be a non-empty string
            unless ``allow_empty=True``.

        Returns
        -------
        X_out : ndarray of shape (n_items, n_features) or (n_pairs, 2, n_features)
            Items, or comparisons with the chosen response first. float32.
        """
        check_is_fitted(self)
        kind, columns = check_texts(as_text_table(X, needs_prompt=False,
                                                  allow_empty=self.allow_empty),
                                    needs_prompt=False, allow_empty=self.allow_empty)
        if kind == "items":
            return self._vectorize(columns["response"])
        both = self._vectorize(columns["chosen"] + columns["rejected"])
        n = len(columns["chosen"])
        return np.stack([both[:n], both[n:]], axis=1)

    def _vectorize(self, texts):
        out = self.vectorizer_.transform(texts)
        out = out.toarray() if sp.issparse(out) else np.asarray(out)
        return out.astype(np.float32, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.dict = True
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        return tags


def _responses(X, allow_empty):
    """All responses of items or triples (chosen, then rejected), checked."""
    kind, columns = check_texts(as_text_table(X, needs_prompt=False, allow_empty=allow_empty),
                                needs_prompt=False, allow_empty=allow_empty)
    if kind == "items":
        return columns["response"]
    return columns["chosen"] + columns["rejected"]
