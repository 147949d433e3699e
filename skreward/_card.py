"""The model card of a saved model: what it is, what made it, what it was trained on.

Written by :func:`skreward.save` as JSON into the model's zip file, beside
skops's own files, so :func:`read_card` reads it without loading (or
trusting) the model. Every field is read off the fitted model itself; facts
the model cannot know (the data set's name, scores measured elsewhere) come
from the ``card`` argument of :func:`skreward.save`, under ``"user"``.
"""

import datetime
import json
import os
import platform
import zipfile
from importlib import metadata

CARD_NAME = "skreward_card.json"
CARD_FORMAT = "skreward-card/1"
_PACKAGES = ("skreward", "numpy", "scipy", "scikit-learn", "torch", "skorch", "lightgbm",
             "skops", "sentence-transformers", "transformers")


def read_card(path):
    """Read the model card of a file written by :func:`skreward.save`, without loading the model.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`skreward.save`.

    Returns
    -------
    card : dict
        ``format``, ``created``, ``model`` (class and parameters),
        ``versions`` (Python and the libraries), ``embedders`` (each text
        front end's model, its identity and settings), ``training``
        (features per item, rows seen by neural models, simulation settings
        when the comparisons were simulated), ``cv`` (scores of a search
        when the model is one), ``normalization`` (mean and standard
        deviation of the training rewards, when stored), ``devices``
        and ``user`` (what was passed as ``card``).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier, read_card, save, simulate_comparisons
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=50, random_state=0)
    >>> sim = simulate_comparisons(data.golden, data.groups, n_pairs=300, random_state=0)
    >>> model = OrderConsistentClassifier(LogisticRegression()).fit(sim.take(data.X), sim.y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> _ = save(model, path, card={"data": "synthetic testbed"})
    >>> card = read_card(path)
    >>> card["model"]["class"], card["user"]["data"]
    ('skreward.models._classification.OrderConsistentClassifier', 'synthetic testbed')
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(CARD_NAME))
    except KeyError:
        raise ValueError(f"{path} has no skreward model card; was it written by "
                         "skreward.save?") from None
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not a file written by skreward.save (not a zip "
                         "file).") from None


def _versions():
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _name(obj):
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _jsonable(value):
    """A JSON value for a parameter: plain values as they are, anything else by name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if isinstance(value, type):
        return _name(value)
    if hasattr(value, "get_params"):
        return _name(value)
    return repr(value)[:200]


def _walk(obj, seen=None):
    """Every estimator (and other object) in a fitted model's tree, each once."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type)) or obj is None:
        return
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v, seen)
        return
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v, seen)
        return
    if not hasattr(obj, "get_params"):
        return
    yield obj
    for name, value in vars(obj).items():
        if name.startswith("_") or name in ("history_", "module_", "optimizer_",
                                            "criterion_", "callbacks_"):
            continue
        yield from _walk(value, seen)


def _embedder_entry(obj):
    entry = {"class": _name(obj)}
    params = obj.get_params(deep=False)
    entry.update({k: _jsonable(v) for k, v in params.items() if k != "cache"})
    if hasattr(obj, "_namespace"):  # the identity its embedding cache uses
        try:
            entry["model_identity"] = obj._namespace()
        except Exception as error:  # a model that is not here: say so, do not fail the save
            entry["model_identity"] = f"unknown ({type(error).__name__}: {error})"
    if params.get("model", "") is None:
        from .text._model import DEFAULT_MODEL
        entry["model"] = DEFAULT_MODEL
    if hasattr(obj, "n_features_out_"):
        entry["n_features_out"] = int(obj.n_features_out_)
    return entry


def make_card(model, *, extra=None):
    """The card of a fitted model (a dict of JSON values)."""
    from sklearn.model_selection._search import BaseSearchCV

    from ._simulation import SimulatedAnnotator
    from .models._nets import RewardNet

    card = {
        "format": CARD_FORMAT,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {"class": _name(model),
                  "params": {k: _jsonable(v) for k, v in model.get_params(deep=True).items()}},
        "versions": _versions(),
        "embedders": [], "training": {}, "cv": None, "normalization": None,
        "devices": {}, "user": json.loads(json.dumps(extra or {}, default=str)),
    }
    if hasattr(model, "n_features_in_"):
        card["training"]["n_features_in"] = int(model.n_features_in_)
    nets = []
    for obj in _walk(model):
        if hasattr(obj, "_namespace") or type(obj).__name__ == "TextVectorizer":
            card["embedders"].append(_embedder_entry(obj))
        if isinstance(obj, RewardNet) and getattr(obj, "initialized_", False):
            from ._persistence import _trained_rows
            nets.append({"class": _name(obj), "device": str(obj.device),
                         "n_train_rows": _trained_rows(obj),
                         "epochs": len(getattr(obj, "history_", []) or []),
                         "n_features_in": getattr(obj, "n_features_in_", None)})
        if isinstance(obj, SimulatedAnnotator) and hasattr(obj, "comparisons_"):
            sim = obj.comparisons_
            card["training"]["simulation"] = {
                "beta": _jsonable(obj.beta), "pairing": obj.pairing, "link": obj.link,
                "n_pairs": int(len(sim.y)), "annotation_error_rate": float(sim.error_rate)}
        if isinstance(obj, BaseSearchCV) and hasattr(obj, "best_score_"):
            card["cv"] = {"best_score": float(obj.best_score_),
                          "best_params": _jsonable(obj.best_params_),
                          "n_splits": int(obj.n_splits_), "scoring": _jsonable(obj.scoring)}
        if hasattr(obj, "reward_mean_") and hasattr(obj, "reward_std_"):
            card["normalization"] = {"mean": float(obj.reward_mean_),
                                     "std": float(obj.reward_std_),
                                     "source": _name(obj)}
            if hasattr(obj, "n_train_samples_"):
                card["training"]["n_samples"] = int(obj.n_train_samples_)
                card["training"]["samples"] = getattr(obj, "sample_kind_", None)
        if hasattr(obj, "cv_scores_") and card["cv"] is None:
            card["cv"] = {"scores": _jsonable(list(obj.cv_scores_)), "source": _name(obj)}
    if nets:
        card["training"]["nets"] = nets
        card["devices"]["trained_on"] = sorted({n["device"] for n in nets})
    return card
