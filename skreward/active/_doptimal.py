"""D-optimal selection of pairs: gains ``w d^T M^{-1} d`` from a Cholesky factor, lazy greedy.

A candidate pair with feature difference ``d`` (of the two items' last-layer
features) and predicted preference probability ``p`` adds ``w d d^T`` to the
Fisher information ``M`` of a Bradley-Terry model's last layer, with
``w = p (1 - p)``. Its gain, ``w d^T M^{-1} d``, is the increase of
``log det M`` to first order (exactly: ``log(1 + gain)``).

* :func:`pair_gains` computes every candidate's gain from the Cholesky
  factor ``M = L L^T``: ``||L^{-1} d||^2 = ||g_a - g_b||^2`` with the items
  whitened once, ``g = L^{-1} f``: O(n_items d^2 + n d) time (at most
  O(n d^2)), chunks of ``chunk_size`` pairs, never an ``(n, d, d)`` tensor.
* :func:`lazy_greedy_select` picks a batch one pair at a time, adding each
  pick to ``M`` (a rank-one update of ``M^{-1}``, Sherman-Morrison). Gains
  only fall as ``M`` grows (``log det`` is submodular), so a gain computed
  earlier bounds the gain now: the lazy greedy (``_greedy.py``) keeps few
  gains current and picks what the plain greedy picks.
* :func:`plain_greedy_select` and :func:`dense_greedy_select` are the
  references: every gain recomputed at every step, and the authors' dense
  ``(n, d, d)`` tensor of outer products.
"""

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.special import expit

from ._chunking import chunks as _chunks
from ._greedy import Picks, greedy_select


def fisher_weights(reward, pairs):
    """``p (1 - p)`` of every pair, with ``p = sigmoid(r(a) - r(b))`` from the model's rewards."""
    p = expit(reward[pairs[:, 0]] - reward[pairs[:, 1]])
    return p * (1 - p)


def differences(F, pairs):
    """Feature differences ``F[a] - F[b]`` of pairs, as float64."""
    return np.asarray(F[pairs[:, 0]], dtype=np.float64) - F[pairs[:, 1]]


def information_matrix(F, pairs, weights, chunk_size):
    """``sum_i w_i d_i d_i^T`` over pairs, in chunks."""
    M = np.zeros((F.shape[1], F.shape[1]))
    for start, stop in _chunks(len(pairs), chunk_size):
        D = differences(F, pairs[start:stop])
        M += (D * weights[start:stop, None]).T @ D
    return M


def prior_matrix(F, pool, weights, ridge, labelled, labelled_weights, chunk_size):
    """``ridge * s * I`` (+ the Fisher information of labelled pairs), s the pool's mean scale.

    ``s`` is the mean ``w ||d||^2 / n_features`` of the pool's first 10,000
    pairs (a pool is drawn in random order), so ``ridge``
    counts prior pairs of average size, whatever the scale of the features.
    """
    n_features = F.shape[1]
    sample = slice(0, min(len(pool), 10_000))  # the pool's first pairs (a random draw) suffice
    D = differences(F, pool[sample])
    scale = float(np.mean(weights[sample] * np.einsum("ij,ij->i", D, D))) / n_features
    M = np.eye(n_features) * ridge * (scale if scale > 0 else 1.0)
    if labelled is not None and len(labelled):
        M += information_matrix(F, labelled, labelled_weights, chunk_size)
    return M


class WhitenedPairs:
    """Candidate pairs in coordinates where ``M = I``: the items' features times ``L^{-1}``.

    With ``M = L L^T``, a pair's ``d^T M^{-1} d`` is ``||g_a - g_b||^2`` for
    the whitened items ``g = L^{-1} f``. Whitening the items the pairs use
    (O(n_items d^2)) makes every gain O(d) instead of O(d^2), and a pick's
    projection onto every candidate is a difference of two item projections.
    """

    def __init__(self, F, pairs, M):
        items, inverse = np.unique(pairs, return_inverse=True)
        self.pairs = inverse.reshape(pairs.shape)
        F = np.asarray(F[items], dtype=np.float64)
        diagonal = np.diag(M)
        if np.count_nonzero(M - np.diag(diagonal)) == 0:  # diagonal M: no factor needed
            self.G = F / np.sqrt(diagonal)
        else:
            L = cholesky(M, lower=True)
            self.G = solve_triangular(L, F.T, lower=True, check_finite=False).T

    def differences(self, index):
        pairs = self.pairs[index]
        return self.G[pairs[:, 0]] - self.G[pairs[:, 1]]

    def squared_norms(self, chunk_size):
        out = np.empty(len(self.pairs))
        for start, stop in _chunks(len(self.pairs), chunk_size):
            D = self.differences(slice(start, stop))
            out[start:stop] = np.einsum("ij,ij->i", D, D)
        return out


def pair_gains(F, pairs, weights, M, chunk_size=8192):
    """Gain ``w d^T M^{-1} d`` of every pair, ``chunk_size`` pairs at a time.

    Parameters
    ----------
    F : ndarray of shape (n_items, n_features)
        Item features.
    pairs : ndarray of shape (n_pairs, 2)
        Item indices.
    weights : ndarray of shape (n_pairs,)
        ``p (1 - p)`` of every pair.
    M : ndarray of shape (n_features, n_features)
        Symmetric positive definite information matrix.
    chunk_size : int
        Pairs per chunk: besides the whitened items, memory is
        ``O(chunk_size * n_features)``.

    Returns
    -------
    gains : ndarray of shape (n_pairs,)
    """
    return weights * WhitenedPairs(F, pairs, M).squared_norms(chunk_size)


def top_k_select(F, pairs, weights, M, n_select, chunk_size=8192):
    """The ``n_select`` pairs of highest gain under ``M``, without updates (one shot)."""
    gains = pair_gains(F, pairs, weights, M, chunk_size)
    return np.argsort(-gains, kind="stable")[:n_select]


def lazy_greedy_select(F, pairs, weights, M, n_select, chunk_size=8192):
    """Greedy D-optimal batch (:func:`~skreward.active._greedy.greedy_select`) under ``M``."""
    return greedy_select(WhitenedPairs(F, pairs, M), weights, n_select, chunk_size)


def plain_greedy_select(F, pairs, weights, M, n_select, chunk_size=8192):
    """Reference greedy: every candidate's gain updated after every pick.

    The pick's direction ``u = M^{-1} d`` is projected on every whitened item
    (O(n_items d)) and every candidate's gain drops by ``c (u^T d_i)^2``
    (O(n_pairs)): exact, without laziness.
    """
    space = WhitenedPairs(F, pairs, M)
    quad = space.squared_norms(chunk_size)
    picks_so_far = Picks(space.G, n_select)
    available = np.ones(len(pairs), dtype=bool)
    a, b = space.pairs[:, 0], space.pairs[:, 1]
    picks = []
    for _ in range(n_select):
        pick = int(np.argmax(np.where(available, weights * quad, -np.inf)))
        picks.append(pick)
        available[pick] = False
        v = picks_so_far.add(space.differences([pick])[0], weights[pick])
        projection = space.G @ v
        quad -= (projection[a] - projection[b]) ** 2
    return np.array(picks, dtype=np.int64)


def dense_greedy_select(F, pairs, weights, M, n_select):
    """The authors' dense reference: an ``(n, d, d)`` tensor of weighted outer products.

    Gains are ``trace(M^{-1} w d d^T)`` of every candidate; ``M`` gains the
    pick's outer product and is inverted again after every pick.
    """
    D = differences(F, pairs)
    outer = weights[:, None, None] * D[:, :, None] * D[:, None, :]
    available = np.ones(len(pairs), dtype=bool)
    M = M.copy()
    picks = []
    for _ in range(n_select):
        gains = np.einsum("nij,ij->n", outer, np.linalg.inv(M))
        pick = int(np.argmax(np.where(available, gains, -np.inf)))
        picks.append(pick)
        available[pick] = False
        M += outer[pick]
    return np.array(picks, dtype=np.int64)
