"""The tie-aware Bradley-Terry reward model (Davidson, 1970): one learned tie parameter.

A comparison's label is 1 (the first item preferred), 0 (the second) or 0.5
(a tie: the annotator could not tell). Davidson's model gives, with
``d = r(a) - r(b)`` and the tie parameter ``nu >= 0``::

    P(a > b) = exp(d / 2) / Z,   P(b > a) = exp(-d / 2) / Z,   P(tie) = nu / Z,
    Z = exp(d / 2) + exp(-d / 2) + nu.

Among the comparisons that are not ties, ``P(a > b | no tie) = sigmoid(d)``
exactly as in Bradley-Terry, so the rewards mean what a :class:`BTRegressor`'s
mean, and ``nu = 0`` is Bradley-Terry. Davidson rather than Rao-Kupper
(``P(a > b) = sigmoid(d - eta)``): Rao-Kupper changes the odds of the decided
comparisons too (``P(a > b | no tie)`` is not ``sigmoid(d)``), so its rewards
are not on the Bradley-Terry scale; Davidson's negative log-likelihood,
``logsumexp(d / 2, -d / 2, log nu) - observed term``, is convex in
``(d, log nu)`` and has no constraint to keep (``eta > 0`` for Rao-Kupper),
and ``nu`` reads directly as the tie odds of equal rewards:
``P(tie | d = 0) = nu / (2 + nu)``.
"""

import math
from numbers import Real

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from skorch.utils import is_dataset
from torch import nn

from .._validation import check_comparison_labels, check_comparisons
from ._base import RewardModelMixin
from ._modules import RewardMLP
from ._nets import NET_PARAMETER_CONSTRAINTS, RewardNet

TIE = 0.5
_TIE_INIT_BOUNDS = (1e-3, 1e3)


class DavidsonLoss(nn.Module):
    """Negative log-likelihood of Davidson's tie model, with ``nu`` a learned parameter.

    ``forward(d, target)``: ``d = r(a) - r(b)``; ``target`` 1 (first
    preferred), 0 (second) or 0.5 (tie). The parameter is ``log_tie``
    (``nu = exp(log_tie)``), so ``nu`` stays positive without a constraint.
    """

    def __init__(self, tie_param=1.0, reduction="mean"):
        super().__init__()
        self.log_tie = nn.Parameter(torch.tensor(math.log(tie_param), dtype=torch.float32))
        self.reduction = reduction

    @property
    def tie_param(self):
        return float(self.log_tie.detach().exp())

    def forward(self, input, target):
        half = input / 2
        log_tie = self.log_tie.to(input.dtype).expand_as(half)
        normaliser = torch.logsumexp(torch.stack([half, -half, log_tie]), dim=0)
        tie = target == TIE
        observed = torch.where(tie, log_tie, (2 * target - 1) * half)
        loss = normaliser - observed
        return loss if self.reduction == "none" else getattr(loss, self.reduction)()


def check_tie_labels(y, n_pairs, estimator_name):
    """Labels in {0, 0.5, 1} (0.5: a tie) as floats; other soft labels refused by row."""
    labels = check_comparison_labels(y, n_pairs, soft=True)
    bad = ~np.isin(labels, (0.0, TIE, 1.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{estimator_name} takes labels 1 (first preferred), 0 (second preferred) or 0.5 "
            f"(a tie); comparison {first} has {float(labels[first])!r}. Soft labels "
            "(annotator agreement) are BTRegressor's.")
    return labels


class TieAwareBTRegressor(RewardModelMixin, RegressorMixin, RewardNet):
    """Tie-aware Bradley-Terry reward model (Davidson): comparisons won, lost or tied.

    The scoring ``module`` gives every item a reward ``r``; a comparison of
    items ``a`` and ``b`` is won by ``a``, won by ``b``, or tied with
    Davidson's probabilities (``d = r(a) - r(b)``)::

        P(a > b) = e^(d/2) / Z,  P(b > a) = e^(-d/2) / Z,  P(tie) = nu / Z,
        Z = e^(d/2) + e^(-d/2) + nu,

    and trained by their negative log-likelihood. The tie parameter ``nu``
    is learned with the network (a parameter of the criterion, which skorch
    hands to the optimizer) and exposed as ``tie_param_``. Among decided
    comparisons ``P(a > b | no tie) = sigmoid(d)``, as in
    :class:`BTRegressor`, so the rewards are on Bradley-Terry's scale.

    Labels ``y``: 1 where the first item is preferred, 0 where the second
    is, **0.5 where the comparison is a tie** (-1 / +1 and booleans work for
    the decided ones; ``None``: the first is always preferred). Other soft
    labels are refused: a label of 0.8 is annotator agreement, which
    :class:`BTRegressor` takes as a soft target. The two other ways to use
    ties: :class:`BTRegressor` on the same labels (a tie is the soft label
    0.5, which pulls the two rewards together with no parameter learned),
    or dropping the tied comparisons (``X[y != 0.5], y[y != 0.5]``).

    ``score`` is the order consistency of :class:`BTRegressor`: a tied
    comparison counts one half whatever the rewards (the metric's rule for
    a label of 0.5); to score decided comparisons only, pass
    ``sample_weight=(y != 0.5)``. ``fit`` takes ``sample_weight``; it takes
    no ``margin``.

    Parameters
    ----------
    module : torch module class or instance, default=RewardMLP
        Scoring network from items ``(batch, n_features)`` to rewards
        ``(batch,)``, as in :class:`BTRegressor`.
    tie_param_init : float or None, default=None
        Starting value of ``nu`` (> 0). ``None``: the value whose tie
        probability at equal rewards is the training labels' fraction of
        ties, ``2 p / (1 - p)`` (clipped to [1e-3, 1e3]), the maximum
        likelihood while the rewards are still nearly equal.
    criterion : torch loss class or None, default=None
        ``None``: ``DavidsonLoss`` (private), whose
        parameter ``log_tie`` is ``log(nu)``.
    batch_size : int, default=128
        Comparisons per step.
    {net_parameters}

    Attributes
    ----------
    tie_param_ : float
        The learned ``nu`` (at the end of training); ``nu / (2 + nu)`` is the
        probability of a tie between items of equal reward.
    {net_attributes}

    See Also
    --------
    BTRegressor : Bradley-Terry, ties as soft labels 0.5.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward import TieAwareBTRegressor, simulate_comparisons
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=100, n_test_prompts=10, random_state=0)
    >>> sim = simulate_comparisons(data.golden, data.groups, n_pairs=1000, beta=10,
    ...                            tie_threshold=0.3, random_state=0)
    >>> sorted(np.unique(sim.y).tolist())  # 0.5: the annotator could not tell
    [0.0, 0.5, 1.0]
    >>> model = TieAwareBTRegressor(module__hidden_sizes=(32,), max_epochs=5, lr=1e-2,
    ...                             random_state=0).fit(sim.take(data.X), sim.y)
    >>> bool(model.tie_param_ > 0)
    True
    >>> model.predict_proba(sim.take(data.X)[:2]).shape  # P(second), P(tie), P(first)
    (2, 3)
    """

    _parameter_constraints = {
        **NET_PARAMETER_CONSTRAINTS,
        "tie_param_init": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, module=RewardMLP, *, tie_param_init=None, criterion=None,
                 batch_size=128, **kwargs):
        super().__init__(module, criterion=criterion, batch_size=batch_size, **kwargs)
        self.tie_param_init = tie_param_init

    # -- the hooks of RewardNet ---------------------------------------------------

    def check_data(self, X, y=None):
        """Validate comparisons and labels (ties 0.5), size the module, start ``nu``."""
        if is_dataset(X):
            self._size_module(self._dataset_width(X))
            return
        X, _ = check_comparisons(X, soft=True)
        labels = check_tie_labels(y, len(X), type(self).__name__)
        self._size_module(X.shape[2])
        log_tie = getattr(self.criterion_, "log_tie", None)
        if log_tie is not None and not len(self.history_):  # a fresh fit, not warm_start
            nu = self.tie_param_init
            if nu is None:
                p = float(np.mean(labels == TIE))
                nu = float(np.clip(2 * p / max(1 - p, 1e-12), *_TIE_INIT_BOUNDS))
            with torch.no_grad():
                log_tie.fill_(math.log(nu))

    def _labels(self, X, y):
        if X.ndim == 3:
            return check_tie_labels(y, len(X), type(self).__name__)
        return np.zeros(len(X))  # items to score: no target

    def _default_criterion(self):
        return DavidsonLoss

    def _logit(self, rewards, labels):
        return rewards[:, 0] - rewards[:, 1]

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        if hasattr(self.criterion_, "log_tie"):  # kept per epoch for the best epoch's restore
            self._log_tie_by_epoch[self.history[-1, "epoch"]] = self.criterion_.log_tie.item()

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._log_tie_by_epoch = {}

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        if not hasattr(self.criterion_, "log_tie"):
            return
        # skorch's EarlyStopping restores the module's weights only; the tie parameter lives
        # in the criterion, so it is restored here to the same (best) epoch.
        stopper = dict(self.callbacks_).get("early_stopping")
        best = getattr(stopper, "best_epoch_", None)
        if best in self._log_tie_by_epoch:
            with torch.no_grad():
                self.criterion_.log_tie.fill_(self._log_tie_by_epoch[best])
        self.tie_param_ = self.criterion_.tie_param

    # -- reward model -------------------------------------------------------------

    def predict(self, X):
        """Reward of every item; the same as :meth:`decision_function`.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
        """
        return self.decision_function(X)

    def predict_proba(self, X):
        """Davidson's probability of each outcome of comparisons.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features)
            Comparisons.

        Returns
        -------
        proba : ndarray of shape (n_pairs, 3)
            Columns in the order of the labels 0, 0.5, 1: the second item
            preferred, a tie, the first item preferred.
        """
        check_is_fitted(self, "tie_param_")
        X, _ = check_comparisons(X)
        reward = self.decision_function(X.reshape(-1, X.shape[2])).reshape(-1, 2)
        half = (reward[:, 0] - reward[:, 1]) / 2
        logits = np.column_stack([-half, np.full_like(half, math.log(self.tie_param_)), half])
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)
