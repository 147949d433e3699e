"""Per-comparison margins, soft labels and weights; ties in order consistency."""

import functools

import numpy as np
import pytest
import sklearn
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from skreward import BTRegressor, OrderConsistentClassifier, RewardMLPClassifier
from skreward.metrics import order_consistency_score, order_consistency_scorer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NET = dict(module__hidden_sizes=(8,), validation_fraction=None, random_state=0)


@pytest.fixture
def pairs():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 2, 5)).astype(np.float32)
    return X, rng.uniform(0.0, 2.0, 12), rng.uniform(0.0, 1.5, 12)


def test_loss_is_trls_margin_loss_computed_by_hand(pairs):
    """One full batch at (all but) the initial weights: the recorded loss is TRL's formula."""
    X, weight, margin = pairs
    model = BTRegressor(**NET, max_epochs=1, batch_size=-1, optimizer=torch.optim.SGD, lr=1e-12)
    model.fit(X, sample_weight=weight, margin=margin)
    rewards = model.decision_function(X.reshape(-1, 5)).reshape(-1, 2)
    # TRL / OpenRLHF: -logsigmoid(r_chosen - r_rejected - margin), here weighted
    per_pair = -torch.nn.functional.logsigmoid(
        torch.tensor(rewards[:, 0] - rewards[:, 1] - margin)).numpy()
    by_hand = np.sum(weight * per_pair) / np.sum(weight)
    np.testing.assert_allclose(model.history_[-1, "train_loss"], by_hand, rtol=1e-5)
    # the same with get_loss on a batch, both labels: a label 0 mirrors the comparison
    y_pred = torch.tensor(rewards)
    labels = np.array([1, 0] * 6, dtype=np.float32)
    y_true = torch.tensor(np.column_stack([labels, weight, margin]), dtype=torch.float32)
    signed = np.where(labels == 1, rewards[:, 0] - rewards[:, 1], rewards[:, 1] - rewards[:, 0])
    expected = -torch.nn.functional.logsigmoid(torch.tensor(signed - margin)).numpy()
    np.testing.assert_allclose(model.get_loss(y_pred, y_true).item(),
                               np.sum(weight * expected) / np.sum(weight), rtol=1e-5)


def test_the_scalar_margin_is_the_default_of_every_comparison(pairs):
    X, _, _ = pairs
    scalar = BTRegressor(**NET, max_epochs=3, margin=0.7).fit(X)
    array = BTRegressor(**NET, max_epochs=3).fit(X, margin=np.full(len(X), 0.7))
    np.testing.assert_allclose(scalar.decision_function(X[:, 0]),
                               array.decision_function(X[:, 0]), rtol=1e-6)


def test_margin_and_weights_need_array_input(pairs):
    # a torch Dataset holds its own targets: a margin must not land in the weights' column
    from skorch.dataset import Dataset
    X, weights, margin = pairs
    dataset = Dataset(torch.from_numpy(X), torch.ones(len(X)))
    for name, value in (("margin", margin), ("sample_weight", weights)):
        with pytest.raises(ValueError, match=f"{name} needs array input"):
            BTRegressor(**NET, max_epochs=1).fit(dataset, None, **{name: value})


def test_soft_label_one_is_the_hard_label_one(pairs):
    X, _, margin = pairs
    rewards = [BTRegressor(**NET, max_epochs=3).fit(X, y, margin=margin).decision_function(X[:, 0])
               for y in (None, np.ones(len(X), dtype=int), np.ones(len(X)))]
    np.testing.assert_array_equal(rewards[0], rewards[1])
    np.testing.assert_array_equal(rewards[0], rewards[2])


@pytest.mark.parametrize("link", ["logistic", "probit"])
def test_soft_label_one_half_gives_a_symmetric_gradient(link):
    model = BTRegressor(link=link, margin=0.8).initialize()
    rewards = torch.tensor([[1.3, -0.4], [0.2, 0.2], [-2.0, 0.5]], requires_grad=True)
    y_true = torch.tensor([[0.5, 1.0]] * 3)
    model.get_loss(rewards, y_true).backward()
    grad = rewards.grad.numpy()
    np.testing.assert_allclose(grad[:, 0], -grad[:, 1], atol=1e-7)  # pulls the two together
    assert grad[1].tolist() == [0.0, 0.0]  # equal rewards: no pull at all, margin or not
    swapped = rewards.detach().flip(1).clone().requires_grad_(True)
    model.get_loss(swapped, y_true).backward()
    np.testing.assert_allclose(swapped.grad.numpy(), grad[:, ::-1], atol=1e-7)
    r = rewards.detach().numpy()  # gradient descent moves the higher reward down
    assert np.all(np.sign(grad[:, 0]) == np.sign(r[:, 0] - r[:, 1]))


def test_probit_loss_takes_soft_targets():
    model = BTRegressor(link="probit").initialize()
    rewards = torch.tensor([[0.3, -0.2]])
    loss = model.get_loss(rewards, torch.tensor([[0.8, 1.0]])).item()
    normal = torch.distributions.Normal(0, 1)
    by_hand = -(0.8 * torch.log(normal.cdf(torch.tensor(0.5)))
                + 0.2 * torch.log(normal.cdf(torch.tensor(-0.5)))).item()
    assert loss == pytest.approx(by_hand, rel=1e-5)


def test_classification_model_learns_soft_labels_as_weighted_rows():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2, 3))
    p = np.clip(0.5 + (X[:, 0, 0] - X[:, 1, 0]) / 4, 0, 1)
    model = OrderConsistentClassifier(LogisticRegression()).fit(X, p)
    rows = np.concatenate([X[:, 0], X[:, 1], X[:, 0], X[:, 1]])
    labels = np.repeat([1, 0, 0, 1], 200)
    weight = np.concatenate([p, p, 1 - p, 1 - p])
    keep = weight > 0
    by_hand = LogisticRegression().fit(rows[keep], labels[keep], sample_weight=weight[keep])
    np.testing.assert_allclose(model.estimator_.coef_, by_hand.coef_, rtol=1e-6)
    hard = OrderConsistentClassifier(LogisticRegression())
    np.testing.assert_array_equal(hard.fit(X, (p > 0.5).astype(float)).estimator_.coef_,
                                  hard.fit(X, (p > 0.5).astype(int)).estimator_.coef_)
    half = OrderConsistentClassifier(LogisticRegression()).fit(X, np.full(200, 0.5))
    np.testing.assert_allclose(half.decision_function(X[:, 0]), 0, atol=1e-9)


def test_classification_models_refuse_margins(pairs):
    X, _, margin = pairs
    with pytest.raises(ValueError, match="OrderConsistentClassifier takes no margin"):
        OrderConsistentClassifier(LogisticRegression()).fit(X, margin=margin)
    with pytest.raises(ValueError, match="RewardMLPClassifier takes no margin"):
        RewardMLPClassifier(**NET, max_epochs=1).fit(X[:, 0], np.arange(12) % 2, margin=margin)


def test_margin_and_weights_are_routed_as_requested(pairs):
    X, weight, margin = pairs
    plain = BTRegressor(**NET, max_epochs=3).fit(X, sample_weight=weight, margin=margin)
    with sklearn.config_context(enable_metadata_routing=True):
        routed = BTRegressor(**NET, max_epochs=3).set_fit_request(sample_weight=True, margin=True)
        routed.fit(X, sample_weight=weight, margin=margin)
    np.testing.assert_array_equal(plain.decision_function(X[:, 0]),
                                  routed.decision_function(X[:, 0]))


@pytest.mark.parametrize("kwargs, message", [
    (dict(margin=[np.nan] + [0.0] * 11), r"margin must be finite and non-negative; comparison "
                                         r"\(row\) 0 has nan"),
    (dict(margin=[0.0] * 11 + [-1.0]), r"comparison \(row\) 11 has -1.0"),
    (dict(margin=[0.0] * 5), r"margin must have one value per comparison: got 5"),
    (dict(sample_weight=[1.0] * 11 + [-1.0]), r"(?i)negative"),
    (dict(y=[0.5] * 11 + [1.5]), r"soft labels in \[0, 1\].*comparison 11 has 1.5"),
    (dict(y=[0.5] * 11 + [np.nan]), r"y contains NaN or infinity at comparison 11"),
])
def test_bad_training_signals_are_refused(pairs, kwargs, message):
    X, _, _ = pairs
    y = kwargs.pop("y", None)
    with pytest.raises(ValueError, match=message):
        BTRegressor(**NET, max_epochs=1).fit(X, y, **kwargs)


def test_ties_count_half_or_wrong():
    y_score = [2.0, 0.0, -1.0, 0.0]
    assert order_consistency_score([1, 1, 0, 0], y_score) == 0.75
    assert order_consistency_score([1, 1, 0, 0], y_score, ties="wrong") == 0.5
    assert order_consistency_score(None, [0.0, 0.0], ties="wrong") == 0.0
    assert order_consistency_score([0.8, 0.3], [1.0, 1.0]) == pytest.approx(0.55)  # expected
    with pytest.raises(ValueError, match="ties must be 'half' or 'wrong'; got 'zero'"):
        order_consistency_score([1], [0.0], ties="zero")


def test_order_consistency_scorer_counts_ties_as_asked():
    rng = np.random.RandomState(0)
    X = np.round(rng.normal(size=(60, 2, 2)))  # coarse features: many exact ties
    X[:, :, 1] = 0
    model = OrderConsistentClassifier(LogisticRegression())
    half = cross_val_score(model, X, cv=3, scoring=order_consistency_scorer)
    wrong = cross_val_score(model, X, cv=3, scoring=functools.partial(
        order_consistency_scorer, ties="wrong"))
    ties = np.mean(X[:, 0, 0] == X[:, 1, 0])
    assert ties > 0.1
    np.testing.assert_allclose(half.mean() - wrong.mean(), ties / 2, atol=1e-9)
