"""Drawing pairs of items by a pairing strategy, without enumerating the candidate pairs.

Every strategy is a set of blocks (per prompt, or one block of all items)
laid out as rows of a padded table (:mod:`skreward._grouping`) whose pairs
are numbered, so a sample of pair numbers is drawn and decoded to items in a
few vector operations.
"""

import numpy as np

from ._grouping import group_slots, padded_table

PAIRINGS = ("same_prompt", "cross_prompt", "similar", "diverse")


def draw_pairs(golden, groups, n_pairs, pairing, replace, rng):
    """Item indices of ``n_pairs`` pairs drawn by ``pairing``, in random order and orientation.

    Parameters
    ----------
    golden : ndarray of shape (n_items,)
        Golden reward (orders the responses of a prompt for ``"similar"`` and
        ``"diverse"``).
    groups : ndarray of shape (n_items,) or None
        Prompt ids; unused by ``"cross_prompt"``.
    n_pairs : int
        Pairs to draw.
    pairing : {"same_prompt", "cross_prompt", "similar", "diverse"}
        See :func:`~skreward.simulate_comparisons`.
    replace : bool
        Whether a pair may be drawn more than once.
    rng : RandomState
        Source of randomness.

    Returns
    -------
    first, second : ndarray of shape (n_pairs,)
        Indices of the two items of every pair.
    """
    if pairing == "cross_prompt":
        members, sizes = np.arange(len(golden))[None], np.array([len(golden)])
        first, second = _draw_within_blocks(members, sizes, n_pairs, replace, rng, pairing)
    else:
        first, second = _draw_by_prompt(golden, groups, n_pairs, pairing, replace, rng)
    shuffle = rng.permutation(len(first))  # pairs come out in block order: shuffle them
    first, second = first[shuffle], second[shuffle]
    swap = rng.random(len(first)) < 0.5  # the first item is not always the lower rank
    return np.where(swap, second, first), np.where(swap, first, second)


def _draw_by_prompt(golden, groups, n_pairs, pairing, replace, rng):
    """Draw pairs of responses of one prompt; blocks are prompts (or their parts)."""
    prompt, _, counts = group_slots(groups)
    if counts.min() < 2:
        bad = np.unique(groups)[counts < 2][:5].tolist()
        raise ValueError(
            f"groups: pairing={pairing!r} needs at least two responses per prompt; prompts "
            f"{bad} have only one. Drop them, or use pairing='cross_prompt'."
        )
    # Rows of the blocks: a prompt's responses, by golden reward where the pairing needs ranks.
    order = np.arange(len(golden)) if pairing == "same_prompt" else np.argsort(golden, kind="stable")
    prompt = prompt[order]
    _, rank, _ = group_slots(prompt)
    size = counts[prompt]
    if pairing == "same_prompt":
        return _draw_within_blocks(*padded_table(prompt, order, fill=0), n_pairs, replace, rng,
                                   pairing)
    if pairing == "similar":
        middle = (rank >= size // 4) & (rank < size - size // 4)
        return _draw_within_blocks(*padded_table(prompt[middle], order[middle], fill=0),
                                   n_pairs, replace, rng, pairing)
    quarter = -(-size // 4)  # ceil: at least one response at each end
    worst, best = rank < quarter, rank >= size - quarter
    worst, _ = padded_table(prompt[worst], order[worst], fill=0)
    best, sizes = padded_table(prompt[best], order[best], fill=0)
    return _draw_across_blocks(worst, best, sizes, n_pairs, replace, rng, pairing)


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
    # Sorted numbers make the search below sequential; draw_pairs shuffles the pairs after.
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
