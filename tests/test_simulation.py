import numpy as np
import pytest
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skreward import (OrderConsistentClassifier, PairwiseTransformer, SimulatedAnnotator,
                      simulate_comparisons)
from skreward.metrics import best_of_n_report

PAIRINGS = ["same_prompt", "cross_prompt", "similar", "diverse"]


@pytest.fixture
def items():
    golden = np.arange(40, dtype=float)
    groups = np.repeat(np.arange(5), 8)
    return golden, groups


@pytest.mark.parametrize("pairing", PAIRINGS)
def test_pairs_follow_the_pairing(items, pairing):
    golden, groups = items
    sim = simulate_comparisons(golden, groups, n_pairs=20, pairing=pairing, beta=np.inf,
                               random_state=0)
    first, second = sim.pairs.T
    assert sim.pairs.shape == (20, 2) and (first != second).all()
    assert len({tuple(sorted(p)) for p in sim.pairs.tolist()}) == 20  # without replacement
    same = groups[first] == groups[second]
    assert same.all() if pairing != "cross_prompt" else not same.all()
    rank = golden % 8  # golden increases within each prompt of 8
    lo, hi = np.minimum(rank[first], rank[second]), np.maximum(rank[first], rank[second])
    if pairing == "similar":
        assert lo.min() >= 2 and hi.max() <= 5  # the middle half of 8
    if pairing == "diverse":
        assert lo.max() <= 1 and hi.min() >= 6  # worst quarter vs best quarter
    np.testing.assert_array_equal(sim.y, golden[first] > golden[second])  # noiseless


def test_order_of_items_is_random(items):
    sim = simulate_comparisons(*items, n_pairs=100, beta=np.inf, random_state=0)
    assert 0.35 < sim.y.mean() < 0.65


@pytest.mark.parametrize("link", ["logistic", "probit"])
def test_error_rate_follows_the_link(link):
    from scipy.special import expit
    from scipy.stats import norm
    rng = np.random.default_rng(0)
    golden = rng.normal(size=3000)
    sim = simulate_comparisons(golden, n_pairs=50_000, pairing="cross_prompt", beta=1.0,
                               link=link, random_state=0)
    delta = np.abs(np.diff(golden[sim.pairs], axis=1)).ravel() / golden.std()
    expected = 1 - (expit(delta) if link == "logistic" else norm.cdf(delta)).mean()
    assert sim.error_rate == pytest.approx(expected, abs=0.01)
    assert sim.mean_abs_delta == pytest.approx(np.mean(delta) * golden.std())


def test_beta_zero_is_a_coin_flip_and_scale_rescales():
    golden = np.linspace(0, 1, 500)
    assert simulate_comparisons(golden, n_pairs=20_000, pairing="cross_prompt", beta=0,
                                random_state=0).error_rate == pytest.approx(0.5, abs=0.015)
    a = simulate_comparisons(golden, n_pairs=5000, pairing="cross_prompt", beta=2,
                             scale=1.0, random_state=0)
    b = simulate_comparisons(10 * golden, n_pairs=5000, pairing="cross_prompt", beta=2,
                             scale=10.0, random_state=0)
    np.testing.assert_array_equal(a.y, b.y)


def test_seed_repeats_and_take_builds_comparisons(items):
    golden, groups = items
    a = simulate_comparisons(golden, groups, n_pairs=30, random_state=3)
    b = simulate_comparisons(golden, groups, n_pairs=30, random_state=3)
    np.testing.assert_array_equal(a.pairs, b.pairs)
    X = np.column_stack([golden, -golden])
    assert a.take(X).shape == (30, 2, 2)
    np.testing.assert_array_equal(a.take(X)[:, 1, 0], golden[a.pairs[:, 1]])


def test_replace_allows_more_pairs_than_exist(items):
    golden, groups = items
    sim = simulate_comparisons(golden, groups, n_pairs=1000, replace=True, random_state=0)
    assert len(sim.y) == 1000


@pytest.mark.parametrize("kwargs, message", [
    ({"n_pairs": 141}, "n_pairs=141 is larger than the 140 distinct pairs"),
    ({"pairing": "diverse", "n_pairs": 21}, "larger than the 20 distinct pairs"),
    ({"groups": np.arange(40)}, "needs at least two responses per prompt; prompts"),
    ({"groups": np.zeros(3)}, "one prompt id per item: got 3 for 40"),
    ({"groups": None}, "groups is required"),
    ({"pairing": "random"}, "'pairing' parameter of simulate_comparisons must be a str among"),
    ({"link": "cauchy"}, "'link' parameter of simulate_comparisons must be a str among"),
    ({"beta": -1}, r"'beta' parameter of simulate_comparisons must be a float in the range \[0.0, inf\]"),
    ({"n_pairs": 0}, r"'n_pairs' parameter of simulate_comparisons must be an int in the range \[1, inf\)"),
    ({"n_pairs": 10.0}, "'n_pairs' parameter of simulate_comparisons must be an int"),
    ({"scale": -1.0}, "'scale' parameter of simulate_comparisons must be a float in the range"),
    ({"golden": np.ones(40)}, "scale must be positive"),
    ({"golden": np.r_[np.nan, np.arange(39.0)]}, "NaN"),
])
def test_bad_simulation_input_raises(items, kwargs, message):
    args = {"golden": items[0], "groups": items[1], "n_pairs": 10} | kwargs
    with pytest.raises(ValueError, match=message):
        simulate_comparisons(**args)


@pytest.mark.parametrize("setting, bad, message", [
    ("pairing", "random", "must be a str among"),
    ("link", "cauchy", "must be a str among"),
    ("beta", -1.0, r"must be a float in the range \[0.0, inf\]"),
    ("n_pairs", 0, r"must be an int in the range \[1, inf\)"),
])
def test_function_and_estimator_share_the_annotation_settings(items, setting, bad, message):
    golden, groups = items
    X = np.column_stack([golden, golden % 3])
    model = SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()), n_pairs=20,
                               beta=np.inf, random_state=0)
    sim = simulate_comparisons(golden, groups, n_pairs=20, beta=np.inf, random_state=0)
    model.fit(X, golden, groups=groups)  # beta=np.inf (noiseless) is valid for both
    np.testing.assert_array_equal(model.comparisons_.pairs, sim.pairs)
    assert model.annotation_error_rate_ == sim.error_rate == 0.0
    with pytest.raises(ValueError, match=f"'{setting}' parameter of simulate_comparisons {message}"):
        simulate_comparisons(golden, groups, **{"n_pairs": 20, setting: bad})
    with pytest.raises(ValueError, match=f"'{setting}' parameter of SimulatedAnnotator {message}"):
        model.set_params(**{setting: bad}).fit(X, golden, groups=groups)


def test_pairs_of_uneven_prompts_with_string_ids_stay_in_their_prompt():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.array(["b", "a", "c"]), [2, 9, 5])
    golden = rng.normal(size=16)
    for pairing in ("same_prompt", "similar", "diverse"):
        sim = simulate_comparisons(golden, groups, n_pairs=5, pairing=pairing, random_state=0)
        assert (groups[sim.pairs[:, 0]] == groups[sim.pairs[:, 1]]).all()
    # all 1 + 36 + 10 same-prompt pairs are reachable
    sim = simulate_comparisons(golden, groups, n_pairs=47, random_state=0)
    assert len({tuple(sorted(p)) for p in sim.pairs.tolist()}) == 47


@pytest.mark.slow
@pytest.mark.parametrize("pairing", ["same_prompt", "cross_prompt"])
def test_models_reach_positive_best_of_n_at_beta_10(testbed, pairing):
    sim = simulate_comparisons(testbed.golden, testbed.groups, n_pairs=4000, beta=10,
                               pairing=pairing, random_state=0)
    X = sim.take(testbed.X)
    models = [OrderConsistentClassifier(LGBMClassifier(n_estimators=60, verbose=-1,
                                                       random_state=0)),
              make_pipeline(PairwiseTransformer("difference"), LogisticRegression(fit_intercept=False))]
    for model in models:
        reward = model.fit(X, sim.y).decision_function(testbed.X_test)
        report = best_of_n_report(testbed.golden_test, reward, testbed.groups_test, n=16,
                                  random_state=0)
        assert report.improvement > 0.05 and 0.1 < report.oracle_fraction < 1
