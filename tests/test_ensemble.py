"""RewardEnsemble: seeding, aggregation, standardisation, bootstrap, routing, errors."""

import pickle

import numpy as np
import pandas as pd
import pytest
import sklearn
from joblib import parallel_backend
from sklearn.base import BaseEstimator, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skreward import (BTRegressor, OrderConsistentClassifier, PairwiseTransformer,
                      RewardEnsemble, TextVectorizer)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY_NET = dict(module__hidden_sizes=(8,), max_epochs=4, lr=0.02, validation_fraction=None,
                batch_size=64)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 2, 5))
    y = (X[:, 0, 0] - X[:, 1, 0] + 0.5 * rng.logistic(size=240) > 0).astype(int)
    return X, y, rng.normal(size=(50, 5))


def clf(C=1.0):
    return OrderConsistentClassifier(LogisticRegression(C=C))


def test_same_random_state_gives_identical_rewards(data):
    X, y, items = data
    fit = lambda seed: RewardEnsemble(BTRegressor(**TINY_NET), n_estimators=3,  # noqa: E731
                                      random_state=seed).fit(X, y)
    first, again, other = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(first.member_rewards(items), again.member_rewards(items))
    assert not np.allclose(first.member_rewards(items), other.member_rewards(items))
    seeds = [m.random_state for m in first.estimators_]
    assert len(set(seeds)) == 3 and seeds == [m.random_state for m in again.estimators_]


def test_members_differ_and_aggregates_hold(data):
    X, y, items = data
    ensemble = RewardEnsemble(BTRegressor(**TINY_NET), n_estimators=4, random_state=0).fit(X, y)
    members = ensemble.member_rewards(items)
    assert members.shape == (4, len(items))
    assert np.abs(members[0] - members[1]).max() > 1e-3  # different initialisations
    mean = ensemble.decision_function(items)
    np.testing.assert_allclose(mean, members.mean(axis=0))
    ensemble.set_params(aggregate="min")  # read at prediction: no refit
    assert np.all(ensemble.decision_function(items) <= mean)
    np.testing.assert_array_equal(ensemble.decision_function(items), members.min(axis=0))
    ensemble.set_params(aggregate="first")
    np.testing.assert_array_equal(ensemble.decision_function(items), members[0])


@pytest.mark.parametrize("k", [0.0, 1.0, 2.5])
def test_conservative_is_mean_minus_k_std(data, k):
    X, y, items = data
    ensemble = RewardEnsemble(clf(), n_estimators=5, bootstrap=True, aggregate="conservative",
                              k=k, random_state=0).fit(X, y)
    members = ensemble.member_rewards(items)
    np.testing.assert_array_equal(ensemble.reward_std(items), members.std(axis=0))
    assert ensemble.reward_std(items).min() > 0  # bootstrap samples give different members
    np.testing.assert_allclose(ensemble.decision_function(items),
                               members.mean(axis=0) - k * members.std(axis=0), rtol=0, atol=0)


def test_one_member_ensemble_equals_its_member(data):
    X, y, items = data
    raw = RewardEnsemble(BTRegressor(**TINY_NET), n_estimators=1, standardize=None,
                         random_state=3).fit(X, y)
    member = BTRegressor(**TINY_NET, random_state=raw.estimators_[0].random_state).fit(X, y)
    np.testing.assert_allclose(raw.decision_function(items), member.decision_function(items),
                               rtol=1e-6)
    assert np.all(raw.reward_std(items) == 0)
    centred = RewardEnsemble(BTRegressor(**TINY_NET), n_estimators=1, random_state=3).fit(X, y)
    offset = member.decision_function(X.reshape(-1, 5)).mean()  # mean on the training items
    np.testing.assert_allclose(centred.offsets_, [offset], rtol=1e-6)
    np.testing.assert_allclose(centred.decision_function(items),
                               member.decision_function(items) - offset, rtol=1e-5, atol=1e-6)


def test_heterogeneous_members_are_standardised_on_training_items(data):
    X, y, items = data
    weight = np.random.RandomState(1).uniform(0, 2, size=len(X))
    ensemble = RewardEnsemble([clf(1.0), clf(0.01)], n_estimators=None).fit(
        X, y, sample_weight=weight)
    training = X.reshape(-1, 5)
    for member, offset, scale, rewards in zip(ensemble.estimators_, ensemble.offsets_,
                                              ensemble.scales_, ensemble.member_rewards(items)):
        raw = member.decision_function(training)
        w = np.repeat(weight, 2)  # both items of a comparison carry its weight
        assert offset == pytest.approx(np.average(raw, weights=w))
        assert scale == pytest.approx(np.sqrt(np.average((raw - offset) ** 2, weights=w)))
        np.testing.assert_allclose(rewards, (member.decision_function(items) - offset) / scale)
    # C=0.01 has smaller rewards; standardised, both members count alike
    assert ensemble.scales_[0] > 2 * ensemble.scales_[1]
    standardised = ensemble.member_rewards(training)
    np.testing.assert_allclose(np.average(standardised, axis=1, weights=np.repeat(weight, 2)),
                               0, atol=1e-12)
    unit = RewardEnsemble([clf(1.0), clf(0.01)], n_estimators=None, standardize="center").fit(X, y)
    np.testing.assert_array_equal(unit.scales_, [1.0, 1.0])


def test_bootstrap_subsets_comparisons_and_weights(data):
    X, y, items = data
    weight = np.random.RandomState(2).uniform(0, 2, size=len(X))
    ensemble = RewardEnsemble(clf(), n_estimators=3, bootstrap=True, random_state=0)
    ensemble.fit(X, y, sample_weight=weight)
    indices = ensemble.bootstrap_indices_
    assert len(indices) == 3 and all(len(i) == len(X) for i in indices)
    assert len(np.unique(indices[0])) < len(X)  # drawn with replacement
    assert not np.array_equal(indices[0], indices[1])
    for member, idx in zip(ensemble.estimators_, indices):
        alone = clf().fit(X[idx], y[idx], sample_weight=weight[idx])
        np.testing.assert_allclose(member.decision_function(items), alone.decision_function(items))
    again = clone(ensemble).fit(X, y, sample_weight=weight)
    for a, b in zip(indices, again.bootstrap_indices_):
        np.testing.assert_array_equal(a, b)
    fewer = clone(ensemble).set_params(n_estimators=2).fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(fewer.bootstrap_indices_, indices[:2])  # the first members
    np.testing.assert_allclose(fewer.member_rewards(items), ensemble.member_rewards(items)[:2])


def test_sample_weight_is_routed(data):
    X, y, items = data
    weight = np.random.RandomState(3).uniform(0, 2, size=len(X))
    expected = clf().fit(X, y, sample_weight=weight).decision_function(items)
    with sklearn.config_context(enable_metadata_routing=True):
        requested = OrderConsistentClassifier(LogisticRegression().set_fit_request(
            sample_weight=True))
        ensemble = RewardEnsemble(requested, n_estimators=2, standardize=None).fit(
            X, y, sample_weight=weight)
        for member in ensemble.estimators_:
            np.testing.assert_allclose(member.decision_function(items), expected)
        unrequested = RewardEnsemble([clf()], n_estimators=None)
        with pytest.raises(ValueError, match="sample_weight"):
            unrequested.fit(X, y, sample_weight=weight)


def test_parallel_fit_equals_sequential(data):
    X, y, items = data
    ensemble = RewardEnsemble(clf(), n_estimators=4, bootstrap=True, random_state=0)
    sequential = clone(ensemble).fit(X, y).member_rewards(items)
    with parallel_backend("threading"):
        parallel = clone(ensemble).set_params(n_jobs=2).fit(X, y).member_rewards(items)
    np.testing.assert_allclose(parallel, sequential)


def test_stacked_and_separate_fits_agree(data):
    pytest.importorskip("skreward.models._stacked")
    X, y, items = data
    ensemble = RewardEnsemble(BTRegressor(**TINY_NET), n_estimators=3, bootstrap=True,
                              random_state=0)
    stacked = clone(ensemble).set_params(stacked=True).fit(X, y).member_rewards(items)
    separate = clone(ensemble).set_params(stacked=False).fit(X, y).member_rewards(items)
    np.testing.assert_allclose(stacked, separate, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="stacked=True, but the members cannot"):
        RewardEnsemble(clf(), n_estimators=2, stacked=True).fit(X, y)


def test_grid_search_over_aggregate_and_size(data):
    X, y, _ = data
    search = GridSearchCV(
        RewardEnsemble(clf(), bootstrap=True, random_state=0),
        {"aggregate": ["mean", "min", "conservative"], "n_estimators": [1, 3], "k": [0.5]},
        cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 6
    assert 0.6 < search.best_score_ <= 1
    assert search.best_estimator_.aggregate in {"mean", "min", "conservative"}


def test_pickle_round_trip(data):
    X, y, items = data
    ensemble = RewardEnsemble(BTRegressor(**TINY_NET), n_estimators=2, aggregate="conservative",
                              random_state=0).fit(X, y)
    loaded = pickle.loads(pickle.dumps(ensemble))
    np.testing.assert_array_equal(loaded.decision_function(items),
                                  ensemble.decision_function(items))
    np.testing.assert_array_equal(loaded.reward_std(items), ensemble.reward_std(items))


def test_text_pipelines_as_members():
    words = ["good", "great", "fine", "bad", "awful", "poor"]
    rng = np.random.RandomState(0)
    chosen = [f"{words[rng.randint(3)]} answer {i}" for i in range(60)]
    rejected = [f"{words[3 + rng.randint(3)]} answer {i}" for i in range(60)]
    swap = rng.rand(60) < 0.5  # both label kinds, as a pipeline of differences needs
    table = pd.DataFrame({"prompt": ["q"] * 60,
                          "chosen": np.where(swap, rejected, chosen),
                          "rejected": np.where(swap, chosen, rejected)})
    y = np.where(swap, 0, 1)
    members = [make_pipeline(TextVectorizer(TfidfVectorizer()), clf()),
               make_pipeline(TextVectorizer(TfidfVectorizer(analyzer="char_wb",
                                                            ngram_range=(2, 3))), clf(0.1))]
    ensemble = RewardEnsemble(members, n_estimators=None, bootstrap=True, random_state=0)
    ensemble.fit(table, y)
    assert not hasattr(ensemble, "n_features_in_")
    items = {"prompt": ["q", "q"], "response": ["great answer 99", "awful answer 99"]}
    reward = ensemble.decision_function(items)
    assert reward[0] > reward[1]
    assert ensemble.member_rewards(items).shape == (2, 2)
    assert ensemble.score(table, y) > 0.9
    ensemble.fit(table.to_dict("list"), y)  # a dict of columns works too
    with pytest.raises(ValueError, match="must be comparisons"):
        ensemble.fit({"prompt": ["q"], "response": ["a"]})


@pytest.mark.parametrize("params, error, match", [
    (dict(n_estimators=0), ValueError, "'n_estimators' parameter"),
    (dict(aggregate="median"), ValueError, "'aggregate' parameter"),
    (dict(k=-1.0), ValueError, "'k' parameter"),
    (dict(estimator=[], n_estimators=None), ValueError, "estimator is an empty list"),
    (dict(estimator=[PairwiseTransformer()], n_estimators=None), TypeError,
     r"estimator\[0\] \(PairwiseTransformer\) has no fit and decision_function"),
    (dict(estimator=[clf(), LinearRegression()], n_estimators=None), TypeError,
     r"estimator\[1\] \(LinearRegression\)"),
    (dict(estimator=[clf(), clf()]), ValueError, "n_estimators=10, but estimator is a list of 2"),
    (dict(n_estimators=None), ValueError, "n_estimators=None is only for a list"),
    (dict(estimator=LinearRegression()), ValueError, "'estimator' parameter"),
])
def test_bad_parameters_get_clear_errors(data, params, error, match):
    X, y, _ = data
    with pytest.raises(error, match=match):
        RewardEnsemble(**{"estimator": clf(), **params}).fit(X, y)


def test_aggregate_set_after_fit_is_checked(data):
    X, y, items = data
    ensemble = RewardEnsemble(clf(), n_estimators=2).fit(X, y)
    with pytest.raises(ValueError, match="'aggregate' parameter"):
        ensemble.set_params(aggregate="max").decision_function(items)


class _LengthReward(BaseEstimator):
    """A text reward model: the length of the response (fit learns nothing)."""

    def fit(self, X, y=None, sample_weight=None):
        self.fitted_ = True
        return self

    def decision_function(self, X):
        return np.array([float(len(r)) for r in X["response"]])


def test_weights_of_text_comparisons_weigh_their_own_items():
    # a table's items are all chosen answers, then all rejected ones: pair 1's zero weight
    # must remove both its answers (length 1) from the offset, leaving pair 0's (length 10)
    table = {"prompt": ["p", "p"], "chosen": ["a" * 10, "a"], "rejected": ["a" * 10, "a"]}
    ensemble = RewardEnsemble([_LengthReward()], n_estimators=None, standardize="center")
    ensemble.fit(table, sample_weight=[1.0, 0.0])
    assert ensemble.offsets_[0] == pytest.approx(10.0)
