"""Members of one architecture trained as one stacked network (fit_stacked) vs separate fits."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skorch.callbacks import EpochTimer

from skreward import BTRegressor, RewardMLP, RewardMLPClassifier
from skreward.models import can_stack, fit_stacked

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(module__hidden_sizes=(16, 8), max_epochs=12, lr=1e-2)
# Batched and unbatched matrix products may round differently in the last bits (CUDA,
# other BLAS libraries; see fit_stacked's docstring); the tests allow for it, except
# the bit-identity test of torch's CPU build with MKL.
TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def data():
    """Noisy comparisons (some labels flipped, so that validation losses stop improving)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 2, 6)).astype(np.float32)
    y = (X[:, 0, :2].sum(1) > X[:, 1, :2].sum(1)).astype(int)
    y[rng.random(500) < 0.2] ^= 1
    return X, y, rng.uniform(0.2, 2.0, size=500)


def _items(X, y):
    """The winners and losers of comparisons as items with labels 1 / 0 (CLF-MLP's rows)."""
    first = np.where(y[:, None] == 1, X[:, 0], X[:, 1])
    second = np.where(y[:, None] == 1, X[:, 1], X[:, 0])
    return np.concatenate([first, second]), np.r_[np.ones(len(X)), np.zeros(len(X))].astype(int)


def _best_epoch(net):
    return dict(net.callbacks_)["early_stopping"].best_epoch_


def _separate(base, seeds, X, y, weights, indices):
    fits = []
    for seed, idx in zip(seeds, indices):
        idx = np.arange(len(X)) if idx is None else idx
        fits.append(clone(base).set_params(random_state=seed).fit(
            X[idx], y[idx], sample_weight=None if weights is None else weights[idx]))
    return fits


@pytest.mark.parametrize("kind", ["bt", "clf"])
@pytest.mark.parametrize("setting", ["early_stopping", "validation_only", "no_validation"])
@pytest.mark.parametrize("weighted_bootstrap", [False, True])
def test_stacked_fits_match_separate_fits(data, kind, setting, weighted_bootstrap):
    X, y, weights = data
    if kind == "clf":
        X, y = _items(X, y)
        weights = np.r_[weights, weights]
        base = RewardMLPClassifier(**SMALL)
    else:
        base = BTRegressor(**SMALL, center_rewards_coef=0.01)
    base.set_params(**{"early_stopping": dict(patience=2),
                       "validation_only": dict(patience=None, validation_fraction=0.2),
                       "no_validation": dict(validation_fraction=None)}[setting])
    seeds = [3, 1, 4]
    rng = np.random.default_rng(1)
    indices = ([rng.integers(0, len(X), len(X)) for _ in seeds] if weighted_bootstrap
               else [None] * len(seeds))
    weights = weights if weighted_bootstrap else None
    members = [clone(base).set_params(random_state=seed) for seed in seeds]
    stacked = fit_stacked(members, X, y, sample_weight=weights,
                          sample_indices=indices if weighted_bootstrap else None)
    assert stacked == members  # fitted in place, as fit does
    items = X.reshape(-1, X.shape[-1])
    for net, alone in zip(stacked, _separate(base, seeds, X, y, weights, indices)):
        assert len(net.history_) == len(alone.history_)
        for key in ["train_loss"] + (["valid_loss"] if setting != "no_validation" else []):
            np.testing.assert_allclose(net.history_[:, key], alone.history_[:, key], **TOL)
        assert net.history_[:, "train_batch_count"] == alone.history_[:, "train_batch_count"]
        if setting == "early_stopping":
            assert _best_epoch(net) == _best_epoch(alone)
        np.testing.assert_allclose(net.decision_function(items), alone.decision_function(items),
                                   **TOL)
        assert net.n_features_in_ == alone.n_features_in_
        # The optimizer state is the member's own, as a separate fit leaves it (warm starts).
        state = net.optimizer_.state_dict()["state"]
        expected = alone.optimizer_.state_dict()["state"]
        assert state.keys() == expected.keys()
        for key in state:
            np.testing.assert_allclose(state[key]["exp_avg"], expected[key]["exp_avg"], **TOL)
    if kind == "clf":
        assert all(list(net.classes_) == [0, 1] for net in stacked)


@pytest.mark.skipif(not torch.backends.mkl.is_available(),
                    reason="bit-identical sums are a property of torch's CPU build with MKL")
@pytest.mark.parametrize("kind", ["bt", "clf"])
def test_stacked_fits_are_bit_identical_to_separate_fits_on_cpu(data, kind):
    """On CPU, each grouped product sums a member's slice as the member's own fit does."""
    X, y, weights = data
    base = BTRegressor(**SMALL, patience=2)
    if kind == "clf":
        X, y = _items(X, y)
        weights = np.r_[weights, weights]
        base = RewardMLPClassifier(**SMALL, patience=2)
    indices = [np.random.default_rng(seed).integers(0, len(X), len(X)) for seed in (0, 1)]
    stacked = fit_stacked([clone(base).set_params(random_state=s) for s in (0, 1)], X, y,
                          sample_weight=weights, sample_indices=indices)
    for net, alone in zip(stacked, _separate(base, (0, 1), X, y, weights, indices)):
        assert net.history_[:, "valid_loss"] == alone.history_[:, "valid_loss"]
        for (name, w), (_, w_alone) in zip(net.module_.named_parameters(),
                                           alone.module_.named_parameters()):
            assert torch.equal(w, w_alone), name


def test_the_members_differ_and_the_seeds_decide(data):
    X, y, _ = data
    fit = lambda seeds: fit_stacked([BTRegressor(**SMALL, random_state=s) for s in seeds], X, y)
    first, again = fit([0, 1]), fit([0, 1])
    rewards = [net.decision_function(X[:, 0]) for net in first]
    assert not np.allclose(rewards[0], rewards[1])  # own initialisation and batch order
    for net, same in zip(first, again):  # the same seeds: identical, bit for bit
        np.testing.assert_array_equal(net.decision_function(X[:, 0]),
                                      same.decision_function(X[:, 0]))


def test_a_stopped_member_does_not_move(data):
    """Members stop at different epochs; an early stopper ends as its separate fit does."""
    X, y, _ = data
    base = BTRegressor(**{**SMALL, "max_epochs": 30}, patience=1)
    seeds = range(6)
    stacked = fit_stacked([clone(base).set_params(random_state=s) for s in seeds], X, y)
    lengths = [len(net.history_) for net in stacked]
    assert min(lengths) < max(lengths)  # some member trained on after another stopped
    early = stacked[int(np.argmin(lengths))]
    alone = clone(base).set_params(random_state=early.random_state).fit(X, y)
    assert len(alone.history_) == min(lengths) and _best_epoch(early) == _best_epoch(alone)
    for (name, w), (_, w_alone) in zip(early.module_.named_parameters(),
                                       alone.module_.named_parameters()):
        np.testing.assert_allclose(w.detach(), w_alone.detach(), **TOL, err_msg=name)


def test_stacked_members_pickle_predict_and_score(data):
    X, y, _ = data
    members = fit_stacked([BTRegressor(**SMALL, random_state=s) for s in (0, 1)], X, y)
    loaded = pickle.loads(pickle.dumps(members[1]))
    np.testing.assert_array_equal(loaded.decision_function(X[:, 0]),
                                  members[1].decision_function(X[:, 0]))
    assert loaded.score(X, y) == members[1].score(X, y) > 0.6


class _Doubled(RewardMLP):
    def forward(self, X):
        return 2 * super().forward(X)


def test_can_stack_and_clear_errors_for_what_cannot_be_stacked(data):
    X, y, _ = data
    bt = BTRegressor(**SMALL)
    assert can_stack([bt, clone(bt).set_params(random_state=1)])
    cases = [
        ([bt, RewardMLPClassifier(**SMALL)], "must all be of one class.*BTRegressor and "
                                             "RewardMLPClassifier"),
        ([bt, clone(bt).set_params(lr=0.1)], r"differ only in random_state; estimators\[1\] "
                                             "differs .* in lr"),
        ([bt, clone(bt).set_params(module__dropout=0.1)], "differs .* in module__dropout"),
        ([clone(bt).set_params(module__dropout=0.1)], "module__dropout=0.1"),
        ([clone(bt).set_params(optimizer=torch.optim.LBFGS)], "optimizer must be one that"),
        ([clone(bt).set_params(module=_Doubled)], "module must be RewardMLP .*forward unchanged"),
        ([clone(bt).set_params(callbacks=[("timer", EpochTimer())])], "callbacks and train_split"),
        ([clone(bt).set_params(module__activation=torch.nn.PReLU)], "PReLU layer has weights"),
        ([], "at least one net"),
        (bt, "must be a list of RewardNet"),
    ]
    for estimators, message in cases:
        assert not can_stack(estimators)
        with pytest.raises(ValueError, match=message):
            fit_stacked(estimators, X, y)
    with pytest.raises(ValueError, match="same length"):
        fit_stacked([bt, clone(bt)], X, y, sample_indices=[np.arange(10), np.arange(20)])
    with pytest.raises(ValueError, match="one array per estimator"):
        fit_stacked([bt, clone(bt)], X, y, sample_indices=[np.arange(10)])
    with pytest.raises(ValueError, match=r"sample_indices\[0\] must be .* in \[0, 500\)"):
        fit_stacked([bt], X, y, sample_indices=[np.array([0, 500])])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_stacked_fits_match_separate_fits_and_load_on_cpu(data, monkeypatch):
    X, y, weights = data
    base = BTRegressor(**SMALL, patience=2, device="cuda")
    stacked = fit_stacked([clone(base).set_params(random_state=s) for s in (0, 1)], X, y,
                          sample_weight=weights)
    assert next(stacked[0].module_.parameters()).device.type == "cuda"
    for net, alone in zip(stacked, _separate(base, (0, 1), X, y, weights, [None, None])):
        assert len(net.history_) == len(alone.history_)
        np.testing.assert_allclose(net.decision_function(X[:, 0]),
                                   alone.decision_function(X[:, 0]), rtol=1e-3, atol=1e-3)
    reward = stacked[0].decision_function(X[:, 0])
    blob = pickle.dumps(stacked[0])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only machine
    with pytest.warns(Warning):
        cpu = pickle.loads(blob)
    np.testing.assert_allclose(cpu.decision_function(X[:, 0]), reward, rtol=1e-4, atol=1e-5)
