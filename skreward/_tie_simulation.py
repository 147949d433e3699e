"""Ties declared by a simulated annotator who cannot tell two items apart.

:func:`~skreward.simulate_comparisons` labels its comparisons first
(:func:`~skreward._simulation.annotate_pairs`); :func:`declare_ties` then
turns some of them into ties, label 0.5, by one of two rules:

* ``tie_threshold``: the annotator cannot tell items whose golden rewards
  differ by less than ``tie_threshold`` standard deviations (``scale``):
  ``|r_a - r_b| / scale < tie_threshold`` is a tie, deterministically;
* ``tie_param``: Davidson's model (1970) with ``nu = tie_param`` on the
  annotator's scale ``d = beta * (r_a - r_b) / scale``: a tie with
  probability ``nu / (e^(d/2) + e^(-d/2) + nu)``. The decided comparisons
  keep the label already drawn, right with probability ``sigmoid(|d|)``,
  which is Davidson's ``P(right | no tie)``: with the logistic link the
  labels follow Davidson's model exactly (with the probit link, Thurstone's
  odds among decided comparisons).

Neither rule draws random numbers unless ``tie_param`` is given, so the
comparisons and labels drawn without ties are unchanged.
"""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval

#: Constraints of the tie settings of :func:`~skreward.simulate_comparisons`.
TIE_CONSTRAINTS = {
    "tie_threshold": [Interval(Real, 0, None, closed="left"), None],
    "tie_param": [Interval(Real, 0, None, closed="left"), None],
}
TIE = 0.5


def davidson_tie_probability(d, tie_param):
    """``nu / (e^(d/2) + e^(-d/2) + nu)`` at reward differences ``d`` (any sign, may be inf)."""
    a = np.exp(-np.abs(np.asarray(d, dtype=np.float64)) / 2)  # e^(-|d|/2), 0 at infinity
    return tie_param * a / (1 + a * a + tie_param * a)


def declare_ties(y, delta, *, beta, scale, tie_threshold=None, tie_param=None, rng=None):
    """The labels with the annotator's ties set to 0.5, and which comparisons are ties.

    Parameters
    ----------
    y : ndarray of shape (n_pairs,)
        Labels drawn without ties (1: first preferred).
    delta : ndarray of shape (n_pairs,)
        Golden ``r(first) - r(second)``.
    beta, scale : float
        Annotation quality and unit of reward differences, as in
        :func:`~skreward.simulate_comparisons`.
    tie_threshold, tie_param : float or None
        The rule (at most one); both ``None``: no ties, ``y`` unchanged.
    rng : numpy.random.RandomState
        Draws the Davidson ties.

    Returns
    -------
    y : ndarray of shape (n_pairs,)
        Unchanged when no rule is given; else float labels in {0, 0.5, 1}.
    ties : ndarray of bool, shape (n_pairs,)
        The declared ties.
    """
    if tie_threshold is None and tie_param is None:
        return y, np.zeros(len(y), dtype=bool)
    if tie_threshold is not None and tie_param is not None:
        raise ValueError(
            f"Pass at most one of tie_threshold and tie_param; got tie_threshold={tie_threshold} "
            f"and tie_param={tie_param}. tie_threshold: a tie when |delta r| / scale is below "
            "it; tie_param: ties drawn from Davidson's model.")
    if tie_threshold is not None:
        ties = np.abs(delta) / scale < tie_threshold
    else:
        with np.errstate(invalid="ignore"):  # beta=inf at delta=0
            d = np.where(delta == 0, 0.0, beta * np.abs(delta) / scale)
        ties = rng.random(len(delta)) < davidson_tie_probability(d, tie_param)
    return np.where(ties, TIE, y).astype(np.float64), ties


def tie_rates(correct, golden_tied, ties):
    """``error_rate``, ``declared_tie_rate`` and ``decided_error_rate`` of simulated labels.

    A golden tie or a declared tie counts one half in ``error_rate`` (the
    order consistency convention); ``decided_error_rate`` is over the
    comparisons not declared ties (golden ties among them count one half).
    """
    wrong = np.where(golden_tied, 0.5, ~correct)
    decided = ~ties
    return dict(
        error_rate=float(np.mean(np.where(ties, 0.5, wrong))),
        declared_tie_rate=float(np.mean(ties)),
        decided_error_rate=float(np.mean(wrong[decided])) if decided.any() else float("nan"),
    )

