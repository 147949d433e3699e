"""Simulated rankings of ``k`` items from a golden reward: Plackett-Luce by Gumbel noise."""

import numbers
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._grouping import group_slots, padded_table
from ._simulation import ANNOTATION_CONSTRAINTS, _check_scale
from ._validation import check_groups, check_rewards

#: Pairings that draw ``k`` items at a time.
RANKING_PAIRINGS = ("same_prompt", "cross_prompt")


@dataclass(frozen=True)
class SimulatedRankings:
    """Rankings drawn and annotated by :func:`simulate_rankings`.

    Attributes
    ----------
    rankings : ndarray of shape (n_rankings, k)
        Item indices of every ranking in the annotated order, the preferred first.
    error_rate : float
        The realised pairwise error rate: over all pairs of items within the
        rankings, the fraction ordered against the golden reward (a pair of
        tied golden rewards counts one half). For ``k = 2`` it is the error
        rate of :func:`~skreward.simulate_comparisons`.
    top_error_rate : float
        Fraction of rankings whose first item is not of the highest golden
        reward among its ``k`` (a tie for the highest counts as right).
    mean_abs_delta : float
        Mean ``|r_a - r_b|`` of the golden reward over the pairs within rankings.
    tie_rate : float
        Fraction of those pairs with equal golden rewards.
    """

    rankings: np.ndarray
    error_rate: float
    top_error_rate: float
    mean_abs_delta: float
    tie_rate: float = 0.0

    def take(self, X):
        """The rankings as an array of the items ``X``.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            The items that ``rankings`` index.

        Returns
        -------
        X_rankings : ndarray of shape (n_rankings, k, n_features)
            Every ranking's items, the preferred first.
        """
        return np.asarray(X)[self.rankings]


@validate_params(
    {"golden": ["array-like"], "groups": ["array-like", None],
     "n_rankings": [Interval(numbers.Integral, 1, None, closed="left")],
     "k": [Interval(numbers.Integral, 2, None, closed="left")],
     "pairing": [StrOptions(set(RANKING_PAIRINGS))],
     **{key: ANNOTATION_CONSTRAINTS[key] for key in ("beta", "link", "scale", "random_state")}},
    prefer_skip_nested_validation=True,
)
def simulate_rankings(golden, groups=None, *, n_rankings, k, pairing="same_prompt", beta=1.0,
                      link="logistic", scale=None, random_state=None):
    """Draw sets of ``k`` items and rank each from a golden reward, with noise.

    Every ranking sorts its items by ``beta * golden / scale + noise``, the
    noise independent per item. With ``link="logistic"`` the noise is
    standard Gumbel, which makes the ranking a draw of the Plackett-Luce
    model with rewards ``beta * golden / scale`` (choose the best by a
    softmax, then the best of the rest, ...). Any two items of a ranking
    are then ordered right with probability ``sigmoid(beta * |r_a - r_b| /
    scale)``, so ``k = 2`` is the annotator of
    :func:`~skreward.simulate_comparisons` with the same ``beta`` and
    ``scale``. ``link="probit"`` adds normal noise of variance 1/2
    (Thurstone), whose pairs are right with probability ``Phi(beta * |r_a -
    r_b| / scale)``, the pairwise simulator's probit link. Items of equal
    golden reward are ordered at random, whatever ``beta``.

    Parameters
    ----------
    golden : array-like of shape (n_items,)
        Golden reward of every item.
    groups : array-like of shape (n_items,), default=None
        Prompt id of every item; required by ``pairing="same_prompt"``.
    n_rankings : int
        Number of rankings to draw (sets of items may repeat).
    k : int
        Items per ranking, at least 2.
    pairing : {"same_prompt", "cross_prompt"}, default="same_prompt"
        ``"same_prompt"``: ``k`` distinct responses of one prompt, the
        prompt drawn with probability proportional to its number of
        ``k``-subsets (prompts with fewer than ``k`` responses are never
        drawn). ``"cross_prompt"``: ``k`` distinct items of any prompts.
    beta : float, default=1.0
        Annotation quality; ``np.inf`` ranks by the golden reward.
    link : {"logistic", "probit"}, default="logistic"
        Gumbel noise (Plackett-Luce) or normal noise (Thurstone).
    scale : float, default=None
        Unit of rewards; ``None`` uses the standard deviation of ``golden``.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw and the noise.

    Returns
    -------
    rankings : SimulatedRankings
        ``rankings`` (item indices, the preferred first), ``error_rate``
        (pairwise), ``top_error_rate``, ``mean_abs_delta`` and ``tie_rate``;
        ``rankings.take(X)`` gives the ranking array.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward import simulate_rankings
    >>> golden = np.arange(8.0)
    >>> groups = np.repeat([0, 1], 4)
    >>> sim = simulate_rankings(golden, groups, n_rankings=5, k=3, beta=np.inf, random_state=0)
    >>> sim.rankings.shape, sim.error_rate
    ((5, 3), 0.0)
    >>> bool(np.all(np.diff(golden[sim.rankings], axis=1) < 0))  # best first
    True
    """
    golden = check_rewards(golden, len(np.ravel(golden)), input_name="golden")
    if len(golden) < k:
        raise ValueError(f"golden must hold at least k={k} items to rank; got {len(golden)}.")
    scale = _check_scale(golden, scale)
    rng = check_random_state(random_state)
    items = _draw_sets(golden, groups, int(n_rankings), int(k), pairing, rng)
    rankings = rank_items(golden, items, beta, link, scale, rng)
    return _summary(golden, rankings)


def _draw_sets(golden, groups, n, k, pairing, rng):
    """Item indices ``(n, k)`` of ``n`` sets of ``k`` distinct items, in random order."""
    if pairing == "cross_prompt":
        members, sizes = np.arange(len(golden))[None], np.array([len(golden)])
    else:
        groups = check_groups(groups, len(golden))
        prompt, _, counts = group_slots(groups)
        members, sizes = padded_table(prompt, np.arange(len(golden)), fill=0)
        if sizes.max() < k:
            raise ValueError(f"groups: pairing='same_prompt' needs prompts with at least k={k} "
                             f"responses; the largest has {sizes.max()}. Lower k, or use "
                             "pairing='cross_prompt'.")
    # a prompt with s responses holds C(s, k) sets: draw prompts in proportion (log-space)
    with np.errstate(invalid="ignore"):
        log_sets = np.where(sizes >= k, gammaln(sizes + 1) - gammaln(k + 1)
                            - gammaln(np.maximum(sizes - k, 0) + 1), -np.inf)
    weight = np.exp(log_sets - log_sets.max())
    block = rng.choice(len(sizes), size=n, p=weight / weight.sum())
    chosen = np.empty((n, k), dtype=np.int64)
    for b in np.unique(block):  # k distinct members of each drawn block, by random keys
        rows = np.flatnonzero(block == b)
        keys = rng.random((len(rows), sizes[b]))
        picks = np.argpartition(keys, k - 1, axis=1)[:, :k] if sizes[b] > k \
            else np.tile(np.arange(k), (len(rows), 1))
        chosen[rows] = members[b, picks]
    return np.take_along_axis(chosen, np.argsort(rng.random((n, k)), axis=1), axis=1)


def rank_items(golden, items, beta, link, scale, rng):
    """``items`` ``(n, k)`` sorted by noisy utility, the best first (ties at random)."""
    g = golden[items]
    if link == "logistic":
        noise = rng.gumbel(size=items.shape)
    else:
        noise = rng.normal(scale=np.sqrt(0.5), size=items.shape)
    if np.isinf(beta):  # noiseless: by golden reward, ties broken by the noise
        order = np.lexsort((-noise, -g), axis=-1)
    else:
        order = np.argsort(-(beta * g / scale + noise), axis=1, kind="stable")
    return np.take_along_axis(items, order, axis=1)


def _summary(golden, rankings):
    k = rankings.shape[1]
    a, b = np.triu_indices(k, 1)
    delta = golden[rankings[:, a]] - golden[rankings[:, b]]  # > 0: ranked right
    error = np.where(delta == 0, 0.5, delta < 0)
    g = golden[rankings]
    return SimulatedRankings(
        rankings=rankings,
        error_rate=float(np.mean(error)),
        top_error_rate=float(np.mean(g[:, 0] < g.max(axis=1))),
        mean_abs_delta=float(np.mean(np.abs(delta))),
        tie_rate=float(np.mean(delta == 0)),
    )
