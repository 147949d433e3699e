"""The classification reward model: any binary classifier's logit as the reward."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone, is_regressor
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metadata_routing import _routing_enabled, process_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._base import RewardModelMixin
from ._logit import RESPONSE_METHODS, check_logit_readable, estimator_has, read_logit
from ._nets import RewardNet
from ._pairwise import PairwiseTransformer
from .._validation import check_comparisons, check_items, fit_router, is_sample_aligned


def _per_row(value, n_pairs):
    """A per-comparison value repeated for the two rows of its comparison (winners, then losers).

    Other values (not one per comparison) pass unchanged, as scikit-learn's
    searches treat metadata that is not sample-aligned.
    """
    if is_sample_aligned(value, n_pairs):
        return np.concatenate([np.asarray(value)] * 2)
    return value


def _soft_rows(X, y, rows):
    """Rows of comparisons with soft labels: each item a winner and a loser, weighted by ``y``.

    A comparison whose first item is preferred with probability ``y`` gives
    (first, 1) and (second, 0) of weight ``y``, and (first, 0) and
    (second, 1) of weight ``1 - y``: the weighted log-loss of these rows is
    the cross-entropy of each item with soft target ``y`` (or ``1 - y``), so
    any classifier that takes ``sample_weight`` learns from soft labels.
    Rows of weight 0 are left out. ``rows``: fit parameters already per row.
    """
    n = len(X)
    X_rows = np.concatenate([X[:, 0], X[:, 1], X[:, 0], X[:, 1]])
    y_rows = np.concatenate([np.ones(n), np.zeros(n), np.zeros(n), np.ones(n)]).astype(np.int64)
    weight = np.concatenate([y, y, 1 - y, 1 - y])
    rows = {key: np.concatenate([np.asarray(v)] * 2) if is_sample_aligned(v, 2 * n) else v
            for key, v in rows.items()}
    if rows.get("sample_weight") is not None:
        weight = weight * np.asarray(rows["sample_weight"], dtype=np.float64)
    keep = weight > 0
    rows = {key: np.asarray(v)[keep] if is_sample_aligned(v, 4 * n) else v
            for key, v in rows.items()}
    rows["sample_weight"] = weight[keep]
    return X_rows[keep], y_rows[keep], rows


class OrderConsistentClassifier(RewardModelMixin, ClassifierMixin, MetaEstimatorMixin,
                                BaseEstimator):
    """Classification reward model: a binary classifier of winners and losers.

    Every comparison gives two rows: the preferred item labelled 1 and the
    other labelled 0. ``estimator`` (any binary classifier) is fitted on
    them, and its logit of "winner" is the reward. Sun, Shen & Ton (2025)
    show this reward is order consistent and more robust to annotation noise
    than the Bradley-Terry model.

    Parameters
    ----------
    estimator : classifier
        Binary classifier with ``fit`` and ``predict_proba`` or
        ``decision_function`` (scikit-learn, ``LGBMClassifier``, a skorch
        net, ...). It is cloned, never modified.
    response_method : {"auto", "decision_function", "raw_score", "predict_proba"}, \
default="auto"
        How the reward is read from the classifier. ``"auto"`` takes the
        first exact logit available: ``decision_function``, then LightGBM's
        ``predict(raw_score=True)``, else ``logit(predict_proba)`` with
        probabilities clipped to ``[1e-7, 1 - 1e-7]``.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (2,)
        ``[0, 1]``: loser, winner.
    n_features_in_ : int
        Features of each item.

    Examples
    --------
    >>> from lightgbm import LGBMClassifier
    >>> from skreward import OrderConsistentClassifier, simulate_comparisons
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=200, random_state=0)
    >>> sim = simulate_comparisons(data.golden, data.groups, n_pairs=2000, beta=10,
    ...                            random_state=0)
    >>> model = OrderConsistentClassifier(LGBMClassifier(n_estimators=50, verbose=-1))
    >>> model = model.fit(sim.take(data.X), sim.y)
    >>> rewards = model.decision_function(data.X_test)
    >>> rewards.shape == data.golden_test.shape
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "response_method": [StrOptions(RESPONSE_METHODS)],
    }

    def __init__(self, estimator, *, response_method="auto"):
        self.estimator = estimator
        self.response_method = response_method

    def fit(self, X, y=None, **fit_params):
        """Fit the classifier on the winners and losers of the comparisons.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features)
            Comparisons.
        y : array-like of shape (n_pairs,), default=None
            1 where the first item is preferred (or -1/+1); ``None``: the
            first item is always the preferred one. Soft labels in [0, 1]
            (the probability that the first item is preferred, e.g.
            annotator agreement) become weights: each item is a winner with
            weight ``y`` (or ``1 - y``) and a loser with the rest, which is
            the cross-entropy with soft targets; the classifier's ``fit``
            must then take ``sample_weight``.
        **fit_params : dict
            Passed to the classifier's ``fit`` (with metadata routing
            enabled: those it requests, e.g. by
            ``estimator.set_fit_request(sample_weight=True)``). A parameter
            with one value per comparison, such as ``sample_weight``, gives
            its value to both rows (winner and loser) of that comparison.
            A neural classifier (a ``RewardMLPClassifier``) also gets
            ``groups``, one per comparison unless passed, so that its
            validation hold-out keeps both rows of a comparison together.
            A ``margin`` is refused: it shifts a comparison's reward
            difference, which a classifier of single items does not have
            (use :class:`~skreward.BTRegressor`, or express the strength of
            a preference as a soft label or ``sample_weight``).

        Returns
        -------
        self : OrderConsistentClassifier
        """
        self._validate_params()
        if is_regressor(self.estimator):
            raise ValueError(
                f"estimator must be a binary classifier; got the regressor "
                f"{type(self.estimator).__name__}, which has no logit to read the reward from. "
                "Use a classifier (e.g. LogisticRegression), or BTRegressor for a reward "
                "network."
            )
        X, y = check_comparisons(X, y, soft=True)
        if fit_params.get("margin") is not None:
            raise ValueError(
                "OrderConsistentClassifier takes no margin: a margin shifts the reward "
                "difference of a comparison, and the classification objective labels single "
                "items. Use BTRegressor for margins, or give strong preferences more "
                "sample_weight.")
        if _routing_enabled():
            fit_params = process_routing(self, "fit", **fit_params).estimator.fit
        rows = {key: _per_row(value, len(X)) for key, value in fit_params.items()}
        if isinstance(self.estimator, RewardNet) and rows.get("groups") is None:
            # A comparison's two rows on one side of the net's hold-out (see _holdout.py).
            rows["groups"] = np.tile(np.arange(len(X)), 2)
        hard = bool(np.isin(y, [0, 1]).all())
        if hard:
            X_items, y_items = PairwiseTransformer("pointwise").fit_resample(X, y.astype(np.int64))
        else:
            X_items, y_items, rows = _soft_rows(X, y, rows)
        try:
            self.estimator_ = clone(self.estimator).fit(X_items, y_items, **rows)
        except TypeError as err:
            if hard or "sample_weight" not in str(err):
                raise
            raise ValueError(
                "soft labels need a classifier whose fit takes sample_weight; "
                f"{type(self.estimator).__name__}.fit does not ({err}).") from err
        self._check_response_method()
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[2]
        return self

    def get_metadata_routing(self):
        """Route ``fit``'s metadata to the classifier's ``fit`` (scikit-learn metadata routing).

        Returns
        -------
        routing : MetadataRouter
        """
        return fit_router(self)

    def decision_function(self, X):
        """The reward of items: the classifier's logit of being preferred.

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
        return read_logit(self.estimator_, X, self.response_method)

    def _check_response_method(self):
        """Refuse at fit a classifier whose reward :meth:`decision_function` could not read."""
        check_logit_readable(self.estimator_, self.response_method,
                             type(self.estimator).__name__)

    def predict(self, X):
        """Classify items as winners (1) or losers (0).

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        y_pred : ndarray of shape (n_items,)
        """
        check_is_fitted(self)
        return self.estimator_.predict(check_items(X, n_features=self.n_features_in_, estimator=self))

    @available_if(estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Probability of each item being a loser (column 0) or a winner (column 1).

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        proba : ndarray of shape (n_items, 2)
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(check_items(X, n_features=self.n_features_in_, estimator=self))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
