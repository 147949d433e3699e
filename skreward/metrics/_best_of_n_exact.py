"""Exact expected Best-of-N over uniformly random n-candidate subsets, in closed form.

Sort a prompt's ``K`` candidates by predicted reward, best first. A uniformly
random subset of ``n`` candidates has its best candidate at sorted position
``i`` (0-based) when it holds position ``i`` and ``n - 1`` of the ``K - 1 - i``
positions below it, so with probability

    w(K, n, i) = C(K - 1 - i, n - 1) / C(K, n),    0 <= i <= K - n,

and the expected golden reward of the pick is ``sum_i w(K, n, i) * golden_i``.
The weights come from the ratio ``w(i + 1) / w(i) = (K - n - i) / (K - 1 - i)``
and ``w(0) = n / K`` (a cumulative product: no factorials, no overflow at
``K = 500``; tiny weights underflow to 0).

Ties in predicted reward. The pick is uniform among the subset's candidates
that tie for its highest predicted reward. Take a block ``B`` of candidates
tied at one predicted reward, at sorted positions ``[a, b)``. The subset's
best predicted reward is that of ``B`` exactly when the subset holds none of
positions ``[0, a)`` and at least one of ``B``; this event is the union of
"the best sorted position in the subset is ``i``" over ``i`` in ``[a, b)``,
so it has probability ``sum_{i in [a, b)} w(K, n, i)`` whatever the order
within ``B``. Given the event, the subset's part of ``B`` has a distribution
that no permutation of ``B``'s members changes, and the pick is uniform
within it, so each member of ``B`` is the pick with the same probability.
Hence the block contributes ``sum_{i in B} w(K, n, i) * mean_B(golden)``:
replacing every golden reward by the mean over its tied block and then using
the weights of untied candidates is exact.

Every table below is a padded ``(n_prompts, max_candidates)`` table from
:func:`skreward._grouping.padded_table` (padding NaN); results are per prompt.
"""

import numpy as np


def pick_weights(sizes, n, width):
    """Probabilities ``w(K, n, i)`` that sorted position ``i`` is the pick of a random n-subset.

    Parameters
    ----------
    sizes, n : array-like of int, broadcastable
        Candidates ``K`` of a prompt and the subset size ``n`` (``1 <= n <= K``).
    width : int
        Number of positions (at least ``max(sizes)``); positions ``>= K - n + 1``
        get weight 0.

    Returns
    -------
    weights : ndarray of shape ``broadcast(sizes, n).shape + (width,)``
        Each row sums to 1.

    Examples
    --------
    >>> from skreward.metrics._best_of_n_exact import pick_weights
    >>> pick_weights(4, [1, 2, 4], 4).round(4).tolist()
    [[0.25, 0.25, 0.25, 0.25], [0.5, 0.3333, 0.1667, 0.0], [1.0, 0.0, 0.0, 0.0]]
    """
    sizes, n = np.broadcast_arrays(np.asarray(sizes, dtype=float), np.asarray(n, dtype=float))
    K, n = sizes[..., None], n[..., None]
    i = np.arange(width - 1)
    ratio = np.clip(K - n - i, 0, None) / np.maximum(K - 1 - i, 1)
    first = np.broadcast_to(n / K, ratio.shape[:-1] + (1,))
    weights = np.cumprod(np.concatenate([first, ratio], axis=-1), axis=-1)
    return weights / weights.sum(axis=-1, keepdims=True)


def within_prompt_quantile(golden, sizes):
    """Per candidate: the fraction of its prompt's candidates whose golden reward is at most its own.

    The quantile that Sun et al. report for the picked response (1 for a
    prompt's best candidate, ``1 / K`` for a lone worst one); NaN on padding.
    """
    order = np.argsort(np.where(np.isnan(golden), np.inf, golden), axis=1)
    ascending = np.take_along_axis(golden, order, axis=1)
    width = golden.shape[1]
    # Rank of a value: the last position of its tie block, plus 1.
    last = np.ones(ascending.shape, dtype=bool)
    last[:, :-1] = ascending[:, 1:] != ascending[:, :-1]
    position = np.where(last, np.arange(width), width)
    rank = np.minimum.accumulate(position[:, ::-1], axis=1)[:, ::-1] + 1
    quantile = np.empty_like(golden)
    np.put_along_axis(quantile, order, rank / sizes[:, None], axis=1)
    return np.where(np.isnan(golden), np.nan, quantile)


def sorted_by_score(score, sizes, *tables):
    """``tables`` re-ordered by decreasing ``score`` per row, each value averaged over its tie block.

    Padding (NaN score, in rows shorter than ``score.shape[1]``) goes last and
    becomes 0, so that weights of 0 meet no NaN.
    """
    padded = sizes.min() < score.shape[1]
    if padded:
        key = np.where(np.isnan(score), np.inf, -score)
        order = np.argsort(key, axis=1)
    else:  # ascending order reversed: the same blocks of ties, no negated copy
        key, order = score, np.argsort(score, axis=1)[:, ::-1]
    order += np.arange(0, order.size, score.shape[1])[:, None]  # flat indices: np.take is fast
    key = np.take(key, order)
    out = [np.take(table, order) for table in tables]
    if padded:
        out = [np.nan_to_num(table, copy=False, nan=0.0) for table in out]
    tied = key[:, 1:] == key[:, :-1]
    if padded:
        tied &= np.isfinite(key[:, 1:])
    if tied.any():
        start = np.ones(key.shape, dtype=bool)
        start[:, 1:] = ~tied
        block = np.cumsum(start.ravel()) - 1
        size = np.bincount(block)
        out = [(np.bincount(block, table.ravel()) / size)[block].reshape(table.shape)
               for table in out]
    return out


def best_first(golden, sizes):
    """Golden rewards sorted in decreasing order per row (the oracle's order); padding 0."""
    if sizes.min() == golden.shape[1]:
        return np.sort(golden, axis=1)[:, ::-1]
    return np.nan_to_num(-np.sort(np.where(np.isnan(golden), np.inf, -golden), axis=1), nan=0.0,
                         neginf=0.0)


def row_means(golden, sizes):
    """Mean golden reward of every prompt's candidates (padding left out)."""
    if sizes.min() == golden.shape[1]:
        return golden.mean(axis=1)
    return np.where(np.isnan(golden), 0.0, golden).sum(axis=1) / sizes


def expected_picks(sizes, ns, *sorted_tables):
    """Expected value of the pick for every N, averaged over prompts; one array per table.

    The pick's weights depend on a prompt only through its ``K``, so the
    tables are first averaged over the prompts of each ``K`` (position by
    position) and only then weighted: a whole curve costs little more than
    one value of N.

    Parameters
    ----------
    sizes : ndarray of shape (n_prompts,)
        Candidates of every prompt.
    ns : ndarray of shape (n_ns,) or None
        Subset sizes (each at most ``sizes.min()``). ``None``: each prompt's
        own ``K`` (all candidates, the argmax pick), as one value.
    *sorted_tables : ndarray of shape (n_prompts, width)
        Per-candidate values in the order of the pick's preference.

    Returns
    -------
    *expected : ndarray of shape (n_ns,)
        Mean over prompts of the expected value of the pick.
    """
    width = sorted_tables[0].shape[1]
    out = [np.zeros(1 if ns is None else len(ns)) for _ in sorted_tables]
    distinct, which = np.unique(sizes, return_inverse=True)
    for k, K in enumerate(distinct):
        rows = slice(None) if len(distinct) == 1 else np.flatnonzero(which == k)
        weights = pick_weights(K, [K] if ns is None else ns, width)  # (n_ns, width)
        share = np.mean(which == k)
        for table, result in zip(sorted_tables, out):
            result += share * np.einsum("nk,k->n", weights, table[rows].mean(axis=0))
    return out
