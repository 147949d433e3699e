"""Reading a fitted binary classifier's logit of the positive class as a reward.

Shared by the classification reward models: :class:`OrderConsistentClassifier`
(winners vs losers of comparisons) and :class:`FeedbackClassifier` (thumbs up
vs thumbs down of single items). Both fit their classifier on labels {0, 1},
so the positive class is ``1``.
"""

import inspect

import numpy as np
from scipy.special import logit

RESPONSE_METHODS = {"auto", "decision_function", "raw_score", "predict_proba"}
_EPS = 1e-7  # clip probabilities so that their logit stays finite


def estimator_has(attr):
    """``available_if`` check: the fitted (else the unfitted) ``estimator`` has ``attr``."""
    def check(self):
        getattr(self.estimator_ if hasattr(self, "estimator_") else self.estimator, attr)
        return True
    return check


def has_raw_score(estimator):
    """LightGBM's ``predict(..., raw_score=True)`` returns the exact logit."""
    predict = getattr(estimator, "predict", None)
    return predict is not None and "raw_score" in inspect.signature(predict).parameters


def resolve_response_method(estimator, response_method):
    """The method that reads the logit: ``response_method``, or the first exact one for "auto"."""
    if response_method != "auto":
        return response_method
    if hasattr(estimator, "decision_function"):
        return "decision_function"
    if has_raw_score(estimator):
        return "raw_score"
    return "predict_proba"


def check_logit_readable(estimator, response_method, name):
    """Refuse, at fit, a fitted classifier whose logit of class 1 could not be read.

    ``name``: the user's estimator's class name, for the message.
    """
    method = resolve_response_method(estimator, response_method)
    available = (has_raw_score(estimator) if method == "raw_score"
                 else hasattr(estimator, method))
    if not available:
        raise ValueError(
            f"estimator {name} offers no way to read a logit with "
            f"response_method={response_method!r}: it needs decision_function, "
            "predict_proba or LightGBM's predict(raw_score=True). Use a binary classifier "
            "that has one."
        )
    classes = getattr(estimator, "classes_", None)
    if method == "predict_proba" and (classes is None or 1 not in list(classes)):
        raise ValueError(
            f"estimator {name} must be a classifier with classes_ holding 1 (the positive "
            f"class) after fit; got classes_={classes!r}."
        )


def read_logit(estimator, X, response_method):
    """The fitted classifier's logit of class 1 for the rows of ``X``, as float64 ``(n,)``.

    ``decision_function`` and LightGBM's raw score are exact; ``predict_proba``
    is read as ``logit(p)`` with ``p`` clipped to ``[1e-7, 1 - 1e-7]``.
    """
    method = resolve_response_method(estimator, response_method)
    if method == "decision_function":
        return np.asarray(estimator.decision_function(X), dtype=np.float64).ravel()
    if method == "raw_score":
        return np.asarray(estimator.predict(X, raw_score=True), dtype=np.float64).ravel()
    positive = list(estimator.classes_).index(1)
    proba = estimator.predict_proba(X)[:, positive]
    return logit(np.clip(np.asarray(proba, dtype=np.float64), _EPS, 1 - _EPS))
