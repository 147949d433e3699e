"""CalibratedReward: normalised rewards, Platt-calibrated preferences, isotonic golden scale."""

import numpy as np
import pytest
import sklearn
from lightgbm import LGBMClassifier
from scipy.special import expit
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline

from skreward import (CalibratedReward, OrderConsistentClassifier, SimulatedAnnotator,
                      TextVectorizer, simulate_comparisons)


class ScaledGolden(BaseEstimator):
    """A fitted 'reward model' whose reward is ``scale`` times a known linear reward."""

    def __init__(self, weights, scale):
        self.weights = weights
        self.scale = scale

    def fit(self, X, y=None):
        return self

    def decision_function(self, X):
        return self.scale * (np.asarray(X) @ self.weights)


def _linear_comparisons(n, seed, beta=1.0):
    rng = np.random.default_rng(seed)
    weights = np.array([1.0, -0.5, 0.25])
    X = rng.normal(size=(n, 2, 3))
    delta = X[:, 0] @ weights - X[:, 1] @ weights
    y = (rng.random(n) < expit(beta * delta)).astype(int)
    return X, y, weights


def _brier(p, y):
    return float(np.mean((p - y) ** 2))


def test_sigmoid_recovers_the_scale_of_an_overconfident_reward():
    X, y, weights = _linear_comparisons(4000, seed=0)
    model = CalibratedReward(FrozenEstimator(ScaledGolden(weights, scale=10.0))).fit(X, y)
    assert model.scale_ == pytest.approx(0.1, rel=0.1)  # the labels' scale is 1
    X_test, y_test, _ = _linear_comparisons(4000, seed=1)
    raw = model.estimator_.decision_function(X_test.reshape(-1, 3)).reshape(-1, 2)
    uncalibrated = _brier(expit(raw[:, 0] - raw[:, 1]), y_test)
    calibrated = _brier(model.preference_proba(X_test), y_test)
    assert calibrated < uncalibrated - 0.02


def test_sigmoid_beats_the_raw_logit_of_a_classification_reward(testbed):
    train = simulate_comparisons(testbed.golden, testbed.groups, n_pairs=2000, beta=1,
                                 pairing="cross_prompt", random_state=0)
    test = simulate_comparisons(testbed.golden_test, testbed.groups_test, n_pairs=2000,
                                beta=1, pairing="cross_prompt", random_state=1)
    lgb = OrderConsistentClassifier(LGBMClassifier(n_estimators=100, verbose=-1, n_jobs=1,
                                                   random_state=0))
    model = CalibratedReward(lgb, cv=3).fit(train.take(testbed.X), train.y)
    X_test = test.take(testbed.X_test)
    raw = model.raw_reward(X_test.reshape(-1, X_test.shape[2])).reshape(-1, 2)
    assert _brier(model.preference_proba(X_test), test.y) < _brier(
        expit(raw[:, 0] - raw[:, 1]), test.y)


def test_calibration_keeps_the_order_of_rewards(comparisons, testbed):
    X, y = comparisons
    raw_model = OrderConsistentClassifier(LogisticRegression()).fit(X, y)
    raw = raw_model.decision_function(testbed.X_test)
    for method in ("sigmoid", "normalize"):
        model = CalibratedReward(FrozenEstimator(raw_model), method=method).fit(X, y)
        np.testing.assert_array_equal(np.argsort(model.decision_function(testbed.X_test)),
                                      np.argsort(raw))


def test_normalize_uses_the_training_rewards_mean_and_std(comparisons):
    X, y = comparisons
    model = CalibratedReward(OrderConsistentClassifier(LogisticRegression()),
                             method="normalize", cv=2).fit(X, y)
    items = X.reshape(-1, X.shape[2])
    raw = model.estimator_.decision_function(items)
    assert model.reward_mean_ == pytest.approx(raw.mean())
    assert model.reward_std_ == pytest.approx(raw.std())
    normalized = model.decision_function(items)
    assert normalized.mean() == pytest.approx(0, abs=1e-9)
    assert normalized.std() == pytest.approx(1)
    assert model.n_train_samples_ == len(X) and model.calibrator_ is None


def test_isotonic_maps_rewards_to_the_golden_scale(testbed):
    annotator = SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()),
                                   n_pairs=2000, beta=10, random_state=0)
    sklearn.set_config(enable_metadata_routing=True)
    try:
        model = CalibratedReward(annotator, method="isotonic", cv=GroupKFold(3))
        model.fit(testbed.X, testbed.golden, groups=testbed.groups)
    finally:
        sklearn.set_config(enable_metadata_routing=False)
    calibrated = model.decision_function(testbed.X_test)
    raw = model.raw_reward(testbed.X_test)
    golden = testbed.golden_test
    assert np.all(np.diff(calibrated[np.argsort(raw, kind="stable")]) >= 0)  # monotone
    assert spearmanr(calibrated, golden).statistic > 0.3
    assert testbed.golden.min() <= calibrated.min() <= calibrated.max() <= testbed.golden.max()


def test_isotonic_undoes_a_monotone_distortion():
    rng = np.random.default_rng(0)
    weights = np.array([1.0, -0.5, 0.25])
    X = rng.normal(size=(3000, 3))
    golden = np.tanh(X @ weights) + rng.normal(scale=0.05, size=3000)
    model = CalibratedReward(FrozenEstimator(ScaledGolden(weights, scale=10.0)),
                             method="isotonic").fit(X[:2000], golden[:2000])
    raw = model.raw_reward(X[2000:])
    calibrated = model.decision_function(X[2000:])
    assert np.mean((calibrated - golden[2000:]) ** 2) < 0.01
    assert np.mean((raw - golden[2000:]) ** 2) > 10


def test_isotonic_needs_golden_rewards(testbed):
    model = CalibratedReward(FrozenEstimator(ScaledGolden(np.ones(64), 1.0)), method="isotonic")
    with pytest.raises(ValueError, match="needs the golden reward of every item"):
        model.fit(testbed.X)
    with pytest.raises(ValueError, match="one finite golden reward per item"):
        model.fit(testbed.X, testbed.golden[:10])


def test_frozen_estimator_is_used_as_it_is(comparisons):
    X, y = comparisons
    fitted = OrderConsistentClassifier(LogisticRegression()).fit(X[:1000], y[:1000])
    coef = fitted.estimator_.coef_.copy()
    frozen = FrozenEstimator(fitted)
    model = CalibratedReward(frozen).fit(X[1000:], y[1000:])
    assert model.estimator_ is frozen
    np.testing.assert_array_equal(fitted.estimator_.coef_, coef)


def test_groups_reach_the_splitter_with_metadata_routing(comparisons):
    X, y = comparisons
    groups = np.arange(len(X)) % 7
    model = CalibratedReward(OrderConsistentClassifier(LogisticRegression()), cv=GroupKFold(3))
    with pytest.raises(ValueError, match="groups"):
        sklearn.set_config(enable_metadata_routing=True)
        try:
            model.fit(X, y)
        finally:
            sklearn.set_config(enable_metadata_routing=False)
    sklearn.set_config(enable_metadata_routing=True)
    try:
        assert model.fit(X, y, groups=groups).scale_ > 0
    finally:
        sklearn.set_config(enable_metadata_routing=False)


def test_groups_reach_only_the_splitter_without_metadata_routing(comparisons):
    X, y = comparisons
    groups = np.arange(len(X)) % 7
    model = CalibratedReward(OrderConsistentClassifier(LogisticRegression()), cv=GroupKFold(3))
    routed = CalibratedReward(OrderConsistentClassifier(LogisticRegression()), cv=GroupKFold(3))
    sklearn.set_config(enable_metadata_routing=True)
    try:
        routed.fit(X, y, groups=groups)
    finally:
        sklearn.set_config(enable_metadata_routing=False)
    assert model.fit(X, y, groups=groups).scale_ == pytest.approx(routed.scale_)


def test_a_cv_that_is_not_a_partition_is_refused(comparisons):
    from sklearn.model_selection import ShuffleSplit

    X, y = comparisons
    model = CalibratedReward(OrderConsistentClassifier(LogisticRegression()),
                             cv=ShuffleSplit(2, test_size=0.2, random_state=0))
    with pytest.raises(ValueError, match="cv must hold out every row exactly once.*never"):
        model.fit(X, y)


def test_composes_in_a_text_pipeline():
    triples = {"prompt": ["Hi", "Help", "Hello", "Bye"],
               "chosen": ["Hello! How can I help?", "Sure, happy to help.",
                          "Hello, how can I help?", "Goodbye, take care!"],
               "rejected": ["No.", "Go away.", "No.", "Whatever."]}
    model = make_pipeline(TextVectorizer(TfidfVectorizer()),
                          CalibratedReward(OrderConsistentClassifier(LogisticRegression()),
                                           method="normalize", cv=2)).fit(triples)
    rewards = model.decision_function({"prompt": ["Hi", "Hi"],
                                       "response": ["Hello! How can I help?", "No."]})
    assert rewards[0] > rewards[1]


def test_invalid_method_is_refused(comparisons):
    X, y = comparisons
    with pytest.raises(ValueError, match="method"):
        CalibratedReward(OrderConsistentClassifier(LogisticRegression()),
                         method="platt").fit(X, y)
