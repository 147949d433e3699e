"""Checks of comparison transformers, such as PairwiseTransformer.

A comparison transformer takes comparisons ``(n_pairs, 2, n_features)`` and
offers ``fit_resample`` (the number of rows changes) and/or ``transform``
(one row per comparison). Every check takes ``(name, estimator_orig)`` and
works on clones of it.
"""

import pickle

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.utils import get_tags

from ._check_data import (N_FEATURES, N_PAIRS, both_widths, different_params,
                          make_comparisons, public_attributes_added, raises, read_only_memmaps,
                          seeded_clone)

_SHAPE_MESSAGE = r"\(n_pairs, 2, n_features\)"


def _outputs(transformer, X, y=None):
    """Everything the transformer makes of comparisons, by name."""
    out = {}
    if hasattr(transformer, "fit_resample"):
        out["fit_resample X"], out["fit_resample y"] = transformer.fit_resample(X, y)
    if hasattr(transformer, "transform"):
        out["transform"] = transformer.fit(X, y).transform(X)
    return out


def _assert_same_outputs(actual, desired, what, rtol=0.0):
    assert actual.keys() == desired.keys()
    for key in desired:
        np.testing.assert_allclose(actual[key], desired[key], rtol=rtol, atol=0,
                                   err_msg=f"{what}: {key} differs")


def _sorted_rows(X_resampled, y_resampled):
    """Resampled rows with their labels, in lexicographic order (a multiset)."""
    rows = np.column_stack([X_resampled, y_resampled])
    return rows[np.lexsort(rows.T[::-1])]


def check_comparison_transformer_output(name, estimator_orig):
    """``fit`` returns the transformer and sets ``n_features_in_``; ``fit_resample``
    gives 2-D rows with one label in {0, 1} each (both labels, even for ``y=None``);
    ``transform`` gives one 2-D row per comparison, as ``fit_transform`` and a
    pipeline of the transformer do; negative features, one comparison and one
    feature are valid.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The comparison transformer to check; only clones of it are fitted.

    Examples
    --------
    >>> from skreward import PairwiseTransformer
    >>> from skreward.utils.estimator_checks import check_comparison_transformer_output
    >>> check_comparison_transformer_output("pairwise", PairwiseTransformer())
    """
    X, y, _ = make_comparisons()
    transformer = seeded_clone(estimator_orig)
    assert transformer.fit(X, y) is transformer, f"{name}.fit must return self"
    assert transformer.n_features_in_ == N_FEATURES
    if hasattr(transformer, "fit_resample"):
        for labels in (y, None):
            X_res, y_res = transformer.fit_resample(X, labels)
            assert X_res.ndim == 2 and y_res.shape == (len(X_res),), (X_res.shape, y_res.shape)
            assert set(np.unique(y_res).tolist()) == {0, 1}, (
                f"{name}.fit_resample must give rows of both labels 0 and 1")
    if hasattr(transformer, "transform"):
        X_out = transformer.fit(X, y).transform(X)
        assert X_out.ndim == 2 and len(X_out) == N_PAIRS, X_out.shape
        np.testing.assert_array_equal(seeded_clone(estimator_orig).fit_transform(X, y), X_out)
        np.testing.assert_array_equal(
            make_pipeline(seeded_clone(estimator_orig)).fit_transform(X, y), X_out)
    for data, labels, what in [(X - 5, y, "negative features"), (X[:1], y[:1], "one comparison"),
                               (X[:, :, :1], y, "one feature")]:
        for value in _outputs(seeded_clone(estimator_orig), data, labels).values():
            assert np.isfinite(value).all(), f"{name} fails on {what}"


def check_comparison_transformer_swap_invariance(name, estimator_orig):
    """Swapping the items of every comparison and flipping its label resamples the same
    rows with the same labels (in another order).

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The comparison transformer to check; only clones of it are fitted.

    Examples
    --------
    >>> from skreward import PairwiseTransformer
    >>> from skreward.utils.estimator_checks import check_comparison_transformer_swap_invariance
    >>> check_comparison_transformer_swap_invariance("pairwise", PairwiseTransformer())
    """
    X, y, _ = make_comparisons()
    rows = _sorted_rows(*seeded_clone(estimator_orig).fit_resample(X, y))
    swapped = _sorted_rows(*seeded_clone(estimator_orig).fit_resample(X[:, ::-1], 1 - y))
    np.testing.assert_allclose(swapped, rows, rtol=1e-12,
                               err_msg=f"{name}: swapped comparisons give other rows")


def check_comparison_transformer_row_order(name, estimator_orig):
    """Shuffled comparisons or a subset give the matching rows.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The comparison transformer to check; only clones of it are fitted.

    Examples
    --------
    >>> from skreward import PairwiseTransformer
    >>> from skreward.utils.estimator_checks import check_comparison_transformer_row_order
    >>> check_comparison_transformer_row_order("pairwise", PairwiseTransformer())
    """
    X, y, _ = make_comparisons()
    order = np.random.RandomState(1).permutation(len(X))
    if hasattr(estimator_orig, "fit_resample"):
        rows = _sorted_rows(*seeded_clone(estimator_orig).fit_resample(X, y))
        shuffled = _sorted_rows(*seeded_clone(estimator_orig).fit_resample(X[order], y[order]))
        np.testing.assert_array_equal(shuffled, rows, err_msg=f"{name}: shuffled comparisons")
    if hasattr(estimator_orig, "transform"):
        transformer = seeded_clone(estimator_orig).fit(X, y)
        X_out = transformer.transform(X)
        np.testing.assert_array_equal(transformer.transform(X[order]), X_out[order])
        np.testing.assert_array_equal(transformer.transform(X[:7]), X_out[:7])


def check_comparison_transformer_idempotent(name, estimator_orig):
    """Fitting twice gives the same output, even with another fit in between; ``fit``
    changes no parameter, adds no public attribute without a trailing ``_`` and leaves
    its input unchanged; ``transform`` changes no attribute.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The comparison transformer to check; only clones of it are fitted.

    Examples
    --------
    >>> from skreward import PairwiseTransformer
    >>> from skreward.utils.estimator_checks import check_comparison_transformer_idempotent
    >>> check_comparison_transformer_idempotent("pairwise", PairwiseTransformer())
    """
    X, y, _ = make_comparisons()
    other, y_other, _ = make_comparisons(seed=1)
    X_before, y_before = X.copy(), y.copy()
    transformer = seeded_clone(estimator_orig)
    params, attributes = transformer.get_params(deep=True), set(vars(transformer))
    first = _outputs(transformer, X, y)
    changed = different_params(params, transformer.get_params(deep=True))
    assert not changed, f"{name}.fit changed parameter(s) {changed}"
    added = public_attributes_added(attributes, transformer)
    assert not added, f"{name}.fit added public attribute(s) {added}"
    np.testing.assert_array_equal(X, X_before, err_msg=f"{name} modified X")
    np.testing.assert_array_equal(y, y_before, err_msg=f"{name} modified y")
    _outputs(transformer, other, y_other)
    _assert_same_outputs(_outputs(transformer, X, y), first, f"{name}: a second fit")
    if hasattr(transformer, "transform"):
        state = dict(vars(transformer.fit(X, y)))
        transformer.transform(X)
        changed = different_params(state, vars(transformer))
        assert not changed, f"{name}.transform changed attribute(s) {changed}"


def check_comparison_transformer_dtypes(name, estimator_orig):
    """float32 comparisons give float32 rows and float64 give float64; integer, object
    arrays and nested lists give the rows of the same float64 values.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The comparison transformer to check; only clones of it are fitted.

    Examples
    --------
    >>> from skreward import PairwiseTransformer
    >>> from skreward.utils.estimator_checks import check_comparison_transformer_dtypes
    >>> check_comparison_transformer_dtypes("pairwise", PairwiseTransformer())
    """
    X, y, _ = make_comparisons()
    X = np.round(2 * X)  # exact in every dtype below
    reference = _outputs(seeded_clone(estimator_orig), X, y)
    for dtype in (np.float64, np.float32):
        out = _outputs(seeded_clone(estimator_orig), X.astype(dtype), y)
        for key, value in out.items():
            if not key.endswith(" y"):
                assert value.dtype == dtype, f"{name}: {key} of {np.dtype(dtype)} is {value.dtype}"
    for converted in (X.astype(np.int64), X.astype(np.int32), X.astype(object), X.tolist()):
        out = _outputs(seeded_clone(estimator_orig), converted, y.tolist())
        _assert_same_outputs(out, reference, f"{name}: {type(converted).__name__} input")


def check_comparison_transformer_memory_layouts(name, estimator_orig):
    """Read-only memory maps (joblib's) and Fortran-ordered comparisons give the rows of
    C-ordered arrays.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The comparison transformer to check; only clones of it are fitted.

    Examples
    --------
    >>> from skreward import PairwiseTransformer
    >>> from skreward.utils.estimator_checks import check_comparison_transformer_memory_layouts
    >>> check_comparison_transformer_memory_layouts("pairwise", PairwiseTransformer())
    """
    X, y, _ = make_comparisons()
    reference = _outputs(seeded_clone(estimator_orig), X, y)
    fortran = _outputs(seeded_clone(estimator_orig), np.asfortranarray(X), y)
    _assert_same_outputs(fortran, reference, f"{name}: Fortran-ordered comparisons")
    with read_only_memmaps(X, y) as (X_m, y_m):
        mapped = _outputs(seeded_clone(estimator_orig), X_m, y_m)
    _assert_same_outputs(mapped, reference, f"{name}: memory-mapped comparisons")


def check_comparison_transformer_pickle(name, estimator_orig):
    """A pickled and restored transformer gives identical output.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The comparison transformer to check; only clones of it are fitted.

    Examples
    --------
    >>> from skreward import PairwiseTransformer
    >>> from skreward.utils.estimator_checks import check_comparison_transformer_pickle
    >>> check_comparison_transformer_pickle("pairwise", PairwiseTransformer())
    """
    X, y, _ = make_comparisons()
    transformer = seeded_clone(estimator_orig).fit(X, y)
    restored = pickle.loads(pickle.dumps(transformer))
    if hasattr(transformer, "transform"):
        np.testing.assert_array_equal(restored.transform(X), transformer.transform(X))
    _assert_same_outputs(_outputs(restored, X, y), _outputs(transformer, X, y),
                         f"{name}: after a pickle round trip")


def check_comparison_transformer_input_validation(name, estimator_orig):
    """Anything but comparisons is refused with a message that gives their shape;
    NaN and infinity with a message that says which; no comparisons, no features
    and complex numbers are refused too, and ``transform`` refuses NaN and 1-D input.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The comparison transformer to check; only clones of it are fitted.

    Examples
    --------
    >>> from skreward import PairwiseTransformer
    >>> from skreward.utils.estimator_checks import check_comparison_transformer_input_validation
    >>> check_comparison_transformer_input_validation("pairwise", PairwiseTransformer())
    """
    X, y, _ = make_comparisons()
    methods = ["fit"] + (["fit_resample"] if hasattr(estimator_orig, "fit_resample") else [])
    for method in methods:
        def call(data, labels=y):
            return getattr(seeded_clone(estimator_orig), method)(data, labels)
        for bad in (X[:, 0, 0], np.concatenate([X, X[:, :1]], axis=1)):
            with raises(ValueError, match=_SHAPE_MESSAGE, what=f"{name}.{method}"):
                call(bad)
        for value, message in [(np.nan, "NaN"), (np.inf, "infinity")]:
            bad = X.copy()
            bad[3, 1, 2] = value
            with raises(ValueError, match=message, what=f"{name}.{method}"):
                call(bad)
        for bad, labels in [(X[:0], y[:0]), (X[:, :, :0], y), (X + 1j, y)]:
            with raises(ValueError, what=f"{name}.{method}"):
                call(bad, labels)
    if hasattr(estimator_orig, "transform"):
        transformer = seeded_clone(estimator_orig).fit(X, y)
        bad = X.copy()
        bad[0, 0, 0] = np.nan
        with raises(ValueError, match="NaN", what=f"{name}.transform"):
            transformer.transform(bad)
        with raises(ValueError, what=f"{name}.transform of a 1-D array"):
            transformer.transform(X[:, 0, 0])


def check_comparison_transformer_n_features(name, estimator_orig):
    """``fit`` sets ``n_features_in_`` afresh; ``transform`` after ``fit`` refuses
    comparisons (and items) of another width with a message that names both widths;
    before ``fit`` it works only if the transformer needs no fit (tag
    ``requires_fit=False``).

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The comparison transformer to check; only clones of it are fitted.

    Examples
    --------
    >>> from skreward import PairwiseTransformer
    >>> from skreward.utils.estimator_checks import check_comparison_transformer_n_features
    >>> check_comparison_transformer_n_features("pairwise", PairwiseTransformer())
    """
    X, y, _ = make_comparisons()
    wide, _, wide_items = make_comparisons(n_features=N_FEATURES + 3)
    transformer = seeded_clone(estimator_orig)
    assert transformer.fit(wide, y).n_features_in_ == N_FEATURES + 3
    assert transformer.fit(X, y).n_features_in_ == N_FEATURES, "a new fit starts afresh"
    if not hasattr(transformer, "transform"):
        return
    unfitted = seeded_clone(estimator_orig)
    if get_tags(unfitted).requires_fit:
        with raises(NotFittedError, what=f"{name}.transform before fit"):
            unfitted.transform(X)
    else:
        unfitted.transform(X)
    widths = both_widths(N_FEATURES, N_FEATURES + 3)
    for bad in (wide, wide_items):
        with raises(ValueError, match=widths, what=f"{name}.transform of width {N_FEATURES + 3}"):
            transformer.transform(bad)


COMPARISON_TRANSFORMER_CHECKS = [
    check_comparison_transformer_output, check_comparison_transformer_row_order,
    check_comparison_transformer_idempotent, check_comparison_transformer_dtypes,
    check_comparison_transformer_memory_layouts, check_comparison_transformer_pickle,
    check_comparison_transformer_input_validation,
]
