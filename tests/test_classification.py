import pickle

import numpy as np
import pytest
from lightgbm import LGBMClassifier
from scipy.special import logit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreward import OrderConsistentClassifier
from skreward.metrics import best_of_n_score

LGBM = LGBMClassifier(n_estimators=60, num_leaves=15, verbose=-1, random_state=0)


def test_lgbm_reward_is_exact_raw_score(testbed, comparisons):
    X, y = comparisons
    model = OrderConsistentClassifier(LGBM).fit(X, y)
    reward = model.decision_function(testbed.X_test[:50])
    np.testing.assert_allclose(reward, model.estimator_.predict(testbed.X_test[:50], raw_score=True))
    proba = model.predict_proba(testbed.X_test[:50])[:, 1]
    np.testing.assert_allclose(reward, logit(proba), rtol=1e-6, atol=1e-6)


def test_lgbm_and_logistic_reach_positive_best_of_n(testbed, comparisons):
    X, y = comparisons
    for estimator in [LGBM, LogisticRegression()]:
        model = OrderConsistentClassifier(estimator).fit(X, y)
        assert model.score(X, y) > 0.6
        reward = model.decision_function(testbed.X_test)
        assert best_of_n_score(testbed.golden_test, reward, testbed.groups_test, n=16,
                               random_state=0) > 0.05


def test_decision_function_used_when_available(comparisons):
    X, y = comparisons
    model = OrderConsistentClassifier(LogisticRegression()).fit(X, y)
    np.testing.assert_allclose(model.decision_function(X[:5, 0]),
                               model.estimator_.decision_function(X[:5, 0]))


def test_predict_proba_logit_is_clipped_and_finite(comparisons):
    X, y = comparisons
    model = OrderConsistentClassifier(GaussianNB()).fit(X, y)
    reward = model.decision_function(X[:, 0] * 1e3)  # far outside: probabilities 0 or 1
    assert np.isfinite(reward).all() and np.abs(reward).max() <= logit(1 - 1e-7) + 1e-9


def test_chosen_first_data_needs_no_labels(comparisons):
    X, y = comparisons
    oriented = np.where(y[:, None, None] == 1, X, X[:, ::-1])  # preferred item first
    a = OrderConsistentClassifier(LogisticRegression()).fit(oriented)
    b = OrderConsistentClassifier(LogisticRegression()).fit(X, y)
    assert a.score(oriented) == pytest.approx(b.score(X, y))
    assert a.classes_.tolist() == [0, 1] and a.n_features_in_ == X.shape[2]


def test_estimator_is_cloned_not_mutated(comparisons):
    X, y = comparisons
    estimator = LogisticRegression()
    model = OrderConsistentClassifier(estimator).fit(X, y)
    assert model.estimator_ is not estimator and not hasattr(estimator, "coef_")


def test_predict_proba_hidden_without_it(comparisons):
    from sklearn.svm import LinearSVC
    X, y = comparisons
    model = OrderConsistentClassifier(LinearSVC()).fit(X, y)
    assert not hasattr(model, "predict_proba")
    assert model.decision_function(X[:3, 0]).shape == (3,)


def test_pickle_clone_pipeline_and_grid_search(comparisons):
    X, y = comparisons
    model = OrderConsistentClassifier(make_pipeline(StandardScaler(), LogisticRegression()))
    model.fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.decision_function(X[:4, 0]), model.decision_function(X[:4, 0]))
    assert clone(model).get_params()["estimator__logisticregression__C"] == 1.0
    search = GridSearchCV(OrderConsistentClassifier(LogisticRegression()),
                          {"estimator__C": [1e-4, 1.0]}, cv=3).fit(X, y)
    # The default score is order consistency on the held-out comparisons.
    assert (search.cv_results_["mean_test_score"] > 0.6).all()
    assert search.score(X, y) == search.best_estimator_.score(X, y) != search.best_estimator_.estimator_.score(
        np.concatenate([X[:, 0], X[:, 1]]), np.r_[y, 1 - y])


def test_unfitted_use_raises():
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError, match="not fitted"):
        OrderConsistentClassifier(LogisticRegression()).decision_function(np.zeros((2, 3)))


def test_items_of_wrong_width_raise(comparisons):
    X, y = comparisons
    model = OrderConsistentClassifier(LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but OrderConsistentClassifier is expecting 64 features as input"):
        model.decision_function(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"items of shape \(n_items, n_features\)"):
        model.decision_function(X[:2])
