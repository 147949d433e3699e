"""The classification reward model on unpaired feedback: thumbs up or down of single items."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone, is_regressor
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metadata_routing import _routing_enabled, process_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._logit import RESPONSE_METHODS, check_logit_readable, estimator_has, read_logit
from .._validation import check_feedback_labels, check_items, fit_router


class FeedbackClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Classification reward model fitted on unpaired feedback: items labelled good or bad.

    Unpaired feedback (a thumbs up or down per response, TRL's ``prompt``,
    ``completion``, ``label`` format) has no comparisons, so a Bradley-Terry
    model cannot learn from it. The classification reward model of Sun, Shen
    & Ton (2025) can: ``estimator``, any binary classifier, is fitted on the
    items with their labels, and its logit of "good" is the reward. It is
    :class:`~skreward.OrderConsistentClassifier` with the labels given per
    item instead of derived from comparisons.

    ``fit`` takes items ``(n_items, n_features)`` and one label per item;
    the reward models fitted on comparisons take ``(n_pairs, 2, n_features)``.
    The two never share an estimator, so the shape of ``X`` is never guessed.

    Parameters
    ----------
    estimator : classifier
        Binary classifier with ``fit`` and ``predict_proba`` or
        ``decision_function`` (scikit-learn, ``LGBMClassifier``,
        :class:`~skreward.RewardMLPClassifier`, ...). It is cloned, never
        modified.
    response_method : {"auto", "decision_function", "raw_score", "predict_proba"}, \
default="auto"
        How the reward is read from the classifier, as in
        :class:`~skreward.OrderConsistentClassifier`: ``"auto"`` takes the
        first exact logit available (``decision_function``, then LightGBM's
        ``predict(raw_score=True)``), else ``logit(predict_proba)``.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``, fitted on labels 0 (bad) and 1 (good).
    classes_ : ndarray of shape (2,)
        ``[False, True]`` when fitted on boolean labels, else ``[0, 1]``: what
        :meth:`predict` returns.
    n_features_in_ : int
        Features of each item.

    See Also
    --------
    simulate_feedback : Simulated unpaired feedback from a golden reward.
    OrderConsistentClassifier : The same reward model fitted on comparisons.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import FeedbackClassifier, simulate_feedback
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=200, random_state=0)
    >>> feedback = simulate_feedback(data.golden, data.groups, beta=10, random_state=0)
    >>> model = FeedbackClassifier(LogisticRegression()).fit(feedback.take(data.X), feedback.y)
    >>> rewards = model.decision_function(data.X_test)
    >>> rewards.shape == data.golden_test.shape
    True
    >>> model.predict(data.X[:3]).tolist()
    [0, 1, 0]
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "response_method": [StrOptions(RESPONSE_METHODS)],
    }

    def __init__(self, estimator, *, response_method="auto"):
        self.estimator = estimator
        self.response_method = response_method

    def fit(self, X, y, **fit_params):
        """Fit the classifier on items labelled good (True, 1) or bad (False, 0).

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items (e.g. embeddings of prompt and response).
        y : array-like of shape (n_items,)
            One label per item: ``True`` or ``1`` for a thumbs up, ``False``
            or ``0`` for a thumbs down. Anything else is refused with the row.
        **fit_params : dict
            Passed to the classifier's ``fit`` (with metadata routing
            enabled: those it requests, e.g. by
            ``estimator.set_fit_request(sample_weight=True)``), such as
            ``sample_weight``, one weight per item.

        Returns
        -------
        self : FeedbackClassifier
        """
        self._validate_params()
        if is_regressor(self.estimator):
            raise ValueError(
                f"estimator must be a binary classifier; got the regressor "
                f"{type(self.estimator).__name__}, which has no logit to read the reward from. "
                "Use a classifier (e.g. LogisticRegression)."
            )
        if y is None:
            raise ValueError(
                "FeedbackClassifier requires y to be passed, but the target y is None: pass one "
                "label per item, True (or 1) for a thumbs up, False (or 0) for a thumbs down.")
        try:
            X = check_items(X)
        except ValueError as error:
            if "must be items of shape" not in str(error):
                raise
            raise ValueError(
                f"X must be items of shape (n_items, n_features), one per label; got an array "
                f"of shape {np.shape(X)}. FeedbackClassifier learns from labelled single "
                "items; for comparisons (n_pairs, 2, n_features) use OrderConsistentClassifier."
            ) from None
        labels = np.asarray(y)
        y = check_feedback_labels(y, len(X))
        if len(np.unique(y)) < 2:
            kind = "thumbs up" if y[0] else "thumbs down"
            raise ValueError(
                f"y holds only {kind} labels (one class); a classifier needs both good and bad "
                "items to learn which is which.")
        if _routing_enabled():
            fit_params = process_routing(self, "fit", **fit_params).estimator.fit
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        check_logit_readable(self.estimator_, self.response_method,
                             type(self.estimator).__name__)
        self.classes_ = np.array([False, True]) if labels.dtype.kind == "b" else np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self

    def get_metadata_routing(self):
        """Route ``fit``'s metadata to the classifier's ``fit`` (scikit-learn metadata routing).

        Returns
        -------
        routing : MetadataRouter
        """
        return fit_router(self)

    def decision_function(self, X):
        """The reward of items: the classifier's logit of being good.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
        """
        X = self._items(X)
        return read_logit(self.estimator_, X, self.response_method)

    def predict(self, X):
        """Classify items as good or bad (``classes_[1]`` or ``classes_[0]``).

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        y_pred : ndarray of shape (n_items,)
        """
        X = self._items(X)
        good = np.asarray(self.estimator_.predict(X)).astype(np.int64)
        return self.classes_[good]

    @available_if(estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Probability of each item being bad (column 0) or good (column 1).

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        proba : ndarray of shape (n_items, 2)
        """
        X = self._items(X)
        return self.estimator_.predict_proba(X)

    def score(self, X, y, sample_weight=None):
        """ROC AUC of the reward on labelled items.

        The fraction of (good, bad) pairs of the items whose reward puts the
        good one higher, a tie counting one half: the order consistency of the
        reward on every comparison the labels imply. It depends on the order
        of the rewards only, like the metrics of reward models, not on a
        decision threshold as accuracy would.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.
        y : array-like of shape (n_items,)
            Labels, as in :meth:`fit`; both kinds must be present.
        sample_weight : array-like of shape (n_items,), default=None
            Weight of each item.

        Returns
        -------
        score : float
        """
        reward = self.decision_function(X)
        y = check_feedback_labels(y, len(reward))
        if len(np.unique(y)) < 2:
            raise ValueError("score needs both thumbs-up and thumbs-down items in y: the "
                             "ROC AUC compares good items with bad ones.")
        return float(roc_auc_score(y, reward, sample_weight=sample_weight))

    def _items(self, X):
        check_is_fitted(self)
        return check_items(X, n_features=self.n_features_in_, estimator=self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
