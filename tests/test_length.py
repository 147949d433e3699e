"""Length bias: the length correlation metric and the length-controlled reward."""

import numpy as np
import pytest
import sklearn
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skreward import (LengthControlledReward, OrderConsistentClassifier, PairwiseTransformer,
                      SimulatedAnnotator)
from skreward.metrics import length_correlation, prompt_spearman_score, response_lengths
from skreward.utils.estimator_checks import parametrize_with_checks


# -- the metric --------------------------------------------------------------------------

def test_length_correlation_is_the_mean_within_prompt_rank_correlation():
    lengths = [10, 20, 30, 5, 50, 7, 7]
    rewards = [1.0, 2.0, 3.0, 0.5, 0.1, 4.0, 3.0]
    groups = [0, 0, 0, 1, 1, 2, 2]  # +1, -1, and a prompt of equal lengths (left out)
    assert length_correlation(lengths, rewards, groups) == 0.0
    assert length_correlation(lengths[:3], rewards[:3]) == 1.0  # groups=None: one prompt
    expected = np.mean([spearmanr([10, 20, 30], [3, 1, 2])[0], 1.0])
    assert length_correlation([10, 20, 30, 1, 2], [3, 1, 2, 0, 1], [0, 0, 0, 1, 1]) \
        == pytest.approx(expected)


def test_length_correlation_counts_the_characters_of_texts():
    texts = ["a", "abc", "ab", "abcd", ""]
    np.testing.assert_array_equal(response_lengths(texts), [1, 3, 2, 4, 0])
    rewards = [0.3, 0.1, 0.2, 0.0, 0.9]
    assert length_correlation(texts, rewards) == length_correlation([1, 3, 2, 4, 0], rewards) \
        == -1.0


@pytest.mark.parametrize("lengths, rewards, groups, error, match", [
    ([1, -2], [0, 1], None, ValueError, r"lengths must be non-negative.*-2 at item 1"),
    ([1, 2, 3], [0, 1], None, ValueError, r"y_score must have one value per item"),
    ([1, 1, 2, 2], [0, 1, 0, 1], [0, 0, 1, 1], ValueError, r"length_correlation is undefined"),
    ("abc", [0, 1, 2], None, TypeError, r"lengths must be one length .* got one str"),
    ([1, 2], [0, 1], [0], ValueError, r"groups must have one prompt id per item"),
])
def test_length_correlation_refuses_bad_input(lengths, rewards, groups, error, match):
    with pytest.raises(error, match=match):
        length_correlation(lengths, rewards, groups)


# -- the length-controlled reward ---------------------------------------------------------

def _length_biased_comparisons(n_pairs, length_effect, seed, label_bias):
    """Comparisons of two answers whose features reveal quality and length.

    ``length_effect``: how much the golden quality grows with log-length (0:
    length is pure noise to quality). ``label_bias``: how much the annotator
    favours log-length beyond quality.
    """
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_pairs, 2, 5))
    lengths = rng.lognormal(5, 1, size=(n_pairs, 2))
    log_length = np.log(lengths)
    X[:, :, 4] += log_length - 5  # the embedding reveals the length
    golden = X[:, :, 0] + length_effect * (log_length - 5)
    margin = golden[:, 0] - golden[:, 1] + label_bias * (log_length[:, 0] - log_length[:, 1])
    y = (margin + 0.3 * rng.logistic(size=n_pairs) > 0).astype(int)
    return np.concatenate([X, lengths[..., None]], axis=-1), y, golden


def _linear_bt():
    return make_pipeline(PairwiseTransformer("difference"), LogisticRegression(fit_intercept=False))


def _rewards(model, X_pairs, golden):
    items = X_pairs.reshape(-1, X_pairs.shape[2])
    groups = np.repeat(np.arange(len(X_pairs)), 2)
    controlled = model.decision_function(items)
    raw = model.estimator_.decision_function(items[:, :-1])
    return items[:, -1], groups, golden.ravel(), raw, controlled


def test_control_removes_a_length_bias_when_length_is_pure_noise():
    X, y, _ = _length_biased_comparisons(3000, length_effect=0.0, seed=0, label_bias=1.0)
    model = LengthControlledReward(_linear_bt()).fit(X, y)
    X_test, _, golden = _length_biased_comparisons(2000, length_effect=0.0, seed=1,
                                                   label_bias=1.0)
    lengths, groups, golden, raw, controlled = _rewards(model, X_test, golden)
    assert length_correlation(lengths, raw, groups) > 0.2  # the plain model meters length
    assert abs(length_correlation(lengths, controlled, groups)) < 0.05
    assert prompt_spearman_score(golden, controlled, groups) \
        > prompt_spearman_score(golden, raw, groups) + 0.1
    assert model.length_slope_ > 0 and model.length_coef_ > 0.5 and model.reward_coef_ > 0


def test_control_keeps_the_ordering_of_a_reward_that_is_not_about_length():
    X, y, _ = _length_biased_comparisons(3000, length_effect=0.0, seed=0, label_bias=0.0)
    model = LengthControlledReward(_linear_bt()).fit(X, y)
    X_test, _, golden = _length_biased_comparisons(500, length_effect=0.0, seed=1,
                                                   label_bias=0.0)
    lengths, groups, golden, raw, controlled = _rewards(model, X_test, golden)
    assert spearmanr(raw, controlled)[0] > 0.99
    assert abs(model.length_coef_) < 0.2
    assert prompt_spearman_score(golden, controlled, groups) \
        == pytest.approx(prompt_spearman_score(golden, raw, groups), abs=0.02)


def test_control_removes_length_even_where_quality_comes_with_length():
    """Documented cost: quality that grows with length is removed with it."""
    X, y, _ = _length_biased_comparisons(3000, length_effect=1.0, seed=0, label_bias=0.0)
    model = LengthControlledReward(_linear_bt()).fit(X, y)
    X_test, _, golden = _length_biased_comparisons(1000, length_effect=1.0, seed=1,
                                                   label_bias=0.0)
    lengths, groups, golden, raw, controlled = _rewards(model, X_test, golden)
    assert length_correlation(lengths, golden, groups) > 0.4
    assert abs(length_correlation(lengths, controlled, groups)) < 0.05


def test_length_column_and_log_length_options():
    X, y, _ = _length_biased_comparisons(600, length_effect=0.0, seed=0, label_bias=1.0)
    moved = np.concatenate([X[:, :, -1:], X[:, :, :-1]], axis=-1)  # lengths first
    last = LengthControlledReward(_linear_bt()).fit(X, y)
    first = LengthControlledReward(_linear_bt(), length_column=0).fit(moved, y)
    np.testing.assert_allclose(first.decision_function(moved[:, 0]),
                               last.decision_function(X[:, 0]), rtol=1e-6)
    logged = X.copy()
    logged[:, :, -1] = np.log1p(logged[:, :, -1])
    raw = LengthControlledReward(_linear_bt(), log_length=False).fit(logged, y)
    np.testing.assert_allclose(raw.decision_function(logged[:, 0]),
                               last.decision_function(X[:, 0]), rtol=1e-6)


def test_length_controlled_reward_refuses_bad_lengths_and_columns():
    X, y, _ = _length_biased_comparisons(50, length_effect=0.0, seed=0, label_bias=1.0)
    model = LengthControlledReward(_linear_bt())
    negative = X.copy()
    negative[0, 0, -1] = -1.0
    with pytest.raises(ValueError, match=r"length_column=-1 must hold response lengths >= 0.*"
                                         r"log_length=False"):
        model.fit(negative, y)
    with pytest.raises(ValueError, match=r"length_column=6 is out of range for items of 6"):
        clone(model).set_params(length_column=6).fit(X, y)
    with pytest.raises(ValueError, match=r"needs the length column and at least one feature"):
        clone(model).fit(X[:, :, -1:], y)
    fitted = clone(model).fit(X, y)
    with pytest.raises(ValueError, match=r"must hold response lengths >= 0"):
        fitted.decision_function(negative[:, 0])
    with pytest.raises(ValueError, match=r"X has 5 features, but LengthControlledReward is "
                                         r"expecting 6 features"):
        fitted.decision_function(X[:, 0, 1:])
    assert fitted.estimator_ is not model.estimator and not hasattr(model.estimator, "steps_")


def test_length_controlled_reward_inside_the_simulated_annotator():
    """Items carry their length as the last column; the annotator pairs them by prompt."""
    rng = np.random.RandomState(0)
    n_prompts, per_prompt = 200, 8
    groups = np.repeat(np.arange(n_prompts), per_prompt)
    lengths = rng.lognormal(5, 1, size=len(groups))
    X = np.column_stack([rng.normal(size=(len(groups), 3)), np.log(lengths), lengths])
    golden = X[:, 0] + np.log(lengths)  # the judge rewards length
    with sklearn.config_context(enable_metadata_routing=True):
        classifier = LogisticRegression().set_fit_request(sample_weight=True)
        model = SimulatedAnnotator(LengthControlledReward(OrderConsistentClassifier(classifier)),
                                   n_pairs=3000, beta=10, random_state=0)
        model.fit(X, golden, groups=groups, sample_weight=np.ones(len(groups)))
    rewards = model.decision_function(X)
    assert abs(length_correlation(lengths, rewards, groups)) < 0.1
    assert prompt_spearman_score(X[:, 0], rewards, groups) > 0.8


@parametrize_with_checks(
    # the checks' features are normal: their last column stands for an already-logged length
    [LengthControlledReward(OrderConsistentClassifier(LogisticRegression()), log_length=False)],
    expected_failed_checks=lambda estimator: {
        "check_reward_model_small_data": "the single feature is the length column: no feature "
                                         "is left for the reward model, refused with a "
                                         "ValueError that says so"})
def test_estimator_checks(estimator, check):
    check(estimator)
