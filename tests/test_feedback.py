"""Unpaired feedback: simulate_feedback and FeedbackClassifier."""

import numpy as np
import pytest
import sklearn
from lightgbm import LGBMClassifier
from scipy.special import expit, logit
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.utils._param_validation import InvalidParameterError

from skreward import (FeedbackClassifier, OrderConsistentClassifier, PairwiseTransformer,
                      simulate_comparisons, simulate_feedback)
from skreward.metrics import best_of_n_score, order_consistency_score


@pytest.fixture(scope="module")
def feedback(testbed):
    """Every training item of the testbed labelled once at beta=10, against its prompt's mean."""
    fb = simulate_feedback(testbed.golden, testbed.groups, beta=10, random_state=0)
    return fb.take(testbed.X), fb.y


# -- simulate_feedback -------------------------------------------------------------------

def test_noiseless_labels_compare_with_the_prompt_mean(testbed):
    fb = simulate_feedback(testbed.golden, testbed.groups, beta=np.inf, random_state=0)
    means = {g: testbed.golden[testbed.groups == g].mean() for g in np.unique(testbed.groups)}
    expected = testbed.golden > np.array([means[g] for g in testbed.groups])
    np.testing.assert_array_equal(fb.items, np.arange(len(testbed.golden)))
    np.testing.assert_array_equal(fb.y, expected.astype(int))
    assert fb.error_rate == 0.0 and fb.tie_rate == 0.0
    assert fb.positive_rate == pytest.approx(expected.mean())


def test_global_and_numeric_thresholds():
    golden = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    assert simulate_feedback(golden, threshold="global_mean", beta=np.inf).y.tolist() == \
        [0, 0, 0, 0, 1, 1]
    assert simulate_feedback(golden, threshold=2.5, beta=np.inf).y.tolist() == [0, 0, 1, 1, 1, 1]


def test_item_at_the_threshold_is_a_coin_flip_counted_one_half():
    golden = np.array([1.0, 2.0, 3.0] * 2000)
    fb = simulate_feedback(golden, threshold=2.0, beta=np.inf, random_state=0)
    at = golden == 2.0
    assert fb.tie_rate == pytest.approx(1 / 3)
    assert fb.y[at].mean() == pytest.approx(0.5, abs=0.04)
    assert fb.error_rate == pytest.approx(1 / 6)  # the ties count one half, the rest are right
    np.testing.assert_array_equal(fb.y[~at], (golden[~at] > 2.0).astype(int))


def test_error_rate_follows_the_link_with_the_pairwise_meaning_of_beta():
    golden = np.random.default_rng(0).normal(size=40_000)
    for beta in (1.0, 10.0):
        fb = simulate_feedback(golden, threshold=0.0, beta=beta, random_state=1)
        expected = np.mean(expit(-beta * np.abs(golden) / golden.std()))
        assert fb.error_rate == pytest.approx(expected, abs=0.01)
    coin = simulate_feedback(golden, threshold=0.0, beta=0.0, random_state=1)
    assert coin.error_rate == pytest.approx(0.5, abs=0.01)


def test_scale_free_by_default(testbed):
    """Rewards in other units (x 100, + 7) give the same labels: beta is per std of golden."""
    a = simulate_feedback(testbed.golden, testbed.groups, beta=3, random_state=0)
    b = simulate_feedback(100 * testbed.golden + 7, testbed.groups, beta=3, random_state=0)
    np.testing.assert_array_equal(a.y, b.y)


def test_n_items_draws_distinct_items_unless_replace(testbed):
    fb = simulate_feedback(testbed.golden, testbed.groups, n_items=500, random_state=0)
    assert len(fb.y) == 500 and len(np.unique(fb.items)) == 500
    again = simulate_feedback(testbed.golden, testbed.groups, n_items=500, random_state=0)
    np.testing.assert_array_equal(fb.items, again.items)
    np.testing.assert_array_equal(fb.y, again.y)
    many = simulate_feedback(testbed.golden[:10], testbed.groups[:10], n_items=50,
                             replace=True, random_state=0)
    assert len(many.items) == 50 and many.items.max() < 10
    with pytest.raises(ValueError, match="n_items=50 exceeds the 10 items.*replace=True"):
        simulate_feedback(testbed.golden[:10], testbed.groups[:10], n_items=50)


def test_take_gives_the_labelled_rows(testbed):
    fb = simulate_feedback(testbed.golden, testbed.groups, n_items=20, random_state=0)
    np.testing.assert_array_equal(fb.take(testbed.X), testbed.X[fb.items])


def test_simulate_feedback_bad_arguments(testbed):
    with pytest.raises(ValueError, match="groups is required for threshold='prompt_mean'"):
        simulate_feedback(testbed.golden)
    with pytest.raises(InvalidParameterError, match="threshold"):
        simulate_feedback(testbed.golden, testbed.groups, threshold="median")
    with pytest.raises(InvalidParameterError, match="beta"):
        simulate_feedback(testbed.golden, testbed.groups, beta=-1)
    with pytest.raises(InvalidParameterError, match="threshold"):
        simulate_feedback(testbed.golden, threshold=np.inf)
    with pytest.raises(ValueError, match="groups must have one prompt id per item"):
        simulate_feedback(testbed.golden, testbed.groups[:5])
    with pytest.raises(ValueError, match="scale must be positive"):
        simulate_feedback(np.ones(4), threshold=1.0)


# -- FeedbackClassifier --------------------------------------------------------------------

def test_learns_a_reward_from_thumbs(testbed, feedback):
    X, y = feedback
    for estimator in [LogisticRegression(), LGBMClassifier(n_estimators=60, verbose=-1, n_jobs=1,
                                                           random_state=0)]:
        model = FeedbackClassifier(estimator).fit(X, y)
        assert model.score(X, y) > 0.6
        reward = model.decision_function(testbed.X_test)
        assert reward.shape == testbed.golden_test.shape
        assert best_of_n_score(testbed.golden_test, reward, testbed.groups_test, n=16,
                               random_state=0) > 0.05


def test_reward_is_the_classifiers_exact_logit(feedback):
    X, y = feedback
    lr = FeedbackClassifier(LogisticRegression()).fit(X, y)
    np.testing.assert_allclose(lr.decision_function(X[:5]),
                               lr.estimator_.decision_function(X[:5]))
    lgb = FeedbackClassifier(LGBMClassifier(n_estimators=30, verbose=-1, n_jobs=1)).fit(X, y)
    np.testing.assert_allclose(lgb.decision_function(X[:5]),
                               lgb.estimator_.predict(X[:5], raw_score=True))
    nb = FeedbackClassifier(GaussianNB()).fit(X, y)
    np.testing.assert_allclose(nb.decision_function(X[:5]),
                               logit(np.clip(nb.predict_proba(X[:5])[:, 1], 1e-7, 1 - 1e-7)))


def test_same_model_as_order_consistent_classifier_on_the_rows_of_comparisons(comparisons):
    """Fitted on the winners and losers of comparisons, it is OrderConsistentClassifier."""
    X_pairs, y = comparisons
    rows, labels = PairwiseTransformer("pointwise").fit_resample(X_pairs, y)
    a = FeedbackClassifier(LogisticRegression()).fit(rows, labels)
    b = OrderConsistentClassifier(LogisticRegression()).fit(X_pairs, y)
    np.testing.assert_allclose(a.decision_function(X_pairs[:, 0]),
                               b.decision_function(X_pairs[:, 0]))


def test_score_is_order_consistency_of_the_implied_pairs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    model = FeedbackClassifier(LogisticRegression()).fit(X, y)
    good, bad = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    first, second = np.repeat(good, len(bad)), np.tile(bad, len(good))
    reward = model.decision_function(X)
    expected = order_consistency_score(None, reward[first] - reward[second])
    assert model.score(X, y) == pytest.approx(expected)


def test_boolean_labels_predict_booleans(feedback):
    X, y = feedback
    model = FeedbackClassifier(LogisticRegression()).fit(X, y.astype(bool))
    assert model.classes_.tolist() == [False, True]
    assert model.predict(X[:4]).dtype == bool
    as_ints = FeedbackClassifier(LogisticRegression()).fit(X, y)
    assert as_ints.classes_.tolist() == [0, 1]
    np.testing.assert_array_equal(model.predict(X[:50]), as_ints.predict(X[:50]).astype(bool))
    np.testing.assert_allclose(model.decision_function(X[:5]), as_ints.decision_function(X[:5]))


@pytest.mark.parametrize("bad, row, shown", [
    (["yes", True, False], 0, "'yes'"),
    ([True, False, 2], 2, "2"),
    ([1, None, 0], 1, "None"),
    ([1.0, 0.0, np.nan], 2, "nan"),
    ([True, -1, False], 1, "-1"),
    (np.array([0, 1, 0.5]), 2, "0.5"),
])
def test_non_boolean_label_is_named_with_its_row(bad, row, shown):
    X = np.random.default_rng(0).normal(size=(3, 2))
    with pytest.raises(ValueError, match=rf"y has a non-boolean label {shown} at row {row};"):
        FeedbackClassifier(LogisticRegression()).fit(X, bad)


def test_fit_refuses_comparisons_one_class_and_regressors(comparisons, feedback):
    X, y = feedback
    with pytest.raises(ValueError, match=r"shape \(4000, 2, 64\).*use OrderConsistentClassifier"):
        FeedbackClassifier(LogisticRegression()).fit(comparisons[0], comparisons[1])
    with pytest.raises(ValueError, match="only thumbs up labels"):
        FeedbackClassifier(LogisticRegression()).fit(X[:5], np.ones(5, dtype=bool))
    with pytest.raises(ValueError, match="requires y to be passed"):
        FeedbackClassifier(LogisticRegression()).fit(X, None)
    with pytest.raises(ValueError, match="one label per item: got 3 labels for 3000 items"):
        FeedbackClassifier(LogisticRegression()).fit(X, y[:3])
    with pytest.raises(ValueError, match="regressor LinearRegression"):
        FeedbackClassifier(LinearRegression()).fit(X, y)
    model = FeedbackClassifier(LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="both thumbs-up and thumbs-down"):
        model.score(X[:3], [1, 1, 1])
    with pytest.raises(ValueError, match="X has 3 features, but FeedbackClassifier is expecting"):
        model.decision_function(X[:, :3])


def test_sample_weight_of_zero_drops_an_item(feedback):
    X, y = feedback
    weight = np.r_[np.zeros(1000), np.ones(len(y) - 1000)]
    direct = FeedbackClassifier(LogisticRegression()).fit(X, y, sample_weight=weight)
    dropped = FeedbackClassifier(LogisticRegression()).fit(X[1000:], y[1000:])
    np.testing.assert_allclose(direct.decision_function(X[:5]),
                               dropped.decision_function(X[:5]), rtol=1e-4, atol=1e-4)
    with sklearn.config_context(enable_metadata_routing=True):
        asks = LogisticRegression().set_fit_request(sample_weight=True)
        routed = FeedbackClassifier(asks).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(routed.decision_function(X[:5]), direct.decision_function(X[:5]))


def test_grid_search_over_labelled_items_scores_roc_auc(testbed, feedback):
    X, y = feedback
    estimator = LogisticRegression()
    search = GridSearchCV(FeedbackClassifier(estimator),
                          {"estimator__C": [0.01, 1.0]}, cv=GroupKFold(3))
    search.fit(X, y, groups=testbed.groups)
    assert 0.5 < search.best_score_ <= 1.0
    assert estimator.get_params() == clone(LogisticRegression()).get_params()
    assert not hasattr(estimator, "coef_")  # the user's classifier is never fitted


def test_thumbs_and_comparisons_reach_the_same_quality_on_clean_labels(testbed, feedback):
    """Both routes learn the golden order: Spearman of the two rewards on test items."""
    X, y = feedback
    sim = simulate_comparisons(testbed.golden, testbed.groups, n_pairs=4000, beta=10,
                               random_state=0)
    a = FeedbackClassifier(LogisticRegression()).fit(X, y).decision_function(testbed.X_test)
    b = OrderConsistentClassifier(LogisticRegression()).fit(
        sim.take(testbed.X), sim.y).decision_function(testbed.X_test)
    assert np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1] > 0.8


def test_trl_unpaired_format_end_to_end():
    """TRL's prompt, completion, label -> items table -> text features -> reward, in a Pipeline."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    from skreward import TextVectorizer
    from skreward.text import normalize_preferences, preference_targets

    good, bad = "Here is a clear and helpful answer.", "No."
    trl = {"prompt": [f"Question {i}?" for i in range(40)],
           "completion": [good if i % 2 else bad for i in range(40)],
           "label": [bool(i % 2) for i in range(40)],
           "weight": [1.0] * 40}
    table = normalize_preferences(trl)
    y, params = preference_targets(trl)
    assert list(table.columns[:3]) == ["prompt", "response", "label"] and y.dtype == bool
    model = make_pipeline(TextVectorizer(TfidfVectorizer()),
                          FeedbackClassifier(LogisticRegression()))
    model.fit(table, y, feedbackclassifier__sample_weight=params["sample_weight"])
    reward = model.decision_function({"prompt": ["Q?", "Q?"], "response": [good, bad]})
    assert reward[0] > reward[1]
    assert model.predict({"prompt": ["Q?"], "response": [good]}).tolist() == [True]
    with pytest.raises(ValueError, match="label"):
        normalize_preferences({**trl, "label": ["yes"] + trl["label"][1:]})
