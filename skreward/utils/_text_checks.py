"""Checks of text front ends, such as SentenceEmbedder and TextVectorizer.

A text front end takes a table of texts (a DataFrame or a dict of lists):
columns ``prompt`` and ``response`` give items ``(n_items, n_features)``,
``prompt``, ``chosen`` and ``rejected`` give comparisons
``(n_pairs, 2, n_features)`` with the chosen response first. Every check takes
``(name, estimator_orig)`` and works on clones of it; the tables are a
handful of short texts, so a sentence-transformers model embeds them quickly.
"""

import pickle

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags

from ._check_data import different_params, raises, seeded_clone

_PROMPTS = ["How do I boil an egg?", "Name a prime number."]
_ITEMS = {"prompt": [_PROMPTS[0], _PROMPTS[0], _PROMPTS[1]],
          "response": ["Simmer it for nine minutes, then cool it in cold water.",
                       "Eggs come from hens.", "Seven is prime."]}
_TRIPLES = {"prompt": _PROMPTS,
            "chosen": ["Simmer it for nine minutes, then cool it in cold water.",
                       "Seven is prime."],
            "rejected": ["Eggs come from hens.", "Nine is a prime number."]}
_OTHER_TRIPLES = {"prompt": ["Say hi."], "chosen": ["Hi there, nice to meet you!"],
                  "rejected": ["No, go away."]}


def _table(columns, drop=()):
    return pd.DataFrame({k: v for k, v in columns.items() if k not in drop})


def check_text_transformer_output(name, estimator_orig):
    """Items become ``(n_items, n_features)`` and triples ``(n_pairs, 2, n_features)``
    float32 arrays, the chosen response first (each side equal to the items it is
    made of); a dict of lists equals a DataFrame; other columns are ignored.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The text front end to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from skreward import TextVectorizer
    >>> from skreward.utils.estimator_checks import check_text_transformer_output
    >>> check_text_transformer_output("vectorizer", TextVectorizer(TfidfVectorizer()))
    """
    transformer = seeded_clone(estimator_orig)
    items, triples = _table(_ITEMS), _table(_TRIPLES)
    if get_tags(transformer).requires_fit:
        with raises(NotFittedError, what=f"{name}.transform before fit"):
            transformer.transform(items)
    assert transformer.fit(triples) is transformer, f"{name}.fit must return self"
    X_items, X_pairs = transformer.transform(items), transformer.transform(triples)
    assert X_items.ndim == 2 and len(X_items) == len(items), X_items.shape
    assert X_pairs.shape == (len(triples), 2, X_items.shape[1]), (X_pairs.shape, X_items.shape)
    for out in (X_items, X_pairs):
        assert out.dtype == np.float32 and np.isfinite(out).all(), out.dtype
    for side, column in enumerate(["chosen", "rejected"]):
        alone = transformer.transform({"prompt": _TRIPLES["prompt"], "response": _TRIPLES[column]})
        np.testing.assert_allclose(X_pairs[:, side], alone, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}: the {column} side of triples")
    np.testing.assert_allclose(transformer.transform(_ITEMS), X_items, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(transformer.transform(items.assign(id=range(len(items)))),
                               X_items, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(seeded_clone(estimator_orig).fit_transform(triples), X_pairs,
                               rtol=1e-5, atol=1e-6)


def check_text_transformer_missing_column(name, estimator_orig):
    """A table without a needed column, with a missing text or not a table at all is
    refused by ``fit`` and ``transform`` with a message that names the column; the
    prompt column may be absent only where it is not used.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The text front end to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from skreward import TextVectorizer
    >>> from skreward.utils.estimator_checks import check_text_transformer_missing_column
    >>> check_text_transformer_missing_column("vectorizer", TextVectorizer(TfidfVectorizer()))
    """
    fitted = seeded_clone(estimator_orig).fit(_table(_TRIPLES))
    methods = {"fit": lambda X: seeded_clone(estimator_orig).fit(X),
               "transform": fitted.transform}
    with_none = dict(_ITEMS, response=[_ITEMS["response"][0], None, _ITEMS["response"][2]])
    for method, call in methods.items():
        for table, column in [(_table(_ITEMS, drop=["response"]), "response"),
                              (_table(_TRIPLES, drop=["rejected"]), "rejected"),
                              (_table(with_none), "response")]:
            with raises(ValueError, match=column, what=f"{name}.{method} without {column}"):
                call(table)
        with raises((ValueError, TypeError), what=f"{name}.{method} of a list of strings"):
            call(_ITEMS["response"])
        try:
            call(_table(_ITEMS, drop=["prompt"]))
        except ValueError as exc:
            assert "prompt" in str(exc), f"{name}.{method} without prompt: {exc}"


def check_text_transformer_idempotent(name, estimator_orig):
    """Fitting twice gives the same output, even with another fit in between; ``fit``
    changes no parameter and leaves the table unchanged.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The text front end to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from skreward import TextVectorizer
    >>> from skreward.utils.estimator_checks import check_text_transformer_idempotent
    >>> check_text_transformer_idempotent("vectorizer", TextVectorizer(TfidfVectorizer()))
    """
    triples = _table(_TRIPLES)
    before = triples.copy()
    transformer = seeded_clone(estimator_orig)
    params = transformer.get_params(deep=True)
    first = transformer.fit(triples).transform(triples)
    changed = different_params(params, transformer.get_params(deep=True))
    assert not changed, f"{name}.fit changed parameter(s) {changed}"
    pd.testing.assert_frame_equal(triples, before)
    transformer.fit(_table(_OTHER_TRIPLES))
    np.testing.assert_array_equal(transformer.fit(triples).transform(triples), first)
    np.testing.assert_array_equal(transformer.transform(triples), first)


def check_text_transformer_pickle(name, estimator_orig):
    """A pickled and restored front end gives identical arrays.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The text front end to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from skreward import TextVectorizer
    >>> from skreward.utils.estimator_checks import check_text_transformer_pickle
    >>> check_text_transformer_pickle("vectorizer", TextVectorizer(TfidfVectorizer()))
    """
    transformer = seeded_clone(estimator_orig).fit(_table(_TRIPLES))
    restored = pickle.loads(pickle.dumps(transformer))
    for table in (_TRIPLES, _ITEMS):
        np.testing.assert_array_equal(restored.transform(table), transformer.transform(table),
                                      err_msg=f"{name}: after a pickle round trip")


TEXT_TRANSFORMER_CHECKS = [
    check_text_transformer_output, check_text_transformer_missing_column,
    check_text_transformer_idempotent, check_text_transformer_pickle,
]
