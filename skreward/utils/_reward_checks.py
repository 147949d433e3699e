"""Checks of what a reward model learns from comparisons.

Every check takes ``(name, estimator_orig)``, as scikit-learn's checks do,
fits clones of ``estimator_orig`` on small seeded comparisons
``(n_pairs, 2, n_features)`` and raises ``AssertionError`` on a violation.
"""

import warnings

import numpy as np
from sklearn.exceptions import DataConversionWarning

from ._check_data import (FLOAT32_RTOL, N_PAIRS, assert_same_rewards, fit_rewards,
                          make_comparisons, raises, read_only_memmaps, seeded_clone)


def check_reward_model_fit(name, estimator_orig):
    """``fit`` returns the model; rewards are one finite float per item; it learns.

    On easy comparisons (a linear reward, little label noise) the order
    consistency ``score`` on the training comparisons is at least 0.7;
    features that are all negative are valid input.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The reward model to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import check_reward_model_fit
    >>> check_reward_model_fit("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    model = seeded_clone(estimator_orig)
    assert model.fit(X, y) is model, f"{name}.fit must return self"
    reward = np.asarray(model.decision_function(items))
    assert reward.shape == (len(items),), (
        f"{name}.decision_function of {len(items)} items has shape {reward.shape}")
    assert reward.dtype.kind == "f" and np.isfinite(reward).all(), (
        f"{name}.decision_function must return finite floats; got {reward.dtype}")
    score = model.score(X, y)
    assert 0.7 <= score <= 1, (
        f"{name}.score of its training comparisons is {score:.3f}: it should order at least "
        "70% of easy comparisons as labelled (and a score is at most 1)")
    shifted = fit_rewards(seeded_clone(estimator_orig), X - 5, y, items - 5)
    assert np.isfinite(shifted).all(), f"{name} fails on negative features"


def check_reward_model_labels(name, estimator_orig):
    """``y=None`` means the first item is preferred; {-1, +1}, booleans and a column
    ``(n_pairs, 1)`` code the same labels as {0, 1}; labels outside [0, 1] (soft labels
    inside it may be accepted), NaN, and the wrong number of labels are refused.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The reward model to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import check_reward_model_labels
    >>> check_reward_model_labels("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    reference = fit_rewards(seeded_clone(estimator_orig), X, y, items)
    chosen_first = np.where(y[:, None, None] == 1, X, X[:, ::-1])
    implicit = fit_rewards(seeded_clone(estimator_orig), chosen_first, None, items)
    explicit = fit_rewards(seeded_clone(estimator_orig), chosen_first, np.ones_like(y), items)
    assert_same_rewards(implicit, explicit, rtol=0, what=f"{name}: y=None and y=1")
    column = y.reshape(-1, 1)
    for coded, what in [(2 * y - 1, "labels in {-1, 1}"), (y.astype(bool), "boolean labels"),
                        (column, "labels as a column"), (y.tolist(), "a list of labels")]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataConversionWarning)
            fitted = fit_rewards(seeded_clone(estimator_orig), X, coded, items)
        assert_same_rewards(fitted, reference, rtol=0, what=f"{name}: {what} and {{0, 1}}")
    bad_labels = [(y * 1.5 - 0.25, r"(?i)label"), (y * 2 - (y == 0), r"(?i)label"),
                  (np.where(y == 1, 1.0, np.nan), r"(?i)label|nan"), (y[:-1], str(N_PAIRS - 1))]
    for labels, message in bad_labels:
        with raises(ValueError, match=message):
            seeded_clone(estimator_orig).fit(X, labels)


def check_reward_model_dtypes(name, estimator_orig):
    """float32, float64, integer, object arrays and nested lists give the same model.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The reward model to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import check_reward_model_dtypes
    >>> check_reward_model_dtypes("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    reference = fit_rewards(seeded_clone(estimator_orig), X, y, items)
    fitted = fit_rewards(seeded_clone(estimator_orig), X.astype(np.float32), y,
                       items.astype(np.float32))
    assert_same_rewards(fitted, reference, rtol=FLOAT32_RTOL, what=f"{name}: float32 input")
    for convert, what in [(lambda a: a.astype(object), "object arrays"),
                          (lambda a: a.tolist(), "nested lists")]:
        fitted = fit_rewards(seeded_clone(estimator_orig), convert(X), y, convert(items))
        assert_same_rewards(fitted, reference, what=f"{name}: {what}")
    X_int, items_int = np.round(2 * X), np.round(2 * items)
    reference_int = fit_rewards(seeded_clone(estimator_orig), X_int, y, items_int)
    for dtype in (np.int64, np.int32):
        fitted = fit_rewards(seeded_clone(estimator_orig), X_int.astype(dtype), y,
                           items_int.astype(dtype))
        assert_same_rewards(fitted, reference_int, what=f"{name}: {np.dtype(dtype)} input")


def check_reward_model_readonly_memmap(name, estimator_orig):
    """Read-only memory maps (joblib's, as in parallel search) fit and score like arrays.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The reward model to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import check_reward_model_readonly_memmap
    >>> check_reward_model_readonly_memmap("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    reference = fit_rewards(seeded_clone(estimator_orig), X, y, items)
    with read_only_memmaps(X, y, items, items.astype(np.float32)) as (X_m, y_m, items_m, i32):
        assert not X_m.flags.writeable
        model = seeded_clone(estimator_orig).fit(X_m, y_m)
        assert_same_rewards(model.decision_function(items_m), reference,
                            what=f"{name}: memory-mapped input")
        assert_same_rewards(model.decision_function(i32), reference, rtol=FLOAT32_RTOL,
                            what=f"{name}: memory-mapped float32 items")
        model.score(X_m, y_m)


def check_reward_model_fortran_order(name, estimator_orig):
    """Fortran-ordered comparisons and items give the same rewards as C-ordered ones.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The reward model to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import check_reward_model_fortran_order
    >>> check_reward_model_fortran_order("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    reference = fit_rewards(seeded_clone(estimator_orig), X, y, items)
    fitted = fit_rewards(seeded_clone(estimator_orig), np.asfortranarray(X), y,
                       np.asfortranarray(items))
    assert_same_rewards(fitted, reference, what=f"{name}: Fortran-ordered input")


def check_reward_model_comparison_order_invariance(name, estimator_orig):
    """The fitted reward does not depend on the order of the comparisons.

    Rewards agree to ``REWARD_RTOL`` (1e-5) of their scale. A model fitted by
    minibatches of fewer comparisons than the check's 40 sees other batches
    when the order changes; list this check as an expected failure for it.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The reward model to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import check_reward_model_comparison_order_invariance
    >>> check_reward_model_comparison_order_invariance(
    ...     "clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    reference = fit_rewards(seeded_clone(estimator_orig), X, y, items)
    order = np.random.RandomState(1).permutation(len(X))
    fitted = fit_rewards(seeded_clone(estimator_orig), X[order], y[order], items)
    assert_same_rewards(fitted, reference, what=f"{name}: comparisons in another order")


def check_reward_model_swap_invariance(name, estimator_orig):
    """Swapping the two items of every comparison and flipping its label gives the same
    model (to ``REWARD_RTOL`` of the rewards' scale): a comparison has no sides.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The reward model to check; only clones of it are fitted.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import check_reward_model_swap_invariance
    >>> check_reward_model_swap_invariance("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    reference = fit_rewards(seeded_clone(estimator_orig), X, y, items)
    fitted = fit_rewards(seeded_clone(estimator_orig), X[:, ::-1], 1 - y, items)
    assert_same_rewards(fitted, reference, what=f"{name}: swapped items, flipped labels")


def check_reward_model_sample_weight(name, estimator_orig):
    """``sample_weight`` (one per comparison): ones change nothing, and a weight of 0
    equals dropping the comparison (to ``REWARD_RTOL``).

    Generated only for models whose ``fit`` takes ``sample_weight``. A model
    fitted by minibatches does not drop a zero-weight comparison from its
    batches; list this check as an expected failure for it.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The reward model to check; only clones of it are fitted.

    Examples
    --------
    A reward model that takes weights 0 and 1 by dropping the comparisons of
    weight 0 passes:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import check_reward_model_sample_weight
    >>> class DropsZeroWeights(OrderConsistentClassifier):
    ...     def fit(self, X, y=None, sample_weight=None):
    ...         keep = np.ones(len(X), bool) if sample_weight is None else sample_weight > 0
    ...         return super().fit(X[keep], y[keep])
    >>> check_reward_model_sample_weight("clf", DropsZeroWeights(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    reference = fit_rewards(seeded_clone(estimator_orig), X, y, items)
    ones = seeded_clone(estimator_orig).fit(X, y, sample_weight=np.ones(len(X)))
    assert_same_rewards(ones.decision_function(items), reference, what=f"{name}: unit weights")
    weight = np.ones(len(X))
    weight[::4] = 0
    zero = seeded_clone(estimator_orig).fit(X, y, sample_weight=weight)
    keep = weight > 0
    dropped = fit_rewards(seeded_clone(estimator_orig), X[keep], y[keep], items)
    assert_same_rewards(zero.decision_function(items), dropped,
                        what=f"{name}: zero weights and dropped comparisons")


LEARNING_CHECKS = [
    check_reward_model_fit, check_reward_model_labels, check_reward_model_dtypes,
    check_reward_model_readonly_memmap, check_reward_model_fortran_order,
    check_reward_model_comparison_order_invariance, check_reward_model_swap_invariance,
]
