"""Ties: the tie-aware Bradley-Terry model (Davidson) and ties declared by the simulator."""

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from skreward import (BTRegressor, OrderConsistentClassifier, PlackettLuceRegressor,
                      TieAwareBTRegressor, load, save, simulate_comparisons)
from skreward.metrics import order_consistency_score
from skreward.utils.estimator_checks import parametrize_with_checks

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    # skorch's set_params, as for BTRegressor in test_common.py
    pytest.mark.filterwarnings("ignore:TypeError occurred during set_params:UserWarning"),
    pytest.mark.filterwarnings("ignore:Estimator's parameters changed after set_params"),
]

NET = dict(module__hidden_sizes=(8,), validation_fraction=None, random_state=0)


# The expected failures of BTRegressor in test_common.py, for the same reasons.
EXPECTED_FAILURES = {
    "check_no_attributes_set_in_init": "skorch's NeuralNet.__init__ sets attributes",
    "check_do_not_raise_errors_in_init_or_set_params": "skorch's set_params re-initialises",
    "check_regressors_no_decision_function": "by design: decision_function is the reward",
}


@parametrize_with_checks([TieAwareBTRegressor(module__hidden_sizes=(16,), max_epochs=20, lr=0.02,
                                              validation_fraction=None, random_state=0)],
                         expected_failed_checks=lambda estimator: EXPECTED_FAILURES)
def test_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture
def linear_items():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 5))
    return X, X @ rng.normal(size=5)


def test_davidson_likelihood_computed_by_hand():
    rewards = np.array([[1.2, -0.3], [0.4, 0.4], [-1.0, 0.5], [2.0, 1.9], [0.0, -2.5]])
    labels = np.array([1, 0.5, 0, 0.5, 0], dtype=np.float32)
    weight = np.array([1.0, 2.0, 0.5, 1.0, 0.0])
    nu = 0.7
    model = TieAwareBTRegressor(**NET).initialize()
    with torch.no_grad():
        model.criterion_.log_tie.fill_(np.log(nu))
    d = rewards[:, 0] - rewards[:, 1]
    z = np.exp(d / 2) + np.exp(-d / 2) + nu
    p = {1.0: np.exp(d / 2) / z, 0.0: np.exp(-d / 2) / z, 0.5: nu / z}
    by_hand = -np.log(np.choose([{0.0: 0, 0.5: 1, 1.0: 2}[t] for t in labels],
                                [p[0.0], p[0.5], p[1.0]]))
    y_true = torch.tensor(np.column_stack([labels, weight]), dtype=torch.float32)
    loss = model.get_loss(torch.tensor(rewards, dtype=torch.float32), y_true).item()
    np.testing.assert_allclose(loss, np.sum(weight * by_hand) / weight.sum(), rtol=1e-5)
    # the three outcomes' probabilities sum to one
    np.testing.assert_allclose(p[0.0] + p[0.5] + p[1.0], 1.0)


def test_no_ties_at_nu_zero_is_bradley_terry():
    from skreward.models._ties import DavidsonLoss

    d = torch.tensor([1.5, -0.2, 0.0, 3.0])
    target = torch.tensor([1.0, 1.0, 0.0, 0.0])
    davidson = DavidsonLoss(tie_param=1e-12, reduction="none")(d, target)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(d, target, reduction="none")
    np.testing.assert_allclose(davidson.detach().numpy(), bce.numpy(), atol=1e-6)


@pytest.mark.parametrize("nu", [0.3, 1.0])
def test_tie_param_is_learned_close_to_the_truth(linear_items, nu):
    X, golden = linear_items
    sim = simulate_comparisons(golden, n_pairs=4000, pairing="cross_prompt", beta=2.0,
                               tie_param=nu, random_state=0)
    model = TieAwareBTRegressor(module__hidden_sizes=(16,), lr=1e-2, max_epochs=30,
                                batch_size=256, validation_fraction=None, random_state=0)
    model.fit(sim.take(X), sim.y)
    assert nu / 1.3 < model.tie_param_ < nu * 1.3
    assert np.corrcoef(model.predict(X), golden)[0, 1] > 0.95
    proba = model.predict_proba(sim.take(X))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # predicted tie probabilities add up to about the number of ties
    assert abs(proba[:, 1].mean() - sim.declared_tie_rate) < 0.03


def test_early_stopping_restores_the_tie_param_of_the_best_epoch(linear_items):
    # skorch restores the best epoch's module weights; the tie parameter lives in the
    # criterion and must come back from the same epoch: equal to a fit stopped right there
    X, golden = linear_items
    sim = simulate_comparisons(golden, n_pairs=600, pairing="cross_prompt", beta=0.5,
                               tie_param=0.5, random_state=0)
    kwargs = dict(module__hidden_sizes=(64,), lr=0.05, batch_size=32, random_state=0)
    stopped = TieAwareBTRegressor(**kwargs, max_epochs=60, patience=2).fit(sim.take(X), sim.y)
    best = dict(stopped.callbacks_)["early_stopping"].best_epoch_
    assert best < len(stopped.history)  # it did restore an earlier epoch
    exact = TieAwareBTRegressor(**kwargs, max_epochs=best, patience=None).fit(sim.take(X), sim.y)
    np.testing.assert_allclose(stopped.tie_param_, exact.tie_param_, rtol=1e-6)
    np.testing.assert_allclose(stopped.predict(X), exact.predict(X), rtol=1e-5, atol=1e-6)


def test_tie_param_starts_at_the_tie_fraction_and_is_saved(linear_items, tmp_path):
    X, golden = linear_items
    sim = simulate_comparisons(golden, n_pairs=300, pairing="cross_prompt", tie_threshold=0.3,
                               random_state=0)
    start = TieAwareBTRegressor(**NET, max_epochs=1, lr=1e-12).fit(sim.take(X), sim.y)
    p = sim.declared_tie_rate
    np.testing.assert_allclose(start.tie_param_, 2 * p / (1 - p), rtol=1e-4)
    given = TieAwareBTRegressor(**NET, max_epochs=1, lr=1e-12, tie_param_init=0.25)
    np.testing.assert_allclose(given.fit(sim.take(X), sim.y).tie_param_, 0.25, rtol=1e-4)
    save(start, tmp_path / "ties.skops")
    loaded = load(tmp_path / "ties.skops")
    np.testing.assert_allclose(loaded.predict_proba(sim.take(X)),
                               start.predict_proba(sim.take(X)), rtol=1e-6)


def test_score_counts_a_tied_label_one_half():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 2, 3))
    y = rng.choice([0.0, 0.5, 1.0], size=40)
    model = TieAwareBTRegressor(**NET, max_epochs=2).fit(X, y)
    reward = model.decision_function(X.reshape(-1, 3)).reshape(-1, 2)
    diff = reward[:, 0] - reward[:, 1]
    decided = y != 0.5
    agree = np.mean((diff[decided] > 0) == (y[decided] == 1))
    expected = (decided.sum() * agree + 0.5 * (~decided).sum()) / len(y)
    np.testing.assert_allclose(model.score(X, y), expected)
    np.testing.assert_allclose(model.score(X, y, sample_weight=decided), agree)
    assert model.score(X, y) == pytest.approx(order_consistency_score(y, diff))


def test_the_other_models_take_ties_as_soft_labels():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 2, 3))
    y = rng.choice([0.0, 0.5, 1.0], size=40)
    assert BTRegressor(**NET, max_epochs=2).fit(X, y).predict(X[:, 0]).shape == (40,)
    OrderConsistentClassifier(LogisticRegression()).fit(X, y)


def test_a_ranking_model_refuses_ties():
    X = np.random.RandomState(0).normal(size=(6, 2, 3))
    with pytest.raises(ValueError, match=r"y must hold labels in \{0, 1\}"):
        PlackettLuceRegressor(**NET, max_epochs=1).fit(X, [1, 0.5, 0, 1, 1, 0])


def test_bad_labels_and_settings():
    X = np.random.RandomState(0).normal(size=(10, 2, 3))
    with pytest.raises(ValueError, match=r"TieAwareBTRegressor takes labels 1 .* or 0.5 "
                                         r"\(a tie\); comparison 2 has 0.8"):
        TieAwareBTRegressor(**NET).fit(X, [1, 0, 0.8] + [1] * 7)
    with pytest.raises(ValueError, match="soft labels in"):
        TieAwareBTRegressor(**NET).fit(X, [2] * 10)
    with pytest.raises(ValueError, match="takes no margin"):
        TieAwareBTRegressor(**NET).fit(X, margin=np.ones(10))
    with pytest.raises(InvalidParameterError, match="tie_param_init"):
        TieAwareBTRegressor(**NET, tie_param_init=0.0).fit(X)
    model = TieAwareBTRegressor(**NET, max_epochs=1).fit(X)  # y=None: all decided, first wins
    assert 0 < model.tie_param_ < 0.01


# -- the simulator -----------------------------------------------------------------


def test_threshold_ties_are_the_pairs_below_the_threshold(linear_items):
    _, golden = linear_items
    plain = simulate_comparisons(golden, n_pairs=20000, pairing="cross_prompt", beta=3.0,
                                 random_state=0)
    sim = simulate_comparisons(golden, n_pairs=20000, pairing="cross_prompt", beta=3.0,
                               tie_threshold=0.25, random_state=0)
    np.testing.assert_array_equal(sim.pairs, plain.pairs)
    delta = golden[sim.pairs[:, 0]] - golden[sim.pairs[:, 1]]
    below = np.abs(delta) / np.std(golden) < 0.25
    np.testing.assert_array_equal(sim.y == 0.5, below)
    np.testing.assert_array_equal(sim.y[~below], plain.y[~below])  # decided labels unchanged
    # golden rewards ~ normal: delta / std ~ N(0, 2), P(|delta| / std < t) = 2 Phi(t / sqrt 2) - 1
    assert sim.declared_tie_rate == pytest.approx(2 * norm.cdf(0.25 / np.sqrt(2)) - 1, abs=0.015)
    decided_error = np.mean(sim.y[~below] != (delta[~below] > 0))
    assert sim.decided_error_rate == pytest.approx(decided_error)
    assert sim.error_rate == pytest.approx(sim.declared_tie_rate / 2
                                           + (1 - sim.declared_tie_rate) * decided_error)


def test_davidson_ties_match_their_probability(linear_items):
    _, golden = linear_items
    sim = simulate_comparisons(golden, n_pairs=20000, pairing="cross_prompt", beta=2.0,
                               tie_param=0.5, random_state=0)
    d = 2.0 * (golden[sim.pairs[:, 0]] - golden[sim.pairs[:, 1]]) / np.std(golden)
    expected = np.mean(0.5 / (np.exp(d / 2) + np.exp(-d / 2) + 0.5))
    assert sim.declared_tie_rate == pytest.approx(expected, abs=0.01)
    coin = simulate_comparisons(golden, n_pairs=20000, pairing="cross_prompt", beta=0.0,
                                tie_param=0.5, random_state=0)
    assert coin.declared_tie_rate == pytest.approx(0.5 / 2.5, abs=0.01)
    perfect = simulate_comparisons(golden, n_pairs=200, pairing="cross_prompt", beta=np.inf,
                                   tie_param=0.5, random_state=0)
    assert perfect.declared_tie_rate == 0.0 and perfect.decided_error_rate == 0.0


def test_no_tie_setting_leaves_the_simulation_unchanged(linear_items):
    _, golden = linear_items
    sim = simulate_comparisons(golden, n_pairs=500, pairing="cross_prompt", random_state=0)
    assert sim.y.dtype == np.int64 and set(np.unique(sim.y)) <= {0, 1}
    assert sim.declared_tie_rate == 0.0 and sim.decided_error_rate == sim.error_rate


def test_bad_tie_settings(linear_items):
    _, golden = linear_items
    with pytest.raises(ValueError, match="at most one of tie_threshold and tie_param"):
        simulate_comparisons(golden, n_pairs=10, pairing="cross_prompt", tie_threshold=0.1,
                             tie_param=1.0)
    with pytest.raises(InvalidParameterError, match="tie_threshold"):
        simulate_comparisons(golden, n_pairs=10, pairing="cross_prompt", tie_threshold=-1)
    with pytest.raises(InvalidParameterError, match="tie_param"):
        simulate_comparisons(golden, n_pairs=10, pairing="cross_prompt", tie_param="high")
