"""Order consistency: how often a reward orders comparisons as the labels do."""

import numpy as np

from .._validation import (check_comparison_labels, check_comparisons, check_rewards,
                           check_sample_weight)


TIES = {"half": 0.5, "wrong": 0.0}


def _tie_value(ties):
    if not isinstance(ties, str) or ties not in TIES:
        raise ValueError(f"ties must be 'half' or 'wrong'; got {ties!r}.")
    return TIES[ties]


def order_consistency_score(y_true, y_score, *, sample_weight=None, ties="half"):
    """Fraction of comparisons whose reward order agrees with the label.

    Parameters
    ----------
    y_true : array-like of shape (n_pairs,) or None
        1 (or +1) where the first item is preferred, 0 (or -1) where the second
        is. ``None`` means the first item is always the preferred one. Soft
        labels in [0, 1] (the probability that the first item is preferred)
        give the expected agreement: ``y`` if the model prefers the first
        item, ``1 - y`` if the second.
    y_score : array-like of shape (n_pairs,)
        ``r(first) - r(second)``, or any score whose sign says which item the
        model prefers. A zero is a tie, counted as ``ties`` says.
    sample_weight : array-like of shape (n_pairs,), default=None
        Weight of each comparison: finite, non-negative, not all zero.
    ties : {"half", "wrong"}, default="half"
        What a tie in the predicted rewards counts. ``"half"``: one half, the
        expected score of breaking the tie by a coin flip, so a constant
        reward scores 0.5 (chance) and swapping the items of a comparison
        with its label never changes the score. ``"wrong"``: zero, the strict
        ``r(chosen) > r(rejected)`` of TRL's and OpenRLHF's reward accuracy
        and of RewardBench; use it to compare with their numbers. They
        differ only where rewards tie exactly (quantised rewards, e.g. few
        leaves of a tree model, or identical responses).

    Returns
    -------
    score : float
        In [0, 1]; 0.5 is chance, 1 is perfect order consistency.

    Examples
    --------
    >>> from skreward.metrics import order_consistency_score
    >>> order_consistency_score([1, 0, 1, 1], [2.0, -1.0, -0.5, 0.0])
    0.625
    >>> order_consistency_score([1, 0, 1, 1], [2.0, -1.0, -0.5, 0.0], ties="wrong")
    0.5
    """
    tie = _tie_value(ties)
    y_score = check_rewards(y_score, len(np.ravel(y_score)), input_name="y_score")
    if len(y_score) == 0:
        raise ValueError("y_score must hold at least one comparison; got 0.")
    y = check_comparison_labels(y_true, len(y_score), soft=True)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, len(y_score))
    agree = np.where(y_score == 0, tie, np.where(y_score > 0, y, 1 - y))
    return float(np.average(agree, weights=sample_weight))


def order_consistency_scorer(estimator, X, y=None, *, sample_weight=None, ties="half"):
    """Scorer for real comparisons: order consistency of the reward model.

    For searches on comparisons ``(n_pairs, 2, n_features)`` without a golden
    reward; ``y=None`` means the first item is always preferred. For ties
    counted wrong (TRL's and RewardBench's accuracy), score with
    ``functools.partial(order_consistency_scorer, ties="wrong")``.

    Parameters
    ----------
    estimator : reward model
        Fitted; its ``decision_function`` scores items.
    X : array-like of shape (n_pairs, 2, n_features)
        Held-out comparisons.
    y : array-like of shape (n_pairs,), default=None
        1 where the first item is preferred.
    sample_weight : array-like of shape (n_pairs,), default=None
        Weight of each comparison.
    ties : {"half", "wrong"}, default="half"
        What a tie counts; see :func:`order_consistency_score`.

    Returns
    -------
    score : float
        Fraction of comparisons ordered as labelled.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.metrics import order_consistency_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 2, 3))
    >>> X = np.where((X[:, 0, :1] > X[:, 1, :1])[:, :, None], X, X[:, ::-1])  # chosen first
    >>> scores = cross_val_score(OrderConsistentClassifier(LogisticRegression()), X,
    ...                          scoring=order_consistency_scorer, cv=3)
    >>> bool(scores.min() > 0.8)
    True
    """
    _tie_value(ties)  # checked before the model runs
    X, y = check_comparisons(X, y, soft=True)
    reward = np.asarray(estimator.decision_function(X.reshape(-1, X.shape[2]))).reshape(-1, 2)
    return order_consistency_score(y, reward[:, 0] - reward[:, 1], sample_weight=sample_weight,
                                   ties=ties)
