"""The Plackett-Luce reward model: a scoring network trained on rankings of ``k`` items."""

from numbers import Integral

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import Interval
from skorch.dataset import Dataset as SkorchDataset
from skorch.utils import is_dataset
from torch import nn

from .._rankings import check_ranking_array, check_rankings
from .._validation import check_comparison_labels
from ._base import RewardModelMixin
from ._modules import RewardMLP
from ._nets import NET_PARAMETER_CONSTRAINTS, RewardNet


class PlackettLuceLoss(nn.Module):
    """Negative log-likelihood of rankings under Plackett-Luce, one value per ranking.

    ``input``: rewards ``(n, k)`` of each ranking's items in preferred order;
    ``target``: ranked items ``m`` of each ranking (``k`` for a full ranking).
    The loss is ``sum_{j < m} [logsumexp(r_j, ..., r_{k-1}) - r_j]``: each
    ranked item is chosen, by a softmax of the rewards, among the items not
    yet chosen. For ``k = 2`` it is ``-log sigmoid(r_0 - r_1)``, the
    Bradley-Terry loss.
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        # Rewards relative to the first item's: the loss is shift-invariant, and this way
        # its gradient is too (for k = 2 exactly, as Bradley-Terry's): a common shift of
        # the rewards (the module's output bias) gets no rounding noise that Adam's step
        # normalisation would amplify.
        diff = input - input[:, :1]
        # log-sum-exp of every suffix d_j, ..., d_{k-1}, as a reversed cumulative one
        suffix = torch.logcumsumexp(diff.flip(-1), dim=-1).flip(-1)
        ranked = torch.arange(input.shape[-1], device=input.device) < target[:, None]
        ranked[:, -1] = False  # the last choice, among one item, is certain
        loss = torch.where(ranked, suffix - diff, torch.zeros_like(diff)).sum(-1)
        return loss if self.reduction == "none" else getattr(loss, self.reduction)()


class PlackettLuceRegressor(RewardModelMixin, RegressorMixin, RewardNet):
    """Plackett-Luce reward model: a scoring network trained on rankings of ``k`` items.

    The scoring ``module`` gives every item a reward ``r``; a ranking
    ``x_1 > x_2 > ... > x_k`` has the Plackett-Luce probability
    ``prod_j softmax(r(x_j), ..., r(x_k))[0]``, each item chosen among those
    not yet ranked, and the loss is its negative log (listwise, as the
    k-wise losses asked of TRL and used by InstructGPT for rankings of 4 to
    9 responses). For ``k = 2`` it is exactly the Bradley-Terry loss of
    :class:`~skreward.BTRegressor`, so this model is a reward model like any
    other: it fits comparisons ``(n_pairs, 2, n_features)`` with labels, and
    scores items with ``decision_function``.

    ``fit(X, y=None, sample_weight=None)`` takes rankings ``(n_rankings, k,
    n_features)``. ``y=None``: every ranking is in preferred order, the best
    first. ``y`` of shape ``(n_rankings, k)``: the order, row ``i`` listing
    the positions of ``X[i]``'s items from the best to the worst, with
    ``-1`` after the ranked ones for a partial ranking (the top ``m`` of
    ``k``). For ``k = 2``, ``y`` may also be comparison labels (1: the
    first item preferred; {-1, +1} and booleans too); soft labels are not
    taken (use :class:`~skreward.BTRegressor`). ``sample_weight`` weights
    each ranking's term of the loss. For decompositions of rankings into
    comparisons, and the classification reward, see
    :func:`~skreward.ranking_to_pairs`.

    Parameters
    ----------
    module : torch module class or instance, default=RewardMLP
        Scoring network from items ``(batch, n_features)`` to rewards ``(batch,)``.
    top_m : int or None, default=None
        Ranked items of every ranking when ``y`` is None: the first ``top_m``
        of each are ranked, the rest are only known to be worse (top-m
        annotation). ``None``: all ``k``.
    criterion : torch loss class or None, default=None
        Loss of ``(rewards (n, k) in preferred order, ranked items m)``, one
        value per ranking; ``None`` picks the Plackett-Luce loss (``PlackettLuceLoss``).
    batch_size : int, default=128
        Rankings per step (each gives ``k`` items to the module).
    {net_parameters}

    Attributes
    ----------
    {net_attributes}

    See Also
    --------
    BTRegressor : The same network on comparisons.
    simulate_rankings : Rankings annotated from a golden reward.

    Examples
    --------
    >>> from skreward import PlackettLuceRegressor, simulate_rankings
    >>> from skreward.datasets import make_preference_testbed
    >>> from skreward.metrics import best_of_n_score
    >>> data = make_preference_testbed(n_prompts=100, n_test_prompts=10, n_candidates=32,
    ...                                random_state=0)
    >>> sim = simulate_rankings(data.golden, data.groups, n_rankings=500, k=4, beta=10,
    ...                         random_state=0)
    >>> model = PlackettLuceRegressor(module__hidden_sizes=(32,), max_epochs=5, lr=1e-2,
    ...                               random_state=0)
    >>> model = model.fit(sim.take(data.X))  # each ranking in preferred order
    >>> rewards = model.predict(data.X_test)
    >>> rewards.shape
    (320,)
    >>> bool(best_of_n_score(data.golden_test, rewards, data.groups_test, n=16) > 0)
    True
    """

    _parameter_constraints = {
        **NET_PARAMETER_CONSTRAINTS,
        "top_m": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, module=RewardMLP, *, top_m=None, criterion=None, batch_size=128,
                 **kwargs):
        super().__init__(module, criterion=criterion, batch_size=batch_size, **kwargs)
        self.top_m = top_m

    # -- the hooks of RewardNet ---------------------------------------------------

    def _ranked(self, X, y):
        """Rankings in preferred order and the ranked items of each."""
        X = check_ranking_array(X, input_name="X", distinct=False)
        if y is not None and (np.ndim(y) == 1 or np.shape(y)[1:] == (1,)):
            if X.shape[1] != 2:
                raise ValueError(
                    "y must be the order of every ranking, shape (n_rankings, k): positions "
                    "from best to worst (-1 for unranked). One label per row codes "
                    f"comparisons only, X of shape (n_pairs, 2, n_features); X has k={X.shape[1]}.")
            y = check_comparison_labels(y, len(X), soft=True)  # 1: the first preferred
            soft = (y != 0) & (y != 1)
            if soft.any():
                row = int(np.flatnonzero(soft)[0])
                raise ValueError(
                    "y must hold labels in {0, 1} or {-1, 1} (1: the first item is preferred): "
                    f"{type(self).__name__} takes orders, not soft labels or ties; "
                    f"comparison {row} has the label {float(y[row])!r}. Fit ties (label 0.5) with "
                    "TieAwareBTRegressor, soft labels with BTRegressor.")
            return check_rankings(X, np.where(y[:, None] == 1, [0, 1], [1, 0]), input_name="X",
                                  order_name="y")
        top_m = self.top_m if y is None else None
        return check_rankings(X, y, top_m, input_name="X", order_name="y")

    def check_data(self, X, y=None):
        """Validate rankings and their order, and size the module for their features."""
        if is_dataset(X):
            self._size_module(self._dataset_width(X))
            return
        X, _ = self._ranked(X, y)
        self._size_module(X.shape[2])

    def get_dataset(self, X, y=None):
        """Each ranking's items in preferred order; the target holds its ranked items ``m``."""
        if is_dataset(X) or self.dataset is not SkorchDataset or np.ndim(X) != 3:
            return super().get_dataset(X, y)
        X, n_ranked = self._ranked(X, y)
        return super().get_dataset(X, n_ranked)

    def _labels(self, X, y):
        if X.ndim == 3:
            return np.asarray(y, dtype=np.float64)  # ranked items per ranking
        return np.zeros(len(X))

    def _default_criterion(self):
        return PlackettLuceLoss

    def _logit(self, rewards, labels):
        """The rewards of each ranking's items: the Plackett-Luce loss reads them whole."""
        return rewards

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
