"""Comparisons to features an ordinary estimator can learn from."""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if

from .._validation import check_comparisons, check_items, check_width


def _keeps_rows(self):
    """Only differences keep one row per comparison; pointwise rows need fit_resample."""
    return self.output == "difference"


class PairwiseTransformer(BaseEstimator):
    """Turn comparisons into rows that an ordinary estimator can learn from.

    Parameters
    ----------
    output : {"pointwise", "difference"}, default="pointwise"
        ``"pointwise"``: the items of every comparison as rows, labelled 1
        (preferred) or 0, as the classification reward model of Sun et al.
        (2025) trains. ``"difference"``: the difference ``x_first - x_second``
        of every comparison; :meth:`fit_resample` adds the mirrored
        difference with the flipped label, so both classes are present even
        when the first item is always the preferred one. A linear classifier
        without intercept on differences is the linear Bradley-Terry model.

    Attributes
    ----------
    n_features_in_ : int
        Features of each item.

    Notes
    -----
    The resampler API (:meth:`fit_resample`) changes the number of rows, as
    imbalanced-learn's samplers do. With ``output="difference"``,
    :meth:`transform` keeps the rows, so the transformer is also a step of
    scikit-learn's :class:`~sklearn.pipeline.Pipeline`: comparisons become
    differences and items (2-D input) pass through unchanged, so the fitted
    pipeline's ``decision_function`` on items is the reward. Fitting that
    pipeline needs labels with both orders (e.g. simulated annotations).
    imbalanced-learn's Pipeline refuses steps with both ``transform`` and
    ``fit_resample``; there use ``output="pointwise"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skreward import PairwiseTransformer
    >>> X = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 2.0], [2.0, 0.0]]])
    >>> Xp, yp = PairwiseTransformer("pointwise").fit_resample(X, [1, 0])
    >>> Xp.tolist(), yp.tolist()
    ([[1.0, 0.0], [0.0, 2.0], [0.0, 1.0], [2.0, 0.0]], [1, 0, 0, 1])
    >>> PairwiseTransformer("difference").fit_transform(X).tolist()
    [[1.0, -1.0], [-2.0, 2.0]]
    >>> linear_bt = make_pipeline(PairwiseTransformer("difference"),
    ...                           LogisticRegression(fit_intercept=False))
    >>> linear_bt.fit(X, [1, 0]).decision_function([[3.0, 0.0], [0.0, 3.0]]) > 0
    array([ True, False])
    """

    _parameter_constraints = {"output": [StrOptions({"pointwise", "difference"})]}

    def __init__(self, output="pointwise"):
        self.output = output

    def fit(self, X, y=None):
        """Check the comparisons and record their width; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features)
            Comparisons.
        y : array-like of shape (n_pairs,), default=None
            1 where the first item is preferred; ``None``: always the first.

        Returns
        -------
        self : PairwiseTransformer
        """
        self._validate_params()
        X, _ = check_comparisons(X, y)
        self.n_features_in_ = X.shape[2]
        return self

    def fit_resample(self, X, y=None):
        """Rows and labels for a binary classifier (the number of rows changes).

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features)
            Comparisons.
        y : array-like of shape (n_pairs,), default=None
            1 where the first item is preferred; ``None``: always the first.

        Returns
        -------
        X_resampled : ndarray of shape (2 * n_pairs, n_features)
            ``pointwise``: first items, then second items. ``difference``:
            differences, then mirrored differences.
        y_resampled : ndarray of shape (2 * n_pairs,)
            1 for a preferred item (or a difference from the preferred item).
        """
        self.fit(X, y)
        X, y = check_comparisons(X, y)
        first, second = X[:, 0], X[:, 1]
        if self.output == "difference":
            first, second = first - second, second - first
        return np.concatenate([first, second]), np.concatenate([y, 1 - y])

    @available_if(_keeps_rows)
    def transform(self, X):
        """Differences of comparisons; items (2-D) pass through.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_items, n_features)
            Comparisons, or items to be scored.

        Returns
        -------
        X_out : ndarray of shape (n_pairs, n_features) or (n_items, n_features)
            ``x_first - x_second``, or the items unchanged.
        """
        n_features = getattr(self, "n_features_in_", None)
        if np.ndim(X) == 2:
            return check_items(X, n_features=n_features, estimator=self)
        X, _ = check_comparisons(X)
        check_width(X, n_features, self)
        return X[:, 0] - X[:, 1]

    @available_if(_keeps_rows)
    def fit_transform(self, X, y=None):
        """Fit, then return the differences of the comparisons.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features)
            Comparisons.
        y : array-like of shape (n_pairs,), default=None
            Labels, only checked; they pass to the next step unchanged.

        Returns
        -------
        X_out : ndarray of shape (n_pairs, n_features)
        """
        return self.fit(X, y).transform(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.requires_fit = False
        tags.transformer_tags = TransformerTags()
        return tags
