"""BT-MLP (BTRegressor) and CLF-MLP (RewardMLPClassifier): objective, learning, skorch and sklearn."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from scipy.special import expit, ndtr
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from skorch.callbacks import Callback
from skorch.dataset import Dataset, ValidSplit
from skorch.exceptions import DeviceWarning
from skorch.helper import predefined_split

from skreward import (BTRegressor, OrderConsistentClassifier, RewardMLP, RewardMLPClassifier,
                      simulate_comparisons)
from skreward.metrics import best_of_n_score

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(module__hidden_sizes=(32,), max_epochs=8, lr=3e-3, random_state=0)


def bt(**params):
    return BTRegressor(**{**SMALL, **params})


def clf_mlp(**params):
    return OrderConsistentClassifier(RewardMLPClassifier(**{**SMALL, **params}))


@pytest.fixture(scope="module")
def held_out(testbed):
    """Noiseless comparisons of the testbed's held-out prompts."""
    sim = simulate_comparisons(testbed.golden_test, testbed.groups_test, n_pairs=2000,
                               beta=np.inf, random_state=1)
    return sim.take(testbed.X_test), sim.y


@pytest.fixture(scope="module")
def fitted_bt(comparisons):
    X, y = comparisons
    return bt().fit(X, y)


# -- the objective --------------------------------------------------------------------


def test_bt_loss_is_the_links_cross_entropy_with_margin_and_centering():
    rewards = torch.tensor([[1.0, 0.0], [0.5, 2.0]])
    first = torch.tensor([1.0, 0.0])  # 1: first preferred
    net = BTRegressor(module__hidden_sizes=()).initialize()
    expected = np.mean([np.log1p(np.exp(-1.0)), np.log1p(np.exp(-1.5))])
    assert net.get_loss(rewards, first).item() == pytest.approx(expected, rel=1e-6)
    # Antisymmetric: swapping the items and flipping the labels changes nothing.
    assert net.get_loss(rewards.flip(1), 1 - first).item() == pytest.approx(expected, rel=1e-6)

    net = BTRegressor(module__hidden_sizes=(), margin=0.5, center_rewards_coef=0.1).initialize()
    margin = np.mean([np.log1p(np.exp(-0.5)), np.log1p(np.exp(-1.0))])
    centering = 0.1 * np.mean([1.0, 0.0, 0.25, 4.0])
    assert net.get_loss(rewards, first).item() == pytest.approx(margin + centering, rel=1e-6)

    net = BTRegressor(module__hidden_sizes=(), link="probit").initialize()
    probit = -np.mean(np.log(ndtr([1.0, 1.5])))
    assert net.get_loss(rewards, first).item() == pytest.approx(probit, rel=1e-6)


def test_bt_probabilities_are_antisymmetric(comparisons):
    X, y = comparisons
    for link, cdf in [("logistic", expit), ("probit", ndtr)]:
        model = bt(link=link, max_epochs=2).fit(X[:500], y[:500])
        forward, backward = model.predict_proba(X[:50]), model.predict_proba(X[:50, ::-1])
        np.testing.assert_allclose(forward[:, 1], backward[:, 0], rtol=1e-12)
        np.testing.assert_allclose(forward.sum(axis=1), 1.0)
        reward = model.decision_function(X[:50].reshape(-1, X.shape[2])).reshape(-1, 2)
        np.testing.assert_allclose(forward[:, 1], cdf(reward[:, 0] - reward[:, 1]))


def test_mirrored_comparisons_train_the_same_model(comparisons, testbed):
    # (a, b, y) and (b, a, 1 - y) give the same loss and gradient: no need to mirror data.
    X, y = comparisons
    a = bt(max_epochs=3).fit(X, y).decision_function(testbed.X_test)
    b = bt(max_epochs=3).fit(X[:, ::-1], 1 - y).decision_function(testbed.X_test)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(a).max())


# -- learning -------------------------------------------------------------------------


@pytest.mark.parametrize("make", [bt, lambda: bt(link="probit"), clf_mlp],
                         ids=["BT-MLP", "BT-MLP-probit", "CLF-MLP"])
def test_both_mlps_learn_the_testbed(make, comparisons, held_out, testbed):
    X, y = comparisons
    model = make().fit(X, y)
    assert model.score(*held_out) > 0.65  # noiseless held-out comparisons; chance is 0.5
    reward = model.decision_function(testbed.X_test)
    assert best_of_n_score(testbed.golden_test, reward, testbed.groups_test, n=16,
                           random_state=0) > 0.1


def test_centering_keeps_rewards_near_zero(comparisons, testbed):
    X, y = comparisons
    plain = bt().fit(X, y).decision_function(testbed.X)
    centred = bt(center_rewards_coef=1.0).fit(X, y).decision_function(testbed.X)
    assert np.mean(centred ** 2) < 0.1 * np.mean(plain ** 2)


def test_chosen_first_data_and_signed_labels(comparisons, testbed):
    X, y = comparisons
    chosen_first = np.where(y[:, None, None] == 1, X, X[:, ::-1])
    unlabelled = bt(max_epochs=3).fit(chosen_first)  # all labels 1 is valid input
    ones = bt(max_epochs=3).fit(chosen_first, np.ones(len(X)))
    np.testing.assert_array_equal(unlabelled.predict(testbed.X_test), ones.predict(testbed.X_test))
    assert unlabelled.score(chosen_first) > 0.7
    signed = bt(max_epochs=3).fit(X, 2 * y - 1)
    binary = bt(max_epochs=3).fit(X, y)
    np.testing.assert_array_equal(signed.predict(testbed.X_test), binary.predict(testbed.X_test))


# -- reproducibility and early stopping ------------------------------------------------


def test_same_random_state_gives_identical_rewards(comparisons, testbed):
    X, y = comparisons
    global_state = torch.get_rng_state()
    for make in [bt, clf_mlp]:
        first = make(module__dropout=0.2, max_epochs=3).fit(X, y).decision_function(testbed.X_test)
        again = make(module__dropout=0.2, max_epochs=3).fit(X, y).decision_function(testbed.X_test)
        other = make(module__dropout=0.2, max_epochs=3, random_state=1).fit(X, y)
        np.testing.assert_array_equal(first, again)
        assert not np.allclose(first, other.decision_function(testbed.X_test))
    # random_state never seeds torch's global generator.
    assert torch.equal(torch.get_rng_state(), global_state)


def test_early_stopping_stops_and_restores_the_best_weights(comparisons):
    X, y = comparisons
    rng = np.random.RandomState(0)
    noisy = np.where(rng.rand(300) < 0.4, 1 - y[:300], y[:300])  # easy to overfit
    X_valid, y_valid = X[3000:], y[3000:]
    valid = Dataset(X_valid.astype(np.float32), y_valid.astype(np.float32))
    model = bt(module__hidden_sizes=(128,), lr=1e-2, max_epochs=100, patience=3,
               train_split=predefined_split(valid)).fit(X[:300], noisy)
    losses = model.history_[:, "valid_loss"]
    best = int(np.argmin(losses))
    assert len(losses) == best + 1 + 3 < 100  # stopped 3 epochs after the best one
    proba = model.predict_proba(X_valid)[np.arange(len(y_valid)), y_valid]
    assert -np.mean(np.log(proba)) == pytest.approx(losses[best], rel=1e-4)  # best restored


def test_validation_fraction_and_patience_control_the_split(comparisons):
    X, y = comparisons
    model = bt(max_epochs=2).fit(X[:1000], y[:1000])
    assert model.history_[-1, "train_batch_count"] == int(np.ceil(900 / 128))
    assert "valid_loss" in model.history_[-1]
    model = bt(max_epochs=2, validation_fraction=None).fit(X[:1000], y[:1000])
    assert model.history_[-1, "train_batch_count"] == int(np.ceil(1000 / 128))
    assert "valid_loss" not in model.history_[-1]
    # A skorch split replaces validation_fraction.
    model = bt(max_epochs=2, train_split=ValidSplit(0.5, random_state=0)).fit(X[:1000], y[:1000])
    assert model.history_[-1, "train_batch_count"] == int(np.ceil(500 / 128))
    assert model.history_[-1, "valid_batch_count"] == int(np.ceil(500 / 128))


# -- skorch ---------------------------------------------------------------------------


class EpochCounter(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def test_skorch_callbacks_partial_fit_and_warm_start(comparisons):
    X, y = comparisons
    counter = EpochCounter()
    model = bt(max_epochs=2, callbacks=[("count", counter)]).fit(X[:500], y[:500])
    assert len(model.history_) == 2 and dict(model.callbacks_)["count"].epochs_ == 2
    model.partial_fit(X[:500], y[:500])
    assert len(model.history_) == 4
    model.set_params(warm_start=True).fit(X[:500], y[:500])
    assert len(model.history_) == 6
    model.set_params(warm_start=False).fit(X[:500], y[:500])
    assert len(model.history_) == 2
    with pytest.raises(ValueError, match="X has 3 features, but BTRegressor is expecting 64 features"):
        model.partial_fit(X[:500, :, :3], y[:500])


def test_prediction_is_batched(fitted_bt, testbed):
    rows = []
    hook = fitted_bt.module_.register_forward_hook(lambda m, args, out: rows.append(len(args[0])))
    try:
        reward = fitted_bt.set_params(predict_batch_size=128).predict(testbed.X_test[:300])
    finally:
        hook.remove()
        fitted_bt.set_params(predict_batch_size=4096)
    assert rows == [128, 128, 44]  # predict_batch_size items at a time
    np.testing.assert_allclose(fitted_bt.predict(testbed.X_test[:7]), reward[:7], rtol=1e-5)


def test_module_settings_reach_the_scoring_network(comparisons):
    X, y = comparisons
    model = bt(module__hidden_sizes=(16, 8), module__dropout=0.1, module__activation="tanh",
               max_epochs=1).fit(X[:300], y[:300])
    layers = list(model.module_.layers)
    linear = [layer for layer in layers if isinstance(layer, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(64, 16), (16, 8), (8, 1)]
    assert sum(isinstance(layer, torch.nn.Tanh) for layer in layers) == 2
    assert sum(isinstance(layer, torch.nn.Dropout) for layer in layers) == 2


def test_reward_mlp_defaults_to_the_papers_architecture():
    net = RewardMLP(384)
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(1024, 384), (1024,), (512, 1024), (512,), (1, 512), (1,)]
    assert isinstance(net.layers[1], torch.nn.ReLU)
    assert RewardMLP(3, (), activation=torch.nn.GELU)(torch.ones(4, 3)).shape == (4,)
    with pytest.raises(ValueError, match="activation must be one of"):
        RewardMLP(3, activation="swish")


# -- scikit-learn ---------------------------------------------------------------------


def test_pickle_joblib_clone(fitted_bt, testbed, tmp_path):
    reward = fitted_bt.predict(testbed.X_test)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted_bt)).predict(testbed.X_test),
                                  reward)
    joblib.dump(fitted_bt, tmp_path / "bt.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "bt.joblib").predict(testbed.X_test),
                                  reward)
    fresh = clone(fitted_bt)
    assert not hasattr(fresh, "n_features_in_") and fresh.get_params()["lr"] == SMALL["lr"]
    with pytest.raises(NotFittedError):
        fresh.predict(testbed.X_test)


def test_pipelines(comparisons, testbed):
    X, y = comparisons
    bt_pipe = make_pipeline(FunctionTransformer(np.tanh), bt(max_epochs=3)).fit(X, y)
    assert bt_pipe.score(X, y) > 0.7
    assert bt_pipe.decision_function(testbed.X_test).shape == (len(testbed.X_test),)
    clf_pipe = OrderConsistentClassifier(
        make_pipeline(StandardScaler(), RewardMLPClassifier(**{**SMALL, "max_epochs": 3})))
    assert clf_pipe.fit(X, y).score(X, y) > 0.7


def test_grid_search_over_lr_and_max_epochs(comparisons):
    X, y = comparisons
    search = GridSearchCV(bt(), {"lr": [1e-3, 1e-2], "max_epochs": [1, 4]}, cv=2)
    search.fit(X[:1000], y[:1000])  # 3-D comparisons, split like any array
    assert len(search.cv_results_["params"]) == 4
    # The default score is order consistency; more and faster training wins here.
    assert search.best_params_ == {"lr": 1e-2, "max_epochs": 4} and search.best_score_ > 0.7
    assert len(search.best_estimator_.history_) == 4
    search = GridSearchCV(clf_mlp(), {"estimator__lr": [1e-3, 1e-2]}, cv=2).fit(X[:1000], y[:1000])
    assert search.best_score_ > 0.55


def test_clf_mlp_logit_is_the_reward(comparisons, testbed):
    X, y = comparisons
    model = clf_mlp().fit(X, y)
    net = model.estimator_
    reward = model.decision_function(testbed.X_test)
    np.testing.assert_array_equal(reward, net.decision_function(testbed.X_test))
    np.testing.assert_allclose(net.predict_proba(testbed.X_test)[:, 1], expit(reward))
    np.testing.assert_array_equal(net.predict(testbed.X_test), (reward > 0).astype(int))
    assert net.classes_.tolist() == [0, 1] and net.n_features_in_ == 64
    # Any two labels: the logit is that of classes_[1].
    words = RewardMLPClassifier(**SMALL).fit(X[:, 0], np.where(y == 1, "win", "lose"))
    assert words.classes_.tolist() == ["lose", "win"]
    assert set(words.predict(X[:10, 0])) <= {"lose", "win"}


# -- bad input ------------------------------------------------------------------------


def test_bad_comparisons_and_labels_raise(comparisons):
    X, y = comparisons
    model = bt(max_epochs=1)
    with pytest.raises(ValueError, match=r"comparisons of shape \(n_pairs, 2, n_features\)"):
        model.fit(X[:, 0], y)
    with pytest.raises(ValueError, match=r"comparisons of shape"):
        model.fit(np.stack([X[:, 0]] * 3, axis=1), y)
    bad = X.copy()
    bad[3, 1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad, y)
    bad[3, 1, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match=r"labels in \{0, 1\} or \{-1, 1\}"):
        model.fit(X, np.where(y == 1, 2, 0))
    with pytest.raises(ValueError, match="one label per comparison"):
        model.fit(X, y[:-1])
    with pytest.raises(ValueError, match="link"):
        bt(link="cauchit").fit(X, y)


def test_bad_items_raise(fitted_bt, comparisons):
    X, _ = comparisons
    with pytest.raises(NotFittedError):
        BTRegressor().predict(X[:, 0])
    with pytest.raises(ValueError, match=r"items of shape \(n_items, n_features\)"):
        fitted_bt.predict(X[:3])
    with pytest.raises(ValueError, match="X has 3 features, but BTRegressor is expecting 64 features as input"):
        fitted_bt.decision_function(X[:3, 0, :3])


def test_clf_mlp_bad_labels_raise(comparisons):
    X, y = comparisons
    net = RewardMLPClassifier(**SMALL)
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        net.fit(X[:30, 0], np.arange(30) % 3)
    with pytest.raises(ValueError, match="requires y to be passed"):
        net.fit(X[:30, 0])
    with pytest.raises(ValueError, match="exactly 2 classes"):
        net.fit(X[:30, 0], np.ones(30))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_raises_a_clear_error(comparisons):
    X, y = comparisons
    for model in [bt(device="cuda"), RewardMLPClassifier(device="cuda")]:
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            model.fit(X[:10, 0] if isinstance(model, RewardMLPClassifier) else X[:10], y[:10])


# -- GPU ------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_matches_and_loads_on_cpu(comparisons, testbed, monkeypatch):
    X, y = comparisons
    gpu = bt(device="cuda").fit(X, y)
    reward = gpu.predict(testbed.X_test)
    np.testing.assert_allclose(reward, bt(device="cuda").fit(X, y).predict(testbed.X_test),
                               rtol=1e-5, atol=1e-5)
    assert gpu.score(X, y) > 0.7
    blob = pickle.dumps(gpu)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only machine
    with pytest.warns(DeviceWarning):
        cpu = pickle.loads(blob)
    assert cpu.device == "cpu" and next(cpu.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(cpu.predict(testbed.X_test), reward, rtol=1e-4, atol=1e-5)
