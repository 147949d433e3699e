"""Checks that an estimator keeps skreward's conventions: comparisons in, rewards out.

scikit-learn's estimator checks fit 2-D data ``(n_samples, n_features)``.
skreward's reward models fit comparisons ``(n_pairs, 2, n_features)`` and
score items, its comparison transformers resample comparisons, and its text
front ends take tables of texts. As imbalanced-learn does for its samplers,
this module has checks of its own for these kinds of estimator, and runs the
scikit-learn checks that apply: those that fit 2-D data and whose property a
check here tests on comparisons are left out (:data:`SKLEARN_CHECKS_REPLACED`
names the check that replaces each).

The kind of an estimator comes from its tags and methods:

* reward model: input tag ``three_d_array`` and a ``decision_function`` (a
  model of your own sets the tag in ``__sklearn_tags__``);
* comparison transformer: input tag ``three_d_array`` and ``fit_resample``
  or ``transform``;
* text front end: input tag ``string`` without ``two_d_array``, and a
  ``transform``;
* any other estimator: scikit-learn's checks and :func:`check_clone_keeps_params`.

Every check is a function ``check(name, estimator)`` that raises
``AssertionError`` (or the estimator's own error) on a violation. They fit
clones on small seeded data, with unset ``random_state`` parameters set to
0. Where two fits should give the same model, rewards must agree to
``REWARD_RTOL`` (1e-5) of their scale, and a float32 fit to ``FLOAT32_RTOL``
(1e-3) of the float64 one.
"""

import inspect
import re
import warnings
from functools import partial
from unittest import SkipTest

from sklearn.base import clone
from sklearn.exceptions import SkipTestWarning
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import \
    estimator_checks_generator as _sklearn_checks_generator
from sklearn.utils.validation import has_fit_parameter

from . import _check_data
from ._check_data import different_params
from ._reward_checks import (LEARNING_CHECKS, check_reward_model_comparison_order_invariance,
                             check_reward_model_dtypes, check_reward_model_fit,
                             check_reward_model_fortran_order, check_reward_model_labels,
                             check_reward_model_readonly_memmap, check_reward_model_sample_weight,
                             check_reward_model_swap_invariance)
from ._reward_io_checks import (INTERFACE_CHECKS, check_reward_model_decision_function,
                                check_reward_model_fit_idempotent, check_reward_model_input_shape,
                                check_reward_model_n_features, check_reward_model_nan_inf,
                                check_reward_model_pickle, check_reward_model_pipeline,
                                check_reward_model_small_data)
from ._text_checks import (TEXT_TRANSFORMER_CHECKS, check_text_transformer_idempotent,
                           check_text_transformer_missing_column, check_text_transformer_output,
                           check_text_transformer_pickle)
from ._transformer_checks import (COMPARISON_TRANSFORMER_CHECKS,
                                  check_comparison_transformer_dtypes,
                                  check_comparison_transformer_idempotent,
                                  check_comparison_transformer_input_validation,
                                  check_comparison_transformer_memory_layouts,
                                  check_comparison_transformer_n_features,
                                  check_comparison_transformer_output,
                                  check_comparison_transformer_pickle,
                                  check_comparison_transformer_row_order,
                                  check_comparison_transformer_swap_invariance)

REWARD_MODEL_CHECKS = LEARNING_CHECKS + INTERFACE_CHECKS

__all__ = [
    "parametrize_with_checks", "estimator_checks_generator", "check_reward_model",
    *(check.__name__ for check in REWARD_MODEL_CHECKS), "check_reward_model_sample_weight",
    *(check.__name__ for check in COMPARISON_TRANSFORMER_CHECKS),
    "check_comparison_transformer_swap_invariance", "check_comparison_transformer_n_features",
    *(check.__name__ for check in TEXT_TRANSFORMER_CHECKS),
    "check_clone_keeps_params", "SKLEARN_CHECKS_REPLACED", "REWARD_RTOL", "FLOAT32_RTOL",
]

#: Two fits that should give the same model (another order of the comparisons, the
#: items of every comparison swapped with the labels flipped, a memory map, Fortran
#: order) must give rewards that agree to this fraction of the largest reward. Only
#: the order of floating-point sums changes: the rewards of skreward's models then
#: differ by about 1e-7 of their scale, while a fit that depends on the order of the
#: comparisons (minibatches that change with it) is off by far more.
REWARD_RTOL = _check_data.REWARD_RTOL

#: The rewards of a fit on float32 comparisons must agree with those of the float64
#: fit to this fraction of the largest reward: float32 carries 7 significant digits,
#: and an iterative solver (e.g. lbfgs, stopping at its tolerance) may end on another
#: iterate with it.
FLOAT32_RTOL = _check_data.FLOAT32_RTOL


def check_clone_keeps_params(name, estimator_orig):
    """``clone`` keeps the value of every parameter (nested ones too), in new objects.

    Values are compared, not only names: estimators by type and parameters,
    arrays element-wise, anything else with ``==``.

    Parameters
    ----------
    name : str
        Name of the estimator, used in the messages.
    estimator_orig : estimator object
        The estimator to check (any kind).

    Examples
    --------
    >>> from skreward import BTRegressor
    >>> from skreward.utils.estimator_checks import check_clone_keeps_params
    >>> check_clone_keeps_params("bt", BTRegressor(module__hidden_sizes=(16,), lr=0.02))
    """
    cloned = clone(estimator_orig)
    changed = different_params(estimator_orig.get_params(deep=True), cloned.get_params(deep=True))
    assert not changed, f"clone({name}) changed parameter(s) {changed}"
    for key, value in estimator_orig.get_params(deep=False).items():
        if hasattr(value, "get_params") and not isinstance(value, type):
            assert cloned.get_params(deep=False)[key] is not value, (
                f"clone({name}) shares the estimator of parameter {key!r} with the original")


_REWARD_MODEL_REPLACED = {
    "check_reward_model_fit": [
        "check_fit_score_takes_y", "check_estimators_fit_returns_self",
        "check_positive_only_tag_during_fit", "check_classifiers_train",
        "check_regressors_train"],
    "check_reward_model_labels": [
        "check_requires_y_none", "check_supervised_y_2d", "check_supervised_y_no_nan",
        "check_classifiers_one_label", "check_classifiers_one_label_sample_weights",
        "check_classifiers_classes", "check_classifiers_regression_target",
        "check_classifier_not_supporting_multiclass"],
    "check_reward_model_dtypes": [
        "check_estimators_dtypes", "check_dtype_object", "check_classifier_data_not_an_array",
        "check_regressor_data_not_an_array", "check_regressors_int"],
    "check_reward_model_readonly_memmap": ["check_readonly_memmap_input"],
    "check_reward_model_fortran_order": ["check_f_contiguous_array_estimator"],
    "check_reward_model_decision_function": [
        "check_methods_sample_order_invariance", "check_methods_subset_invariance",
        "check_dict_unchanged", "check_fit2d_predict1d", "check_decision_proba_consistency"],
    "check_reward_model_n_features": [
        "check_n_features_in", "check_n_features_in_after_fitting", "check_fit_check_is_fitted",
        "check_estimators_partial_fit_n_features"],
    "check_reward_model_fit_idempotent": [
        "check_fit_idempotent", "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters"],
    "check_reward_model_pickle": ["check_estimators_pickle"],
    "check_reward_model_nan_inf": ["check_estimators_nan_inf"],
    "check_reward_model_input_shape": [
        "check_estimators_empty_data_messages", "check_complex_data", "check_fit1d"],
    "check_reward_model_small_data": ["check_fit2d_1sample", "check_fit2d_1feature"],
    "check_reward_model_pipeline": ["check_pipeline_consistency"],
}
_COMPARISON_TRANSFORMER_REPLACED = {
    "check_comparison_transformer_output": [
        "check_fit_score_takes_y", "check_estimators_fit_returns_self",
        "check_positive_only_tag_during_fit", "check_transformer_general",
        "check_pipeline_consistency", "check_fit2d_1sample", "check_fit2d_1feature"],
    "check_comparison_transformer_idempotent": [
        "check_fit_idempotent", "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters", "check_dict_unchanged"],
    "check_comparison_transformer_dtypes": [
        "check_estimators_dtypes", "check_dtype_object", "check_transformer_preserve_dtypes",
        "check_transformer_data_not_an_array"],
    "check_comparison_transformer_memory_layouts": [
        "check_readonly_memmap_input", "check_f_contiguous_array_estimator"],
    "check_comparison_transformer_pickle": ["check_estimators_pickle"],
    "check_comparison_transformer_row_order": [
        "check_methods_sample_order_invariance", "check_methods_subset_invariance"],
    "check_comparison_transformer_input_validation": [
        "check_estimators_nan_inf", "check_estimators_empty_data_messages",
        "check_complex_data", "check_fit1d", "check_fit2d_predict1d"],
    "check_comparison_transformer_n_features": [
        "check_n_features_in", "check_n_features_in_after_fitting",
        "check_fit_check_is_fitted"],
}

#: For each kind of estimator (``"reward_model"``, ``"comparison_transformer"``),
#: the scikit-learn checks left out, ``{sklearn_check: skreward_check}``: they fit
#: 2-D data, and the skreward check tests their property on comparisons.
SKLEARN_CHECKS_REPLACED = {
    kind: {sklearn_check: ours for ours, theirs in replaced.items() for sklearn_check in theirs}
    for kind, replaced in [("reward_model", _REWARD_MODEL_REPLACED),
                           ("comparison_transformer", _COMPARISON_TRANSFORMER_REPLACED)]
}


def _kind(estimator):
    tags = get_tags(estimator)
    if tags.input_tags.three_d_array:
        if hasattr(estimator, "decision_function"):
            return "reward_model"
        if hasattr(estimator, "fit_resample") or hasattr(estimator, "transform"):
            return "comparison_transformer"
    if tags.input_tags.string and not tags.input_tags.two_d_array \
            and hasattr(estimator, "transform"):
        return "text_transformer"
    return "other"


def _fits_with_sample_weight(estimator):
    """Whether ``fit`` takes ``sample_weight``: in its signature, declared as fit metadata
    (skorch nets take ``**fit_params``), or passed on (``**fit_params``) by a
    meta-estimator to an ``estimator`` that takes it."""
    if has_fit_parameter(estimator, "sample_weight"):
        return True
    own_requests = getattr(estimator, "_get_metadata_request", None)  # any BaseEstimator
    if own_requests is not None and "sample_weight" in own_requests().fit.requests:
        return True
    passes_on = any(p.kind == p.VAR_KEYWORD
                    for p in inspect.signature(estimator.fit).parameters.values())
    inner = getattr(estimator, "estimator", None)
    return passes_on and inner is not None and _fits_with_sample_weight(inner)


def _yield_checks(estimator):
    yield check_clone_keeps_params
    kind = _kind(estimator)
    if kind == "reward_model":
        yield from REWARD_MODEL_CHECKS
        if _fits_with_sample_weight(estimator):
            yield check_reward_model_sample_weight
    elif kind == "comparison_transformer":
        yield from COMPARISON_TRANSFORMER_CHECKS
        if hasattr(estimator, "fit_resample"):
            yield check_comparison_transformer_swap_invariance
        yield check_comparison_transformer_n_features
    elif kind == "text_transformer":
        yield from TEXT_TRANSFORMER_CHECKS


def _check_name(check):
    while hasattr(check, "__wrapped__"):
        check = check.__wrapped__
    return check.func.__name__ if isinstance(check, partial) else check.__name__


def _mark(estimator, check, expected_failed_checks, mark, xfail_strict):
    """scikit-learn's marking of expected failures: a pytest xfail, or a SkipTest."""
    reason = expected_failed_checks.get(_check_name(check))
    if reason is None or mark is None:
        return estimator, check
    if mark == "xfail":
        import pytest

        kwargs = {} if xfail_strict is None else {"strict": xfail_strict}
        return pytest.param(estimator, check, marks=pytest.mark.xfail(reason=reason, **kwargs))

    def skipped(*args, **kwargs):
        raise SkipTest(f"Skipping {_check_name(check)} for {type(estimator).__name__}: {reason}")

    skipped.__wrapped__ = check
    return estimator, skipped


def estimator_checks_generator(estimator, *, expected_failed_checks=None, mark=None,
                               sklearn_checks=True, xfail_strict=None):
    """Yield ``(estimator, check)`` for every check that fits the estimator's kind.

    Parameters
    ----------
    estimator : estimator object
        Estimator instance to check.
    expected_failed_checks : dict of str to str, default=None
        ``{check_name: reason}`` for the checks expected to fail (scikit-learn's
        or skreward's).
    mark : {"xfail", "skip"} or None, default=None
        How expected failures are marked: a ``pytest.mark.xfail`` parameter,
        or a check that raises ``unittest.SkipTest``. ``None``: not at all.
    sklearn_checks : bool, default=True
        Also yield scikit-learn's checks, less those in
        :data:`SKLEARN_CHECKS_REPLACED` for the estimator's kind.
    xfail_strict : bool, default=None
        Whether an expected failure that passes fails the test (``mark="xfail"``
        only); ``None`` takes pytest's ``xfail_strict`` setting.

    Yields
    ------
    estimator, check : estimator and callable
        Call ``check(estimator)``; with ``mark="xfail"``, expected failures
        come as ``pytest.param``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import estimator_checks_generator
    >>> model = OrderConsistentClassifier(LogisticRegression())
    >>> checks = [check for _, check in estimator_checks_generator(model, sklearn_checks=False)]
    >>> checks[1].func.__name__
    'check_reward_model_fit'
    """
    expected_failed_checks = expected_failed_checks or {}
    if sklearn_checks:
        replaced = SKLEARN_CHECKS_REPLACED.get(_kind(estimator), {})
        for item in _sklearn_checks_generator(
                estimator, expected_failed_checks=expected_failed_checks, mark=mark,
                xfail_strict=xfail_strict):
            check = item.values[1] if hasattr(item, "marks") else item[1]
            if _check_name(check) not in replaced:
                yield item
    name = type(estimator).__name__
    for check in _yield_checks(estimator):
        yield _mark(estimator, partial(check, name), expected_failed_checks, mark, xfail_strict)


def _check_id(obj):
    if isinstance(obj, partial):
        kwargs = ",".join(f"{k}={v}" for k, v in obj.keywords.items())
        return obj.func.__name__ + (f"({kwargs})" if kwargs else "")
    if hasattr(obj, "get_params"):
        return re.sub(r"\s", "", str(obj))
    return getattr(obj, "__name__", None)


def parametrize_with_checks(estimators, *, expected_failed_checks=None, sklearn_checks=True,
                            xfail_strict=None):
    """Pytest decorator that runs every check that fits each estimator's kind.

    The counterpart of scikit-learn's ``parametrize_with_checks`` for
    estimators that fit comparisons or texts: each test gets an ``estimator``
    and a ``check`` to call on it, with an id ``<estimator>-<check>``.

    Parameters
    ----------
    estimators : list of estimator objects
        Estimator instances to check.
    expected_failed_checks : callable, default=None
        Called with each estimator; returns ``{check_name: reason}`` for the
        checks expected to fail (marked ``pytest.mark.xfail``).
    sklearn_checks : bool, default=True
        Also run scikit-learn's checks, less those in
        :data:`SKLEARN_CHECKS_REPLACED` for the estimator's kind.
    xfail_strict : bool, default=None
        Whether an expected failure that passes fails the test; ``None``
        takes pytest's ``xfail_strict`` setting.

    Returns
    -------
    decorator : pytest.mark.parametrize

    See Also
    --------
    check_reward_model : Run the checks of a reward model without pytest.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import parametrize_with_checks
    >>> @parametrize_with_checks([OrderConsistentClassifier(LogisticRegression())])
    ... def test_reward_model(estimator, check):
    ...     check(estimator)
    """
    import pytest

    if any(isinstance(estimator, type) for estimator in estimators):
        raise TypeError("parametrize_with_checks takes estimator instances, not classes.")
    params = [
        item for estimator in estimators
        for item in estimator_checks_generator(
            estimator, mark="xfail", sklearn_checks=sklearn_checks, xfail_strict=xfail_strict,
            expected_failed_checks=(expected_failed_checks(estimator)
                                    if callable(expected_failed_checks) else None))
    ]
    return pytest.mark.parametrize("estimator, check", params, ids=_check_id)


def check_reward_model(estimator, *, expected_failed_checks=None, sklearn_checks=True):
    """Check that a reward model fits comparisons and scores items as skreward's do.

    Runs every check of :func:`estimator_checks_generator` and raises at the
    first failure. Expected failures are skipped with a ``SkipTestWarning``.

    Parameters
    ----------
    estimator : estimator object
        A reward model: ``fit(X_pairs, y=None)`` on comparisons
        ``(n_pairs, 2, n_features)``, ``decision_function`` on items
        ``(n_items, n_features)``, ``score(X_pairs, y=None)``, and the input
        tag ``three_d_array``.
    expected_failed_checks : dict of str to str, default=None
        ``{check_name: reason}`` for the checks expected to fail.
    sklearn_checks : bool, default=True
        Also run scikit-learn's checks that apply.

    Raises
    ------
    ValueError
        If ``estimator`` is not a reward model.
    AssertionError
        At the first check that fails.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.utils.estimator_checks import check_reward_model
    >>> check_reward_model(OrderConsistentClassifier(LogisticRegression()))
    """
    if _kind(estimator) != "reward_model":
        raise ValueError(
            f"{type(estimator).__name__} is not a reward model: a reward model has a "
            "decision_function and the input tag three_d_array (set it in "
            "__sklearn_tags__: tags.input_tags.three_d_array = True).")
    for instance, check in estimator_checks_generator(
            estimator, expected_failed_checks=expected_failed_checks, mark="skip",
            sklearn_checks=sklearn_checks):
        try:
            check(instance)
        except SkipTest as skip:
            warnings.warn(str(skip), SkipTestWarning)
