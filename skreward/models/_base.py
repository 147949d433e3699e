"""The reward-model protocol shared by every reward model of skreward."""

from ..metrics import order_consistency_scorer


class RewardModelMixin:
    """Mixin for reward models: fitted on comparisons, ``decision_function`` scores items.

    Adds ``score(X_pairs, y)``, the order consistency of the reward on
    comparisons, and the input tag that says ``fit`` takes 3-D comparisons.
    """

    def score(self, X, y=None, sample_weight=None):
        """Order consistency of the reward on comparisons.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features)
            Comparisons.
        y : array-like of shape (n_pairs,), default=None
            1 where the first item is preferred; ``None``: always the first.
            Soft labels in [0, 1] give the expected agreement.
        sample_weight : array-like of shape (n_pairs,), default=None
            Weight of each comparison.

        Returns
        -------
        score : float
            Fraction of comparisons ordered as the labels say (ties count half;
            for ties counted wrong, as TRL and RewardBench count them, use
            :func:`~skreward.metrics.order_consistency_scorer` with
            ``ties="wrong"``).
        """
        return order_consistency_scorer(self, X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
