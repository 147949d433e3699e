"""One definition of what the neural reward models document and accept in common.

Every :class:`~skreward.models._nets.RewardNet` subclass lists in its
``__init__`` only the parameters it adds or whose default differs; its
signature (what ``help``, IDEs, Sphinx and scikit-learn's ``repr`` read) is
the union with the base's, and the ``{net_parameters}`` and
``{net_attributes}`` lines of its docstring are replaced by the shared
entries below, as skorch does for its family of nets.
"""

import inspect

NET_PARAMETERS = """\
predict_batch_size : int, default=4096
    Items per module call in ``decision_function``, ``predict`` and
    ``predict_proba``. Each batch is made float32 on its own, so prediction
    needs memory for one batch rather than a float32 copy of ``X``; larger
    batches are faster until the batch outgrows the CPU caches (measured in
    :ref:`scaling`). Rewards do not depend on it (up to float32 rounding),
    and ``set_params(predict_batch_size=...)`` works on a fitted model.
optimizer : torch optimizer class, default=torch.optim.Adam
    Optimizer; its settings as ``optimizer__weight_decay=...``.
lr : float, default=1e-3
    Learning rate.
max_epochs : int, default=50
    Most passes over the training rows.
validation_fraction : float or None, default=0.1
    Fraction of the training rows held out (seeded by ``random_state``) to
    monitor for early stopping; with ``fit(..., groups=g)``, a fraction of
    the groups, each whole. ``None``: no validation. Ignored when
    ``train_split`` is given (which receives ``groups``).
patience : int or None, default=5
    Stop after ``patience`` epochs without a better ``valid_loss`` and
    restore the weights of the best epoch. ``None``: no early stopping.
center_rewards_coef : float, default=0.0
    Adds ``center_rewards_coef * mean(r ** 2)`` over the batch's rewards
    (weighted as their rows), which keeps rewards centred at zero (TRL's
    ``center_rewards_coefficient``). 0 turns it off.
train_split : callable or None, default=None
    A skorch split (e.g. ``skorch.helper.predefined_split``) that replaces
    ``validation_fraction``.
random_state : int, RandomState instance or None, default=None
    Seeds weight initialisation, the validation split, the batch order and
    dropout, without touching torch's global random generators. An int
    gives identical rewards from fit to fit (on one machine and device).
device : str, default="cpu"
    ``"cpu"``, ``"cuda"`` or ``"cuda:<index>"``. A model trained on CUDA
    unpickles on a CPU-only machine (skorch maps it to the CPU, with a
    ``DeviceWarning``).
callbacks : list of (name, callback) or None, default=None
    skorch callbacks, in addition to the defaults.
warm_start : bool, default=False
    Whether ``fit`` continues from the current weights.
verbose : int, default=0
    1 prints skorch's table of losses per epoch.
**kwargs
    Any further skorch ``NeuralNet`` parameter (``module__*``,
    ``criterion__*``, ``iterator_train__*``, ...)."""

NET_ATTRIBUTES = """\
module_ : torch.nn.Module
    The trained scoring network.
history_ : skorch.history.History
    Losses and timings of every epoch and batch.
n_features_in_ : int
    Features of each item."""


def fill_docstring(doc):
    """``doc`` with its ``{net_parameters}`` / ``{net_attributes}`` lines filled in."""
    if not doc:
        return doc
    for marker, text in (("{net_parameters}", NET_PARAMETERS), ("{net_attributes}", NET_ATTRIBUTES)):
        for line in doc.splitlines():
            if line.strip() == marker:
                indent = line[: len(line) - len(line.lstrip())]
                doc = doc.replace(line, "\n".join(indent + row if row else row
                                                  for row in text.splitlines()))
    return doc


def merged_signature(init, base_init):
    """The signature of ``init`` with the keyword parameters of ``base_init`` it does not list.

    Order: ``init``'s own parameters, then the base's others in the base's
    order, then ``**kwargs``.
    """
    own = inspect.signature(init).parameters
    base = inspect.signature(base_init).parameters
    is_var = {inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL}
    parameters = [p for p in own.values() if p.kind not in is_var]
    parameters += [p for name, p in base.items() if name not in own and p.kind not in is_var]
    parameters += [p for p in base.values() if p.kind == inspect.Parameter.VAR_KEYWORD]
    return inspect.Signature(parameters)
