"""Rankings of ``k`` items as data: validation, and their decomposition into comparisons.

A ranking array ``(n_rankings, k, n_features)`` holds the items of every
ranking in preferred order (the best first), or in any order together with
an ``order`` array ``(n_rankings, k)`` whose row lists the positions of the
items from the best to the worst. A partial ranking (the top ``m`` of ``k``)
ranks its first ``m`` items; the others are known only to be worse.
"""

import numbers

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

from ._validation import FLOATS, _check_array, _refuse_none

#: How a ranking is broken into comparisons (:func:`ranking_to_pairs`).
SCHEMES = ("all_pairs", "adjacent", "best_vs_rest")


def check_rankings(X, order=None, top_m=None, *, input_name="X", order_name="order"):
    """Rankings in preferred order, and the number of ranked items of each.

    Parameters
    ----------
    X : array-like of shape (n_rankings, k, n_features)
        The items of every ranking.
    order : array-like of shape (n_rankings, k) or None
        Row ``i`` lists the positions (in ``X[i]``) of the items from the best
        to the worst; ``-1`` after the ranked positions marks a partial
        ranking. ``None``: ``X`` is in preferred order.
    top_m : int, array-like of shape (n_rankings,) or None
        Ranked items of every ranking (the rest are only known to be worse);
        ``None``: all of them. Only with ``order=None``.

    Returns
    -------
    X_ranked : ndarray of shape (n_rankings, k, n_features)
        Each ranking's items, the best first (a view of ``X`` when ``order`` is None).
    n_ranked : ndarray of shape (n_rankings,)
        Ranked items of every ranking, in ``[1, k]``.
    """
    X = check_ranking_array(X, input_name=input_name)
    n, k, _ = X.shape
    if order is not None:
        if top_m is not None:
            raise ValueError(f"pass either {order_name} (with -1 for unranked positions) or "
                             "top_m, not both.")
        order, n_ranked = check_order(order, n, k, input_name=order_name)
        full = _complete(order, n_ranked, k)
        return np.take_along_axis(X, full[:, :, None], axis=1), n_ranked
    return X, check_top_m(top_m, n, k)


def _complete(order, n_ranked, k):
    """Full permutations: the ranked positions, then the unranked ones in their order in X."""
    is_ranked = np.zeros((len(order), k), dtype=bool)
    rows, cols = np.nonzero(order >= 0)
    is_ranked[rows, order[rows, cols]] = True
    unranked = np.argsort(is_ranked, axis=1, kind="stable")  # unranked first, in X's order
    slot = np.arange(k)[None] - n_ranked[:, None]
    tail = np.take_along_axis(unranked, np.clip(slot, 0, k - 1), axis=1)
    return np.where(slot < 0, order, tail)


def check_ranking_array(X, *, input_name="X", distinct=True):
    """Rankings as a float array ``(n_rankings, k >= 2, n_features)`` (of distinct items)."""
    expected = ("rankings, an array-like of shape (n_rankings, k, n_features) (comparisons: "
                "(n_pairs, 2, n_features))")
    _refuse_none(X, input_name, expected)
    X = _check_array(X, allow_nd=True, ensure_2d=False, dtype=FLOATS, ensure_all_finite=True,
                     ensure_min_samples=0, input_name=input_name)
    if X.ndim != 3:
        raise ValueError(f"{input_name} must be {expected}; got an array of shape {X.shape}.")
    n, k, width = X.shape
    if k < 2:
        raise ValueError(f"{input_name} must rank at least k=2 items per ranking; got k={k} "
                         f"(shape {X.shape}).")
    if n == 0:
        raise ValueError(f"{input_name} must contain at least one ranking; got 0.")
    if width == 0:
        raise ValueError(f"{input_name} must have at least one feature; got shape {X.shape}.")
    if distinct:
        _refuse_repeated_items(X, input_name)
    return X


def _refuse_repeated_items(X, input_name):
    k = X.shape[1]
    for a in range(k - 1):
        same = np.all(X[:, a + 1:] == X[:, a:a + 1], axis=2)
        if same.any():
            row, b = np.argwhere(same)[0]
            raise ValueError(
                f"{input_name}: ranking {row} repeats an item (positions {a} and {a + 1 + b} "
                "have identical features); a ranking compares distinct items. Drop the "
                "repeat, or record the two as a tie.")


def check_order(order, n_rankings, k, *, input_name="order"):
    """An order array ``(n_rankings, k)`` of ints: each row a permutation of ``range(k)``,
    or its first ``m`` positions followed by ``-1``; returns it and ``m`` per row."""
    order = np.asarray(order)
    if order.shape != (n_rankings, k):
        raise ValueError(f"{input_name} must have shape (n_rankings, k) = ({n_rankings}, {k}): "
                         f"one row per ranking listing item positions from best to worst; "
                         f"got shape {order.shape}.")
    if order.dtype.kind not in "iu":
        if order.dtype.kind != "f" or not np.all(np.isfinite(order)) \
                or not np.all(order == np.round(order)):
            raise ValueError(f"{input_name} must hold integer positions in [0, {k}) "
                             f"(or -1 for unranked ones); got dtype {order.dtype}.")
    order = order.astype(np.int64)
    ranked = order >= 0
    n_ranked = ranked.sum(axis=1)
    bad = (order < -1) | (order >= k)
    bad |= np.diff(ranked.astype(int), axis=1, prepend=1).clip(min=0).astype(bool)
    sorted_pos = np.sort(np.where(ranked, order, -1 - np.arange(k)[None]), axis=1)
    bad_rows = bad.any(axis=1) | (n_ranked == 0) | np.any(np.diff(sorted_pos, axis=1) == 0,
                                                         axis=1)
    if bad_rows.any():
        row = int(np.flatnonzero(bad_rows)[0])
        raise ValueError(
            f"{input_name} row {row} is not a permutation of range({k}): got "
            f"{order[row].tolist()}. Each row lists distinct positions from best to worst, "
            "optionally followed by -1 for unranked ones (at least one ranked).")
    return order, n_ranked


def check_top_m(top_m, n_rankings, k, *, input_name="top_m"):
    """Ranked items per ranking as ints in ``[1, k]``; ``None``: all ``k``."""
    if top_m is None:
        return np.full(n_rankings, k, dtype=np.int64)
    values = np.broadcast_to(np.asarray(top_m), (n_rankings,)) if np.ndim(top_m) == 0 \
        else np.asarray(top_m)
    if values.shape != (n_rankings,) or values.dtype.kind not in "iu" \
            or np.any(values < 1) or np.any(values > k):
        raise ValueError(f"{input_name} must be an int, or one int per ranking, in [1, k={k}] "
                         f"(the ranked items of each ranking); got {top_m!r}.")
    return values.astype(np.int64)


@validate_params(
    {"X": ["array-like"], "order": ["array-like", None],
     "top_m": [numbers.Integral, "array-like", None],
     "scheme": [StrOptions(set(SCHEMES))]},
    prefer_skip_nested_validation=True,
)
def ranking_to_pairs(X, order=None, *, top_m=None, scheme="all_pairs"):
    """Break rankings into comparisons that any pairwise reward model can fit.

    Every comparison has the preferred item first (``y`` is all ones), and
    ``ranking_ids`` says which ranking it came from, so that
    :class:`~sklearn.model_selection.GroupKFold` keeps a ranking's
    comparisons in one fold.

    The schemes, for a ranking of ``k`` items (the top ``m`` ranked):

    ``"all_pairs"``
        Every pair with at least one ranked item, ``k (k - 1) / 2`` for a
        full ranking. Under Plackett-Luce (Gumbel) noise every such pair
        follows the Bradley-Terry model exactly, so a BT fit on them
        maximises a composite likelihood; but the pairs of one ranking are
        not independent (they come from ``k - 1`` choices), so a ranking
        carries less information than ``k (k - 1) / 2`` independent
        comparisons, and errors computed as if they were independent are too
        small. Weight each pair by ``1 / n_pairs_of_its_ranking`` to give
        every ranking the weight of one, and split by ``ranking_ids``.
    ``"adjacent"``
        The ``k - 1`` pairs of neighbours (for a partial ranking, the last
        ranked item against each unranked one). Fewer, less dependent pairs,
        but a pair of neighbours is selected by the outcome, so it does not
        follow the Bradley-Terry model (rank breaking of this kind can bias
        the estimates; Azari Soufiani et al., 2013).
    ``"best_vs_rest"``
        The best item against each other one: ``k - 1`` pairs that keep only
        the first choice of the ranking.

    The classification reward from rankings uses ``"all_pairs"``: fed to
    :class:`~skreward.OrderConsistentClassifier`, the item at position ``j``
    of a full ranking is a winner in ``k - 1 - j`` of its rows and a loser in
    ``j``, i.e. a label of ``(k - 1 - j) / (k - 1)`` (its Borda score), so
    every position of the ranking informs the classifier. ``"best_vs_rest"``
    would label only the best item a winner and the middle of the ranking
    as bad as its worst item; ``"adjacent"`` gives every middle item the
    same label one half.

    Parameters
    ----------
    X : array-like of shape (n_rankings, k, n_features)
        The items of every ranking, in preferred order unless ``order`` is given.
    order : array-like of shape (n_rankings, k), default=None
        Positions of the items from the best to the worst; ``-1`` after the
        ranked ones for a partial ranking.
    top_m : int or array-like of shape (n_rankings,), default=None
        Ranked items of each ranking when ``X`` is in preferred order;
        ``None``: all.
    scheme : {"all_pairs", "adjacent", "best_vs_rest"}, default="all_pairs"
        Which pairs to take.

    Returns
    -------
    X_pairs : ndarray of shape (n_pairs, 2, n_features)
        Comparisons, the preferred item first.
    y : ndarray of shape (n_pairs,)
        All ones.
    ranking_ids : ndarray of shape (n_pairs,)
        Index of the ranking of every comparison (the ``groups`` of a
        ``GroupKFold``).

    Examples
    --------
    >>> import numpy as np
    >>> from skreward import ranking_to_pairs
    >>> X = np.arange(12.0).reshape(2, 3, 2)  # two rankings of three items
    >>> X_pairs, y, ids = ranking_to_pairs(X)
    >>> X_pairs.shape, y.tolist(), ids.tolist()
    ((6, 2, 2), [1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1])
    >>> ranking_to_pairs(X, scheme="adjacent")[0].shape
    (4, 2, 2)
    >>> X_pairs, _, _ = ranking_to_pairs(X, order=[[2, 0, 1], [1, 0, 2]], scheme="best_vs_rest")
    >>> X_pairs[0].tolist()  # the first ranking's best item, X[0, 2], against X[0, 0]
    [[4.0, 5.0], [0.0, 1.0]]
    """
    X, n_ranked = check_rankings(X, order, top_m)
    k = X.shape[1]
    a, b = np.triu_indices(k, 1)
    m = n_ranked[:, None]
    if scheme == "all_pairs":
        keep = a[None] < m
    elif scheme == "adjacent":
        keep = ((b == a + 1)[None] & (a[None] < m)) | ((a[None] == m - 1) & (b[None] >= m))
    else:
        keep = np.broadcast_to(a[None] == 0, (len(X), len(a)))
    rows, pair = np.nonzero(keep)
    X_pairs = np.stack([X[rows, a[pair]], X[rows, b[pair]]], axis=1)
    return X_pairs, np.ones(len(rows), dtype=np.int64), rows
