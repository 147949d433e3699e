"""LengthControlledReward: a reward model's reward with its log-length part removed."""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metadata_routing import _routing_enabled, process_routing
from sklearn.utils.validation import check_is_fitted

from ._base import RewardModelMixin
from .._validation import check_comparisons, check_items, check_sample_weight, fit_router


class LengthControlledReward(RewardModelMixin, MetaEstimatorMixin, BaseEstimator):
    """A reward model's reward with the part explained by response length removed.

    Reward models learn whatever predicts the labels, and length often does:
    annotators and LLM judges favour long (or, for harmlessness, short)
    answers, so a reward can end up mostly measuring length. This wrapper
    fits ``clone(estimator)`` on the comparisons, then decomposes the
    preference as length-controlled leaderboards do (a regression of the
    labels on the length difference, as in length-controlled AlpacaEval):

    1. ``length_slope_``: the slope of the reward difference on the log-length
       difference over the training comparisons (least squares through the
       origin), the part of the reward that log-length explains; the
       residual reward ``r(x) - length_slope_ * log(1 + length(x))`` is
       uncorrelated with log-length on those comparisons;
    2. a logistic regression of the labels on the residual reward difference
       and the log-length difference (no intercept, both orders of every
       comparison, a light ridge penalty on standardised inputs):
       ``P(a > b) = sigmoid(reward_coef_ * d_residual + length_coef_ * d_log_length)``.

    The reward is ``reward_coef_ * residual``: the model's preference at
    equal length, on the labels' Bradley-Terry scale. ``length_coef_`` is
    what length is worth to the annotator beyond that (log-odds per unit of
    log-length). Quality that truly comes with length is removed as well;
    compare Best-of-N with and without the control to see the cost.

    The lengths travel as a feature column, so that comparisons, items,
    cross-validation splits, pipelines and scorers need nothing extra:
    append them to the features (e.g. ``np.column_stack([X_items,
    lengths])`` for items, ``np.concatenate([X_pairs, lengths[..., None]],
    axis=-1)`` for comparisons). The reward model never sees that column.

    Parameters
    ----------
    estimator : reward model
        Fitted on comparisons without the length column, with a
        ``decision_function`` on items (:class:`~skreward.BTRegressor`,
        :class:`~skreward.OrderConsistentClassifier`, a linear BT pipeline,
        ...). It is cloned.
    length_column : int, default=-1
        Index of the feature that holds the length of each response
        (characters or tokens; :func:`~skreward.metrics.response_lengths`
        counts characters). Negative indices count from the end.
    log_length : bool, default=True
        ``True``: the column holds lengths (non-negative), controlled for as
        ``log(1 + length)``. ``False``: the column is used as it is (e.g. a
        log-length computed beforehand, or any other covariate).

    Attributes
    ----------
    estimator_ : reward model
        The fitted clone of ``estimator``, on the features without the length.
    length_slope_ : float
        Reward per unit of log-length of ``estimator_``, removed from its reward.
    reward_coef_ : float
        Coefficient of the residual reward difference in the label regression.
    length_coef_ : float
        Coefficient of the log-length difference in the label regression.
    n_features_in_ : int
        Features of each item, the length column included.

    See Also
    --------
    skreward.metrics.length_correlation : How much a reward follows length.

    Examples
    --------
    Labels that favour long answers, whatever their quality:

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import LengthControlledReward, OrderConsistentClassifier
    >>> from skreward.metrics import length_correlation
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(2000, 2, 5))                   # two answers per prompt
    >>> lengths = rng.lognormal(5, 1, size=(2000, 2))       # characters
    >>> X[:, :, 4] += np.log(lengths)                       # features reveal the length
    >>> quality = X[:, :, 0]
    >>> y = (quality[:, 0] - quality[:, 1] + np.log(lengths[:, 0] / lengths[:, 1])
    ...      + rng.logistic(size=2000) > 0).astype(int)
    >>> X_pairs = np.concatenate([X, lengths[..., None]], axis=-1)
    >>> model = LengthControlledReward(OrderConsistentClassifier(LogisticRegression()))
    >>> model = model.fit(X_pairs, y)
    >>> items, groups = X_pairs.reshape(-1, 6), np.repeat(np.arange(2000), 2)
    >>> raw = model.estimator_.decision_function(items[:, :5])
    >>> controlled = model.decision_function(items)
    >>> bool(length_correlation(items[:, 5], raw, groups) > 0.2)
    True
    >>> bool(abs(length_correlation(items[:, 5], controlled, groups)) < 0.1)
    True
    """

    __metadata_request__fit = {"sample_weight": True}

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "decision_function"])],
        "length_column": [Interval(numbers.Integral, None, None, closed="neither")],
        "log_length": ["boolean"],
    }

    def __init__(self, estimator, *, length_column=-1, log_length=True):
        self.estimator = estimator
        self.length_column = length_column
        self.log_length = log_length

    @_fit_context(prefer_skip_nested_validation=False)  # the reward model validates its own
    def fit(self, X, y=None, **fit_params):
        """Fit the reward model without the length column, then the length regression.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features)
            Comparisons; feature ``length_column`` holds each response's length.
        y : array-like of shape (n_pairs,), default=None
            1 where the first item is preferred (or -1/+1); ``None``: the
            first item is always the preferred one.
        **fit_params : dict
            Passed to the reward model's ``fit`` (with metadata routing
            enabled: those it requests). ``sample_weight``, one weight per
            comparison, also weighs the length regression; the wrapper
            requests it for itself.

        Returns
        -------
        self : LengthControlledReward
        """
        X, y = check_comparisons(X, y)
        column = self._column(X.shape[2])
        weight = fit_params.get("sample_weight")
        weight = None if weight is None else check_sample_weight(weight, len(X))
        if _routing_enabled():
            fit_params = process_routing(self, "fit", **fit_params).estimator.fit
        log_length = self._log_length(X[:, :, column], "X")
        features = np.delete(X, column, axis=2)
        self.estimator_ = clone(self.estimator).fit(features, y, **fit_params)
        reward = self._reward(features.reshape(-1, features.shape[2])).reshape(-1, 2)
        d_reward, d_length = reward[:, 0] - reward[:, 1], log_length[:, 0] - log_length[:, 1]
        w = np.ones(len(X)) if weight is None else weight
        spread = np.sum(w * d_length ** 2)
        self.length_slope_ = float(np.sum(w * d_reward * d_length) / spread) if spread > 0 else 0.0
        residual = d_reward - self.length_slope_ * d_length
        self.reward_coef_, self.length_coef_ = _label_regression(residual, d_length, y, w)
        if self.reward_coef_ <= 0:
            warnings.warn(
                f"LengthControlledReward: at equal length, the reward model's order does not "
                f"agree with the labels (reward_coef_={self.reward_coef_:.3g}), so the "
                "length-controlled reward orders items against it; the reward model may be "
                "little more than a length meter on these data.", UserWarning, stacklevel=2)
        self.n_features_in_ = X.shape[2]
        return self

    def get_metadata_routing(self):
        """``sample_weight`` for the wrapper itself; ``fit``'s metadata to the reward model.

        Returns
        -------
        routing : MetadataRouter
        """
        return fit_router(self, consumes=True)

    def decision_function(self, X):
        """The length-controlled reward of items.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items; feature ``length_column`` holds each response's length.

        Returns
        -------
        reward : ndarray of shape (n_items,)
            ``reward_coef_ * (r(x) - length_slope_ * log(1 + length))``.
        """
        check_is_fitted(self)
        X = check_items(X, n_features=self.n_features_in_, estimator=self)
        column = self._column(X.shape[1])
        log_length = self._log_length(X[:, column], "X")
        reward = self._reward(np.delete(X, column, axis=1))
        return self.reward_coef_ * (reward - self.length_slope_ * log_length)

    def _reward(self, items):
        return np.asarray(self.estimator_.decision_function(items), dtype=np.float64).ravel()

    def _column(self, n_features):
        """``length_column`` as a non-negative index, checked against the width."""
        if not -n_features <= self.length_column < n_features:
            raise ValueError(f"length_column={self.length_column} is out of range for items of "
                             f"{n_features} features; it must index the column of lengths.")
        if n_features < 2:
            raise ValueError(f"X has {n_features} feature; LengthControlledReward needs the "
                             "length column and at least one feature for the reward model.")
        return self.length_column % n_features

    def _log_length(self, values, input_name):
        values = np.asarray(values, dtype=np.float64)
        if not self.log_length:
            return values
        if values.min() < 0:
            raise ValueError(
                f"{input_name}: column length_column={self.length_column} must hold response "
                f"lengths >= 0 (characters or tokens); got {values.min():g}. Append the "
                "lengths as that column, or pass log_length=False for a column already "
                "transformed.")
        return np.log1p(values)


def _label_regression(residual, d_length, y, weight):
    """Coefficients of ``logit P(first) = a * residual + b * d_length``, both orders of each pair."""
    scale = np.array([_rms(residual, weight), _rms(d_length, weight)])
    scale[scale == 0] = 1.0
    Z = np.column_stack([residual, d_length]) / scale
    sign = np.where(y == 1, 1.0, -1.0)
    rows = np.concatenate([Z * sign[:, None], -Z * sign[:, None]])
    labels = np.repeat([1, 0], len(Z))
    glm = LogisticRegression(C=1.0, fit_intercept=False).fit(
        rows, labels, sample_weight=np.concatenate([weight, weight]))
    a, b = glm.coef_.ravel() / scale
    return float(a), float(b)


def _rms(values, weight):
    return float(np.sqrt(np.sum(weight * values ** 2) / np.sum(weight)))
