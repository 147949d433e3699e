"""Active selection of pairs: strategies, features, the loop, and bad inputs."""

import numpy as np
import pytest
import sklearn
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold

from skreward import BestOfNScorer, BTRegressor, OrderConsistentClassifier
from skreward.active import (STRATEGIES, ActiveAnnotator, reward_features, select_pairs,
                             simulate_active_annotation)
from skreward.active._doptimal import WhitenedPairs
from skreward.active._greedy import greedy_select
from skreward.datasets import make_preference_testbed


class LinearReward:
    """A fitted linear reward ``r(x) = x @ coef`` that names its features (the protocol)."""

    def __init__(self, coef):
        self.coef = np.asarray(coef, dtype=float)

    def decision_function(self, X):
        return np.asarray(X) @ self.coef

    def reward_features(self, X):
        return np.asarray(X, dtype=float)


class NoFeatures:
    def decision_function(self, X):
        return np.zeros(len(X))


class Members(LinearReward):
    """Three linear rewards that agree on the first feature and disagree on the second."""

    def member_rewards(self, X):
        X = np.asarray(X)
        return np.stack([X @ [1.0, s] for s in (-1.0, 0.0, 1.0)])


def all_pairs(n):
    i, j = np.triu_indices(n, 1)
    return np.column_stack([i, j])


def analytic_gains(X, coef, pairs, M):
    d = X[pairs[:, 0]] - X[pairs[:, 1]]
    p = 1 / (1 + np.exp(-(d @ coef)))
    return p * (1 - p) * np.einsum("ij,jk,ik->i", d, np.linalg.inv(M), d)


def test_d_optimal_picks_the_analytically_most_informative_pair():
    # x1 - x0 is long but its outcome is nearly certain (reward gap 6: p(1-p) ~ 0.0025);
    # x2 - x0 is shorter but a coin flip (gap 0: p(1-p) = 1/4): the most informative.
    X = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
    model = LinearReward([2.0, 0.0])
    pool = all_pairs(4)
    chosen = select_pairs(model, X, n_pairs=1, pool=pool, ridge=1.0)
    assert chosen.tolist() == [[0, 2]]
    # The one-shot top-k ranks the pool as the analytic gains do (M = ridge * s * I).
    d = X[pool[:, 0]] - X[pool[:, 1]]
    w = analytic_gains(X, model.coef, pool, np.eye(2))  # w ||d||^2
    M = np.eye(2) * np.mean(w) / 2
    expected = np.argsort(-analytic_gains(X, model.coef, pool, M), kind="stable")
    top = select_pairs(model, X, n_pairs=len(pool), pool=pool, batch="top_k")
    assert top.tolist() == pool[expected].tolist()
    assert d.shape == (6, 2)


def test_past_aware_avoids_a_direction_already_labelled():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.5], [4.0, 0.0]])
    model = LinearReward([0.0, 0.0])  # p = 1/2 everywhere: gains are d^T M^-1 d
    pool = np.array([[0, 1], [0, 2]])  # along e1 (longer) and along e2
    labelled = np.array([[1, 3]] * 20 + [[0, 1]])  # e1, labelled often
    assert select_pairs(model, X, n_pairs=1, pool=pool).tolist() == [[0, 1]]
    past = select_pairs(model, X, n_pairs=1, pool=np.array([[0, 3], [0, 2]]),
                        labelled=labelled, strategy="past_aware")
    assert past.tolist() == [[0, 2]]  # e1 is known from the labelled pairs
    plain = select_pairs(model, X, n_pairs=1, pool=np.array([[0, 3], [0, 2]]),
                         labelled=labelled, strategy="d_optimal")
    assert plain.tolist() == [[0, 3]]  # the longer difference, blind to the labels


def redundancy(X, pairs):
    """Mean |cosine| between the feature differences of distinct chosen pairs."""
    d = X[pairs[:, 0]] - X[pairs[:, 1]]
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    cos = np.abs(d @ d.T)
    return (cos.sum() - len(d)) / (len(d) * (len(d) - 1))


def test_greedy_batches_are_less_redundant_than_top_k():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 8)) * [4.0, 1, 1, 1, 1, 1, 1, 1]  # one dominant direction
    model = LinearReward(np.zeros(8))
    greedy = select_pairs(model, X, n_pairs=20, n_candidates=5000, random_state=0)
    top_k = select_pairs(model, X, n_pairs=20, n_candidates=5000, batch="top_k",
                         random_state=0)
    assert redundancy(X, greedy) < 0.5 * redundancy(X, top_k)


def naive_greedy(X, coef, pool, n_pairs, ridge, labelled=None):
    """Dense reference: every gain recomputed from an explicit inverse after every pick."""
    d = X[pool[:, 0]] - X[pool[:, 1]]
    p = 1 / (1 + np.exp(-(d @ coef)))
    w = p * (1 - p)
    M = np.eye(X.shape[1]) * ridge * np.mean(w * np.sum(d * d, axis=1)) / X.shape[1]
    if labelled is not None:
        e = X[labelled[:, 0]] - X[labelled[:, 1]]
        q = 1 / (1 + np.exp(-(e @ coef)))
        M += (e * (q * (1 - q))[:, None]).T @ e
    picks = []
    for _ in range(n_pairs):
        gains = w * np.einsum("ij,jk,ik->i", d, np.linalg.inv(M), d)
        gains[picks] = -np.inf
        picks.append(int(np.argmax(gains)))
        M += w[picks[-1]] * np.outer(d[picks[-1]], d[picks[-1]])
    return pool[picks]


@pytest.mark.parametrize("strategy", ["d_optimal", "past_aware"])
def test_greedy_picks_what_the_dense_reference_picks(strategy):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(60, 6)) * np.linspace(2, 0.5, 6)
    coef = rng.normal(size=6) * 0.5
    pool = all_pairs(60)[rng.permutation(1770)[:1200]]
    labelled = all_pairs(60)[rng.permutation(1770)[:30]]
    labelled = labelled[~np.isin(labelled[:, 0] * 60 + labelled[:, 1],
                                 pool[:, 0] * 60 + pool[:, 1])]
    chosen = select_pairs(LinearReward(coef), X, n_pairs=40, pool=pool, labelled=labelled,
                          strategy=strategy, ridge=0.5, chunk_size=97)
    reference = naive_greedy(X, coef, pool, 40, 0.5,
                             labelled if strategy == "past_aware" else None)
    assert chosen.tolist() == reference.tolist()


def test_lazy_greedy_ends_when_more_gains_tie_than_the_hot_set_holds():
    # 4,950 pairs of orthogonal unit items tie at the first pick: the hot set (here 1 row)
    # must take the lowest-index tied candidates, which the pick takes too, or it loops
    X = np.eye(100)
    pool = all_pairs(100)
    space = WhitenedPairs(X, pool, np.eye(100))
    picks, _ = greedy_select(space, np.full(len(pool), 0.25), 5, hot=1)
    reference, _ = greedy_select(space, np.full(len(pool), 0.25), 5, hot=len(pool))
    assert picks.tolist() == reference.tolist() == [0, 197, 390, 579, 764]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_fixed_seeds_give_identical_selections(strategy):
    data = make_preference_testbed(n_prompts=40, n_features=8, n_latent=4, random_state=0)
    model = Members(np.r_[1.0, np.zeros(7)])
    X = data.X
    if strategy == "disagreement":
        X = X[:, :2]
        model = Members([1.0, 0.0])
    kwargs = dict(n_pairs=15, strategy=strategy, n_candidates=400, labelled=[[0, 1], [2, 3]])
    first = select_pairs(model, X, data.groups, random_state=3, **kwargs)
    again = select_pairs(model, X, data.groups, random_state=3, **kwargs)
    assert first.tolist() == again.tolist()
    assert len({tuple(sorted(p)) for p in first.tolist()}) == 15  # distinct pairs
    assert not {tuple(sorted(p)) for p in first.tolist()} & {(0, 1), (2, 3)}  # none labelled


def test_disagreement_picks_pairs_the_members_disagree_on():
    X = np.array([[0.0, 0.0], [1.0, -1.0], [0.0, 1.0], [1.0, 3.0]])
    chosen = select_pairs(Members([1.0, 0.0]), X, n_pairs=1, pool=all_pairs(4),
                          strategy="disagreement")
    assert chosen.tolist() == [[1, 3]]  # the largest difference in the second feature


def test_same_prompt_pool_pairs_responses_of_one_prompt():
    data = make_preference_testbed(n_prompts=30, n_features=8, n_latent=4, random_state=0)
    for strategy in ("gap", "coreset", "d_optimal"):
        pairs = select_pairs(LinearReward(np.ones(8)), data.X, data.groups, n_pairs=12,
                             strategy=strategy, pool="same_prompt", random_state=0)
        assert (data.groups[pairs[:, 0]] == data.groups[pairs[:, 1]]).all()


def test_gap_picks_the_closest_predicted_rewards():
    X = np.array([[0.0], [1.0], [1.1], [5.0]])
    chosen = select_pairs(LinearReward([1.0]), X, n_pairs=1, pool=all_pairs(4), strategy="gap")
    assert chosen.tolist() == [[1, 2]]


def test_reward_features_of_the_library_models():
    rng = np.random.RandomState(0)
    X_pairs = rng.normal(size=(80, 2, 5))
    items = X_pairs[:, 0]
    linear = OrderConsistentClassifier(LogisticRegression()).fit(X_pairs)
    assert np.array_equal(reward_features(linear, items), items)
    trees = OrderConsistentClassifier(LGBMClassifier(n_estimators=5, verbose=-1)).fit(X_pairs)
    assert np.array_equal(reward_features(trees, items), items)
    net = BTRegressor(module__hidden_sizes=(7, 3), max_epochs=2, validation_fraction=None,
                      random_state=0).fit(X_pairs)
    hidden = reward_features(net, items)
    assert hidden.shape == (80, 3)
    last = net.module_.layers[-1]
    rebuilt = hidden @ last.weight.detach().numpy().ravel() + last.bias.item()
    np.testing.assert_allclose(rebuilt, net.decision_function(items), rtol=1e-4, atol=1e-5)


def test_bad_inputs_get_clear_errors():
    X = np.eye(4)
    model = LinearReward(np.zeros(4))
    with pytest.raises(ValueError, match="n_pairs=7 is larger than the pool's 6 candidate"):
        select_pairs(model, X, n_pairs=7, pool=all_pairs(4))
    with pytest.raises(ValueError, match="pool of candidate pairs is empty"):
        select_pairs(model, X, n_pairs=1, pool=np.empty((0, 2), dtype=int))
    with pytest.raises(ValueError, match="pool of candidate pairs is empty"):
        select_pairs(model, X, n_pairs=1, pool=[[0, 1]], labelled=[[1, 0]])
    with pytest.raises(TypeError, match="NoFeatures offers no features.*reward_features"):
        select_pairs(NoFeatures(), X, n_pairs=1, strategy="d_optimal")
    with pytest.raises(TypeError, match="member_rewards"):
        select_pairs(model, X, n_pairs=1, strategy="disagreement")
    with pytest.raises(ValueError, match="groups is required"):
        select_pairs(model, X, n_pairs=1, pool="same_prompt")
    with pytest.raises(ValueError, match=r"pool indexes items outside \[0, 4\)"):
        select_pairs(model, X, n_pairs=1, pool=[[0, 9]])
    with pytest.raises(ValueError, match="pool must be item index pairs"):
        select_pairs(model, X, n_pairs=1, pool=[0, 1, 2])
    with pytest.raises(ValueError, match=r"pair \(1, 0\) at row 1, which repeats row 0"):
        select_pairs(model, X, n_pairs=2, pool=[[0, 1], [1, 0], [2, 3]])
    with pytest.raises(ValueError, match="'strategy' parameter"):
        select_pairs(model, X, n_pairs=1, strategy="best")
    with pytest.raises(ValueError, match="n_labels must be increasing"):
        next(simulate_active_annotation(OrderConsistentClassifier(LogisticRegression()), X,
                                        np.arange(4.0), n_labels=(3, 2)))


@pytest.mark.parametrize("strategy", ["random", "d_optimal", "past_aware", "coreset", "gap"])
def test_active_rounds_label_the_schedule(strategy):
    data = make_preference_testbed(n_prompts=60, n_features=8, n_latent=4, random_state=0)
    rounds = list(simulate_active_annotation(
        OrderConsistentClassifier(LogisticRegression()), data.X, data.golden, data.groups,
        strategy=strategy, n_labels=(40, 70, 100), pool="same_prompt", n_candidates=300,
        beta=10, random_state=0))
    assert [r.n_labels for r in rounds] == [40, 70, 100]
    pairs = rounds[-1].pairs
    assert len({tuple(sorted(p)) for p in pairs.tolist()}) == 100  # never labelled twice
    assert np.array_equal(rounds[-1].pairs[:70], rounds[1].pairs)
    assert rounds[0].estimator is not rounds[-1].estimator


def test_active_annotator_is_seeded_and_searchable():
    data = make_preference_testbed(n_prompts=80, n_features=8, n_latent=4, n_test_prompts=5,
                                   n_candidates=20, random_state=0)
    make = lambda: ActiveAnnotator(OrderConsistentClassifier(LogisticRegression()),  # noqa: E731
                                   n_labels=(30, 60), n_candidates=500, beta=10,
                                   random_state=0)
    first = make().fit(data.X, data.golden, groups=data.groups)
    again = make().fit(data.X, data.golden, groups=data.groups)
    assert np.array_equal(first.pairs_, again.pairs_)
    assert [h["n_labels"] for h in first.history_] == [30, 60]
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(make(), {"strategy": ["random", "d_optimal"]},
                              scoring=BestOfNScorer(n=4), cv=GroupKFold(2))
        search.fit(data.X, data.golden, groups=data.groups)
    assert set(search.cv_results_["param_strategy"]) == {"random", "d_optimal"}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
