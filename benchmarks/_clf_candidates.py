"""Candidate early-stopping criteria for CLF-MLP measured in issue 18, not the library's default.

``HeldOutComparisonsClassifier`` is CLF-MLP whose held-out rows (whole
comparisons, as the default holds out) are scored as comparisons: by the
logistic loss of their reward differences (``valid_loss``), and, with
``rescaled=True``, monitored at the best rescaling of those differences
(``valid_order_loss``). ``bench_clf_noise.py`` and
``bench_clf_noise_grid.py`` compare them with the default (the held-out
rows scored as items, the classifier's own loss), which did as well or
better with less machinery.
"""

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from skorch.callbacks import Callback, EarlyStopping

from skreward import RewardMLP, RewardMLPClassifier
from skreward.models._batching import ArrayDataset


def scale_free_logistic_loss(margins, weights=None):
    """``min over a >= 0`` of the weighted mean of ``log(1 + exp(-a * margin))``.

    The logistic loss of the held-out comparisons after the best rescaling
    of their reward differences: it measures the order alone. A classifier
    of items learns the scale of reward differences only slowly, so its
    unscaled loss on comparisons keeps falling as that scale grows, long
    after the order has started to get worse (``bench_clf_noise.py``).
    """
    margins = np.asarray(margins, dtype=np.float64)
    weights = np.ones_like(margins) if weights is None else np.asarray(weights, np.float64)
    total = max(weights.sum(), np.finfo(np.float64).tiny)

    def loss(scale):
        return float(np.sum(weights * np.logaddexp(0.0, -scale * margins)) / total)

    spread = np.mean(np.abs(margins))
    if not np.isfinite(spread) or spread == 0:
        return loss(0.0)
    best = minimize_scalar(loss, bounds=(0.0, 100.0 / spread), method="bounded")
    return min(best.fun, loss(0.0))


class HeldOutOrderLoss(Callback):
    """Records ``valid_order_loss`` (and ``valid_order_loss_best``) each epoch.

    With held-out comparisons (a validation set of ``(winner, loser)``
    pairs), :func:`scale_free_logistic_loss` of their reward differences;
    with held-out single items (no comparisons to pair them into), the
    epoch's ``valid_loss``.
    """

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        X = getattr(dataset_valid, "X", None)
        if X is None or X.dim() != 3:
            loss = net.history[-1, "valid_loss"]
        else:
            rewards = net.decision_function(X.reshape(-1, X.shape[-1]).numpy()).reshape(-1, 2)
            loss = scale_free_logistic_loss(rewards[:, 0] - rewards[:, 1],
                                            dataset_valid.y[:, 1].numpy())
        earlier = [h["valid_order_loss"] for h in net.history[:-1] if "valid_order_loss" in h]
        net.history.record("valid_order_loss", loss)
        net.history.record("valid_order_loss_best", not earlier or loss < min(earlier))


def paired_rows(rows, labels, weights, groups):
    """``(winners, losers)``: held-out ``rows`` of a classifier as comparisons, or None.

    Each group must hold exactly two of the rows, a winner (label 1) and a
    loser (label 0) of equal weight: ``OrderConsistentClassifier``'s rows
    of one comparison with a hard label. Anything else (soft labels, groups
    such as prompts) is None: the rows stay single items.
    """
    rows, labels, weights = np.asarray(rows), np.asarray(labels), np.asarray(weights)
    group = np.asarray(groups)[rows]
    rows = rows[np.lexsort((-labels[rows], group))]  # by group, the winner first
    group = np.asarray(groups)[rows]
    winners, losers = rows[0::2], rows[1::2]
    if (len(rows) % 2 or not np.array_equal(group[0::2], group[1::2])
            or np.any(group[2::2] == group[1:-1:2]) or np.any(labels[winners] != 1)
            or np.any(labels[losers] != 0) or not np.array_equal(weights[winners],
                                                                 weights[losers])):
        return None
    return winners, losers


class HeldOutComparisonsClassifier(RewardMLPClassifier):
    """CLF-MLP validated on held-out comparisons scored by their reward differences."""

    def __init__(self, module=RewardMLP, *, rescaled=False, **kwargs):
        super().__init__(module, **kwargs)
        self.rescaled = rescaled

    @property
    def _default_callbacks(self):
        callbacks = super()._default_callbacks
        names = [name for name, _ in callbacks]
        if self.rescaled and "valid_loss" in names:
            callbacks.insert(names.index("valid_loss") + 1,
                             ("valid_order_loss", HeldOutOrderLoss()))
            if "early_stopping" in names:
                callbacks[names.index("early_stopping") + 1] = ("early_stopping", EarlyStopping(
                    monitor="valid_order_loss", patience=self.patience, load_best=True))
        return callbacks

    def _logit(self, rewards, labels):
        return rewards if rewards.dim() == 1 else rewards[:, 0] - rewards[:, 1]

    def get_split_datasets(self, X, y=None, sample_weight=None, margin=None, groups=None,
                           **fit_params):
        """The default split, its held-out rows then paired into (winner, loser) comparisons."""
        train, valid = super().get_split_datasets(X, y, sample_weight=sample_weight,
                                                  margin=margin, groups=groups, **fit_params)
        if groups is None or valid is None or self.train_split is not None:
            return train, valid
        dataset = self._weighted_dataset(X, y, sample_weight=sample_weight)
        rows = self._validation_split(len(dataset), groups)[1]  # the same seeded rows
        pairs = paired_rows(rows, dataset.y[:, 0].numpy(), dataset.y[:, 1].numpy(), groups)
        if pairs is None:
            return train, valid
        winners, losers = (torch.as_tensor(index) for index in pairs)
        targets = torch.column_stack([torch.ones(len(winners)), dataset.y[winners, 1]])
        return train, ArrayDataset(torch.stack([dataset.X[winners], dataset.X[losers]], dim=1),
                                   targets)
