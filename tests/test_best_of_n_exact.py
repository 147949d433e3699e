"""The exact expected Best-of-N (the default) against enumeration and Monte Carlo."""

from itertools import combinations

import numpy as np
import pytest
from scipy.stats import spearmanr

from skreward.metrics import (BestOfNScorer, best_of_n_curve, best_of_n_report, best_of_n_score,
                              prompt_spearman_score)

KEYS = ("golden", "improvement", "oracle_improvement", "oracle_fraction", "quantile")


def _enumerated(golden, score, groups, n):
    """Best-of-N by brute force: every n-subset of every prompt, ties picked uniformly."""
    picks, means, oracles, quantiles = [], [], [], []
    for prompt in np.unique(groups):
        g, s = golden[groups == prompt], score[groups == prompt]
        K = len(g)
        size = K if n is None else n
        rows = []
        for subset in combinations(range(K), size):
            subset = np.array(subset)
            tied = subset[s[subset] == s[subset].max()]
            rows.append((g[tied].mean(), np.mean([np.mean(g <= g[t]) for t in tied]),
                         g[subset].max()))
        pick, quantile, oracle = np.mean(rows, axis=0)
        picks.append(pick), quantiles.append(quantile), oracles.append(oracle)
        means.append(g.mean())
    picks, means, oracles = map(np.array, (picks, means, oracles))
    gain, oracle_gain = np.mean(picks - means), np.mean(oracles - means)
    return {"golden": picks.mean(), "improvement": gain, "oracle_improvement": oracle_gain,
            "oracle_fraction": gain / oracle_gain if oracle_gain > 1e-12 else np.nan,
            "quantile": np.mean(quantiles)}


def _data(seed, sizes, n_levels=None):
    """Golden and learned rewards of prompts of the given sizes; few score levels make ties."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    golden = rng.normal(size=len(groups))
    score = golden + rng.normal(size=len(groups))
    if n_levels is not None:
        score = np.round(score * n_levels / 4)
    return golden, score, groups


@pytest.mark.parametrize("n_levels", [None, 2])
@pytest.mark.parametrize("n", [1, 2, 3, 5, None])
def test_exact_equals_enumeration_of_every_subset(n, n_levels):
    golden, score, groups = _data(0, [5, 7, 6, 8], n_levels)
    golden[3] = golden[1]  # a tie in the golden reward too
    report = best_of_n_report(golden, score, groups, n=n)
    expected = _enumerated(golden, score, groups, n)
    assert np.isnan(report.oracle_fraction) == (n == 1)  # Best-of-1 never beats the mean
    for key in KEYS:
        assert report[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-12, nan_ok=True), key


def test_ties_are_a_uniform_pick_among_the_tied():
    # All candidates tied: the pick is a uniform random candidate, whatever n is.
    golden = np.array([0.0, 1.0, 5.0, 2.0])
    groups = np.zeros(4)
    for n in (1, 2, 4, None):
        assert best_of_n_score(golden, np.ones(4), groups, n=n, metric="golden") == (
            pytest.approx(2.0))
    # Two tied at the top: their mean golden reward when both can be drawn.
    score = np.array([1.0, 3.0, 3.0, 0.0])
    assert best_of_n_score(golden, score, groups, metric="golden") == 3.0  # (1 + 5) / 2
    assert best_of_n_score(golden, score, groups, metric="quantile") == 0.75  # (2/4 + 4/4) / 2


def test_n_one_is_the_mean_and_n_all_is_the_argmax():
    golden, score, groups = _data(1, [20] * 30)
    one = best_of_n_report(golden, score, groups, n=1)
    assert one.golden == pytest.approx(golden.mean())
    assert one.improvement == pytest.approx(0.0, abs=1e-12)
    top = [golden[groups == g][np.argmax(score[groups == g])] for g in range(30)]
    assert best_of_n_score(golden, score, groups, n=20, metric="golden") == pytest.approx(
        np.mean(top))
    assert best_of_n_score(golden, score, groups, n=20) == pytest.approx(
        best_of_n_score(golden, score, groups))


def test_unequal_groups_average_the_prompts():
    golden, score, groups = _data(2, [9, 4, 15, 6])
    together = best_of_n_report(golden, score, groups, n=3)
    alone = [best_of_n_report(golden[groups == g], score[groups == g], groups[groups == g], n=3)
             for g in range(4)]
    assert together.golden == pytest.approx(np.mean([r.golden for r in alone]))
    assert together.quantile == pytest.approx(np.mean([r.quantile for r in alone]))
    assert together.improvement == pytest.approx(np.mean([r.improvement for r in alone]))
    # The groups' order in the input does not matter.
    shuffle = np.random.default_rng(0).permutation(len(golden))
    assert best_of_n_report(golden[shuffle], score[shuffle], groups[shuffle], n=3).golden == (
        pytest.approx(together.golden))


@pytest.mark.parametrize("n_levels", [None, 3])
def test_exact_is_within_monte_carlo_error(n_levels):
    golden, score, groups = _data(3, [12, 10, 16, 11, 14], n_levels)
    for n in (2, 4, 10):
        exact = best_of_n_report(golden, score, groups, n=n)
        runs = [best_of_n_report(golden, score, groups, n=n, n_repeats=2000, random_state=seed)
                for seed in range(8)]
        for key in ("golden", "improvement", "quantile"):
            values = np.array([run[key] for run in runs])
            error = values.std(ddof=1) / np.sqrt(len(values))
            assert abs(values.mean() - exact[key]) < 4 * error + 1e-9, (n, key)


def test_curve_is_one_sort_for_every_n_and_matches_the_report():
    golden, score, groups = _data(4, [30, 25, 40], n_levels=4)
    ns = [1, 2, 5, 25]
    curve = best_of_n_curve(golden, score, groups, ns=ns)
    for i, n in enumerate(ns):
        report = best_of_n_report(golden, score, groups, n=n)
        for key in KEYS:
            assert curve[key][i] == pytest.approx(report[key], nan_ok=True), (n, key)


def test_large_prompts_are_stable():
    golden, score, groups = _data(5, [500] * 4)
    ns = np.arange(1, 501)
    curve = best_of_n_curve(golden, score, groups, ns=ns)
    assert np.all(np.isfinite(curve.golden))
    assert curve.golden[0] == pytest.approx(golden.mean())
    top = [golden[groups == g][np.argmax(score[groups == g])] for g in range(4)]
    assert curve.golden[-1] == pytest.approx(np.mean(top))
    oracle = curve.oracle_improvement
    assert np.all(np.diff(oracle) > 0)  # the expected best of more candidates is higher
    assert curve.quantile[-1] == pytest.approx(
        best_of_n_score(golden, score, groups, metric="quantile"))


def test_quantile_is_the_authors_fraction_of_candidates_at_most_the_pick():
    golden, score, groups = _data(6, [50] * 6)
    expected = []
    for g in range(6):
        rewards, reward = golden[groups == g], score[groups == g]
        expected.append(np.sum(rewards <= rewards[np.argmax(reward)]) / len(rewards))
    assert best_of_n_score(golden, score, groups, metric="quantile") == pytest.approx(
        np.mean(expected))
    assert best_of_n_score(golden, golden, groups, metric="quantile") == 1.0
    assert best_of_n_score(golden, -golden, groups, metric="quantile") == pytest.approx(1 / 50)


def test_exact_is_the_default_and_sampling_stays_available():
    golden, score, groups = _data(7, [16] * 20)
    exact = [best_of_n_score(golden, score, groups, n=4, random_state=seed) for seed in (0, 1)]
    assert exact[0] == exact[1]
    sampled = [best_of_n_score(golden, score, groups, n=4, n_repeats=5, random_state=seed)
               for seed in (0, 1)]
    assert sampled[0] != sampled[1]
    assert sampled[0] == best_of_n_score(golden, score, groups, n=4, n_repeats=5, random_state=0)


class _Reward:
    def decision_function(self, X):
        return X[:, 0]


def test_scorer_defaults_to_the_exact_value():
    golden, score, groups = _data(8, [10] * 12, n_levels=3)
    X = score[:, None]
    assert BestOfNScorer(n=4)(_Reward(), X, golden, groups=groups) == best_of_n_score(
        golden, score, groups, n=4)
    both = BestOfNScorer(n=[2, 8], metric="quantile")(_Reward(), X, golden, groups=groups)
    assert both == pytest.approx(np.mean(best_of_n_curve(golden, score, groups,
                                                         ns=[2, 8]).quantile))
    sampled = BestOfNScorer(n=4, n_repeats=3, random_state=1)(_Reward(), X, golden, groups=groups)
    assert sampled == best_of_n_score(golden, score, groups, n=4, n_repeats=3, random_state=1)
    assert "n_repeats=None" in repr(BestOfNScorer())


def test_prompt_spearman_matches_scipy_per_prompt():
    golden, score, groups = _data(9, [8, 12, 5, 20], n_levels=3)
    golden[groups == 2] = 1.0  # constant golden reward: no correlation, left out
    expected = [spearmanr(golden[groups == g], score[groups == g]).statistic for g in (0, 1, 3)]
    assert prompt_spearman_score(golden, score, groups) == pytest.approx(np.mean(expected))
