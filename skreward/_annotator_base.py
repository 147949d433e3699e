"""What the meta-estimators that annotate their own comparisons share.

:class:`~skreward.SimulatedAnnotator` and :class:`~skreward.active.ActiveAnnotator`
both take items with a golden reward, make comparisons of them, and fit a
reward model (``estimator_``) on those; they score items with it and are
judged by the Spearman correlation of its rewards with the golden ones.
"""

import numpy as np
from sklearn.base import MetaEstimatorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import fit_router
from .metrics import prompt_spearman_score


class AnnotatorMixin(MetaEstimatorMixin):
    """Rewards, score, tags and routing of an estimator fitted on items and golden rewards."""

    def get_metadata_routing(self):
        """``groups`` for the annotator itself, and what its reward model requests.

        Returns
        -------
        routing : MetadataRouter
        """
        return fit_router(self, consumes=True)

    def decision_function(self, X):
        """The learned reward of items.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
        """
        check_is_fitted(self)
        with np.errstate(invalid="ignore", over="ignore"):
            X = validate_data(self, X, reset=False)
        return np.asarray(self.estimator_.decision_function(X), dtype=np.float64).ravel()

    def predict(self, X):
        """The learned reward of items (the same as :meth:`decision_function`).

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
        """
        return self.decision_function(X)

    def score(self, X, y, groups=None):
        """Spearman correlation of the learned and golden rewards.

        Within each prompt and averaged when ``groups`` is given (what
        Best-of-N depends on), else over all items. Use
        :class:`~skreward.BestOfNScorer` to score by Best-of-N.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.
        y : array-like of shape (n_items,)
            Golden rewards.
        groups : array-like of shape (n_items,), default=None
            Prompt ids.

        Returns
        -------
        score : float
        """
        reward = self.decision_function(X)
        groups = np.zeros(len(reward)) if groups is None else groups
        return prompt_spearman_score(y, reward, groups)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
