"""Selection strategies: which candidate pairs of a pool to annotate next.

Each strategy takes a fitted reward model, the items, the pool of candidate
pairs and the labelled pairs, and returns the positions in the pool of the
pairs to annotate, best first.
"""

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

from ._doptimal import (WhitenedPairs, differences, fisher_weights, prior_matrix,
                        top_k_select)
from ._features import reward_features
from ._greedy import greedy_select

#: The names of the selection strategies, for ``strategy=``.
STRATEGIES = ("random", "gap", "disagreement", "coreset", "d_optimal", "past_aware")
BATCHES = ("greedy", "top_k")


def _rewards(model, X):
    return np.asarray(model.decision_function(X), dtype=np.float64).ravel()


def select_random(model, X, pool, n_pairs, rng, **_):
    return rng.permutation(len(pool))[:n_pairs]


def select_gap(model, X, pool, n_pairs, rng, **_):
    """Smallest predicted reward gap ``|r(a) - r(b)|`` (the "level set" of equal rewards)."""
    reward = _rewards(model, X)
    return np.argsort(np.abs(reward[pool[:, 0]] - reward[pool[:, 1]]), kind="stable")[:n_pairs]


def select_disagreement(model, X, pool, n_pairs, rng, **_):
    """Largest spread of the ensemble members' reward differences ``r_m(a) - r_m(b)``."""
    member_rewards = getattr(model, "member_rewards", None)
    if not callable(member_rewards):
        raise TypeError(
            f"strategy='disagreement' needs an ensemble of reward models, with a method "
            f"member_rewards(X) -> (n_members, n_items); {type(model).__name__} has none. "
            "Use an ensemble, or another strategy."
        )
    rewards = np.asarray(member_rewards(X), dtype=np.float64)
    if rewards.ndim != 2 or rewards.shape[1] != len(X):
        raise ValueError(
            f"member_rewards(X) must return (n_members, n_items) = (?, {len(X)}); got shape "
            f"{rewards.shape}."
        )
    spread = np.std(rewards[:, pool[:, 0]] - rewards[:, pool[:, 1]], axis=0)
    return np.argsort(-spread, kind="stable")[:n_pairs]


def select_coreset(model, X, pool, n_pairs, rng, chunk_size=8192, **_):
    """k-means on the pool's feature differences; the candidate nearest each centre.

    A difference is oriented from the predicted winner to the predicted loser
    (``d`` and ``-d`` are one comparison).
    """
    F = reward_features(model, X)
    reward = _rewards(model, X)
    D = differences(F, pool)
    D *= np.where(reward[pool[:, 0]] >= reward[pool[:, 1]], 1.0, -1.0)[:, None]
    seed = rng.randint(np.iinfo(np.int32).max)
    # Random initial centres and a few Lloyd iterations (mini-batch epochs on large pools):
    # centres spread over the pool are the point, not a converged clustering, and k-means++
    # seeding costs O(n k d log k) for the large k of a labelling budget.
    if len(pool) > 20_000:
        kmeans = MiniBatchKMeans(n_clusters=n_pairs, init="random", batch_size=4096, n_init=1,
                                 max_iter=20, random_state=seed).fit(D)
    else:
        kmeans = KMeans(n_clusters=n_pairs, init="random", n_init=1, max_iter=20,
                        random_state=seed).fit(D)
    distance = kmeans.transform(D)[np.arange(len(D)), kmeans.labels_]
    chosen = np.full(n_pairs, -1)
    order = np.lexsort((distance, kmeans.labels_))  # by cluster, nearest first
    labels = kmeans.labels_[order]
    first = np.r_[True, labels[1:] != labels[:-1]]
    chosen[labels[first]] = order[first]
    chosen = chosen[chosen >= 0]
    if len(chosen) < n_pairs:  # empty clusters: fill with the nearest of the rest
        rest = np.setdiff1d(np.argsort(distance, kind="stable"), chosen, assume_unique=True)
        chosen = np.concatenate([chosen, rest[:n_pairs - len(chosen)]])
    return chosen


def select_d_optimal(model, X, pool, n_pairs, rng, *, labelled=None, past_aware=False,
                     batch="greedy", ridge=1.0, chunk_size=8192, **_):
    """D-optimal: gain ``p (1 - p) d^T M^{-1} d``, M the ridge (+ labelled pairs' Fisher)."""
    F = reward_features(model, X)
    reward = _rewards(model, X)
    weights = fisher_weights(reward, pool)
    past = labelled if past_aware else None
    past_weights = None if past is None else fisher_weights(reward, past)
    M = prior_matrix(F, pool, weights, ridge, past, past_weights, chunk_size)
    if batch == "top_k":
        return top_k_select(F, pool, weights, M, n_pairs, chunk_size)
    picks, _ = greedy_select(WhitenedPairs(F, pool, M), weights, n_pairs, chunk_size)
    return picks


def select_past_aware(model, X, pool, n_pairs, rng, **kwargs):
    """D-optimal whose information matrix includes the labelled pairs."""
    return select_d_optimal(model, X, pool, n_pairs, rng, **{**kwargs, "past_aware": True})


SELECTORS = {
    "random": select_random,
    "gap": select_gap,
    "disagreement": select_disagreement,
    "coreset": select_coreset,
    "d_optimal": select_d_optimal,
    "past_aware": select_past_aware,
}
