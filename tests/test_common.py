"""Estimator checks over every public estimator: skreward's and scikit-learn's.

:func:`skreward.utils.estimator_checks.parametrize_with_checks` runs, for each
estimator, the checks of its kind (reward model, comparison transformer, text
front end) and scikit-learn's checks, less those that fit 2-D data and whose
property a skreward check tests on comparisons (``SKLEARN_CHECKS_REPLACED``).
The remaining expected failures are listed below, each with its reason;
``xfail_strict = true`` (pyproject.toml) turns one that starts passing into a
failure. The last tests show that the checks catch the defects they are for.
"""

import numpy as np
import pytest
import sklearn.utils.estimator_checks as sklearn_checks
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import SkipTestWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

import skreward.utils.estimator_checks as skreward_checks
from skreward.active import ActiveAnnotator
from skreward import CalibratedReward, FeedbackClassifier
from skreward import (BTRegressor, LengthControlledReward, OrderConsistentClassifier,
                      PairwiseTransformer, RewardEnsemble, RewardMLPClassifier, SentenceEmbedder,
                      SimulatedAnnotator, TextVectorizer)
from skreward.utils.estimator_checks import (SKLEARN_CHECKS_REPLACED, check_reward_model,
                                             parametrize_with_checks)

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    # check_set_params sets `callbacks` to -inf; skorch's set_params rebuilds the callbacks
    # from the stored value before storing a new one, so every later set_params of that
    # check raises TypeError and scikit-learn warns once per parameter (the skorch
    # behaviour behind the expected failure of check_do_not_raise_errors_in_init_or_set_params).
    pytest.mark.filterwarnings("ignore:TypeError occurred during set_params:UserWarning"),
    pytest.mark.filterwarnings("ignore:Estimator's parameters changed after set_params"),
]

SKORCH_NET = {
    "check_no_attributes_set_in_init": "skorch's NeuralNet.__init__ sets history_, "
                                       "initialized_ and virtual_params_, and stores its "
                                       "**kwargs (module__*, optimizer__*, ...) as attributes",
    "check_do_not_raise_errors_in_init_or_set_params": "skorch's set_params re-initialises "
                                                       "the callbacks (and the module and "
                                                       "optimizer) as soon as they are set, "
                                                       "so nonsense values raise there",
}
ITEM_NET = {
    "check_methods_subset_invariance": "float32 matrix products differ in the last bits "
                                       "(~1e-7 relative) with a batch's number of rows, beyond "
                                       "the check's rtol=1e-7; subsets of items are checked to "
                                       "1e-5 of the rewards' scale by "
                                       "check_reward_model_decision_function",
}
BT_HAS_REWARD_METHODS = {
    "check_regressors_no_decision_function": "by design: decision_function is the reward that "
                                             "every reward model offers and every scorer "
                                             "reads, and predict_proba gives the link's "
                                             "probability of each outcome of comparisons",
}
# FeedbackClassifier's labels are thumbs up or down: booleans or 0/1, anything else refused
THUMBS_LABELS = {check: "by design: labels are thumbs up / thumbs down (booleans or 0/1); other "
                        "labels (1/2, strings, several classes, floats) are refused with their row"
                 for check in ["check_estimators_dtypes", "check_classifier_data_not_an_array",
                               "check_classifiers_classes", "check_classifiers_regression_target",
                               "check_classifier_not_supporting_multiclass",
                               "check_fit2d_1feature"]}
CROSS_VALIDATED = {
    "check_reward_model_comparison_order_invariance": "KFold cuts contiguous blocks: another "
                                                      "order of the comparisons gives other "
                                                      "folds, hence another calibration",
}
LENGTH_COLUMN = {
    "check_reward_model_small_data": "the last feature is the responses' length, which the "
                                     "inner model never sees: one feature leaves it nothing",
}


def expected_failed_checks(estimator):
    if isinstance(estimator, BTRegressor):
        return SKORCH_NET | BT_HAS_REWARD_METHODS
    if isinstance(estimator, RewardMLPClassifier):
        return SKORCH_NET | ITEM_NET  # a classifier of 2-D items: the other checks apply
    if isinstance(estimator, FeedbackClassifier):
        return THUMBS_LABELS
    if isinstance(estimator, LengthControlledReward):
        return LENGTH_COLUMN
    if isinstance(estimator, CalibratedReward) and estimator.method == "sigmoid":
        return CROSS_VALIDATED  # the slope is learned on out-of-fold rewards
    return {}


# Tiny seeded networks: the checks fit them many times. The checks' 40 comparisons
# (80 items) fit in one batch, so the fit does not depend on their order.
TINY_NET = dict(module__hidden_sizes=(16,), max_epochs=20, lr=0.02, validation_fraction=None,
                random_state=0)

ESTIMATORS = [
    OrderConsistentClassifier(LogisticRegression()),
    OrderConsistentClassifier(RewardMLPClassifier(**TINY_NET)),
    FeedbackClassifier(LogisticRegression()),
    BTRegressor(**TINY_NET),
    PairwiseTransformer("pointwise"),
    PairwiseTransformer("difference"),
    # cross_prompt needs no groups, and replace=True lets the checks' tiny data give 20 pairs
    SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()), n_pairs=20,
                       pairing="cross_prompt", replace=True, random_state=0),
    # rounds of 5 pairs among the checks' tiny data; cross_prompt needs no groups
    ActiveAnnotator(OrderConsistentClassifier(LogisticRegression()), n_labels=(5, 10),
                    n_candidates=50, random_state=0),
    SentenceEmbedder(),
    TextVectorizer(TfidfVectorizer()),  # sparse output, made dense
    TextVectorizer(make_pipeline(TfidfVectorizer(), TruncatedSVD(3, random_state=0))),
    RewardMLPClassifier(**TINY_NET),
    LengthControlledReward(OrderConsistentClassifier(LogisticRegression()), log_length=False),
    RewardEnsemble(OrderConsistentClassifier(LogisticRegression()), n_estimators=3,
                   aggregate="conservative"),
    RewardEnsemble([OrderConsistentClassifier(LogisticRegression()),
                    OrderConsistentClassifier(LogisticRegression(C=0.01))], n_estimators=None,
                   aggregate="min"),
    RewardEnsemble(BTRegressor(**TINY_NET), n_estimators=2),
    CalibratedReward(OrderConsistentClassifier(LogisticRegression()), cv=2),
    CalibratedReward(OrderConsistentClassifier(LogisticRegression()), method="normalize", cv=3),
]


@pytest.fixture(autouse=True, scope="module")
def offline_hub():
    """SentenceEmbedder loads the bundled model; nothing is fetched from the Hugging Face Hub."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_estimator_checks(estimator, check):
    check(estimator)


def test_replaced_sklearn_checks_name_real_checks():
    """Every left-out scikit-learn check exists, and so does the check that replaces it."""
    for replaced in SKLEARN_CHECKS_REPLACED.values():
        for theirs, ours in replaced.items():
            assert callable(getattr(sklearn_checks, theirs)), theirs
            assert callable(getattr(skreward_checks, ours)), ours
            assert ours in skreward_checks.__all__


def test_check_reward_model_refuses_other_estimators():
    with pytest.raises(ValueError, match="PairwiseTransformer is not a reward model"):
        check_reward_model(PairwiseTransformer())


# -- the checks catch what they are for --------------------------------------------------


class IgnoresLabels(OrderConsistentClassifier):
    def fit(self, X, y=None):
        return super().fit(X)  # as if the first item were always preferred


class ScoresWithoutWidthCheck(OrderConsistentClassifier):
    def decision_function(self, X):
        check_is_fitted(self)
        return self.estimator_.decision_function(check_array(X)[:, :self.n_features_in_])


class FillsNaN(OrderConsistentClassifier):
    def fit(self, X, y=None):
        return super().fit(np.nan_to_num(np.asarray(X, dtype=float)), y)


class ChangesParameter(OrderConsistentClassifier):
    def fit(self, X, y=None):
        self.response_method = "decision_function"
        return super().fit(X, y)


class DropsZeroWeights(OrderConsistentClassifier):
    def fit(self, X, y=None, sample_weight=None):  # weights in {0, 1}: 0 drops a comparison
        keep = slice(None) if sample_weight is None else np.asarray(sample_weight) > 0
        return super().fit(np.asarray(X)[keep], None if y is None else np.asarray(y)[keep])


class IgnoresWeights(OrderConsistentClassifier):
    def fit(self, X, y=None, sample_weight=None):
        return super().fit(X, y)


class RejectedFirst(TextVectorizer):
    def transform(self, X):
        out = super().transform(X)
        return out[:, ::-1] if out.ndim == 3 else out


DEFECTS = [
    (IgnoresLabels(LogisticRegression()), "check_reward_model_swap_invariance"),
    (IgnoresLabels(LogisticRegression()), "check_reward_model_labels"),
    (ScoresWithoutWidthCheck(LogisticRegression()), "check_reward_model_n_features"),
    (FillsNaN(LogisticRegression()), "check_reward_model_nan_inf"),
    (ChangesParameter(LogisticRegression()), "check_reward_model_fit_idempotent"),
    # one comparison at a time, in the given order: the fit depends on the order
    (OrderConsistentClassifier(SGDClassifier(shuffle=False, max_iter=3, tol=None)),
     "check_reward_model_comparison_order_invariance"),
    (BTRegressor(**TINY_NET | dict(batch_size=8)),
     "check_reward_model_comparison_order_invariance"),
    (IgnoresWeights(LogisticRegression()), "check_reward_model_sample_weight"),
    (RejectedFirst(TfidfVectorizer()), "check_text_transformer_output"),
]


@pytest.mark.parametrize("estimator, check_name", DEFECTS,
                         ids=[f"{type(e).__name__}-{c}" for e, c in DEFECTS])
def test_checks_catch_defects(estimator, check_name):
    check = getattr(skreward_checks, check_name)
    with pytest.raises(AssertionError):
        check(type(estimator).__name__, estimator)


def test_check_reward_model_raises_or_skips_expected_failures():
    model = ScoresWithoutWidthCheck(LogisticRegression())
    with pytest.raises(AssertionError):
        check_reward_model(model, sklearn_checks=False)
    reason = "decision_function slices items to the fitted width"
    with pytest.warns(SkipTestWarning, match=reason):
        check_reward_model(model, sklearn_checks=False,
                           expected_failed_checks={"check_reward_model_n_features": reason})


def test_sample_weight_check_runs_where_fit_takes_weights():
    """Generated only for a fit with ``sample_weight``; a model that drops zero-weight
    comparisons passes it."""
    def names(model):
        return [check.func.__name__ for _, check in
                skreward_checks.estimator_checks_generator(model, sklearn_checks=False)]

    assert "check_reward_model_sample_weight" in names(DropsZeroWeights(LogisticRegression()))
    assert "check_reward_model_sample_weight" not in names(
        IgnoresLabels(LogisticRegression()))  # its fit takes no sample_weight
    skreward_checks.check_reward_model_sample_weight("DropsZeroWeights",
                                                     DropsZeroWeights(LogisticRegression()))
