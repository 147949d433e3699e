"""Simulated annotation: draw comparisons by a pairing strategy, label them noisily.

Candidate pairs are never enumerated: every strategy is a set of blocks
(per prompt, or one block of all items) whose pairs are numbered, so a
sample of pair numbers is drawn and decoded to items in a few vector
operations.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, ndtr
from sklearn.utils import check_random_state

from ._validation import check_groups, check_rewards

PAIRINGS = ("same_prompt", "cross_prompt", "similar", "diverse")
LINKS = {"logistic": expit, "probit": ndtr}


@dataclass(frozen=True)
class SimulatedComparisons:
    """Comparisons drawn and annotated by :func:`simulate_comparisons`.

    Attributes
    ----------
    pairs : ndarray of shape (n_pairs, 2)
        Item indices of the first and second item of every comparison.
    y : ndarray of shape (n_pairs,)
        1 where the annotator preferred the first item, else 0.
    error_rate : float
        Fraction of comparisons (with unequal golden rewards) whose label
        contradicts the golden reward: the realised annotation error rate.
    mean_abs_delta : float
        Mean ``|r(first) - r(second)|`` of the golden reward over the
        comparisons (the x-axis of the paper's Figure 6).
    """

    pairs: np.ndarray
    y: np.ndarray
    error_rate: float
    mean_abs_delta: float

    def take(self, X):
        """The comparisons as an array of the items ``X``.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            The items that ``pairs`` index.

        Returns
        -------
        X_pairs : ndarray of shape (n_pairs, 2, n_features)
            ``X_pairs[:, 0]`` the first items, ``X_pairs[:, 1]`` the second.
        """
        return np.asarray(X)[self.pairs]


def simulate_comparisons(golden, groups=None, *, n_pairs, pairing="same_prompt", beta=1.0,
                         link="logistic", scale=None, replace=False, random_state=None):
    """Draw comparisons of items and annotate them from a golden reward, with noise.

    The annotator prefers the item of higher golden reward with probability
    ``link(beta * |r_a - r_b| / scale)``: ``beta`` is the annotation quality
    (0: coin flips, large: nearly always right), as in Sun, Shen & Ton (2025).

    Parameters
    ----------
    golden : array-like of shape (n_items,)
        Golden reward of every item.
    groups : array-like of shape (n_items,), default=None
        Prompt id of every item; required by every pairing but
        ``"cross_prompt"``.
    n_pairs : int
        Number of comparisons to draw.
    pairing : {"same_prompt", "cross_prompt", "similar", "diverse"}, default="same_prompt"
        ``"same_prompt"``: two responses of one prompt. ``"cross_prompt"``: two
        items of any prompts. ``"similar"``: two responses of one prompt among
        its middle-ranked half (by golden reward). ``"diverse"``: one of the
        worst quarter and one of the best quarter of a prompt's responses.
        The last two are the paper's ablations.
    beta : float, default=1.0
        Annotation quality; ``np.inf`` gives noiseless labels.
    link : {"logistic", "probit"}, default="logistic"
        Logistic (Bradley-Terry, as the paper) or probit (Thurstone) noise.
    scale : float, default=None
        Unit of reward differences; ``None`` uses the standard deviation of
        ``golden``, so ``beta`` means the same on any reward scale.
    replace : bool, default=False
        Whether a pair of items may be drawn more than once.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw and the annotation noise.

    Returns
    -------
    comparisons : SimulatedComparisons
        ``pairs``, labels ``y``, ``error_rate`` and ``mean_abs_delta``;
        ``comparisons.take(X)`` gives the comparison array.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward import simulate_comparisons
    >>> golden = np.arange(8.0)
    >>> groups = np.repeat([0, 1], 4)
    >>> sim = simulate_comparisons(golden, groups, n_pairs=12, beta=np.inf, random_state=0)
    >>> sim.pairs.shape, sim.error_rate
    ((12, 2), 0.0)
    >>> bool(np.all(groups[sim.pairs[:, 0]] == groups[sim.pairs[:, 1]]))
    True
    >>> bool(np.all((golden[sim.pairs[:, 0]] > golden[sim.pairs[:, 1]]) == (sim.y == 1)))
    True
    """
    golden = check_rewards(golden, len(np.ravel(golden)), input_name="golden")
    if len(golden) < 2:
        raise ValueError(f"golden must hold at least two items to compare; got n_samples={len(golden)}.")
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}; got {pairing!r}.")
    if link not in LINKS:
        raise ValueError(f"link must be one of {tuple(LINKS)}; got {link!r}.")
    if not beta >= 0:
        raise ValueError(f"beta must be a non-negative annotation quality; got {beta}.")
    if int(n_pairs) != n_pairs or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive integer; got {n_pairs}.")
    scale = _check_scale(golden, scale)
    rng = check_random_state(random_state)

    if pairing == "cross_prompt":
        members, sizes = np.arange(len(golden))[None], np.array([len(golden)])
        first, second = _draw_within_blocks(members, sizes, int(n_pairs), replace, rng, pairing)
    else:
        groups = check_groups(groups, len(golden))
        first, second = _draw_by_prompt(golden, groups, int(n_pairs), pairing, replace, rng)

    shuffle = rng.permutation(len(first))  # pairs come out in block order: shuffle them
    first, second = first[shuffle], second[shuffle]
    swap = rng.random(len(first)) < 0.5  # the first item is not always the lower rank
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    delta = golden[first] - golden[second]
    with np.errstate(invalid="ignore"):
        p_correct = np.where(delta == 0, 0.5, LINKS[link](beta * np.abs(delta) / scale))
    correct = rng.random(len(delta)) < p_correct
    y = np.where(correct, delta > 0, delta < 0).astype(np.int64)
    decided = delta != 0
    return SimulatedComparisons(
        pairs=np.column_stack([first, second]),
        y=y,
        error_rate=float(np.mean(~correct[decided])) if decided.any() else 0.0,
        mean_abs_delta=float(np.mean(np.abs(delta))),
    )


def _check_scale(golden, scale):
    scale = np.std(golden) if scale is None else scale
    if not scale > 0:
        raise ValueError(
            f"scale must be positive; got {scale} (with scale=None, golden must not be constant)."
        )
    return scale


def _draw_by_prompt(golden, groups, n_pairs, pairing, replace, rng):
    """Draw pairs of responses of one prompt; blocks are prompts (or their parts)."""
    _, prompt, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        bad = np.unique(groups)[counts < 2][:5].tolist()
        raise ValueError(
            f"groups: pairing={pairing!r} needs at least two responses per prompt; prompts "
            f"{bad} have only one. Drop them, or use pairing='cross_prompt'."
        )
    order = np.argsort(prompt, kind="stable")
    if pairing != "same_prompt":  # by prompt, then by golden reward (two stable argsorts)
        by_golden = np.argsort(golden, kind="stable")
        order = by_golden[np.argsort(prompt[by_golden], kind="stable")]
    rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    size = counts[prompt[order]]
    if pairing == "same_prompt":
        return _draw_within_blocks(*_blocks(order, prompt[order], np.ones_like(rank, bool)),
                                   n_pairs, replace, rng, pairing)
    if pairing == "similar":
        middle = (rank >= size // 4) & (rank < size - size // 4)
        return _draw_within_blocks(*_blocks(order, prompt[order], middle),
                                   n_pairs, replace, rng, pairing)
    quarter = -(-size // 4)  # ceil: at least one response at each end
    worst, _ = _blocks(order, prompt[order], rank < quarter)
    best, sizes = _blocks(order, prompt[order], rank >= size - quarter)
    return _draw_across_blocks(worst, best, sizes, n_pairs, replace, rng, pairing)


def _blocks(order, prompt_sorted, keep):
    """Items kept of each prompt as rows of a padded (n_prompts, max_size) table."""
    items, block = order[keep], prompt_sorted[keep]
    _, block, sizes = np.unique(block, return_inverse=True, return_counts=True)
    slot = np.arange(len(items)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    members = np.zeros((len(sizes), sizes.max()), dtype=np.int64)
    members[block, slot] = items
    return members, sizes


def _pair_numbers(n_candidates, n_pairs, replace, rng, pairing):
    total = int(n_candidates.sum())
    if not replace and n_pairs > total:
        raise ValueError(
            f"n_pairs={n_pairs} is larger than the {total} distinct pairs that "
            f"pairing={pairing!r} can draw from these items; lower n_pairs or pass replace=True."
        )
    if replace:
        number = np.sort(rng.randint(total, size=n_pairs, dtype=np.int64))
    else:
        number = _distinct(total, n_pairs, rng)
    # Sorted numbers make the search below sequential; callers shuffle the pairs after.
    block = np.searchsorted(np.cumsum(n_candidates), number, side="right")
    return block, number - (np.cumsum(n_candidates) - n_candidates)[block]


def _distinct(total, n, rng):
    """n distinct numbers below ``total``, sorted (a uniform random subset)."""
    if n > total // 4:
        return np.sort(rng.permutation(total)[:n])
    number = np.empty(0, dtype=np.int64)
    while len(number) < n:  # few collisions when n is a small part of total
        number = np.sort(np.concatenate([number, rng.randint(total, size=n - len(number),
                                                             dtype=np.int64)]))
        number = number[np.r_[True, number[1:] != number[:-1]]]
    return number


def _draw_within_blocks(members, sizes, n_pairs, replace, rng, pairing):
    """Unordered pairs i < j within a block: pair number j * (j - 1) / 2 + i."""
    block, local = _pair_numbers(sizes * (sizes - 1) // 2, n_pairs, replace, rng, pairing)
    j = np.floor((1 + np.sqrt(1 + 8 * local)) / 2).astype(np.int64)
    j -= j * (j - 1) // 2 > local  # guard both ways against rounding of the square root
    j += (j + 1) * j // 2 <= local
    i = local - j * (j - 1) // 2
    return members[block, i], members[block, j]


def _draw_across_blocks(low, high, sizes, n_pairs, replace, rng, pairing):
    """Pairs of one item of ``low`` and one of ``high`` in the same block."""
    block, local = _pair_numbers(sizes * sizes, n_pairs, replace, rng, pairing)
    return low[block, local // sizes[block]], high[block, local % sizes[block]]
