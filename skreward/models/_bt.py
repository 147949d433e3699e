"""The Bradley-Terry reward model: a Siamese scoring network trained on comparisons."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.utils import is_dataset
from torch import nn

from .._links import LINKS
from .._validation import check_comparison_labels, check_comparisons, check_margin
from ._base import RewardModelMixin
from ._modules import RewardMLP
from ._nets import NET_PARAMETER_CONSTRAINTS, RewardNet


class BCEWithProbitLoss(nn.Module):
    """Binary cross-entropy of the probit link: ``-t log Phi(x) - (1 - t) log Phi(-x)``.

    ``-log Phi(+-x)`` for hard targets 1 / 0; soft targets ``t`` in [0, 1] mix both.
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        loss = -(target * torch.special.log_ndtr(input)
                 + (1 - target) * torch.special.log_ndtr(-input))
        return loss if self.reduction == "none" else getattr(loss, self.reduction)()


class BTRegressor(RewardModelMixin, RegressorMixin, RewardNet):
    """Bradley-Terry reward model: a scoring network trained on comparisons (BT-MLP).

    The scoring ``module`` (by default :class:`~skreward.RewardMLP`, the
    paper's ``d -> 1024 -> 512 -> 1`` ReLU network) gives every item a reward
    ``r``; a comparison of items ``a`` and ``b`` is modelled as
    ``P(a > b) = link(r(a) - r(b))`` and trained with the binary cross-entropy
    of that probability, ``BCEWithLogits(r(a) - r(b), y)`` for the logistic
    link. Both items go through the module in one batch. The loss is
    antisymmetric: ``(a, b, y)`` and ``(b, a, 1 - y)`` give the same loss and
    gradient, so comparisons are never mirrored.

    ``fit(X, y=None, sample_weight=None, margin=None)`` takes comparisons,
    their labels and optionally a weight per comparison (a weight of 0
    leaves the comparison out of the loss) and a margin per comparison.
    Labels may be soft: ``y`` in [0, 1] is the probability that the first
    item is preferred (e.g. annotator agreement, 0.8 = four of five
    annotators), used as the cross-entropy target, so a label of 1.0 is
    the hard label 1 and a label of 0.5 pulls both rewards together. With
    metadata routing, request them with
    ``set_fit_request(sample_weight=True, margin=True)``; from a table of
    texts, :func:`skreward.text.preference_targets` reads them off its
    ``label``, ``weight`` and ``margin`` columns. It is a skorch ``NeuralNet``: callbacks,
    ``history_``, ``warm_start``, ``partial_fit``, ``module__*`` /
    ``optimizer__*`` / ``iterator_*__*`` parameters all work as in skorch.

    Parameters
    ----------
    module : torch module class or instance, default=RewardMLP
        Scoring network from items ``(batch, n_features)`` to rewards
        ``(batch,)``. A class with an ``n_features`` argument is sized from
        the data; set its other arguments as ``module__hidden_sizes=(256,)``,
        ``module__dropout=0.1``, ``module__activation="gelu"``.
    link : {"logistic", "probit"}, default="logistic"
        ``logistic``: Bradley-Terry, ``sigmoid(r(a) - r(b))``. ``probit``:
        Thurstone, ``Phi(r(a) - r(b))``.
    margin : float, default=0.0
        Margin of the loss: the preferred item's reward is asked to exceed
        the other's by ``margin``, i.e. the loss is taken at
        ``r(a) - r(b) - margin`` (signed by the label), as TRL's and
        OpenRLHF's margin loss ``-logsigmoid(r_chosen - r_rejected -
        margin)``. 0 is the plain BT loss. The default of every comparison:
        ``fit(..., margin=array)`` gives each comparison its own (finite,
        non-negative; it replaces this one). With a soft label ``t`` the
        shift is ``(2 t - 1) * margin``, so a label of 0.5 has none.
    criterion : torch loss class or None, default=None
        Loss of ``(r(a) - r(b) - signed margin, y)``; ``None`` picks
        ``BCEWithLogitsLoss`` (logistic) or the probit link's cross-entropy.
    batch_size : int, default=128
        Comparisons per step (each gives two items to the module), and per
        batch of the validation loss unless ``iterator_valid__batch_size``
        is set. Prediction batches: ``predict_batch_size``.
    {net_parameters}

    Attributes
    ----------
    {net_attributes}

    See Also
    --------
    RewardMLPClassifier : The same network trained as a classifier (CLF-MLP).

    Examples
    --------
    >>> from skreward import BTRegressor, simulate_comparisons
    >>> from skreward.datasets import make_preference_testbed
    >>> from skreward.metrics import best_of_n_score
    >>> data = make_preference_testbed(n_prompts=100, n_test_prompts=10, n_candidates=32,
    ...                                random_state=0)
    >>> sim = simulate_comparisons(data.golden, data.groups, n_pairs=1000, beta=10,
    ...                            random_state=0)
    >>> model = BTRegressor(module__hidden_sizes=(32,), max_epochs=5, lr=1e-2, random_state=0)
    >>> model = model.fit(sim.take(data.X), sim.y)
    >>> rewards = model.predict(data.X_test)  # same as decision_function
    >>> rewards.shape
    (320,)
    >>> bool(model.score(sim.take(data.X), sim.y) > 0.7)  # order consistency
    True
    >>> bool(best_of_n_score(data.golden_test, rewards, data.groups_test, n=16) > 0)
    True
    """

    __metadata_request__fit = {"margin": None}
    __metadata_request__partial_fit = {"margin": None}
    _parameter_constraints = {
        **NET_PARAMETER_CONSTRAINTS,
        "link": [StrOptions(set(LINKS))],
        "margin": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, module=RewardMLP, *, link="logistic", margin=0.0, criterion=None,
                 batch_size=128, **kwargs):
        super().__init__(module, criterion=criterion, batch_size=batch_size, **kwargs)
        self.link = link
        self.margin = margin

    # -- the hooks of RewardNet ---------------------------------------------------

    def check_data(self, X, y=None):
        """Validate comparisons and labels, and size the module for their features."""
        if is_dataset(X):
            self._size_module(self._dataset_width(X))
            return
        X, _ = check_comparisons(X, y, soft=True)
        self._size_module(X.shape[2])

    def _labels(self, X, y):
        if X.ndim == 3:  # comparisons: labels in [0, 1] (soft or hard), all 1 when y is None
            return check_comparison_labels(y, len(X), soft=True)
        return np.zeros(len(X))  # items to score: no target

    def _default_criterion(self):
        return nn.BCEWithLogitsLoss if self.link == "logistic" else BCEWithProbitLoss

    def _check_margin(self, margin, n_rows):
        return check_margin(margin, n_rows)

    def _logit(self, rewards, labels, margin=None):
        """``r(a) - r(b)``, less the margin (per row, else the parameter) signed by the label."""
        logit = rewards[:, 0] - rewards[:, 1]
        margin = self.margin if margin is None else margin
        return logit - (2 * labels - 1) * margin

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
        """Probability of each outcome of comparisons under the model's link.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features)
            Comparisons.

        Returns
        -------
        proba : ndarray of shape (n_pairs, 2)
            Column 1: ``P(first item preferred) = link(r(first) - r(second))``;
            column 0: its complement (the labels 1 and 0 of ``fit``).
        """
        check_is_fitted(self, "n_features_in_")
        X, _ = check_comparisons(X)
        reward = self.decision_function(X.reshape(-1, X.shape[2])).reshape(-1, 2)
        cdf = LINKS[self.link]
        return np.column_stack([cdf(reward[:, 1] - reward[:, 0]), cdf(reward[:, 0] - reward[:, 1])])
