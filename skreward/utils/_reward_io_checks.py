"""Checks of a reward model's interface: validation, state, persistence, composition.

Every check takes ``(name, estimator_orig)``, as scikit-learn's checks do,
fits clones of ``estimator_orig`` on small seeded comparisons
``(n_pairs, 2, n_features)`` and raises ``AssertionError`` on a violation.
"""

import pickle

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

from ._check_data import (N_FEATURES, assert_same_rewards, both_widths, different_params,
                          fit_rewards, make_comparisons, public_attributes_added, raises,
                          seeded_clone)

_SHAPE_MESSAGE = r"\(n_pairs, 2, n_features\)"
_FINITE_MESSAGES = {"nan": "NaN", "inf": "infinity", "-inf": "infinity"}


def check_reward_model_decision_function(name, estimator_orig):
    """Each item's reward depends on that item alone, and scoring leaves the model as it was.

    Rewards of shuffled items or of a subset are the matching rewards of all
    items (to ``REWARD_RTOL``); ``decision_function`` and ``score`` change
    nothing in the model; 1-D and 3-D items are refused. A classifier's
    ``predict_proba`` of items ranks them as the reward does.

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
    >>> from skreward.utils.estimator_checks import check_reward_model_decision_function
    >>> check_reward_model_decision_function("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    model = seeded_clone(estimator_orig).fit(X, y)
    state = dict(vars(model))
    reward = np.asarray(model.decision_function(items))
    order = np.random.RandomState(1).permutation(len(items))
    assert_same_rewards(model.decision_function(items[order]), reward[order],
                        what=f"{name}: rewards of shuffled items")
    assert_same_rewards(model.decision_function(items[:7]), reward[:7],
                        what=f"{name}: rewards of a subset of items")
    assert_same_rewards(model.decision_function(items[:1]), reward[:1],
                        what=f"{name}: the reward of one item")
    model.score(X, y)
    changed = different_params(state, vars(model))  # as scikit-learn's check_dict_unchanged
    assert not changed, f"{name}.decision_function or score changed attribute(s) {changed}"
    np.testing.assert_array_equal(model.decision_function(items), reward,
                                  err_msg=f"{name}: rewards changed by scoring")
    for bad in (items[0], X):
        with raises(ValueError):
            model.decision_function(bad)
    if is_classifier(model) and hasattr(model, "predict_proba"):
        winner = np.asarray(model.predict_proba(items))[:, list(model.classes_).index(1)]
        by_reward = winner[np.argsort(reward, kind="stable")]
        assert np.all(np.diff(by_reward) >= -1e-12), (
            f"{name}.predict_proba of items must rank them as decision_function does")


def check_reward_model_n_features(name, estimator_orig):
    """``n_features_in_`` is the items' width; another width is refused with a message
    that names both widths (``decision_function``, ``score``, ``partial_fit``);
    the model is unfitted before ``fit`` and fitted after.

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
    >>> from skreward.utils.estimator_checks import check_reward_model_n_features
    >>> check_reward_model_n_features("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    wide, _, wide_items = make_comparisons(n_features=N_FEATURES + 3)
    model = seeded_clone(estimator_orig)
    with raises(NotFittedError):
        model.decision_function(items)
    model.fit(X, y)
    check_is_fitted(model)
    assert model.n_features_in_ == N_FEATURES, (
        f"{name}.n_features_in_ is {getattr(model, 'n_features_in_', None)}, "
        f"not the {N_FEATURES} features of each item")
    widths = both_widths(N_FEATURES, N_FEATURES + 3)
    with raises(ValueError, match=widths):
        model.decision_function(wide_items)
    with raises(ValueError, match=widths):
        model.score(wide, y)
    model.fit(wide, y)  # a new fit starts afresh
    assert model.n_features_in_ == N_FEATURES + 3
    assert np.asarray(model.decision_function(wide_items)).shape == (len(wide_items),)
    if hasattr(model, "partial_fit"):
        model = seeded_clone(estimator_orig)
        model.partial_fit(X, y)
        with raises(ValueError, match=widths):
            model.partial_fit(wide, y)


def check_reward_model_fit_idempotent(name, estimator_orig):
    """Fitting twice gives the same model, even with another fit in between; ``fit``
    changes no parameter, adds no public attribute without a trailing ``_`` and
    leaves its input unchanged.

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
    >>> from skreward.utils.estimator_checks import check_reward_model_fit_idempotent
    >>> check_reward_model_fit_idempotent("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    other, y_other, _ = make_comparisons(seed=1)
    X_before, y_before = X.copy(), y.copy()
    model = seeded_clone(estimator_orig)
    params = model.get_params(deep=True)
    attributes = set(vars(model))
    first = fit_rewards(model, X, y, items)
    changed = different_params(params, model.get_params(deep=True))
    assert not changed, f"{name}.fit changed parameter(s) {changed}"
    added = public_attributes_added(attributes, model)
    assert not added, f"{name}.fit added public attribute(s) {added} (fitted state ends in _)"
    np.testing.assert_array_equal(X, X_before, err_msg=f"{name}.fit modified X")
    np.testing.assert_array_equal(y, y_before, err_msg=f"{name}.fit modified y")
    model.fit(other, y_other)
    again = fit_rewards(model, X, y, items)
    assert_same_rewards(again, first, rtol=0, what=f"{name}: a second fit")


def check_reward_model_pickle(name, estimator_orig):
    """A pickled and restored model gives bit-identical rewards and scores.

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
    >>> from skreward.utils.estimator_checks import check_reward_model_pickle
    >>> check_reward_model_pickle("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    model = seeded_clone(estimator_orig).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.decision_function(items), model.decision_function(items),
                                  err_msg=f"{name}: rewards changed by a pickle round trip")
    assert restored.score(X, y) == model.score(X, y)


def check_reward_model_nan_inf(name, estimator_orig):
    """NaN and infinite values are refused, with a message that says which, by ``fit``
    (comparisons), ``decision_function`` (items) and ``score``.

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
    >>> from skreward.utils.estimator_checks import check_reward_model_nan_inf
    >>> check_reward_model_nan_inf("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    model = seeded_clone(estimator_orig).fit(X, y)
    for value, message in _FINITE_MESSAGES.items():
        bad_X, bad_items = X.copy(), items.copy()
        bad_X[3, 1, 2] = bad_items[2, 1] = float(value)
        with raises(ValueError, match=message):
            seeded_clone(estimator_orig).fit(bad_X, y)
        with raises(ValueError, match=message):
            model.decision_function(bad_items)
        with raises(ValueError, match=message):
            model.score(bad_X, y)


def check_reward_model_input_shape(name, estimator_orig):
    """``fit`` refuses anything but comparisons with a message that gives their shape
    ``(n_pairs, 2, n_features)``; no comparisons, no features and complex numbers are
    refused too.

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
    >>> from skreward.utils.estimator_checks import check_reward_model_input_shape
    >>> check_reward_model_input_shape("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    for bad, what in [(X[:, 0], "2-D items"), (X[:, 0, 0], "a 1-D array"),
                      (np.concatenate([X, X[:, :1]], axis=1), "triples")]:
        with raises(ValueError, match=_SHAPE_MESSAGE):
            seeded_clone(estimator_orig).fit(bad, y)
    for bad, labels in [(X[:0], y[:0]), (X[:, :, :0], y), (X + 1j, y)]:
        with raises(ValueError):
            seeded_clone(estimator_orig).fit(bad, labels)


def check_reward_model_small_data(name, estimator_orig):
    """One feature fits; one comparison fits or is refused with a ValueError.

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
    >>> from skreward.utils.estimator_checks import check_reward_model_small_data
    >>> check_reward_model_small_data("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons(n_features=1)
    assert np.isfinite(fit_rewards(seeded_clone(estimator_orig), X, y, items)).all()
    try:
        seeded_clone(estimator_orig).fit(X[:1], y[:1])
    except ValueError:
        pass


def check_reward_model_pipeline(name, estimator_orig):
    """In a pipeline the model gives the same rewards; cross-validation splits comparisons.

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
    >>> from skreward.utils.estimator_checks import check_reward_model_pipeline
    >>> check_reward_model_pipeline("clf", OrderConsistentClassifier(LogisticRegression()))
    """
    X, y, items = make_comparisons()
    reference = fit_rewards(seeded_clone(estimator_orig), X, y, items)
    fitted = fit_rewards(make_pipeline(seeded_clone(estimator_orig)), X, y, items)
    assert_same_rewards(fitted, reference, rtol=0, what=f"{name}: in a pipeline")
    scores = cross_val_score(seeded_clone(estimator_orig), X, y, cv=2)
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1)), scores


INTERFACE_CHECKS = [
    check_reward_model_decision_function, check_reward_model_n_features,
    check_reward_model_fit_idempotent, check_reward_model_pickle, check_reward_model_nan_inf,
    check_reward_model_input_shape, check_reward_model_small_data, check_reward_model_pipeline,
]
