"""sample_weight: per comparison for every reward model, routed by the meta-estimators."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold

from skreward import BTRegressor, OrderConsistentClassifier, RewardMLPClassifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Full-batch training without a validation split: the gradient of a weighted batch is
# exactly that of the batch with zero-weight rows dropped (or integer weights repeated).
FULL_BATCH = dict(module__hidden_sizes=(8,), max_epochs=15, lr=0.02, batch_size=-1,
                  validation_fraction=None, random_state=0)


@pytest.fixture
def pairs():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 2, 5))
    y = (X[:, 0, 0] - X[:, 1, 0] + 0.5 * rng.normal(size=80) > 0).astype(int)
    weights = rng.randint(0, 3, size=80)  # zeros, ones and twos
    return X, y, weights


def repeated(X, y, weights):
    """Each comparison repeated as many times as its integer weight (weight 0: dropped)."""
    keep = np.repeat(np.arange(len(X)), weights)
    return X[keep], y[keep]


# -- the loss -------------------------------------------------------------------------


def test_bt_loss_ignores_zero_weights_and_counts_integer_weights():
    net = BTRegressor(module__hidden_sizes=(), center_rewards_coef=0.1).initialize()
    rewards = torch.tensor([[1.0, 0.0], [0.5, 2.0], [-1.0, 3.0]])
    labels = torch.tensor([1.0, 0.0, 1.0])

    def loss(rows, weights):
        targets = torch.column_stack([labels[rows], torch.tensor(weights)])
        return net.get_loss(rewards[rows], targets).item()

    assert loss([0, 1, 2], [1.0, 1.0, 0.0]) == pytest.approx(loss([0, 1], [1.0, 1.0]), rel=1e-6)
    assert loss([0, 1, 2], [2.0, 0.0, 1.0]) == pytest.approx(loss([0, 0, 2], [1.0, 1.0, 1.0]),
                                                            rel=1e-6)
    # Labels alone (no weight column) are unit weights: skorch's own call convention.
    assert net.get_loss(rewards, labels).item() == pytest.approx(loss([0, 1, 2], [1.0] * 3))
    # The weighted cross-entropy and centring terms, written out.
    logit = np.array([1.0, -1.5, -4.0])
    ce = np.log1p(np.exp(-np.where([1, 0, 1], logit, -logit)))
    squares = np.array([1.0, 0.0, 0.25, 4.0, 1.0, 9.0]).reshape(3, 2).mean(1)
    w = np.array([2.0, 0.0, 1.0])
    expected = (w @ ce + 0.1 * (w @ squares)) / w.sum()
    assert loss([0, 1, 2], list(w)) == pytest.approx(expected, rel=1e-6)


def test_clf_mlp_loss_ignores_zero_weights():
    net = RewardMLPClassifier(module__hidden_sizes=()).initialize()
    logits = torch.tensor([2.0, -1.0, 0.5])
    labels = torch.tensor([1.0, 1.0, 0.0])
    weighted = net.get_loss(logits, torch.column_stack([labels, torch.tensor([1.0, 0.0, 1.0])]))
    dropped = net.get_loss(logits[[0, 2]], labels[[0, 2]])
    assert weighted.item() == pytest.approx(dropped.item(), rel=1e-6)


def test_a_criterion_without_per_row_losses_refuses_weights(pairs):
    X, y, weights = pairs

    class MeanOnly(torch.nn.Module):  # no `reduction` argument: returns one number
        def forward(self, logit, target):
            return torch.nn.functional.binary_cross_entropy_with_logits(logit, target)

    BTRegressor(criterion=MeanOnly, **FULL_BATCH).fit(X, y)  # unweighted: fine
    with pytest.raises(ValueError, match="sample_weight needs per-row losses"):
        BTRegressor(criterion=MeanOnly, **FULL_BATCH).fit(X, y, sample_weight=weights)


# -- end to end -------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: BTRegressor(**FULL_BATCH),
    lambda: OrderConsistentClassifier(RewardMLPClassifier(**FULL_BATCH)),
    lambda: OrderConsistentClassifier(LogisticRegression()),
], ids=["BT-MLP", "CLF-MLP", "CLF-logistic"])
def test_weights_equal_dropped_and_repeated_comparisons(make, pairs):
    X, y, weights = pairs
    items = X.reshape(-1, X.shape[2])
    weighted = make().fit(X, y, sample_weight=weights).decision_function(items)
    expected = make().fit(*repeated(X, y, weights)).decision_function(items)
    np.testing.assert_allclose(weighted, expected, rtol=1e-5, atol=1e-6)
    # ...and the weights matter: unweighted fits differ.
    assert not np.allclose(make().fit(X, y).decision_function(items), weighted, atol=1e-4)


def test_weighted_grid_search_with_routing(pairs):
    X, y, weights = pairs
    grids = {"CLF-logistic": {"estimator__C": [0.01, 1.0]}, "BT-MLP": {"lr": [0.01, 0.02]}}
    with sklearn.config_context(enable_metadata_routing=True):
        models = {
            "CLF-logistic": OrderConsistentClassifier(
                LogisticRegression().set_fit_request(sample_weight=True)),
            "BT-MLP": BTRegressor(**FULL_BATCH).set_fit_request(sample_weight=True),
        }
        for name, model in models.items():
            model.set_score_request(sample_weight=True)
            search = GridSearchCV(model, grids[name], cv=KFold(2)).fit(
                X, y, sample_weight=weights)
            scores = search.cv_results_["mean_test_score"]
            # Unweighted, the folds' scores (and fits) change: the weights reached both.
            plain = GridSearchCV(model, grids[name], cv=KFold(2)).fit(X, y)
            assert np.isfinite(scores).all() and 0.5 < search.best_score_ <= 1, name
            assert not np.allclose(plain.cv_results_["mean_test_score"], scores), name
            assert search.best_estimator_.n_features_in_ == 5


def test_routing_refuses_unrequested_weights(pairs):
    X, y, weights = pairs
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(sklearn.exceptions.UnsetMetadataPassedError, match="sample_weight"):
            OrderConsistentClassifier(LogisticRegression()).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("make", [lambda: BTRegressor(**FULL_BATCH),
                                  lambda: RewardMLPClassifier(**FULL_BATCH)],
                         ids=["BT-MLP", "CLF-MLP"])
def test_bad_weights_raise(make, pairs):
    X, y, _ = pairs
    if isinstance(make(), RewardMLPClassifier):
        X, y = X[:, 0], y
    n = len(X)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        make().fit(X, y, sample_weight=np.r_[-1.0, np.ones(n - 1)])
    with pytest.raises(ValueError, match="sample_weight contains NaN"):
        make().fit(X, y, sample_weight=np.r_[np.nan, np.ones(n - 1)])
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(80,\)"):
        make().fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="at least one non-zero"):
        make().fit(X, y, sample_weight=np.zeros(n))
    with pytest.raises(ValueError, match="sample_weight must be one non-negative number per row"):
        make().fit(X, y, sample_weight=["a"] * n)


# -- SimulatedAnnotator: per-item metadata becomes per-comparison ------------------------


def test_annotator_gives_comparisons_the_weights_of_their_items(testbed):
    from skreward import SimulatedAnnotator

    X, golden, groups = testbed.X[:600], testbed.golden[:600], testbed.groups[:600]
    prompt_weight = np.where(np.unique(groups, return_inverse=True)[1] % 3 == 0, 0.0, 1.0)
    annotator = SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()),
                                   n_pairs=500, beta=10, random_state=0)
    annotator.fit(X, golden, groups=groups, sample_weight=prompt_weight)
    pairs, y = annotator.comparisons_.pairs, annotator.comparisons_.y
    keep = prompt_weight[pairs[:, 0]] > 0  # same-prompt pairs: both items share the weight
    assert 0 < keep.sum() < len(keep)
    expected = OrderConsistentClassifier(LogisticRegression()).fit(X[pairs[keep]], y[keep])
    np.testing.assert_allclose(annotator.decision_function(testbed.X_test[:50]),
                               expected.decision_function(testbed.X_test[:50]), rtol=1e-6)


def test_annotator_routes_weights_in_a_grid_search(testbed):
    from sklearn.model_selection import GroupKFold

    from skreward import BestOfNScorer, SimulatedAnnotator

    X, golden, groups = testbed.X[:600], testbed.golden[:600], testbed.groups[:600]
    weights = np.random.RandomState(0).uniform(0.5, 2, size=len(X))
    with sklearn.config_context(enable_metadata_routing=True):
        annotator = SimulatedAnnotator(
            OrderConsistentClassifier(LogisticRegression().set_fit_request(sample_weight=True)),
            n_pairs=500, beta=10, random_state=0)
        search = GridSearchCV(annotator, {"beta": [1.0, 10.0]}, scoring=BestOfNScorer(n=4),
                              cv=GroupKFold(2), error_score="raise")
        search.fit(X, golden, groups=groups, sample_weight=weights)
        weighted = sklearn.clone(annotator).fit(X, golden, groups=groups, sample_weight=weights)
        plain = sklearn.clone(annotator).fit(X, golden, groups=groups)
        unrequested = SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()),
                                         n_pairs=500, random_state=0)
        with pytest.raises(sklearn.exceptions.UnsetMetadataPassedError, match="sample_weight"):
            unrequested.fit(X, golden, groups=groups, sample_weight=weights)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    items = testbed.X_test[:50]
    assert not np.allclose(weighted.decision_function(items), plain.decision_function(items))
