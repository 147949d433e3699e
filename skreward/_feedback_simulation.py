"""Simulated unpaired feedback: a thumbs up or down for single responses, from a golden reward.

The unpaired counterpart of :func:`~skreward.simulate_comparisons`: an
annotator shown one response judges it against a reference level (the
``threshold``) instead of against a second response, with the same noisy link
and the same meaning of ``beta``.
"""

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._links import LINKS
from ._simulation import ANNOTATION_CONSTRAINTS, _check_scale
from ._validation import check_groups, check_rewards

THRESHOLDS = ("prompt_mean", "global_mean")

#: Constraints of the feedback settings, shared with the annotation settings of comparisons.
FEEDBACK_CONSTRAINTS = {
    "n_items": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "beta": ANNOTATION_CONSTRAINTS["beta"],
    "threshold": [StrOptions(set(THRESHOLDS)),
                  Interval(numbers.Real, None, None, closed="neither")],
    "link": ANNOTATION_CONSTRAINTS["link"],
    "scale": ANNOTATION_CONSTRAINTS["scale"],
    "replace": ANNOTATION_CONSTRAINTS["replace"],
    "random_state": ANNOTATION_CONSTRAINTS["random_state"],
}


@dataclass(frozen=True)
class SimulatedFeedback:
    """Items labelled thumbs up or thumbs down by :func:`simulate_feedback`.

    Attributes
    ----------
    items : ndarray of shape (n_labels,)
        Index of the labelled item of every label.
    y : ndarray of shape (n_labels,)
        1 (thumbs up) where the annotator judged the item good, else 0.
    error_rate : float
        The realised error rate: the fraction of labels that contradict the
        noiseless label (good exactly when the golden reward is above the
        threshold), where an item at the threshold counts one half (its label
        is a fair coin flip), as ties count in
        ``SimulatedComparisons.error_rate``.
    mean_abs_margin : float
        Mean ``|r - threshold|`` of the golden reward over the labels: how far
        from the annotator's reference level the labelled items are.
    tie_rate : float
        Fraction of labels of items exactly at the threshold.
    positive_rate : float
        Fraction of thumbs up.
    """

    items: np.ndarray
    y: np.ndarray
    error_rate: float
    mean_abs_margin: float
    tie_rate: float
    positive_rate: float

    def take(self, X):
        """The labelled items as rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            The items that ``items`` index.

        Returns
        -------
        X_labelled : ndarray of shape (n_labels, n_features)
            One row per label, in the order of ``y``.
        """
        return np.asarray(X)[self.items]


@validate_params(
    {"golden": ["array-like"], "groups": ["array-like", None], **FEEDBACK_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def simulate_feedback(golden, groups=None, *, n_items=None, beta=1.0, threshold="prompt_mean",
                      link="logistic", scale=None, replace=False, random_state=None):
    """Label items thumbs up or thumbs down from a golden reward, with noise.

    An annotator shown one response labels it good with probability
    ``link(beta * (r - t) / scale)``, where ``r`` is its golden reward and
    ``t`` the ``threshold``: the response is compared with a reference
    response of reward ``t``, so ``beta`` and ``scale`` mean what they mean in
    :func:`~skreward.simulate_comparisons` (``beta = 0``: coin flips; large:
    nearly always right; ``np.inf``: noiseless). An item exactly at the
    threshold gets a fair coin flip, whatever ``beta``.

    Parameters
    ----------
    golden : array-like of shape (n_items_total,)
        Golden reward of every item.
    groups : array-like of shape (n_items_total,), default=None
        Prompt id of every item; required by ``threshold="prompt_mean"``.
    n_items : int, default=None
        Number of labels to draw (items shown, one label each); ``None``:
        every item is labelled once, in order.
    beta : float, default=1.0
        Annotation quality; ``np.inf`` gives noiseless labels.
    threshold : {"prompt_mean", "global_mean"} or float, default="prompt_mean"
        The reference level ``t``. ``"prompt_mean"``: the mean golden reward of
        the item's prompt (over all its items), so about half of every
        prompt's responses are good, as when an annotator judges responses
        against what is usual for that prompt. ``"global_mean"``: the mean of
        all golden rewards, one absolute standard for every prompt. A number:
        that level, in the golden reward's units.
    link : {"logistic", "probit"}, default="logistic"
        Logistic (as the paper's annotations) or probit noise.
    scale : float, default=None
        Unit of reward differences; ``None`` uses the standard deviation of
        ``golden``, as :func:`~skreward.simulate_comparisons` does.
    replace : bool, default=False
        Whether an item may be labelled more than once (by several
        annotators) when ``n_items`` is given; without it, ``n_items`` is at
        most the number of items.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of items and the annotation noise.

    Returns
    -------
    feedback : SimulatedFeedback
        ``items``, labels ``y``, ``error_rate`` (items at the threshold count
        one half), ``mean_abs_margin``, ``tie_rate`` and ``positive_rate``;
        ``feedback.take(X)`` gives the labelled items' rows.

    See Also
    --------
    FeedbackClassifier : The classification reward model fitted on such labels.
    simulate_comparisons : The paired counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward import simulate_feedback
    >>> golden = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    >>> groups = np.array([0, 0, 0, 1, 1, 1])
    >>> feedback = simulate_feedback(golden, groups, beta=np.inf, random_state=3)
    >>> feedback.items.tolist(), feedback.y.tolist()  # items 1 and 4, at the mean: coin flips
    ([0, 1, 2, 3, 4, 5], [0, 0, 1, 0, 0, 1])
    >>> feedback.tie_rate, feedback.error_rate
    (0.3333333333333333, 0.16666666666666666)
    >>> simulate_feedback(golden, threshold="global_mean", beta=np.inf).y.tolist()
    [0, 0, 0, 0, 1, 1]
    """
    golden = check_rewards(golden, len(np.ravel(golden)), input_name="golden")
    if len(golden) == 0:
        raise ValueError("golden must hold at least one item to label; got n_samples=0.")
    reference = _threshold(golden, groups, threshold)
    scale = _check_scale(golden, scale)
    rng = check_random_state(random_state)
    if n_items is None:
        items = np.arange(len(golden))
    elif not replace and n_items > len(golden):
        raise ValueError(f"n_items={n_items} exceeds the {len(golden)} items of golden; pass "
                         "replace=True to label an item more than once, or fewer n_items.")
    else:
        items = np.sort(rng.choice(len(golden), size=int(n_items), replace=replace))
    margin = golden[items] - reference[items]
    tied = margin == 0
    with np.errstate(invalid="ignore"):  # inf * 0 where tied: replaced by 0.5
        p_good = np.where(tied, 0.5, LINKS[link](beta * margin / scale))
    y = (rng.random(len(items)) < p_good).astype(np.int64)
    return SimulatedFeedback(
        items=items, y=y,
        error_rate=float(np.mean(np.where(tied, 0.5, y != (margin > 0)))),
        mean_abs_margin=float(np.mean(np.abs(margin))),
        tie_rate=float(np.mean(tied)),
        positive_rate=float(np.mean(y)),
    )


def _threshold(golden, groups, threshold):
    """The reference level of every item."""
    if threshold == "global_mean":
        return np.full(len(golden), np.mean(golden))
    if threshold == "prompt_mean":
        if groups is None:
            raise ValueError("groups is required for threshold='prompt_mean': pass the prompt "
                             "id of every item, or threshold='global_mean' or a number.")
        groups = check_groups(groups, len(golden))
        _, inverse = np.unique(groups, return_inverse=True)
        inverse = inverse.ravel()
        means = np.bincount(inverse, weights=golden) / np.bincount(inverse)
        return means[inverse]
    return np.full(len(golden), float(threshold))
