"""CalibratedReward: normalised rewards, preference probabilities, rewards on a golden scale."""

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metadata_routing import MethodMapping, _routing_enabled, process_routing
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import RewardModelMixin
from ._pairwise import PairwiseTransformer
from .._validation import (check_comparisons, check_items, check_sample_weight, fit_router,
                           is_sample_aligned)


class CalibratedReward(RewardModelMixin, MetaEstimatorMixin, BaseEstimator):
    """A reward model's reward, normalised or calibrated, with its training statistics.

    A reward model's scale is arbitrary: a classifier's logit, a network's
    output. This meta-estimator fits ``clone(estimator)`` and, as
    :class:`~sklearn.calibration.CalibratedClassifierCV` does for
    probabilities, learns a monotone map of its reward on data the reward
    model did not see (the out-of-fold rewards of a cross-validation, or all
    of ``fit``'s data when ``estimator`` is a
    :class:`~sklearn.frozen.FrozenEstimator` of a fitted model):

    * ``"normalize"``: ``(r - mean) / std`` with the mean and standard
      deviation of the training rewards (OpenRLHF's ``normalize_reward``);
    * ``"sigmoid"`` (Platt): ``P(a > b) = sigmoid(s * (r(a) - r(b)))``, a
      logistic regression without intercept of the labels on the reward
      differences of held-out comparisons (both orders of each), so the
      calibrated reward ``s * (r - mean)`` is on the labels' Bradley-Terry
      scale and :meth:`preference_proba` gives calibrated probabilities;
    * ``"isotonic"``: an isotonic regression of the golden reward on the
      reward, for items with golden rewards (``fit(X_items, golden)``, e.g.
      with a :class:`~skreward.SimulatedAnnotator`); the calibrated reward
      is on the golden scale.

    The reward's order is kept by all three (isotonic regression may tie
    rewards), so Best-of-N choices do not change. Every method stores
    ``reward_mean_`` and ``reward_std_``, which :func:`skreward.save` writes
    into the model card.

    Parameters
    ----------
    estimator : reward model
        Fitted on comparisons (``"normalize"``, ``"sigmoid"``) or on items
        with golden rewards (``"isotonic"``: a
        :class:`~skreward.SimulatedAnnotator`), with a ``decision_function``
        on items. It is cloned. A :class:`~sklearn.frozen.FrozenEstimator`
        of a fitted reward model is used as it is, and calibrated on all of
        ``fit``'s data (held out from its training by the user).
    method : {"sigmoid", "isotonic", "normalize"}, default="sigmoid"
        The map from reward to calibrated reward, as above.
    cv : int, cross-validation generator or iterable, default=5
        Splits of ``fit``'s data that give the held-out rewards, as in
        :func:`~sklearn.model_selection.check_cv` (``KFold`` for an int);
        ``groups`` passed to ``fit`` reach the splitter (e.g.
        :class:`~sklearn.model_selection.GroupKFold` with prompt ids). The
        final reward model is fitted on all the data. Ignored for a
        ``FrozenEstimator``.

    Attributes
    ----------
    estimator_ : reward model
        The reward model fitted on all the data (or the frozen one).
    reward_mean_, reward_std_ : float
        Mean and standard deviation of ``estimator_``'s rewards of the
        training items.
    scale_ : float
        ``"sigmoid"``: the Platt slope ``s``.
    calibrator_ : LogisticRegression or IsotonicRegression or None
        The fitted map (``None`` for ``"normalize"``).
    n_train_samples_ : int
        Comparisons (or items, for ``"isotonic"``) that ``fit`` received.
    n_features_in_ : int
        Features of each item.

    See Also
    --------
    sklearn.calibration.CalibratedClassifierCV : The same idea for classifiers.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import CalibratedReward, OrderConsistentClassifier, simulate_comparisons
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=100, random_state=0)
    >>> sim = simulate_comparisons(data.golden, data.groups, n_pairs=1000, beta=1,
    ...                            random_state=0)
    >>> model = CalibratedReward(OrderConsistentClassifier(LogisticRegression()), cv=3)
    >>> model = model.fit(sim.take(data.X), sim.y)
    >>> proba = model.preference_proba(sim.take(data.X)[:3])
    >>> bool(((proba > 0) & (proba < 1)).all())
    True
    """

    # sample_weight also weighs the calibration and the reward statistics
    __metadata_request__fit = {"sample_weight": True}
    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "decision_function"])],
        "method": [StrOptions({"sigmoid", "isotonic", "normalize"})],
        "cv": ["cv_object"],
    }

    def __init__(self, estimator, *, method="sigmoid", cv=5):
        self.estimator = estimator
        self.method = method
        self.cv = cv

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **fit_params):
        """Fit the reward model and the calibration on its held-out rewards.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_items, n_features)
            Comparisons; items for ``method="isotonic"``.
        y : array-like of shape (n_pairs,) or (n_items,), default=None
            Labels of the comparisons (``None``: the first item is always
            preferred); the golden rewards of the items for ``"isotonic"``.
        **fit_params : dict
            Passed to the reward model's ``fit``, sliced for each fold when
            they hold one value per sample (with metadata routing enabled:
            those it requests). ``groups`` also reaches the splitter.
            ``sample_weight``, one weight per comparison (or item), also
            weighs the calibration and the mean and standard deviation.

        Returns
        -------
        self : CalibratedReward
        """
        items = self.method == "isotonic"
        if items:
            X = check_items(X, input_name="X")
            if y is None:
                raise ValueError(
                    "method='isotonic' needs the golden reward of every item: "
                    "fit(X_items, golden). Without golden rewards use method='sigmoid' on "
                    "comparisons.")
            y = column_or_1d(np.asarray(y, dtype=np.float64), warn=True)
            if len(y) != len(X) or not np.isfinite(y).all():
                raise ValueError(f"y must hold one finite golden reward per item: got "
                                 f"{len(y)} values for {len(X)} items.")
        else:
            X, y = check_comparisons(X, y)
        weight = fit_params.get("sample_weight")
        weight = None if weight is None else check_sample_weight(weight, len(X))
        if _routing_enabled():
            routed = process_routing(self, "fit", **fit_params)
            params, split_params = routed.estimator.fit, routed.splitter.split
        else:
            params = {k: v for k, v in fit_params.items() if k != "groups"}  # the splitter's
            split_params = {"groups": fit_params.get("groups")}
        if isinstance(self.estimator, FrozenEstimator):
            self.estimator_ = self.estimator
            held_out = self._rewards(self.estimator_, X)
        else:
            held_out = np.empty(X.shape[:2] if not items else len(X))
            cv = check_cv(self.cv, y, classifier=False)
            times_held_out = np.zeros(len(X), dtype=int)
            for train, test in cv.split(X, y, **split_params):
                fold = {k: _safe_indexing(v, train) if is_sample_aligned(v, len(X)) else v
                        for k, v in params.items()}
                model = clone(self.estimator).fit(X[train], y[train], **fold)
                held_out[test] = self._rewards(model, X[test])
                times_held_out[test] += 1
            if not (times_held_out == 1).all():  # every row needs exactly one held-out reward
                raise ValueError(
                    f"cv must hold out every row exactly once (a partition, as KFold and "
                    f"GroupKFold make); {cv!r} held out "
                    f"{int((times_held_out == 0).sum())} rows never and "
                    f"{int((times_held_out > 1).sum())} more than once.")
            self.estimator_ = clone(self.estimator).fit(X, y, **params)
        rewards = self._rewards(self.estimator_, X)
        item_weight = None if weight is None else np.broadcast_to(
            weight.reshape(-1, *[1] * (rewards.ndim - 1)), rewards.shape).ravel()
        self.reward_mean_ = float(np.average(rewards.ravel(), weights=item_weight))
        std = float(np.sqrt(np.average((rewards.ravel() - self.reward_mean_) ** 2,
                                       weights=item_weight)))
        self.reward_std_ = std if std > 0 else 1.0
        self.scale_, self.calibrator_ = 1.0, None
        if self.method == "sigmoid":
            diff, label = PairwiseTransformer("difference").fit_resample(
                held_out[:, :, None], y)
            self.calibrator_ = LogisticRegression(fit_intercept=False, C=1e6).fit(
                diff, label, sample_weight=None if weight is None else np.tile(weight, 2))
            self.scale_ = float(self.calibrator_.coef_.ravel()[0])
        elif items:
            self.calibrator_ = IsotonicRegression(out_of_bounds="clip").fit(
                held_out, y, sample_weight=weight)
        self.n_train_samples_ = len(X)
        self.sample_kind_ = "items" if items else "comparisons"
        self.n_features_in_ = X.shape[-1]
        return self

    @staticmethod
    def _rewards(model, X):
        if X.ndim == 2:
            return np.asarray(model.decision_function(X), dtype=np.float64)
        return np.asarray(model.decision_function(X.reshape(-1, X.shape[2])),
                          dtype=np.float64).reshape(len(X), 2)

    def get_metadata_routing(self):
        """Route ``fit``'s metadata to the reward model's ``fit`` and the splitter.

        Returns
        -------
        routing : MetadataRouter
        """
        return fit_router(self, consumes=True).add(
            splitter=check_cv(self.cv),
            method_mapping=MethodMapping().add(caller="fit", callee="split"))

    def raw_reward(self, X):
        """The reward model's own, uncalibrated reward of items.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
        """
        check_is_fitted(self)
        X = check_items(X, n_features=self.n_features_in_, estimator=self)
        return np.asarray(self.estimator_.decision_function(X), dtype=np.float64)

    def decision_function(self, X):
        """The calibrated (or normalised) reward of items.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
            ``"normalize"``: ``(r - reward_mean_) / reward_std_``;
            ``"sigmoid"``: ``scale_ * (r - reward_mean_)``;
            ``"isotonic"``: the golden-scale reward.
        """
        raw = self.raw_reward(X)
        if self.method == "isotonic":
            return self.calibrator_.predict(raw)
        if self.method == "normalize":
            return (raw - self.reward_mean_) / self.reward_std_
        return self.scale_ * (raw - self.reward_mean_)

    def predict(self, X):
        """The calibrated reward of items (the same as :meth:`decision_function`).

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
        """
        return self.decision_function(X)

    def preference_proba(self, X):
        """Probability that the first item of each comparison is preferred.

        ``sigmoid(c(a) - c(b))`` of the calibrated rewards ``c``: calibrated
        for ``method="sigmoid"``; for the other methods, the Bradley-Terry
        probability on their scale (standard deviations, golden units).

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features)
            Comparisons.

        Returns
        -------
        proba : ndarray of shape (n_pairs,)
        """
        X, _ = check_comparisons(X)
        reward = self.decision_function(X.reshape(-1, X.shape[2])).reshape(len(X), 2)
        return expit(reward[:, 0] - reward[:, 1])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = None
        return tags
