"""Saving and loading fitted models with skops: no code runs on load, unknown types refused.

A skops file holds a tree of known types (numpy arrays, builtins, scikit-learn
estimators) and is loaded without unpickling, so a file cannot run code of its
author's choosing. skops cannot store a skorch net (its torch module, optimizer
and callbacks are objects that only pickle knows), so :func:`save` replaces
every neural reward model by a ``NetState``, its constructor parameters
and the weights of its scoring module as numpy arrays, and :func:`load`
rebuilds the net from them on the device asked for (a net trained on CUDA
loads on a machine without a GPU). The model card (``_card.py``) travels in
the same zip file and is read without loading the model.
"""

import copy
import os
import warnings
import zipfile

import numpy as np

from ._card import CARD_NAME, make_card, read_card

__all__ = ["save", "load", "read_card", "trusted_types"]

# Types whose state skops restores without running code of the file's choosing: their
# classes are imported by name from installed packages and filled with data.
_TRUSTED_PREFIXES = ("torch.optim.", "torch.nn.modules.")
_TRUSTED_NAMES = {
    # LightGBM keeps its trees as LightGBM's own text model format, parsed by LightGBM.
    "lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor", "lightgbm.sklearn.LGBMRanker",
    "collections.OrderedDict", "torch.utils.data.dataloader.DataLoader",
    "skorch.dataset.Dataset",
}
# Net attributes that are rebuilt (module_, optimizer_, ...) or only matter for training.
_NET_SKIPPED = {"module_", "optimizer_", "criterion_", "history_", "callbacks_",
                "virtual_params_", "_train_rng_", "initialized_", "init_context_", "prefixes_",
                "cuda_dependent_attributes_"}


def trusted_types():
    """Names of the types that :func:`load` trusts without being told.

    skreward's own estimators (and ``NetState``, the stored form of a
    neural reward model), LightGBM's models, torch's optimizer and layer
    classes (stored as class names, never as objects with code), and what
    skops trusts itself (numpy, scikit-learn, builtins).

    Returns
    -------
    names : list of str
        Fully qualified type names, sorted (prefixes end in ``.``).

    Examples
    --------
    >>> from skreward import trusted_types
    >>> "skreward.models._bt.BTRegressor" in trusted_types()
    True
    """
    return sorted(_skreward_types() | _TRUSTED_NAMES | set(_TRUSTED_PREFIXES))


def _skreward_types():
    import skreward
    from skreward import models, text

    objects = [getattr(module, name) for module in (skreward, models, text)
               for name in module.__all__]
    objects.append(NetState)
    return {f"{obj.__module__}.{obj.__qualname__}" for obj in objects
            if isinstance(obj, type) and obj.__name__ != "EmbeddingCache"}


def _is_trusted(name, trusted):
    return (name in trusted or name in _TRUSTED_NAMES or name in _skreward_types()
            or _is_torch_class(name))


def _is_torch_class(name):
    """Whether ``name`` is a torch layer or optimizer *class*: a prefix alone would also
    admit the functions of those modules (e.g. a global hook registrar)."""
    import importlib

    import torch

    if not name.startswith(_TRUSTED_PREFIXES):
        return False
    module, _, attr = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return False
    return isinstance(obj, type) and issubclass(obj, (torch.nn.Module, torch.optim.Optimizer))


class NetState:
    """A neural reward model as skops can store it: parameters and weights as arrays.

    Made by :func:`save` for every skorch net (:class:`~skreward.BTRegressor`,
    :class:`~skreward.RewardMLPClassifier`, any ``RewardNet``) and turned back
    into a fitted net by :func:`load`. Training-only settings that are
    objects (callbacks, a custom ``train_split``) and the training history are
    not stored; their names are in ``dropped``.

    Parameters
    ----------
    net : RewardNet
        A fitted net.
    """

    def __init__(self, net):
        from .models._nets import RewardNet

        if not isinstance(net, RewardNet):
            raise TypeError(f"net must be a RewardNet; got {type(net).__name__}.")
        if not isinstance(net.module, type):
            raise ValueError(
                f"{type(net).__name__}(module=<instance>) cannot be saved safely: pass the "
                "module's class and its arguments as module__<name>, e.g. "
                "BTRegressor(module=RewardMLP, module__hidden_sizes=(64,)).")
        self.cls = type(net)
        self.params, self.dropped = {}, []
        for name, value in net.get_params(deep=False).items():
            if _is_plain(value) or isinstance(value, type):
                self.params[name] = value
            else:
                self.dropped.append(name)
        self.fitted = {name: value for name, value in vars(net).items()
                       if name.endswith("_") and name not in _NET_SKIPPED and _is_plain(value)}
        self.weights = None  # an unfitted net (e.g. a meta-estimator's template): parameters only
        if getattr(net, "initialized_", False):
            self.weights = {name: tensor.detach().cpu().numpy().copy()
                            for name, tensor in net.module_.state_dict().items()}
        self.n_train_rows = _trained_rows(net)

    def rebuild(self, device=None):
        """The fitted net, on ``device`` (``None``: as saved, or the CPU without CUDA)."""
        import torch

        from .models._nets import RewardNet

        if not (isinstance(self.cls, type) and issubclass(self.cls, RewardNet)):
            raise ValueError(f"a stored net must be a RewardNet; the file names {self.cls!r}.")
        params = dict(self.params)
        for name, value in params.items():  # what a file may set: data, or the classes save keeps
            if callable(value) and not (isinstance(value, type) and issubclass(
                    value, (torch.nn.Module, torch.optim.Optimizer, torch.utils.data.DataLoader,
                            torch.utils.data.Dataset))):
                raise ValueError(f"a stored net's parameter {name} must be data or a torch "
                                 f"layer, optimizer or data class; the file holds {value!r}.")
        params["device"] = _device(params.get("device"), device)
        net = self.cls(**params)
        if self.weights is None:
            return net
        if "n_features_in_" in self.fitted:  # sizes the module that initialize() builds
            net.n_features_in_ = self.fitted["n_features_in_"]
        net.initialize()
        for name, value in self.fitted.items():  # initialize() may reset some of them
            if not name.endswith("_") or name.startswith("__") or hasattr(type(net), name):
                raise ValueError(f"a stored net's fitted attribute must be a name ending in "
                                 f"'_' that the class does not define; the file holds {name!r}.")
            setattr(net, name, value)
        state = {name: torch.from_numpy(np.array(array)) for name, array in self.weights.items()}
        net.module_.load_state_dict(state)
        net.module_.to(params["device"] or "cpu")
        return net


def _device(saved, asked):
    """The device a loaded model runs on: ``asked``, else the saved one if it exists here."""
    if asked is not None:
        return asked
    if isinstance(saved, str) and saved.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return "cpu"
    return saved


def _trained_rows(net):
    """Training rows of a net's last fit (its first epoch's batch sizes), or None."""
    try:
        return int(sum(batch["train_batch_size"] for batch in net.history_[-1]["batches"]
                       if "train_batch_size" in batch))
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


def _is_plain(value):
    if value is None or isinstance(value, (bool, int, float, str, np.generic, np.ndarray)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _map_tree(obj, replace, memo=None):
    """A copy of ``obj`` with ``replace(x)`` substituted where it returns something new.

    Walks estimators' attributes, lists, tuples and dicts; objects that hold
    nothing to replace are shared, not copied.
    """
    memo = {} if memo is None else memo
    if id(obj) in memo:
        return memo[id(obj)]
    new = replace(obj)
    if new is not obj:
        memo[id(obj)] = new
        return new
    if isinstance(obj, (list, tuple)):
        items = [_map_tree(v, replace, memo) for v in obj]
        out = obj if all(a is b for a, b in zip(items, obj)) else (
            type(obj)(items) if not hasattr(obj, "_fields") else type(obj)(*items))
    elif isinstance(obj, dict):
        items = {k: _map_tree(v, replace, memo) for k, v in obj.items()}
        out = obj if all(items[k] is obj[k] for k in obj) else type(obj)(items)
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in (
            "skreward", "sklearn", "lightgbm", "imblearn"):
        attrs = {k: _map_tree(v, replace, memo) for k, v in vars(obj).items()}
        if all(attrs[k] is v for k, v in vars(obj).items()):
            out = obj
        else:
            out = copy.copy(obj)
            out.__dict__.update(attrs)
    else:
        out = obj
    memo[id(obj)] = out
    return out


def _to_storable(obj):
    from .models._nets import RewardNet
    from .text import EmbeddingCache

    if isinstance(obj, RewardNet):
        return NetState(obj)
    if isinstance(obj, EmbeddingCache):  # a cache is a place, not part of the model
        directory = getattr(obj, "directory", None)
        return None if directory is None else os.fspath(directory)
    return obj


def save(model, path, *, card=None):
    """Save a fitted model (a pipeline from texts, a reward model, an ensemble) with skops.

    The file is a skops zip: loading it runs no code of its author's choosing.
    Neural reward models are stored as their parameters and the weights of
    their scoring network (``NetState``); training-only objects
    (callbacks, history) are left out. A model card (versions, the
    embedder's model and settings, training size, simulation settings,
    cross-validated scores, normalisation constants) is written into the same
    file; :func:`read_card` reads it without loading the model.

    Parameters
    ----------
    model : estimator
        A fitted estimator.
    path : str or path-like
        File to write (``.skops`` by convention); replaced if it exists.
    card : dict, default=None
        Facts to add to the card that the model cannot know, e.g.
        ``{"data": "hh-rlhf train", "n_pairs": 5000, "cv_scores": [...]}``;
        JSON-serialisable values.

    Returns
    -------
    card : dict
        The card written with the model.

    See Also
    --------
    load : Load the model back.
    read_card : Read the card alone.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier, load, save, simulate_comparisons
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=50, random_state=0)
    >>> sim = simulate_comparisons(data.golden, data.groups, n_pairs=300, random_state=0)
    >>> model = OrderConsistentClassifier(LogisticRegression()).fit(sim.take(data.X), sim.y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> card = save(model, path)
    >>> loaded = load(path)
    >>> bool((loaded.decision_function(data.X_test) == model.decision_function(data.X_test)).all())
    True
    """
    import skops.io as sio

    if card is not None and not isinstance(card, dict):
        raise TypeError(f"card must be a dict of JSON-serialisable facts or None; got "
                        f"{type(card).__name__}.")
    path = os.fspath(path)
    info = make_card(model, extra=card)
    storable = _map_tree(model, _to_storable)
    sio.dump(storable, path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        import json

        archive.writestr(CARD_NAME, json.dumps(info, indent=2, default=str))
    return info


def load(path, *, trusted=None, device=None):
    """Load a model saved by :func:`save`, refusing types nobody trusted.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    trusted : list of str, default=None
        Type names to trust beyond :func:`trusted_types` (skreward's own,
        LightGBM's, scikit-learn's and numpy's). Check what a file holds with
        ``skops.io.get_untrusted_types`` and list only types from a
        source you trust.
    device : str, default=None
        Torch device for neural reward models and embedders, e.g. ``"cpu"``.
        ``None``: the device they were saved with, or the CPU when that was
        CUDA and this machine has none.

    Returns
    -------
    model : estimator
        The fitted model.

    Raises
    ------
    ValueError
        If the file holds types that are neither trusted by skreward nor in
        ``trusted``; nothing is loaded.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier, load, save, simulate_comparisons
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=50, random_state=0)
    >>> sim = simulate_comparisons(data.golden, data.groups, n_pairs=300, random_state=0)
    >>> model = OrderConsistentClassifier(LogisticRegression()).fit(sim.take(data.X), sim.y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> _ = save(model, path)
    >>> load(path, device="cpu").decision_function(data.X_test[:2]).shape
    (2,)
    """
    import skops.io as sio

    if trusted is not None and (isinstance(trusted, (str, bool))
                                or not all(isinstance(t, str) for t in trusted)):
        raise TypeError(
            "trusted must be a list of type names (str), e.g. "
            "trusted=['mypackage.MyClassifier'], or None; got "
            f"{trusted!r}. skops.io.get_untrusted_types(file=path) lists a file's types.")
    path = os.fspath(path)
    trusted = set(trusted or ())
    found = sio.get_untrusted_types(file=path)
    refused = sorted(t for t in found if not _is_trusted(t, trusted))
    if refused:
        raise ValueError(
            f"{path} holds types that skreward does not trust: {refused}. Loading them "
            "could run their code. If the file comes from a source you trust, pass "
            f"trusted={refused!r} to load it.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skops: "unexpected file in archive"
        storable = sio.load(path, trusted=found)
    return _map_tree(storable, lambda obj: _rebuild(obj, device))


def _rebuild(obj, device):
    if isinstance(obj, NetState):
        return obj.rebuild(device)
    if (type(obj).__name__ in ("SentenceEmbedder", "LLMEmbedder")
            and type(obj).__module__.startswith("skreward.")):
        wanted = _device(getattr(obj, "device", None), device)
        if wanted != getattr(obj, "device", None):
            obj.device = wanted
    return obj
