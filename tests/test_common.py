"""scikit-learn's estimator checks over every estimator, and their comparison-aware twins.

scikit-learn's checks feed 2-D ``X`` to ``fit``. Reward models fit 3-D
comparisons ``(n_pairs, 2, n_features)``, so the checks that fit on 2-D data
are expected failures, each with its reason below; the API checks (cloning,
parameters, tags, repr) run as they are. The same properties are then checked
on comparisons by ``test_reward_model_*`` below.
"""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skreward import (BTRegressor, OrderConsistentClassifier, PairwiseTransformer,
                      RewardMLPClassifier, SimulatedAnnotator)

FITS_2D = ("scikit-learn's check fits on 2-D items; fit takes 3-D comparisons "
           "(n_pairs, 2, n_features), and the property is checked on comparisons in "
           "test_reward_model_* / the behaviour tests")
FIT_ON_2D_CHECKS = [
    "check_fit_score_takes_y", "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
    "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
    "check_pipeline_consistency", "check_estimators_nan_inf", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
    "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in", "check_fit2d_predict1d", "check_transformer_data_not_an_array",
    "check_transformer_general", "check_transformer_preserve_dtypes",
]
CLASSIFIER_ONLY = {
    "check_classifier_data_not_an_array": FITS_2D,
    "check_classifiers_classes": FITS_2D,
    "check_classifiers_train": FITS_2D,
    "check_supervised_y_2d": FITS_2D,
    "check_decision_proba_consistency": FITS_2D,
    "check_classifiers_one_label_sample_weights": FITS_2D,
    "check_requires_y_none": "y=None is valid: it means the first item of every comparison "
                             "is the preferred one",
    "check_classifiers_one_label": "a single label value is valid (e.g. all 1: chosen-first "
                                   "data); winners and losers always give two classes",
    "check_classifiers_regression_target": "fit rejects continuous labels with its own "
                                           "message ('labels in {0, 1} or {-1, 1}')",
    "check_classifier_not_supporting_multiclass": "labels are comparison outcomes, binary "
                                                  "by design; multi-class y is rejected "
                                                  "with a message about comparison labels",
}

REGRESSOR_ONLY = dict.fromkeys([
    "check_regressors_train", "check_regressor_data_not_an_array", "check_regressors_int",
    "check_regressors_no_decision_function", "check_supervised_y_2d",
    "check_estimators_partial_fit_n_features",
], FITS_2D) | {"check_requires_y_none": CLASSIFIER_ONLY["check_requires_y_none"]}
SKORCH_NET = {
    "check_no_attributes_set_in_init": "skorch's NeuralNet.__init__ sets history_, "
                                       "initialized_ and virtual_params_, and stores its "
                                       "**kwargs (module__*, optimizer__*, ...) as attributes",
    "check_do_not_raise_errors_in_init_or_set_params": "skorch's set_params re-initialises "
                                                       "the callbacks (and the module and "
                                                       "optimizer) as soon as they are set, "
                                                       "so nonsense values raise there",
    "check_set_params": "skorch's get_params lists its internal _params_to_validate set as a "
                        "parameter; set to a number, skorch's own set_params fails on it",
}
ITEM_NET = {
    "check_n_features_in_after_fitting": "items are validated by skreward's check_items, whose "
                                         "message ('X has 3 features, but the model was "
                                         "fitted on 4 features') every reward model shares",
    "check_methods_subset_invariance": "float32 matrix products differ in the last bits "
                                       "(~1e-7 relative) with a batch's number of rows, beyond "
                                       "the check's rtol=1e-7; subsets are checked at 1e-6 in "
                                       "test_reward_model_pickles_and_scores_subsets_alike",
}


def expected_failed_checks(estimator):
    if isinstance(estimator, SimulatedAnnotator):
        return {}  # it fits on 2-D items and golden rewards: every check applies
    if isinstance(estimator, RewardMLPClassifier):
        return SKORCH_NET | ITEM_NET  # a classifier of 2-D items: the other checks apply
    failures = dict.fromkeys(FIT_ON_2D_CHECKS, FITS_2D)
    if isinstance(estimator, OrderConsistentClassifier):
        failures |= CLASSIFIER_ONLY
    if isinstance(estimator, BTRegressor):
        failures |= REGRESSOR_ONLY | SKORCH_NET
    return failures


# Tiny seeded networks: the checks fit them many times.
TINY_NET = dict(module__hidden_sizes=(16,), max_epochs=20, lr=0.02, validation_fraction=None,
                random_state=0)


ESTIMATORS = [
    OrderConsistentClassifier(LogisticRegression()),
    PairwiseTransformer("pointwise"),
    PairwiseTransformer("difference"),
    # cross_prompt needs no groups, and replace=True lets the checks' tiny data give 20 pairs
    SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()), n_pairs=20,
                       pairing="cross_prompt", replace=True, random_state=0),
    BTRegressor(**TINY_NET),
    RewardMLPClassifier(**TINY_NET),
]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The tiny networks fit fastest on one thread (and don't contend for a shared CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


REWARD_MODELS = [OrderConsistentClassifier(LogisticRegression()), BTRegressor(**TINY_NET),
                 OrderConsistentClassifier(RewardMLPClassifier(**TINY_NET))]


@pytest.fixture
def small_comparisons():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 2, 4))
    y = (X[:, 0, 0] - X[:, 1, 0] + 0.3 * rng.normal(size=60) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("model", REWARD_MODELS, ids=lambda m: type(m).__name__)
def test_reward_model_fit_is_idempotent_and_returns_self(model, small_comparisons):
    X, y = small_comparisons
    model = clone(model)
    params = model.get_params()
    assert model.fit(X, y) is model
    first = model.decision_function(X[:, 0])
    np.testing.assert_allclose(model.fit(X, y).decision_function(X[:, 0]), first)
    assert model.get_params().keys() == params.keys() and model.n_features_in_ == 4


@pytest.mark.parametrize("model", REWARD_MODELS, ids=lambda m: type(m).__name__)
def test_reward_model_pickles_and_scores_subsets_alike(model, small_comparisons):
    X, y = small_comparisons
    model = clone(model).fit(X, y)
    items = X[:, 1]
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.decision_function(items), model.decision_function(items))
    np.testing.assert_allclose(model.decision_function(items[:7]), model.decision_function(items)[:7],
                               rtol=1e-6)
    assert 0.5 < model.score(X, y) <= 1


@pytest.mark.parametrize("model", REWARD_MODELS, ids=lambda m: type(m).__name__)
def test_reward_model_rejects_nan_and_2d_comparisons(model, small_comparisons):
    X, y = small_comparisons
    bad = X.copy()
    bad[3, 1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(model).fit(bad, y)
    with pytest.raises(ValueError, match=r"comparisons of shape \(n_pairs, 2, n_features\)"):
        clone(model).fit(X[:, 0], y)
