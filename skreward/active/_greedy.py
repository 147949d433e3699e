"""The lazy greedy D-optimal batch: the plain greedy's picks, with few gains kept current.

Gains only fall as picks are added to ``M`` (``log det`` is submodular), so
a gain computed at any earlier step bounds the gain now. Three tiers of
candidates follow from it:

* a small *hot* set, the best by their last gains, whose exact gains are
  updated after every pick (O(d) a candidate: its whitened difference
  times the pick's direction);
* the *active* set, whose gains were exact at the last refresh: refreshed
  all at once, from every item's projection on the picks since (one matrix
  product), when the hot set's best falls below their best;
* the rest, whose gain before any pick is their bound, entering the active
  set a block at a time in the order of that bound.

A pick is made only when the best hot gain beats every bound, so every pick
is the plain greedy's (ties go to the lower candidate index, as there).
"""

import numpy as np

from ._chunking import chunks


class Picks:
    """The picks so far, in whitened coordinates: ``M^{-1} = I - sum_j v_j v_j^T``.

    ``S[j] = G v_j`` (every item's projection on pick ``j``) is computed for
    a run of picks at a time (:meth:`sync`); a candidate's gain falls by the
    square of the difference of its two items' projections.
    """

    def __init__(self, G, capacity):
        self.G = G
        self.M_inv = np.eye(G.shape[1])
        self.V = np.empty((capacity, G.shape[1]))
        self.S = np.empty((capacity, len(G)))
        self.k = self.synced = 0

    def add(self, d, w):
        """Add ``w d d^T`` to ``M`` (Sherman-Morrison); return the pick's direction ``v``."""
        u = self.M_inv @ d
        c = w / (1.0 + w * (d @ u))
        self.M_inv -= np.outer(u, u) * c
        self.V[self.k] = u * np.sqrt(c)
        self.k += 1
        return self.V[self.k - 1]

    def sync(self):
        """Every item's projection on the picks made since the last call (one matrix product)."""
        if self.synced < self.k:
            self.S[self.synced:self.k] = self.V[self.synced:self.k] @ self.G.T
            self.synced = self.k

    def update(self, quad, first, second, since, chunk_size):
        """``d^T M^{-1} d`` now of pairs ``(first, second)``, from ``quad`` as of pick ``since``."""
        self.sync()
        if since < self.k:
            step = max(1, chunk_size * 64 // (self.k - since))
            for start, stop in chunks(len(quad), step):
                P = (self.S[since:self.k, first[start:stop]]
                     - self.S[since:self.k, second[start:stop]])
                quad[start:stop] -= np.einsum("ij,ij->j", P, P)
        return quad


def _best(gains, index):
    """Position of the highest gain, ties to the lowest ``index``; (-inf, n) when empty."""
    position = int(np.argmax(gains))
    tied = np.flatnonzero(gains == gains[position])
    if len(tied) > 1:
        position = int(tied[np.argmin(index[tied])])
    return position


def _beats(gain, index, other_gain, other_index):
    return gain > other_gain or (gain == other_gain and index < other_index)


def greedy_select(space, weights, n_select, chunk_size=8192, block=None, hot=2048):
    """Greedy D-optimal batch from whitened candidate pairs (see the module's docstring).

    Parameters
    ----------
    space : WhitenedPairs
        The candidates, whitened by the starting ``M``.
    weights : ndarray of shape (n_pairs,)
        ``p (1 - p)`` of every candidate.
    n_select : int
        Pairs to pick.
    chunk_size : int
        Bounds the temporaries of a refresh (``chunk_size * 64`` numbers).
    block : int, default=None
        Candidates entering the active set at a time; ``None``:
        ``max(4 * n_select, 4096)``.
    hot : int, default=2048
        Candidates whose gains are updated after every pick.

    Returns
    -------
    picks : ndarray of shape (n_select,)
        Indices of the candidates, in the order picked.
    stats : dict
        ``entered`` (candidates that entered the active set) and
        ``refreshes`` (refreshes of the active set).
    """
    quad0 = space.squared_norms(chunk_size)
    bound = weights * quad0  # every candidate's gain before any pick: an upper bound after
    order = np.argsort(-bound, kind="stable")  # by bound, ties to the lower index
    block = max(4 * n_select, 4096) if block is None else int(block)
    picks_so_far = Picks(space.G, n_select)
    n = len(bound)
    # The active set, in preallocated rows: candidate index, items, weight, and
    # d^T M^{-1} d as of pick ``since``; its first ``size`` rows are in use.
    active, first, second = (np.empty(n, dtype=np.int64) for _ in range(3))
    weight, quad = np.empty(n), np.empty(n)
    size, since, position, refreshes = 0, 0, 0, 0
    # The hot set: rows of the active set, their differences and current d^T M^{-1} d, and
    # the best (gain, index) of the rest of the active set at the last refresh.
    hot_rows, hot_D, hot_quad, rest = np.empty(0, dtype=np.int64), None, None, None
    picks = []
    while len(picks) < n_select:
        if len(hot_rows):
            hot_gains = weight[hot_rows] * hot_quad
            best = _best(hot_gains, active[hot_rows])
            outside = ((bound[order[position]], order[position]) if position < n
                       else (-np.inf, n))
            if _beats(*rest, *outside):
                outside = rest
            if _beats(hot_gains[best], active[hot_rows[best]], *outside):
                row = hot_rows[best]
                picks.append(int(active[row]))
                v = picks_so_far.add(hot_D[best], weight[row])
                hot_quad -= (hot_D @ v) ** 2
                hot_quad[best] = -np.inf
                quad[row] = -np.inf
                continue
        # Refresh the active set, let candidates in while their bound beats its best, re-pick hot.
        refreshes += 1
        picks_so_far.update(quad[:size], first[:size], second[:size], since, chunk_size)
        since = picks_so_far.k
        gains = weight[:size] * quad[:size]
        top = _best(gains, active[:size]) if size else None
        top = (gains[top], active[top]) if size else (-np.inf, n)
        while position < n and not _beats(*top, bound[order[position]], order[position]):
            entering = order[position:position + block]
            rows = slice(size, size + len(entering))
            position += len(entering)
            size += len(entering)
            active[rows] = entering
            first[rows], second[rows] = space.pairs[entering, 0], space.pairs[entering, 1]
            weight[rows] = weights[entering]
            quad[rows] = quad0[entering]
            picks_so_far.update(quad[rows], first[rows], second[rows], 0, chunk_size)
            gains = weight[rows] * quad[rows]
            best = _best(gains, entering)
            if _beats(gains[best], entering[best], *top):
                top = (gains[best], entering[best])
        gains = weight[:size] * quad[:size]
        n_hot = min(hot, size)
        hot_rows = _top_rows(gains, active[:size], n_hot) if n_hot < size else np.arange(size)
        others = np.ones(size, dtype=bool)
        others[hot_rows] = False
        if others.any():
            rows = np.flatnonzero(others)
            r = _best(gains[rows], active[rows])
            rest = (gains[rows[r]], active[rows[r]])
        else:
            rest = (-np.inf, n)
        hot_D = space.G[first[hot_rows]] - space.G[second[hot_rows]]
        hot_quad = quad[hot_rows].copy()
    return np.array(picks, dtype=np.int64), dict(entered=position, refreshes=refreshes)


def _top_rows(gains, index, k):
    """Rows of the ``k`` largest gains, ties broken by the smaller candidate index (as the
    picks are): an arbitrary cut through tied gains would leave the pick outside the hot
    set, and the loop would refresh for ever."""
    threshold = -np.partition(-gains, k - 1)[k - 1]
    above = np.flatnonzero(gains > threshold)
    tied = np.flatnonzero(gains == threshold)
    tied = tied[np.argsort(index[tied], kind="stable")][:k - len(above)]
    return np.concatenate([above, tied])
