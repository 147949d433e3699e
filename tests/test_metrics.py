import numpy as np
import pytest

from skreward import BestOfNScorer
from skreward.metrics import (best_of_n_curve, best_of_n_report, best_of_n_score,
                              order_consistency_score, prompt_spearman_score)


def _loop_best_of_n(golden, score, groups):
    picks, means, oracle = [], [], []
    for g in np.unique(groups):
        m = groups == g
        picks.append(golden[m][np.argmax(score[m])])
        means.append(golden[m].mean())
        oracle.append(golden[m].max())
    return np.mean(picks), np.mean(np.subtract(picks, means)), np.mean(np.subtract(oracle, means))


def test_best_of_n_matches_a_loop_over_prompts(rng):
    groups = rng.integers(0, 30, size=500)
    golden, score = rng.normal(size=500), rng.normal(size=500)
    report = best_of_n_report(golden, score, groups)
    pick, gain, oracle = _loop_best_of_n(golden, score, groups)
    assert report.golden == pytest.approx(pick)
    assert report.improvement == pytest.approx(gain)
    assert report.oracle_fraction == pytest.approx(gain / oracle)


def test_perfect_reward_is_the_oracle_and_reversed_is_worst(rng):
    groups = np.repeat(np.arange(10), 20)
    golden = rng.normal(size=200)
    assert best_of_n_score(golden, golden, groups, metric="oracle_fraction") == 1.0
    assert best_of_n_score(golden, 3 * golden + 1, groups, n=5, metric="oracle_fraction") == 1.0
    assert best_of_n_score(golden, -golden, groups, n=5, random_state=0) < 0


def test_random_reward_improves_nothing_on_average(rng):
    groups = np.repeat(np.arange(2000), 16)
    golden = rng.normal(size=32000)
    score = rng.normal(size=32000)
    assert abs(best_of_n_score(golden, score, groups, n=8, random_state=0)) < 0.06  # 3 sd


def test_curve_grows_with_n_for_a_good_reward(rng):
    groups = np.repeat(np.arange(50), 64)
    golden = rng.normal(size=3200)
    reward = golden + rng.normal(scale=0.5, size=3200)
    curve = best_of_n_curve(golden, reward, groups, ns=[2, 4, 16, 64], random_state=0)
    assert curve.n.tolist() == [2, 4, 16, 64]
    assert np.all(np.diff(curve.improvement) > 0)
    assert np.all(curve.improvement < curve.oracle_improvement)


def test_seeded_subsets_repeat(rng):
    groups = np.repeat(np.arange(20), 10)
    golden, score = rng.normal(size=200), rng.normal(size=200)
    a = best_of_n_score(golden, score, groups, n=3, random_state=7)
    assert a == best_of_n_score(golden, score, groups, n=3, random_state=7)


def test_n_larger_than_a_prompt_raises():
    with pytest.raises(ValueError, match="n=3 is larger than the candidates of some prompts"):
        best_of_n_score([1.0, 2.0, 3.0, 4.0, 5.0], [1, 2, 3, 4, 5], [0, 0, 0, 1, 1], n=3)


@pytest.mark.parametrize("kwargs, message", [
    ({"groups": [0, 0]}, "groups must have one prompt id per item: got 2 for 3"),
    ({"y_score": [1.0, np.nan, 2.0]}, "NaN"),
    ({"metric": "best"}, "'metric' parameter of best_of_n_score must be a str among"),
    ({"n": 0}, r"'n' parameter of best_of_n_score must be an int in the range \[1, inf\) or None"),
    ({"n_repeats": 0}, "'n_repeats' parameter of best_of_n_score must be an int"),
    ({"groups": None}, "groups is required"),
])
def test_bad_best_of_n_input_raises(kwargs, message):
    args = {"y_true": [1.0, 2.0, 3.0], "y_score": [1.0, 2.0, 3.0], "groups": [0, 0, 1]} | kwargs
    with pytest.raises(ValueError, match=message):
        best_of_n_score(**args)


class _GoldenModel:
    """A fitted reward model whose reward is the first feature."""

    def decision_function(self, X):
        return np.asarray(X)[:, 0]


@pytest.mark.parametrize("kwargs, message", [
    ({"metric": "best"}, "'metric' parameter of BestOfNScorer must be a str among"),
    ({"n": 0}, "'n' parameter of BestOfNScorer must be an int in the range"),
    ({"n_repeats": 1.5}, "'n_repeats' parameter of BestOfNScorer must be an int"),
])
def test_scorer_validates_its_settings_as_the_function_does(kwargs, message):
    X, groups = np.arange(6.0)[:, None], [0, 0, 0, 1, 1, 1]
    assert BestOfNScorer(n=2, metric="oracle_fraction")(_GoldenModel(), X, X[:, 0], groups) == 1.0
    with pytest.raises(ValueError, match=message):
        BestOfNScorer(**kwargs)(_GoldenModel(), X, X[:, 0], groups)


def test_order_consistency_counts_ties_half():
    assert order_consistency_score([1, 1, 0, 0], [1.0, 0.0, -2.0, 3.0]) == 0.625
    assert order_consistency_score(None, [1.0, -1.0]) == 0.5
    assert order_consistency_score([1, -1], [1.0, -1.0]) == 1.0


def test_prompt_spearman_matches_scipy(rng):
    from scipy.stats import spearmanr
    groups = np.repeat(np.arange(5), 7)
    golden, score = rng.normal(size=35), rng.normal(size=35)
    expected = np.mean([spearmanr(golden[groups == g], score[groups == g])[0] for g in range(5)])
    assert prompt_spearman_score(golden, score, groups) == pytest.approx(expected)
