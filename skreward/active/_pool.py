"""Pools of candidate pairs: drawn from items and prompt groups, or given, and checked."""

import numpy as np

from .._pair_sampling import draw_pairs
from .._validation import check_groups

POOLS = ("same_prompt", "cross_prompt")


def n_distinct_pairs(n_items, groups, pool):
    """How many distinct unordered pairs ``pool`` can draw from the items."""
    if pool == "cross_prompt":
        return n_items * (n_items - 1) // 2
    _, counts = np.unique(groups, return_counts=True)
    return int(np.sum(counts * (counts - 1) // 2))


def pair_keys(pairs, n_items):
    """One integer per unordered pair (the same for (a, b) and (b, a))."""
    pairs = np.asarray(pairs, dtype=np.int64)
    return np.minimum(pairs[:, 0], pairs[:, 1]) * n_items + np.maximum(pairs[:, 0], pairs[:, 1])


def check_pairs(pairs, n_items, input_name):
    """Item index pairs ``(n, 2)`` of integers in ``[0, n_items)``."""
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(
            f"{input_name} must be item index pairs of shape (n_pairs, 2); got an array of "
            f"shape {pairs.shape}."
        )
    if len(pairs) and not np.issubdtype(pairs.dtype, np.integer):
        raise TypeError(f"{input_name} must hold integer item indices; got dtype {pairs.dtype}.")
    pairs = pairs.astype(np.int64)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= n_items):
        raise ValueError(
            f"{input_name} indexes items outside [0, {n_items}): values from {pairs.min()} to "
            f"{pairs.max()}."
        )
    return pairs


def candidate_pool(n_items, groups, pool, n_candidates, labelled, rng):
    """Candidate pairs ``(n, 2)``: drawn by ``pool`` or the given array, without labelled pairs.

    Parameters
    ----------
    n_items : int
        Number of items.
    groups : ndarray of shape (n_items,) or None
        Prompt ids; required by ``pool="same_prompt"``.
    pool : {"same_prompt", "cross_prompt"} or array-like of shape (n, 2)
        How candidates are drawn, or the candidates themselves.
    n_candidates : int
        Candidates to draw (at most the distinct pairs available).
    labelled : ndarray of shape (n_labelled, 2) or None
        Pairs already labelled: left out of the pool.
    rng : RandomState
        Source of randomness.
    """
    if isinstance(pool, str):
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {list(POOLS)} or an array of item index "
                             f"pairs (n, 2); got {pool!r}.")
        if pool == "same_prompt":
            groups = check_groups(groups, n_items)
        n_labelled = 0 if labelled is None else len(labelled)
        available = n_distinct_pairs(n_items, groups, pool)
        n_draw = int(min(n_candidates + n_labelled, available))
        if n_draw == 0:
            candidates = np.empty((0, 2), dtype=np.int64)
        else:
            golden = np.zeros(n_items)  # draw_pairs reads it only for "similar" / "diverse"
            first, second = draw_pairs(golden, groups, n_draw, pool, False, rng)
            candidates = np.column_stack([first, second])
    else:
        candidates = check_pairs(pool, n_items, "pool")
        if len(candidates) and np.any(candidates[:, 0] == candidates[:, 1]):
            raise ValueError("pool pairs an item with itself; every candidate needs two items.")
        keys = pair_keys(candidates, n_items)
        _, first_rows = np.unique(keys, return_index=True)
        if len(first_rows) < len(candidates):  # a batch must not pick one pair twice
            repeat = int(np.setdiff1d(np.arange(len(keys)), first_rows)[0])
            original = int(np.flatnonzero(keys == keys[repeat])[0])
            raise ValueError(
                f"pool holds the pair {tuple(candidates[repeat].tolist())} at row {repeat}, "
                f"which repeats row {original} (pairs are unordered); pass each pair once.")
    if labelled is not None and len(labelled) and len(candidates):
        seen = np.isin(pair_keys(candidates, n_items), pair_keys(labelled, n_items))
        candidates = candidates[~seen]
    if isinstance(pool, str):
        candidates = candidates[:n_candidates]
    if len(candidates) == 0:
        raise ValueError(
            "The pool of candidate pairs is empty (after leaving out the labelled pairs): "
            "pass more items, a larger pool, or fewer labelled pairs."
        )
    return candidates
