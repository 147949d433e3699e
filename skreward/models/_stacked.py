"""Several neural reward models of one architecture trained at once, as one stacked network.

:func:`fit_stacked` fits ``M`` unfitted :class:`~skreward.BTRegressor` (or
:class:`~skreward.RewardMLPClassifier`) nets that differ only in
``random_state``, for example the members of an ensemble, with one forward
and one backward pass per step for all of them: their weights are stacked
along a new first axis (``torch.func.stack_module_state``) and each hidden
layer of :class:`~skreward.RewardMLP` runs as one grouped linear layer
(``torch.baddbmm``: one batched matrix product of the ``M`` members instead
of ``M`` small ones).

Everything else is each member's own, taken from ``RewardNet`` itself rather
than re-derived: its initialisation (``initialize`` and ``check_data``,
seeded by its ``random_state``), its validation split
(``_validation_split``), its batch order (the net's own ``get_iterator``),
its loss (``get_loss``: criterion, label weights, reward centring), its
history, and its early stopping, which restores its best epoch (skorch's
``EarlyStopping`` callback of the net). A member that stops early leaves the
stack, so it neither moves nor costs any more time; its optimizer state is
handed to the net as a separate fit would leave it.
"""

import copy

import numpy as np
import torch
from skorch.dataset import Dataset as SkorchDataset
from skorch.utils import is_dataset
from torch.func import stack_module_state

from .._validation import check_sample_weight
from ._batching import ArrayDataset
from ._grouped import grouped_forward
from ._modules import RewardMLP
from ._nets import RewardNet

# Optimizers whose update of each weight depends on that weight's own gradient and state
# only: stepping the stacked tensor is stepping every member's slice on its own.
ELEMENTWISE_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD,
                          torch.optim.RMSprop, torch.optim.Adagrad, torch.optim.Adamax,
                          torch.optim.NAdam, torch.optim.RAdam)


def _same(a, b):
    if a is b:
        return True
    if torch.is_tensor(a) or torch.is_tensor(b) or isinstance(a, np.ndarray) or isinstance(
            b, np.ndarray):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        except (TypeError, ValueError, RuntimeError):
            return False
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):
        return False


def stacking_problem(estimators):
    """Why ``estimators`` cannot be trained as one stacked network, or None if they can.

    Parameters
    ----------
    estimators : list of RewardNet
        Unfitted nets (:class:`~skreward.BTRegressor` or
        :class:`~skreward.RewardMLPClassifier`).

    Returns
    -------
    problem : str or None
        A sentence naming what stands in the way, or None.
    """
    if isinstance(estimators, RewardNet) or not isinstance(estimators, (list, tuple)):
        return f"estimators must be a list of RewardNet instances; got {type(estimators).__name__}."
    if not estimators:
        return "estimators must hold at least one net; got an empty list."
    first = estimators[0]
    if not isinstance(first, RewardNet):
        return ("estimators must be BTRegressor or RewardMLPClassifier nets (RewardNet); got "
                f"{type(first).__name__}.")
    for est in estimators[1:]:
        if type(est) is not type(first):
            return ("estimators must all be of one class to be trained as one network; got "
                    f"{type(first).__name__} and {type(est).__name__}.")
    params = first.get_params(deep=False)
    for i, est in enumerate(estimators[1:], start=1):
        other = est.get_params(deep=False)
        differ = sorted(k for k in params.keys() | other.keys()
                        if k != "random_state" and not _same(params.get(k), other.get(k)))
        if differ:
            return (f"estimators must differ only in random_state; estimators[{i}] differs from "
                    f"estimators[0] in {', '.join(differ)}.")
    module = first.module
    module_class = module if isinstance(module, type) else type(module)
    if not (issubclass(module_class, RewardMLP) and module_class.forward is RewardMLP.forward):
        return ("module must be RewardMLP (a class or an instance, its forward unchanged); got "
                f"{module!r}.")
    dropout = first.get_params_for("module").get("dropout", 0.0)
    if isinstance(module, RewardMLP):
        dropout = max([m.p for m in module.modules() if isinstance(m, torch.nn.Dropout)],
                      default=0.0)
    if dropout:
        return (f"module__dropout={dropout}: each member's dropout noise comes from its own "
                "generator, which one batched call cannot draw; use dropout 0.")
    probe = module if isinstance(module, RewardMLP) else module_class(
        1, **first.get_params_for("module"))
    stateful = [type(m).__name__ for m in probe.layers
                if not isinstance(m, torch.nn.Linear) and list(m.state_dict())]
    if stateful:  # the batched forward stacks Linear weights only
        return (f"the module's {stateful[0]} layer has weights or buffers of its own (e.g. a "
                "PReLU or a normalisation); the batched network stacks only Linear layers.")
    if first.callbacks not in (None, []) or first.train_split is not None:
        return ("callbacks and train_split must be None: the stacked loop runs the nets' own "
                "validation split, early stopping and logging only.")
    optimizer = first.optimizer
    if not (isinstance(optimizer, type) and issubclass(optimizer, ELEMENTWISE_OPTIMIZERS)):
        return (f"optimizer must be one that updates each weight on its own "
                f"({', '.join(o.__name__ for o in ELEMENTWISE_OPTIMIZERS)}); got {optimizer!r}.")
    if "param_groups" in first.get_params_for("optimizer"):
        return "optimizer__param_groups is not supported by the stacked loop."
    if getattr(first, "compile", False):
        return "compile=True is not supported by the stacked loop (it stacks the plain module)."
    if first.dataset is not SkorchDataset or first._custom_iterator("iterator_train") or (
            first._custom_iterator("iterator_valid")):
        return "a custom dataset, iterator, sampler or collate_fn is not supported."
    for i, est in enumerate(estimators):
        if est.warm_start and getattr(est, "initialized_", False):
            return (f"estimators[{i}] has warm_start=True and is initialised: the stacked loop "
                    "starts every member afresh.")
    return None


def can_stack(estimators):
    """Whether :func:`fit_stacked` can train ``estimators`` as one network.

    Parameters
    ----------
    estimators : list of RewardNet
        Unfitted nets.

    Returns
    -------
    bool
        True for nets of one class, with :class:`~skreward.RewardMLP` without
        dropout, an elementwise optimizer (Adam, SGD, ...), no custom
        callbacks, ``train_split`` or iterators, that differ only in
        ``random_state``; ``stacking_problem`` says why not otherwise.
    """
    return stacking_problem(estimators) is None


def _check_indices(sample_indices, n_rows, n_members):
    if sample_indices is None:
        return [None] * n_members
    if len(sample_indices) != n_members:
        raise ValueError(f"sample_indices must hold one array per estimator ({n_members}); got "
                         f"{len(sample_indices)}.")
    checked = []
    for i, idx in enumerate(sample_indices):
        idx = np.asarray(idx)
        if idx.ndim != 1 or not len(idx) or not np.issubdtype(idx.dtype, np.integer) or (
                idx.min() < -n_rows or idx.max() >= n_rows):
            raise ValueError(f"sample_indices[{i}] must be a non-empty 1-D array of row indices "
                             f"in [0, {n_rows}); got {idx[:5]!r} (dtype {idx.dtype}).")
        checked.append(idx % n_rows)
    if len({len(idx) for idx in checked}) > 1:
        raise ValueError("sample_indices must all have the same length (e.g. bootstrap samples "
                         f"of n rows): the members train in lockstep; got lengths "
                         f"{sorted({len(idx) for idx in checked})}.")
    return checked


class _Member:
    """One net's part of the stacked loop: its rows, batch order and position in the stack."""

    def __init__(self, net, rows):
        self.net = net
        if net.validation_fraction is None:
            train, valid = np.arange(len(rows)), None
        else:
            train, valid = net._validation_split(len(rows))
        self.train_rows = torch.as_tensor(rows[train])
        self.valid_rows = None if valid is None else torch.as_tensor(rows[valid])
        # The net's own iterators over positions 0..n-1: the same batches, in the same
        # seeded order, as over its training rows (datasets of positions yield positions).
        self.train_iter = net.get_iterator(_positions(len(train)), training=True)
        self.valid_iter = None if valid is None else net.get_iterator(
            _positions(len(valid)), training=False)
        self.stopped = False


def _positions(n):
    positions = torch.arange(n)
    return ArrayDataset(positions, positions)


def _start(net, X, y, idx):
    """What ``fit`` does before its first epoch, in the same order (and the same seed draws)."""
    X_m = X if idx is None else X[idx]
    y_m = None if y is None else (y if idx is None else y[idx])
    if not net.warm_start or not getattr(net, "initialized_", False):
        net.initialize()
    net.notify("on_train_begin", X=X_m, y=y_m)
    net.check_data(X_m, y_m)
    net.check_training_readiness()


def _optimizer(net, params):
    args, kwargs = net.get_params_for_optimizer("optimizer", params.items())
    return net.optimizer(*args, **kwargs)


def _slice_state(optimizer, params, keep):
    """Each stacked parameter's optimizer state at the members ``keep`` (a list or an int)."""
    states = {}
    for name, param in params.items():
        state = optimizer.state.get(param, {})
        states[name] = {key: (value[keep].clone() if torch.is_tensor(value)
                              and value.shape == param.shape else copy.deepcopy(value))
                        for key, value in state.items()}
    return states


def _restack(members, params, optimizer, keep):
    """Only the members at positions ``keep``: their weights and optimizer state carry over."""
    states = _slice_state(optimizer, params, keep)
    params = {k: v.detach()[keep].clone().requires_grad_(True) for k, v in params.items()}
    new = _optimizer(members[0].net, params)
    for name, param in params.items():
        if states[name]:
            new.state[param] = states[name]
    return params, new


def _hand_over(member, position, params, optimizer):
    """Copy a member's slice of the stack into its own module (and optimizer state)."""
    net = member.net
    with torch.no_grad():
        for name, tensor in net.module_.named_parameters():
            tensor.copy_(params[name][position])
    if optimizer is not None:
        states = _slice_state(optimizer, params, position)
        for name, tensor in net.module_.named_parameters():
            if states[name]:
                net.optimizer_.state[tensor] = states[name]


def _record(net, prefix, losses, sizes):
    for loss, size in zip(losses, sizes):
        net.history.new_batch()
        net.history.record_batch(prefix + "_loss", loss)
        net.history.record_batch(prefix + "_batch_size", size)
    net.history.record(prefix + "_batch_count", len(sizes))


def fit_stacked(estimators, X, y=None, sample_weight=None, sample_indices=None):
    """Fit neural reward models of one architecture at once, as one stacked network.

    Each member ends as ``clone(est).fit(X[idx], y[idx], sample_weight=w[idx])``
    would leave it: a fitted net with its own trained weights, ``history_``,
    ``n_features_in_`` (and ``classes_``), restored best epoch and optimizer
    state. Only the arithmetic is shared: every step runs the ``M`` members'
    hidden layers as grouped linear layers (one batched matrix product,
    ``torch.baddbmm``, over their stacked weights) and steps one optimizer
    over the stacked tensors, which for an elementwise optimizer (Adam,
    SGD, ...) is each member's own update.

    The seeds, initial weights, validation splits, batch orders, losses and
    early-stopping decisions are each member's own, so the result equals
    ``M`` separate fits as far as the matrix products do. On CPU (torch's
    build with MKL, where this was measured) the batched products sum each
    member's slice as a separate fit's products do, and the fits are
    identical bit for bit, for small networks and the paper's alike; the
    output layer (width 1) is computed per member because its batched
    matrix-vector product sums in another order. Elsewhere (CUDA's batched
    kernels, other BLAS libraries) a step's gradients can differ in the last
    bits (about 1e-7 relative in float32), and training can amplify that: a
    weight whose gradient is near Adam's ``eps`` moves by a
    rounding-sensitive fraction of ``lr``, and a ReLU unit at its kink can
    switch, so after a few hundred steps two such fits can differ by far
    more than the rounding that started it, as do two separate fits whose
    initial weights differ by one unit in the last place.
    ``benchmarks/bench_stacked.py`` reports the largest reward difference
    it finds.

    Parameters
    ----------
    estimators : list of RewardNet
        Unfitted :class:`~skreward.BTRegressor` or
        :class:`~skreward.RewardMLPClassifier` nets of one class and the
        same parameters except ``random_state`` (see :func:`can_stack`).
        They are fitted in place, as ``fit`` fits its estimator.
    X : array-like
        Comparisons ``(n_pairs, 2, n_features)`` for
        :class:`~skreward.BTRegressor`, items ``(n_items, n_features)`` for
        :class:`~skreward.RewardMLPClassifier`.
    y : array-like of shape (n_rows,) or None, default=None
        Labels, as the estimators' ``fit`` takes them.
    sample_weight : array-like of shape (n_rows,) or None, default=None
        Weight of each row of ``X``.
    sample_indices : list of array-like of int, or None, default=None
        One array of row indices per estimator (e.g. a bootstrap sample),
        all of the same length: member ``i`` is fitted on
        ``X[sample_indices[i]]``. None fits every member on all rows.

    Returns
    -------
    estimators : list of RewardNet
        The same nets, fitted.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward import BTRegressor
    >>> from skreward.models import fit_stacked
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2, 8))
    >>> y = (X[:, 0, 0] > X[:, 1, 0]).astype(int)
    >>> members = [BTRegressor(module__hidden_sizes=(16,), max_epochs=5, random_state=seed)
    ...            for seed in range(3)]
    >>> members = fit_stacked(members, X, y)
    >>> rewards = np.stack([m.decision_function(X[:, 0]) for m in members])
    >>> rewards.shape
    (3, 300)
    >>> alone = BTRegressor(module__hidden_sizes=(16,), max_epochs=5, random_state=1).fit(X, y)
    >>> bool(np.allclose(alone.decision_function(X[:, 0]), rewards[1], atol=1e-4))
    True
    """
    problem = stacking_problem(estimators)
    if problem is not None:
        raise ValueError(problem)
    if is_dataset(X) or is_dataset(y):
        raise ValueError("fit_stacked needs array input (comparisons or items), not a Dataset.")
    X = np.asarray(X)
    y = None if y is None else np.asarray(y)
    n_rows = len(X)
    indices = _check_indices(sample_indices, n_rows, len(estimators))
    weights = None if sample_weight is None else check_sample_weight(sample_weight, n_rows)
    for idx in indices:
        if weights is not None and idx is not None:
            check_sample_weight(weights[idx], len(idx))  # e.g. a bootstrap of zero weights only
    nets = list(estimators)
    for net, idx in zip(nets, indices):
        _start(net, X, y, idx)
    if hasattr(nets[0], "classes_") and any(
            not np.array_equal(net.classes_, nets[0].classes_) for net in nets):
        raise ValueError("the members' samples hold different classes; every member's sample "
                         "must hold both classes of y.")
    # One dataset of all rows (labels, weights); each member gathers its rows from it.
    dataset = nets[0]._weighted_dataset(X, y, weights)
    device = torch.device(nets[0].device or "cpu")
    data_X, data_y = dataset.X.to(device), dataset.y.to(device)
    members = [_Member(net, np.arange(n_rows) if idx is None else idx)
               for net, idx in zip(nets, indices)]
    _train(members, data_X, data_y)
    for member in members:
        member.net.notify("on_train_end", X=X, y=y)
    return nets


def _run(members, phase, forward, params, data_X, data_y, optimizer=None):
    """One pass over the members' ``phase`` batches, stepping ``optimizer`` if given.

    Returns the losses ``(n_batches, M)`` as floats and the batch sizes.
    """
    losses, sizes = [], []
    rows_of = [getattr(m, phase + "_rows") for m in members]
    for batches in zip(*[getattr(m, phase + "_iter") for m in members]):
        rows = torch.stack([r[b[0]] for r, b in zip(rows_of, batches)]).to(data_X.device)
        xb, yb = data_X[rows], data_y[rows]  # (M, B, ...): each member's own rows
        if optimizer is not None:
            optimizer.zero_grad()
        pred = forward(params, xb)
        loss = torch.stack([m.net.get_loss(pred[i], yb[i], X=xb[i], training=optimizer is not None)
                            for i, m in enumerate(members)])
        if optimizer is not None:
            loss.sum().backward()  # member i's weights get the gradient of loss[i] only
            optimizer.step()
        losses.append(loss.detach())
        sizes.append(rows.shape[1])
    return (torch.stack(losses).cpu().tolist() if losses else []), sizes


def _train(members, data_X, data_y):
    first = members[0].net
    forward = grouped_forward(first.module_)
    active = list(members)
    params, _ = stack_module_state([m.net.module_ for m in active])  # RewardMLP: no buffers
    optimizer = _optimizer(first, params)
    for _ in range(first.max_epochs):
        for m in active:
            m.net.notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
        train = _run(active, "train", forward, params, data_X, data_y, optimizer)
        valid = None
        if active[0].valid_iter is not None:
            with torch.no_grad():
                valid = _run(active, "valid", forward, params, data_X, data_y)
        for i, m in enumerate(active):
            for prefix, result in [("train", train), ("valid", valid)]:
                if result is not None:
                    _record(m.net, prefix, [row[i] for row in result[0]], result[1])
            _hand_over(m, i, params, None)
            try:
                m.net.notify("on_epoch_end", dataset_train=None, dataset_valid=None)
            except KeyboardInterrupt:  # the net's EarlyStopping: this member is done
                m.stopped = True
                _hand_over(m, i, params, optimizer)
        keep = [i for i, m in enumerate(active) if not m.stopped]
        if not keep:
            return
        if len(keep) < len(active):
            params, optimizer = _restack(active, params, optimizer, keep)
            active = [active[i] for i in keep]
    for i, m in enumerate(active):
        _hand_over(m, i, params, optimizer)
