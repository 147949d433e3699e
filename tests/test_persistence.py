"""skreward.save / load: skops files, bit-identical rewards, refused types, the model card."""

import json
import zipfile

import numpy as np
import pytest
import sklearn
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline

import skreward
from skreward import (BTRegressor, CalibratedReward, OrderConsistentClassifier, RewardEnsemble,
                      RewardMLPClassifier, SentenceEmbedder, SimulatedAnnotator, load,
                      read_card, save)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL_NET = dict(max_epochs=3, module__hidden_sizes=(16,), random_state=0)
TRIPLES = {
    "prompt": ["Hi", "Help me", "Hello", "Bye", "Thanks", "Question"],
    "chosen": ["Hello! How can I help you today?", "Sure, I am happy to help you.",
               "Hello, how can I help?", "Goodbye, take care of yourself!",
               "You are welcome, glad to help!", "Good question, here is an answer."],
    "rejected": ["No.", "Go away.", "No.", "Whatever.", "Hm.", "Don't know."],
}


class HomeMadeClassifier(LogisticRegression):
    """A type nobody told skreward to trust."""


def _round_trip(model, tmp_path, **load_kwargs):
    path = tmp_path / "model.skops"
    save(model, path)
    return load(path, **load_kwargs), path


@pytest.mark.parametrize("make", [
    lambda: OrderConsistentClassifier(LogisticRegression()),
    lambda: OrderConsistentClassifier(LGBMClassifier(n_estimators=10, verbose=-1, n_jobs=1)),
    lambda: BTRegressor(**SMALL_NET),
    lambda: OrderConsistentClassifier(RewardMLPClassifier(**SMALL_NET)),
    lambda: CalibratedReward(BTRegressor(**SMALL_NET), cv=2),
], ids=["clf-logreg", "clf-lgb", "bt-mlp", "clf-mlp", "calibrated-bt"])
def test_loaded_models_give_bit_identical_rewards(make, comparisons, testbed, tmp_path):
    X, y = comparisons
    model = make().fit(X[:600], y[:600])
    loaded, _ = _round_trip(model, tmp_path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.decision_function(testbed.X_test),
                                  model.decision_function(testbed.X_test))


def test_ensemble_round_trip_keeps_rewards_and_uncertainty(comparisons, testbed, tmp_path):
    X, y = comparisons
    model = RewardEnsemble(BTRegressor(**SMALL_NET), n_estimators=3, random_state=0)
    model.fit(X[:600], y[:600])
    loaded, _ = _round_trip(model, tmp_path)
    items = testbed.X_test[:200]
    np.testing.assert_array_equal(loaded.decision_function(items), model.decision_function(items))
    np.testing.assert_array_equal(loaded.reward_std(items), model.reward_std(items))
    assert loaded.reward_std(items).max() > 0


@pytest.mark.slow
def test_text_pipeline_round_trip_is_bit_identical(tmp_path):
    model = make_pipeline(SentenceEmbedder(combine="text"),
                          OrderConsistentClassifier(LogisticRegression())).fit(TRIPLES)
    items = {"prompt": ["Hi", "Hi", "Bye"],
             "response": ["Hello there!", "No.", "See you soon, take care."]}
    loaded, path = _round_trip(model, tmp_path)
    np.testing.assert_array_equal(loaded.decision_function(items),
                                  model.decision_function(items))
    embedder = read_card(path)["embedders"][0]
    assert embedder["class"] == "skreward.text._embedder.SentenceEmbedder"
    assert embedder["combine"] == "text" and embedder["normalize"] is True
    assert "all-MiniLM-L6-v2" in embedder["model"]
    assert embedder["model_identity"] == model[0]._namespace()


def test_untrusted_type_is_refused_unless_trusted(comparisons, testbed, tmp_path):
    X, y = comparisons
    model = OrderConsistentClassifier(HomeMadeClassifier()).fit(X[:300], y[:300])
    path = tmp_path / "model.skops"
    save(model, path)
    name = f"{HomeMadeClassifier.__module__}.{HomeMadeClassifier.__qualname__}"
    with pytest.raises(ValueError, match=r"does not trust: \[.*HomeMadeClassifier"):
        load(path)
    loaded = load(path, trusted=[name])
    np.testing.assert_array_equal(loaded.decision_function(testbed.X_test[:5]),
                                  model.decision_function(testbed.X_test[:5]))
    with pytest.raises(TypeError, match="trusted must be a list of type names"):
        load(path, trusted=True)


def test_no_pickle_in_the_file(comparisons, tmp_path):
    X, y = comparisons
    model = BTRegressor(**SMALL_NET).fit(X[:300], y[:300])
    path = tmp_path / "model.skops"
    save(model, path)
    with zipfile.ZipFile(path) as archive:
        schema = archive.read("schema.json").decode()
        names = archive.namelist()
    assert '"__class__": "NetState"' in schema  # the net, stored as parameters and arrays
    assert '"__loader__": "ReduceNode"' not in schema  # no object rebuilt by a reduce call
    assert not any(n.endswith((".pkl", ".pt", ".pickle")) for n in names)


def test_cuda_model_loads_on_a_cpu_only_machine(comparisons, testbed, tmp_path, monkeypatch):
    import torch

    X, y = comparisons
    model = BTRegressor(**SMALL_NET).fit(X[:300], y[:300])
    expected = model.decision_function(testbed.X_test)
    model.device = "cuda"  # as if trained on a GPU: the saved net asks for CUDA
    path = tmp_path / "model.skops"
    card = save(model, path)
    assert card["devices"]["trained_on"] == ["cuda"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = load(path)
    assert loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.decision_function(testbed.X_test), expected)
    assert load(path, device="cpu").device == "cpu"


def test_card_fields_are_present_and_true(testbed, tmp_path):
    sklearn.set_config(enable_metadata_routing=True)
    try:
        annotator = SimulatedAnnotator(BTRegressor(**SMALL_NET), n_pairs=500, beta=3.0,
                                       pairing="cross_prompt", random_state=0)
        search = GridSearchCV(annotator, {"beta": [1.0, 3.0]}, cv=GroupKFold(2))
        search.fit(testbed.X, testbed.golden, groups=testbed.groups)
    finally:
        sklearn.set_config(enable_metadata_routing=False)
    path = tmp_path / "model.skops"
    save(search, path, card={"data": "synthetic testbed", "cv_note": "2 folds"})
    card = read_card(path)  # without loading the model
    assert card["format"] == "skreward-card/1"
    assert card["model"]["class"] == "sklearn.model_selection._search.GridSearchCV"
    assert card["versions"]["skreward"] == skreward.__version__
    assert card["versions"]["scikit-learn"] == sklearn.__version__
    for package in ("numpy", "torch", "skorch", "skops", "python"):
        assert card["versions"][package]
    best = search.best_estimator_
    assert card["cv"]["best_score"] == pytest.approx(search.best_score_)
    assert card["cv"]["best_params"] == {"beta": best.beta}
    assert card["cv"]["n_splits"] == 2
    sim = card["training"]["simulation"]
    assert sim == {"beta": best.beta, "pairing": "cross_prompt", "link": "logistic",
                   "n_pairs": 500, "annotation_error_rate": pytest.approx(
                       best.annotation_error_rate_)}
    net = card["training"]["nets"][0]
    rows = sum(b["train_batch_size"] for b in best.estimator_.history_[-1]["batches"]
               if "train_batch_size" in b)
    assert net["n_train_rows"] == rows == 450  # 500 pairs less the 10% validation split
    assert net["epochs"] == len(best.estimator_.history_)
    assert card["user"] == {"data": "synthetic testbed", "cv_note": "2 folds"}
    assert card["normalization"] is None
    with zipfile.ZipFile(path) as archive:  # plain JSON inside the zip
        assert json.loads(archive.read("skreward_card.json")) == card


def test_card_has_normalisation_constants(comparisons, tmp_path):
    X, y = comparisons
    model = CalibratedReward(OrderConsistentClassifier(LogisticRegression()),
                             method="normalize", cv=2).fit(X[:400], y[:400])
    card = save(model, tmp_path / "m.skops")
    assert card["normalization"]["mean"] == pytest.approx(model.reward_mean_)
    assert card["normalization"]["std"] == pytest.approx(model.reward_std_)
    assert card["training"]["n_samples"] == 400
    assert read_card(tmp_path / "m.skops")["normalization"] == card["normalization"]


def test_read_card_refuses_other_files(tmp_path):
    other = tmp_path / "x.skops"
    other.write_text("not a zip")
    with pytest.raises(ValueError, match="not a file written by skreward.save"):
        read_card(other)


def test_a_forged_net_entry_is_refused(comparisons, tmp_path):
    """A file whose stored net names another (trusted) class builds nothing."""
    X, y = comparisons
    path = tmp_path / "model.skops"
    save(BTRegressor(**SMALL_NET).fit(X[:200], y[:200]), path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files["schema.json"] = files["schema.json"].replace(
        b'"__class__": "BTRegressor",\n        "__module__": "skreward.models._bt"',
        b'"__class__": "LogisticRegression",\n        "__module__": '
        b'"sklearn.linear_model._logistic"')
    forged = tmp_path / "forged.skops"
    with zipfile.ZipFile(forged, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="does not trust"):
        load(forged)
    with pytest.raises(ValueError, match="a stored net must be a RewardNet"):
        load(forged, trusted=["sklearn.linear_model._logistic.LogisticRegression"])


def test_a_file_cannot_name_a_torch_function_or_set_class_attributes(tmp_path):
    """Only torch layer and optimizer *classes* are trusted by prefix: a file naming a torch
    function (here one that registers a hook on every module) is refused before it runs."""
    import skops.io as sio
    import torch
    from torch.nn.modules.module import _global_forward_pre_hooks, register_module_forward_pre_hook

    from skreward._persistence import NetState

    state = object.__new__(NetState)
    state.cls, state.weights, state.dropped, state.n_train_rows = BTRegressor, None, [], None
    state.params, state.fitted = {"module": register_module_forward_pre_hook}, {}
    path = tmp_path / "hook.skops"
    sio.dump(state, path)
    with pytest.raises(ValueError, match="does not trust.*register_module_forward_pre_hook"):
        load(path)
    assert len(_global_forward_pre_hooks) == 0
    # trusted by the user, the rebuild still refuses a parameter that is code
    with pytest.raises(ValueError, match="parameter module must be data or a torch layer"):
        load(path, trusted=["torch.nn.modules.module.register_module_forward_pre_hook"])
    assert len(_global_forward_pre_hooks) == 0
    state.params, state.weights = {"module__hidden_sizes": (4,)}, {}
    state.fitted = {"n_features_in_": 3, "prefixes_": ["module"]}  # a class attribute of skorch
    sio.dump(state, path)
    with pytest.raises(ValueError, match="fitted attribute .* the file holds 'prefixes_'"):
        load(path)
    assert isinstance(torch.nn.Linear(2, 1)(torch.ones(1, 2)), torch.Tensor)
