"""Prediction of the neural reward models: batch size, memory, set_params after fit."""

import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from skorch import NeuralNet

from skreward import BTRegressor, OrderConsistentClassifier, RewardMLPClassifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(module__hidden_sizes=(16,), max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    return BTRegressor(**SMALL).fit(rng.normal(size=(300, 2, 12)))


@pytest.fixture
def items():
    return np.random.default_rng(1).normal(size=(1000, 12))


def test_default_predict_batch_size():
    assert BTRegressor().predict_batch_size == 4096
    assert RewardMLPClassifier().get_params()["predict_batch_size"] == 4096


@pytest.mark.parametrize("make", [
    lambda: BTRegressor(**SMALL),
    lambda: OrderConsistentClassifier(RewardMLPClassifier(**SMALL)),
], ids=["BT-MLP", "CLF-MLP"])
def test_rewards_do_not_depend_on_the_prediction_batch_size(make, items):
    rng = np.random.default_rng(0)
    model = make().fit(rng.normal(size=(300, 2, 12)))
    net = model.estimator_ if hasattr(model, "estimator_") else model
    rewards = []
    for size in [1, 7, 128, 1000, 4096]:
        net.set_params(predict_batch_size=size)
        rewards.append(model.decision_function(items))
    for other in rewards[1:]:
        np.testing.assert_allclose(other, rewards[0], rtol=1e-5, atol=1e-6)
    assert rewards[0].dtype == np.float64 and rewards[0].shape == (1000,)


def test_float32_and_float64_input_give_the_same_rewards(fitted, items):
    np.testing.assert_array_equal(fitted.decision_function(items),
                                  fitted.decision_function(items.astype(np.float32)))


def test_prediction_batches_follow_predict_batch_size(fitted, items):
    sizes = []
    original = fitted.evaluation_step

    def spy(batch, training=False):
        sizes.append(len(batch[0]))
        return original(batch, training=training)

    fitted.evaluation_step = spy
    try:
        fitted.set_params(predict_batch_size=300).decision_function(items)
    finally:
        del fitted.evaluation_step
        fitted.set_params(predict_batch_size=4096)
    assert sizes == [300, 300, 300, 100]


@pytest.mark.parametrize("params", [
    {"predict_batch_size": 64},
    {"iterator_valid__batch_size": 64},
    {"iterator_train__batch_size": 64, "dataset__length": None},
    {"batch_size": 64, "predict_batch_size": 32, "iterator_valid__num_workers": 0},
])
def test_set_params_after_fit_keeps_the_fitted_weights(params, items):
    rng = np.random.default_rng(0)
    model = BTRegressor(**SMALL).fit(rng.normal(size=(300, 2, 12)))
    weights = {key: value.clone() for key, value in model.module_.state_dict().items()}
    rewards = model.decision_function(items)
    assert model.set_params(**params) is model
    for key, value in model.module_.state_dict().items():
        assert torch.equal(value, weights[key]), key
    assert {key: model.get_params()[key] for key in params} == params
    np.testing.assert_allclose(model.decision_function(items), rewards, rtol=1e-5, atol=1e-6)


def test_set_params_of_iterators_before_fit():
    model = BTRegressor(**SMALL).set_params(iterator_valid__batch_size=16)
    assert model.get_params()["iterator_valid__batch_size"] == 16
    model.fit(np.random.default_rng(0).normal(size=(100, 2, 12)))
    assert model.get_params()["iterator_valid__batch_size"] == 16


@pytest.mark.parametrize("value", [0, -1, 2.5, "big"])
def test_bad_predict_batch_size_is_named(fitted, items, value):
    with pytest.raises(ValueError, match="'predict_batch_size' parameter of BTRegressor"):
        BTRegressor(**SMALL, predict_batch_size=value).fit(
            np.random.default_rng(0).normal(size=(50, 2, 12)))
    fitted.set_params(predict_batch_size=value)  # after fit: checked when predicting
    try:
        with pytest.raises(ValueError, match="'predict_batch_size' parameter of BTRegressor"):
            fitted.decision_function(items)
    finally:
        fitted.set_params(predict_batch_size=4096)


def test_float64_input_is_not_copied_whole():
    rng = np.random.default_rng(0)
    model = BTRegressor(module__hidden_sizes=(8,), max_epochs=1, random_state=0).fit(
        rng.normal(size=(100, 2, 64)))
    X = rng.normal(size=(200_000, 64))
    float32_copy = X.size * 4
    model.decision_function(X[:10])  # warm up torch's and numpy's first allocations

    def peak_during(fn):
        tracemalloc.start()
        try:
            fn()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    # Output (float32 and float64 rewards) plus one float32 batch of 4,096 x 64.
    assert peak_during(lambda: model.decision_function(X)) < 0.1 * float32_copy
    # skorch's own path (the one used before) converts X whole: the measure sees it.
    assert peak_during(lambda: list(NeuralNet.forward_iter(model, X))) > float32_copy


def test_read_only_float32_input_predicts_without_warnings(fitted, items):
    X = items.astype(np.float32)
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rewards = fitted.decision_function(X)
    np.testing.assert_array_equal(rewards, fitted.decision_function(items))


def test_model_pickled_before_predict_batch_size_predicts(fitted, items):
    old = pickle.loads(pickle.dumps(fitted))
    del old.__dict__["predict_batch_size"]  # as a model saved by an earlier version
    np.testing.assert_array_equal(old.decision_function(items), fitted.decision_function(items))


def test_torch_dataset_input_keeps_skorch_behaviour(fitted, items):
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(items.astype(np.float32)),
                                             torch.zeros(len(items)))
    np.testing.assert_allclose(fitted.forward(dataset).numpy(), fitted.decision_function(items),
                               rtol=1e-6)
