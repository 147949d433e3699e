"""Rankings of k items: data, decomposition into comparisons, Plackett-Luce, simulation."""

import itertools

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from skreward import (BTRegressor, OrderConsistentClassifier, PlackettLuceRegressor, load,
                      ranking_to_pairs, save, simulate_comparisons, simulate_rankings)
from skreward.models._plackett_luce import PlackettLuceLoss
from skreward.utils.estimator_checks import parametrize_with_checks

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = dict(module__hidden_sizes=(16,), max_epochs=20, lr=0.02, validation_fraction=None,
            random_state=0)


def rankings(n=40, k=4, d=5, seed=0):
    """Random rankings whose items are in the order of a linear golden reward."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, k, d))
    golden = X @ np.arange(1.0, d + 1)
    return np.take_along_axis(X, np.argsort(-golden, axis=1)[:, :, None], axis=1)


# -- the loss ------------------------------------------------------------------------

def test_plackett_luce_loss_equals_bradley_terry_loss_for_two_items():
    rng = np.random.RandomState(0)
    rewards = torch.tensor(rng.normal(scale=3, size=(50, 2)), requires_grad=True)
    pl = PlackettLuceLoss(reduction="none")(rewards, torch.full((50,), 2.0))
    pl.sum().backward()
    pl_grad = rewards.grad.clone()
    rewards.grad = None
    bt = torch.nn.BCEWithLogitsLoss(reduction="none")(rewards[:, 0] - rewards[:, 1],
                                                      torch.ones(50, dtype=torch.float64))
    bt.sum().backward()
    np.testing.assert_allclose(pl.detach(), bt.detach(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(pl_grad, rewards.grad, rtol=1e-12, atol=1e-14)


def test_plackett_luce_loss_is_the_log_probability_of_the_order():
    r = np.array([[1.0, -0.5, 2.0, 0.3]])
    p = 1.0
    for j in range(3):  # sequential softmax choices
        p *= np.exp(r[0, j]) / np.exp(r[0, j:]).sum()
    loss = PlackettLuceLoss(reduction="none")
    full = loss(torch.tensor(r), torch.tensor([4.0]))
    np.testing.assert_allclose(full.numpy(), [-np.log(p)], rtol=1e-12)
    # k - 1 ranked items determine the last: the same loss; top-1 is the softmax of the best
    np.testing.assert_allclose(loss(torch.tensor(r), torch.tensor([3.0])).numpy(), full.numpy())
    top1 = -np.log(np.exp(r[0, 0]) / np.exp(r[0]).sum())
    np.testing.assert_allclose(loss(torch.tensor(r), torch.tensor([1.0])).numpy(), [top1])


# -- the estimator ---------------------------------------------------------------------

def test_two_item_rankings_fit_the_bradley_terry_model():
    """k = 2 with comparison labels: the same rewards as BTRegressor."""
    X = rankings(n=60, k=2)
    y = np.random.RandomState(1).randint(2, size=60)
    X = np.where(y[:, None, None] == 1, X, X[:, ::-1])
    kw = dict(TINY, max_epochs=5)
    items = X.reshape(-1, X.shape[2])
    bt = BTRegressor(**kw).fit(X, y).decision_function(items)
    pl = PlackettLuceRegressor(**kw).fit(X, y).decision_function(items)
    np.testing.assert_allclose(pl, bt, atol=1e-5 * np.abs(bt).max())


def test_an_order_array_is_the_same_as_items_in_preferred_order():
    X = rankings()
    rng = np.random.RandomState(0)
    shuffle = np.argsort(rng.random(X.shape[:2]), axis=1)
    X_shuffled = np.take_along_axis(X, shuffle[:, :, None], axis=1)
    order = np.argsort(shuffle, axis=1)  # position of the best, then the next, ...
    items = X.reshape(-1, X.shape[2])
    reference = PlackettLuceRegressor(**TINY).fit(X).decision_function(items)
    ordered = PlackettLuceRegressor(**TINY).fit(X_shuffled, order).decision_function(items)
    np.testing.assert_allclose(ordered, reference, atol=1e-5 * np.abs(reference).max())


def test_partial_rankings_by_top_m_or_padded_order():
    X = rankings()
    items = X.reshape(-1, X.shape[2])
    top2 = PlackettLuceRegressor(top_m=2, **TINY).fit(X).decision_function(items)
    order = np.tile([0, 1, -1, -1], (len(X), 1))
    padded = PlackettLuceRegressor(**TINY).fit(X, order).decision_function(items)
    np.testing.assert_allclose(padded, top2, atol=1e-5 * np.abs(top2).max())
    full = PlackettLuceRegressor(**TINY).fit(X).decision_function(items)
    assert not np.allclose(full, top2)


def test_plackett_luce_learns_the_golden_order():
    X = rankings(n=200)
    model = PlackettLuceRegressor(**TINY).fit(X)
    X_pairs, y, _ = ranking_to_pairs(rankings(n=50, seed=1))
    assert model.score(X_pairs, y) > 0.85


def test_plackett_luce_refuses_bad_input():
    X = rankings()
    model = PlackettLuceRegressor(**TINY)
    repeated = X.copy()
    repeated[3, 2] = repeated[3, 0]
    with pytest.raises(ValueError, match=r"ranking 3 repeats an item \(positions 0 and 2"):
        model.fit(repeated)
    with pytest.raises(ValueError, match="at least k=2 items"):
        model.fit(X[:, :1])
    order = np.tile([0, 1, 2, 3], (len(X), 1))
    order[5] = [0, 1, 1, 3]
    with pytest.raises(ValueError, match=r"y row 5 is not a permutation of range\(4\)"):
        model.fit(X, order)
    with pytest.raises(ValueError, match=r"shape \(n_rankings, k\)"):
        model.fit(X, np.ones(len(X)))
    with pytest.raises(ValueError, match=r"top_m must be .* in \[1, k=4\].*got 5"):
        PlackettLuceRegressor(top_m=5, **TINY).fit(X)
    # a tie as a soft label (0.5) on two items: the Plackett-Luce model takes orders only
    with pytest.raises(ValueError, match="not soft labels or ties; comparison 0 has the label 0.5"):
        model.fit(X[:, :2], np.full(len(X), 0.5))


# skorch's set_params warns once per parameter in check_set_params, as for BTRegressor
# in test_common.py (the expected failure below)
@pytest.mark.filterwarnings("ignore:TypeError occurred during set_params:UserWarning")
@pytest.mark.filterwarnings("ignore:Estimator's parameters changed after set_params")
@parametrize_with_checks([PlackettLuceRegressor(**TINY)], expected_failed_checks=lambda _: {
    "check_no_attributes_set_in_init": "skorch's NeuralNet.__init__ sets history_, "
                                       "initialized_ and virtual_params_",
    "check_do_not_raise_errors_in_init_or_set_params": "skorch's set_params re-initialises "
                                                       "the callbacks as soon as they are set",
    "check_regressors_no_decision_function": "by design: decision_function is the reward",
})
def test_estimator_checks(estimator, check):
    """The comparison-shaped checks apply: two-item rankings are comparisons."""
    check(estimator)


# -- decomposition ---------------------------------------------------------------------

def test_ranking_to_pairs_schemes():
    X = rankings(n=3, k=4)
    for scheme, expected in [("all_pairs", [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]),
                             ("adjacent", [(0, 1), (1, 2), (2, 3)]),
                             ("best_vs_rest", [(0, 1), (0, 2), (0, 3)])]:
        X_pairs, y, ids = ranking_to_pairs(X, scheme=scheme)
        assert np.all(y == 1)
        np.testing.assert_array_equal(ids, np.repeat([0, 1, 2], len(expected)))
        first, second = (np.tile([pair[i] for pair in expected], 3) for i in (0, 1))
        want = np.stack([X[ids, first], X[ids, second]], axis=1)
        np.testing.assert_array_equal(X_pairs, want)


def test_ranking_to_pairs_of_partial_rankings():
    X = rankings(n=2, k=4)
    # top-2 of 4: ranked items beat all below them; the two unranked are not compared
    _, _, ids = ranking_to_pairs(X, top_m=[2, 4])
    np.testing.assert_array_equal(np.bincount(ids), [5, 6])
    _, _, ids = ranking_to_pairs(X, top_m=[1, 4], scheme="adjacent")
    np.testing.assert_array_equal(np.bincount(ids), [3, 3])
    X_pairs, _, _ = ranking_to_pairs(X[:1, ::-1], order=[[3, 2, -1, -1]])
    np.testing.assert_array_equal(X_pairs[0], X[0, [0, 1]])


def test_ranking_ids_keep_a_rankings_pairs_in_one_fold():
    X_pairs, y, ids = ranking_to_pairs(rankings(n=20))
    for train, test in GroupKFold(4).split(X_pairs, y, groups=ids):
        assert not set(ids[train]) & set(ids[test])


def test_classification_reward_from_rankings():
    """All pairs give every position its Borda share of winner rows, so the classifier's
    reward orders the rankings' items."""
    X_pairs, y, _ = ranking_to_pairs(rankings(n=200))
    model = OrderConsistentClassifier(LogisticRegression()).fit(X_pairs, y)
    X_test, y_test, _ = ranking_to_pairs(rankings(n=50, seed=1))
    assert model.score(X_test, y_test) > 0.95


def test_ranking_to_pairs_refuses_bad_input():
    X = rankings(n=3, k=3)
    with pytest.raises(ValueError, match=r"order row 1 is not a permutation"):
        ranking_to_pairs(X, order=[[0, 1, 2], [2, -1, 0], [0, 1, 2]])
    with pytest.raises(ValueError, match="top_m must be"):
        ranking_to_pairs(X, top_m=0)
    with pytest.raises(ValueError, match="either order"):
        ranking_to_pairs(X, order=[[0, 1, 2]] * 3, top_m=2)
    with pytest.raises(ValueError, match="scheme"):
        ranking_to_pairs(X, scheme="pairs")


# -- simulation ------------------------------------------------------------------------

def test_simulated_orders_follow_plackett_luce():
    golden = np.array([0.0, 0.7, 1.5])
    beta, n = 2.0, 20_000
    sim = simulate_rankings(golden, n_rankings=n, k=3, pairing="cross_prompt", beta=beta,
                            random_state=0)
    utility = beta * golden / golden.std()
    orders = list(itertools.permutations(range(3)))
    expected = np.array([np.prod([np.exp(utility[o[j]]) / np.exp(utility[list(o[j:])]).sum()
                                  for j in range(2)]) for o in orders])
    codes = {o: i for i, o in enumerate(orders)}
    observed = np.bincount([codes[tuple(r)] for r in sim.rankings], minlength=6)
    assert chisquare(observed, expected * n).pvalue > 0.01
    assert np.isclose(expected.sum(), 1)


def test_two_item_rankings_reproduce_the_pairwise_annotator():
    rng = np.random.RandomState(0)
    golden, groups = rng.normal(size=60), np.repeat(np.arange(6), 10)
    a, b = np.triu_indices(10, 1)
    delta = np.concatenate([golden[g * 10 + a] - golden[g * 10 + b] for g in range(6)])
    expected = np.mean(1 - expit(np.abs(delta) / golden.std()))  # beta = 1, uniform pairs
    sim = simulate_rankings(golden, groups, n_rankings=40_000, k=2, random_state=0)
    pairs = simulate_comparisons(golden, groups, n_pairs=270, random_state=0)
    assert abs(sim.error_rate - expected) < 0.01
    assert abs(pairs.error_rate - expected) < 0.05  # the pairwise simulator: same rule
    assert sim.tie_rate == 0


def test_simulated_rankings_are_of_one_prompt_and_noiseless_at_infinite_beta():
    golden, groups = np.arange(20.0), np.repeat(np.arange(4), 5)
    sim = simulate_rankings(golden, groups, n_rankings=30, k=4, beta=np.inf, random_state=0)
    assert np.all(groups[sim.rankings] == groups[sim.rankings[:, :1]])
    assert np.all(np.diff(golden[sim.rankings], axis=1) < 0)
    assert sim.error_rate == 0 and sim.top_error_rate == 0
    assert np.all(np.sort(sim.rankings, axis=1)[:, 1:] != np.sort(sim.rankings, axis=1)[:, :-1])
    assert sim.take(golden[:, None]).shape == (30, 4, 1)
    noisy = simulate_rankings(golden, groups, n_rankings=500, k=4, beta=0.5, random_state=0)
    assert 0.2 < noisy.error_rate < 0.5 and noisy.top_error_rate > noisy.error_rate


def test_simulate_rankings_refuses_bad_input():
    golden, groups = np.arange(20.0), np.repeat(np.arange(4), 5)
    with pytest.raises(ValueError, match="at least k=6 responses"):
        simulate_rankings(golden, groups, n_rankings=3, k=6)
    with pytest.raises(ValueError, match="k"):
        simulate_rankings(golden, groups, n_rankings=3, k=1)
    with pytest.raises(ValueError, match="pairing"):
        simulate_rankings(golden, groups, n_rankings=3, k=3, pairing="similar")


def test_plackett_luce_model_saves_and_loads(tmp_path):
    X = rankings()
    model = PlackettLuceRegressor(top_m=3, **TINY).fit(X)
    save(model, tmp_path / "pl.skops")
    loaded = load(tmp_path / "pl.skops")
    items = X.reshape(-1, X.shape[2])
    assert loaded.top_m == 3
    np.testing.assert_allclose(loaded.decision_function(items), model.decision_function(items))
