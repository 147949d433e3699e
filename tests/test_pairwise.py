import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skreward import PairwiseTransformer
from skreward.metrics import best_of_n_score


def test_pointwise_stacks_winners_and_losers(rng):
    X = rng.normal(size=(5, 2, 3))
    y = np.array([1, 0, 1, 1, 0])
    Xp, yp = PairwiseTransformer("pointwise").fit_resample(X, y)
    np.testing.assert_array_equal(Xp, np.concatenate([X[:, 0], X[:, 1]]))
    np.testing.assert_array_equal(yp, [1, 0, 1, 1, 0, 0, 1, 0, 0, 1])


def test_difference_mirrors_so_both_classes_present(rng):
    X = rng.normal(size=(4, 2, 3))
    Xp, yp = PairwiseTransformer("difference").fit_resample(X)  # chosen first
    np.testing.assert_allclose(Xp[:4], X[:, 0] - X[:, 1])
    np.testing.assert_allclose(Xp[4:], X[:, 1] - X[:, 0])
    np.testing.assert_array_equal(yp, [1] * 4 + [0] * 4)


def test_minus_one_labels_equal_zero_labels(rng):
    X = rng.normal(size=(4, 2, 3))
    a = PairwiseTransformer().fit_resample(X, [1, -1, -1, 1])
    b = PairwiseTransformer().fit_resample(X, [1, 0, 0, 1])
    np.testing.assert_array_equal(a[1], b[1])


def test_difference_transform_keeps_rows_and_passes_items(rng):
    X = rng.normal(size=(6, 2, 3))
    t = PairwiseTransformer("difference").fit(X)
    np.testing.assert_allclose(t.transform(X), X[:, 0] - X[:, 1])
    np.testing.assert_allclose(t.transform(X[:, 0]), X[:, 0])


def test_pointwise_has_no_transform():
    with pytest.raises(AttributeError, match="has no attribute 'transform'"):
        PairwiseTransformer("pointwise").transform


def test_linear_bt_pipeline_learns_best_of_n(testbed, comparisons):
    X, y = comparisons
    model = make_pipeline(PairwiseTransformer("difference"), LogisticRegression(fit_intercept=False))
    model.fit(X, y)
    assert model.score(X, y) > 0.7
    reward = model.decision_function(testbed.X_test)
    assert best_of_n_score(testbed.golden_test, reward, testbed.groups_test, n=16,
                           random_state=0) > 0.1
    # The reward is linear in the item: r(a) - r(b) is the pipeline's score of the comparison.
    np.testing.assert_allclose(model.decision_function(X),
                               model.decision_function(X[:, 0]) - model.decision_function(X[:, 1]))


def test_imblearn_pipeline_accepts_pointwise(testbed, comparisons):
    imblearn = pytest.importorskip("imblearn")
    X, _ = comparisons
    model = imblearn.pipeline.make_pipeline(PairwiseTransformer("pointwise"),
                                            LogisticRegression())
    model.fit(X)  # chosen-first: the resampler makes both classes
    assert model.decision_function(testbed.X_test).shape == (len(testbed.X_test),)


@pytest.mark.parametrize("X, message", [
    (np.zeros((4, 3)), r"shape \(n_pairs, 2, n_features\)"),
    (np.zeros((4, 3, 2)), r"got an array of shape \(4, 3, 2\)"),
    (np.zeros((0, 2, 3)), "at least one comparison"),
    (np.full((2, 2, 3), np.nan), "NaN"),
    (np.full((2, 2, 3), np.inf), "infinity"),
])
def test_bad_comparisons_raise(X, message):
    with pytest.raises(ValueError, match=message):
        PairwiseTransformer().fit_resample(X)


@pytest.mark.parametrize("y, message", [
    ([1, 2], r"labels in \{0, 1\} or \{-1, 1\}"),
    ([1, 0, 1], "3 labels for 2 comparisons"),
    ([1.0, np.nan], "NaN"),
])
def test_bad_labels_raise(y, message):
    with pytest.raises(ValueError, match=message):
        PairwiseTransformer().fit_resample(np.zeros((2, 2, 3)), y)
