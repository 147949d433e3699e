"""The Bradley-Terry reward model: a Siamese scoring network trained on comparisons."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.utils import is_dataset, to_tensor
from torch import nn

from ._base import RewardModelMixin
from ._modules import RewardMLP
from ._nets import NET_PARAMETER_CONSTRAINTS, ScoringNetMixin, float32_input
from .._links import LINKS
from .._validation import check_comparison_labels, check_comparisons, check_items

class BCEWithProbitLoss(nn.Module):
    """Binary cross-entropy of the probit link: ``-log Phi(+-input)`` for targets 1 / 0."""

    def forward(self, input, target):
        return -torch.special.log_ndtr((2 * target - 1) * input).mean()


class BTRegressor(RewardModelMixin, RegressorMixin, ScoringNetMixin, NeuralNet):
    """Bradley-Terry reward model: a scoring network trained on comparisons (BT-MLP).

    The scoring ``module`` (by default :class:`~skreward.RewardMLP`, the
    paper's ``d -> 1024 -> 512 -> 1`` ReLU network) gives every item a reward
    ``r``; a comparison of items ``a`` and ``b`` is modelled as
    ``P(a > b) = link(r(a) - r(b))`` and trained with the binary cross-entropy
    of that probability, ``BCEWithLogits(r(a) - r(b), y)`` for the logistic
    link. Both items go through the module in one batch. The loss is
    antisymmetric: ``(a, b, y)`` and ``(b, a, 1 - y)`` give the same loss and
    gradient, so comparisons are never mirrored.

    It is a skorch ``NeuralNet``: callbacks, ``history_``, ``warm_start``,
    ``partial_fit``, ``module__*`` / ``optimizer__*`` / ``iterator_*__*``
    parameters all work as in skorch.

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
        OpenRLHF's margin loss. 0 is the plain BT loss.
    center_rewards_coef : float, default=0.0
        Adds ``center_rewards_coef * mean(r ** 2)`` over the batch's items,
        which keeps rewards centred at zero (TRL's
        ``center_rewards_coefficient``). 0 turns it off.
    criterion : torch loss class or None, default=None
        Loss of ``(r(a) - r(b) - signed margin, y)``; ``None`` picks
        ``BCEWithLogitsLoss`` (logistic) or the probit link's cross-entropy.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimizer; its settings as ``optimizer__weight_decay=...``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=50
        Most passes over the training comparisons.
    batch_size : int, default=128
        Comparisons per step (each gives two items to the module); also the
        prediction batch unless ``iterator_valid__batch_size`` is set.
    validation_fraction : float or None, default=0.1
        Fraction of the comparisons held out (seeded by ``random_state``) to
        monitor ``valid_loss`` for early stopping. ``None``: no validation.
        Ignored when ``train_split`` is given.
    patience : int or None, default=5
        Stop after ``patience`` epochs without a better ``valid_loss`` and
        restore the weights of the best epoch. ``None``: no early stopping.
    train_split : callable or None, default=None
        A skorch split (e.g. ``skorch.helper.predefined_split``) that replaces
        ``validation_fraction``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the validation split, the batch order
        and dropout, without touching torch's global random generators. An
        int gives identical rewards from fit to fit (on one machine and
        device).
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
        Any further skorch ``NeuralNet`` parameter.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained scoring network.
    history_ : skorch.history.History
        Losses and timings of every epoch and batch.
    n_features_in_ : int
        Features of each item.

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

    _parameter_constraints = {
        **NET_PARAMETER_CONSTRAINTS,
        "link": [StrOptions(set(LINKS))],
        "margin": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, module=RewardMLP, *, link="logistic", margin=0.0,
                 center_rewards_coef=0.0, criterion=None, optimizer=torch.optim.Adam, lr=1e-3,
                 max_epochs=50, batch_size=128, validation_fraction=0.1, patience=5,
                 train_split=None, random_state=None, device="cpu", callbacks=None,
                 warm_start=False, verbose=0, **kwargs):
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
                         callbacks=callbacks, warm_start=warm_start, verbose=verbose,
                         device=device, **kwargs)
        self.link = link
        self.margin = margin
        self.center_rewards_coef = center_rewards_coef
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    # -- skorch hooks -------------------------------------------------------------

    def initialize_criterion(self):
        """The link's cross-entropy on reward differences, unless ``criterion`` is given."""
        criterion = self.criterion
        if criterion is None:
            criterion = nn.BCEWithLogitsLoss if self.link == "logistic" else BCEWithProbitLoss
        self.criterion_ = self.initialized_instance(criterion, self.get_params_for("criterion"))
        return self

    def check_data(self, X, y=None):
        """Validate comparisons and labels, and size the module for their features."""
        if is_dataset(X):
            self._size_module(self._dataset_width(X))
            return
        X, _ = check_comparisons(X, y)
        self._size_module(X.shape[2])

    def _targets(self, X, y):
        if X.ndim == 3:  # comparisons: labels in {0, 1}, all 1 when y is None
            return check_comparison_labels(y, len(X)).astype(np.float32)
        return np.zeros(len(X), dtype=np.float32)  # items to score: no target

    def infer(self, x, **fit_params):
        """Rewards: ``(batch, 2)`` for comparisons (both items in one pass), ``(batch,)`` for items."""
        x = to_tensor(x, device=self.device)
        if x.dim() == 3:
            rewards = self.module_(x.reshape(-1, x.shape[-1]), **fit_params)
            return rewards.reshape(len(x), 2)
        return self.module_(x, **fit_params).reshape(len(x))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``criterion(r(a) - r(b) - sign * margin, y) + center_rewards_coef * mean(r ** 2)``."""
        y_true = to_tensor(y_true, device=self.device).to(y_pred.dtype)
        logit = y_pred[:, 0] - y_pred[:, 1]
        if self.margin:
            logit = logit - (2 * y_true - 1) * self.margin
        loss = self.criterion_(logit, y_true)
        if self.center_rewards_coef:
            loss = loss + self.center_rewards_coef * y_pred.square().mean()
        return loss

    # -- reward model -------------------------------------------------------------

    def decision_function(self, X):
        """Reward of every item.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
            ``r(x)``, computed a batch at a time.
        """
        check_is_fitted(self, "n_features_in_")
        checked = check_items(X, n_features=self.n_features_in_)
        return self._forward_numpy(float32_input(X, checked))

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
