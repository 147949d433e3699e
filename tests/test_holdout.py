"""The neural reward models' validation hold-out (issue 18): the two items of a comparison are
never split between training and validation."""

import numpy as np
import pytest
import torch
from sklearn.utils import check_random_state

from skreward import (BTRegressor, OrderConsistentClassifier, PairwiseTransformer,
                      RewardMLPClassifier, simulate_comparisons)
from skreward.datasets import make_preference_testbed
from skreward.metrics import best_of_n_report
from skreward.models._holdout import holdout_split

SMALL = dict(module__hidden_sizes=(16,), lr=0.01, random_state=0)


def _comparisons(n_pairs=200, n_features=5, seed=0):
    """Comparisons of distinct random items (every item in one comparison only)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_pairs, 2, n_features))
    y = (X[:, 0, 0] - X[:, 1, 0] + rng.normal(scale=0.5, size=n_pairs) > 0).astype(int)
    return X, y


class SpySplit:
    """A skorch ``train_split`` that records the groups it is given (on the class: ``clone``
    copies the instance) and holds out the first 10 rows."""

    groups = None

    def __call__(self, dataset, y=None, groups=None, **fit_params):
        SpySplit.groups = groups
        rows = np.arange(len(dataset))
        return dataset.take(rows[10:]), dataset.take(rows[:10])


def test_holdout_split_keeps_every_group_on_one_side():
    groups = np.repeat(np.arange(50), 3)
    train, valid = holdout_split(len(groups), 0.1, 0, groups)
    assert set(groups[train]).isdisjoint(groups[valid])
    assert len(np.unique(groups[valid])) == 5  # 10% of the 50 groups, not of the 150 rows
    assert len(train) + len(valid) == len(groups)
    # Without groups: a tenth of the rows, the same seed the same rows.
    train, valid = holdout_split(150, 0.1, 0)
    assert len(valid) == 15
    np.testing.assert_array_equal(valid, holdout_split(150, 0.1, 0)[1])


def test_holdout_split_names_groups_when_too_few():
    with pytest.raises(ValueError, match="validation_fraction=0.5 holds out 1 of the 1 groups "
                                         "of training rows.*validation_fraction=None"):
        holdout_split(4, 0.5, 0, np.zeros(4))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        holdout_split(4, 0.5, 0, np.arange(3))


def test_classifier_gets_one_group_per_comparison():
    X, y = _comparisons()
    spy = SpySplit()
    OrderConsistentClassifier(RewardMLPClassifier(**SMALL, max_epochs=1, train_split=spy)).fit(X, y)
    np.testing.assert_array_equal(spy.groups, np.tile(np.arange(len(X)), 2))
    # Groups passed by the user (one per comparison) are used instead, given to both rows.
    prompts = np.arange(len(X)) // 4
    OrderConsistentClassifier(RewardMLPClassifier(**SMALL, max_epochs=1, train_split=spy)).fit(
        X, y, groups=prompts)
    np.testing.assert_array_equal(spy.groups, np.tile(prompts, 2))


def test_soft_labels_keep_all_four_rows_of_a_comparison_together():
    X, _ = _comparisons(100)
    y = np.linspace(0, 1, 100)  # 0 and 1 at the ends: those comparisons give two rows only
    spy = SpySplit()
    OrderConsistentClassifier(RewardMLPClassifier(**SMALL, max_epochs=1, train_split=spy)).fit(X, y)
    counts = np.bincount(spy.groups)
    assert counts[0] == counts[-1] == 2 and set(counts[1:-1]) == {4}


def _split(net, X, y, groups):
    X_items, y_items = PairwiseTransformer("pointwise").fit_resample(X, y)
    net.initialize()
    net.check_data(X_items, y_items)
    return net.get_split_datasets(X_items, y_items, groups=groups)


def test_default_holdout_keeps_both_items_of_a_comparison():
    X, y = _comparisons()
    train, valid = _split(RewardMLPClassifier(**SMALL), X, y, np.tile(np.arange(len(X)), 2))
    assert valid.X.shape == (40, 5) and len(train) == 360  # 10% of the 200 comparisons
    rows = {tuple(row) for row in X.reshape(-1, 5).astype(np.float32).round(5)}
    held = {tuple(row) for row in valid.X.numpy().round(5)}
    trained = {tuple(row) for row in train.X.numpy().round(5)}
    assert held <= rows and held.isdisjoint(trained)
    for first, second in X.astype(np.float32).round(5):
        assert (tuple(first) in held) == (tuple(second) in held)  # never split apart
    # Each held-out comparison keeps one winner and one loser.
    assert valid.y[:, 0].sum().item() == 20


def test_holdout_by_prompts():
    X, y = _comparisons()
    prompts = np.tile(np.arange(len(X)) // 4, 2)  # 50 prompts of 4 comparisons
    train, valid = _split(RewardMLPClassifier(**SMALL), X, y, prompts)
    assert valid.X.shape == (40, 5)  # 5 prompts' 8 rows each
    assert len(train) == 400 - 40


def test_validation_loss_is_the_held_out_rows_classification_loss():
    X, y = _comparisons()
    model = OrderConsistentClassifier(RewardMLPClassifier(**SMALL, max_epochs=1)).fit(X, y)
    net = model.estimator_
    _, valid = _split(RewardMLPClassifier(**SMALL), X, y, np.tile(np.arange(len(X)), 2))
    logit = net.decision_function(valid.X.numpy())
    labels = valid.y[:, 0].numpy()
    expected = np.mean(np.logaddexp(0, -np.where(labels == 1, logit, -logit)))
    assert net.history_[-1, "valid_loss"] == pytest.approx(expected, rel=1e-5)


def test_bt_holds_out_whole_groups_when_given():
    X, y = _comparisons()
    prompts = np.arange(len(X)) // 4
    spy = SpySplit()
    BTRegressor(**SMALL, max_epochs=1, train_split=spy).fit(X, y, groups=prompts)
    np.testing.assert_array_equal(spy.groups, prompts)
    net = BTRegressor(**SMALL)
    net.initialize()
    net.check_data(X, y)
    train, valid = net.get_split_datasets(X, y, groups=prompts)
    held_out = {tuple(pair) for pair in valid.X[:, 0].numpy().round(5)}
    held_prompts = {p for p, pair in zip(prompts, X[:, 0].astype(np.float32).round(5))
                    if tuple(pair) in held_out}
    assert len(held_prompts) == 5 and len(valid) == 20  # 10% of the 50 prompts, whole


def test_groups_reach_the_split_with_metadata_routing():
    import sklearn
    X, y = _comparisons()
    spy = SpySplit()
    with sklearn.config_context(enable_metadata_routing=True):
        OrderConsistentClassifier(RewardMLPClassifier(**SMALL, max_epochs=1,
                                                      train_split=spy)).fit(X, y)
    np.testing.assert_array_equal(spy.groups, np.tile(np.arange(len(X)), 2))


def _plain_loop(X, y, seed, epochs=15, batch=512):
    """CLF-MLP's network by a plain loop: fixed epochs, no hold-out (the issue's baseline)."""
    from skreward import RewardMLP
    torch.manual_seed(seed)
    net = RewardMLP(n_features=X.shape[2], hidden_sizes=(256, 128))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    X_items, y_items = PairwiseTransformer("pointwise").fit_resample(X, y)
    X_items = torch.as_tensor(X_items, dtype=torch.float32)
    y_items = torch.as_tensor(y_items, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for index in torch.randperm(len(X_items), generator=generator).split(2 * batch):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(X_items[index]), y_items[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def _with_prompt_features(seed, scale):
    """Testbed items with their prompt's own random vector prepended (as an embedding of
    prompt + response has), same-prompt comparisons at beta=1 (about 30% wrong labels)."""
    data = make_preference_testbed(n_prompts=300, n_test_prompts=30, n_candidates=32,
                                   random_state=seed)
    prompts = np.random.default_rng(seed).normal(scale=scale, size=(330, 32))
    X = np.hstack([prompts[data.groups], data.X])
    X_test = np.hstack([prompts[data.groups_test], data.X_test])
    sim = simulate_comparisons(data.golden, data.groups, n_pairs=2000, beta=1.0,
                               pairing="same_prompt", random_state=seed)
    assert 0.25 < sim.error_rate < 0.4  # noisy labels

    def improvement(rewards):
        return best_of_n_report(data.golden_test, rewards, data.groups_test, n=8).oracle_fraction

    return sim.take(X), sim.y, X_test, improvement


def _clf_mlp(seed, **kw):
    return OrderConsistentClassifier(RewardMLPClassifier(module__hidden_sizes=(256, 128),
                                                         random_state=seed, **kw))


def _item_holdout(random_state):
    """The hold-out before issue 18: 10% of the items, drawn with the net's split seed."""
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max, size=4)[1])

    def split(dataset, y=None, groups=None, **fit_params):
        train, valid = holdout_split(len(dataset), 0.1, seed)
        return dataset.take(train), dataset.take(valid)
    return split


@pytest.mark.parametrize("seed", [0, 1])
def test_items_hold_out_was_the_cause(seed):
    # The prompt's features make a comparison's two items alike: held out apart, the
    # held-out winner's loser is trained on with label 0, and early stopping on that
    # validation loss restores an early, worse epoch (0.37 and 0.42 against 0.58 and 0.57).
    X, y, X_test, improvement = _with_prompt_features(seed, scale=3.0)
    fixed = improvement(_clf_mlp(seed).fit(X, y).decision_function(X_test))
    before = improvement(_clf_mlp(seed, train_split=_item_holdout(seed)).fit(X, y)
                         .decision_function(X_test))
    assert fixed > before + 0.1


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("pairing", ["same_prompt", "cross_prompt"])
def test_clf_mlp_defaults_match_a_fixed_epoch_loop_on_noisy_labels(seed, pairing):
    if pairing == "same_prompt":
        X, y, X_test, improvement = _with_prompt_features(seed, scale=1.0)
    else:
        data = make_preference_testbed(n_prompts=300, n_test_prompts=30, n_candidates=32,
                                       random_state=seed)
        sim = simulate_comparisons(data.golden, data.groups, n_pairs=2000, beta=1.0,
                                   pairing=pairing, random_state=seed)
        assert 0.25 < sim.error_rate < 0.4
        X, y, X_test = sim.take(data.X), sim.y, data.X_test

        def improvement(rewards):
            return best_of_n_report(data.golden_test, rewards, data.groups_test,
                                    n=8).oracle_fraction

    lib = _clf_mlp(seed).fit(X, y)
    net = _plain_loop(X, y, seed)
    with torch.no_grad():
        plain = net(torch.as_tensor(X_test, dtype=torch.float32)).numpy()
    assert improvement(lib.decision_function(X_test)) >= improvement(plain) > 0
