"""The public entry point: which pairs of items a (real) annotator should compare next."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (HasMethods, Interval, StrOptions,
                                             validate_params)

from .._validation import check_items
from ._pool import POOLS, candidate_pool, check_pairs
from ._strategies import BATCHES, SELECTORS, STRATEGIES

#: Constraints of the selection settings, shared by :func:`select_pairs` and
#: :class:`ActiveAnnotator`.
SELECTION_CONSTRAINTS = {
    "strategy": [StrOptions(set(STRATEGIES))],
    "pool": [StrOptions(set(POOLS)), "array-like"],
    "n_candidates": [Interval(numbers.Integral, 1, None, closed="left")],
    "batch": [StrOptions(set(BATCHES))],
    "ridge": [Interval(numbers.Real, 0, None, closed="neither")],
    "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
}


def choose(model, X, groups, n_pairs, strategy, pool, n_candidates, labelled, batch, ridge,
           chunk_size, rng):
    """Validated inputs -> chosen pairs ``(n_pairs, 2)``; shared by the function and the loop."""
    candidates = candidate_pool(len(X), groups, pool, n_candidates, labelled, rng)
    if n_pairs > len(candidates):
        raise ValueError(
            f"n_pairs={n_pairs} is larger than the pool's {len(candidates)} candidate pairs "
            "(labelled pairs left out): lower n_pairs, or pass a larger pool "
            "(n_candidates, more items)."
        )
    positions = SELECTORS[strategy](model, X, candidates, n_pairs, rng, labelled=labelled,
                                    batch=batch, ridge=ridge, chunk_size=chunk_size)
    return candidates[np.asarray(positions, dtype=np.int64)]


@validate_params(
    {"model": [HasMethods(["decision_function"])], "X": ["array-like"],
     "groups": ["array-like", None],
     "n_pairs": [Interval(numbers.Integral, 1, None, closed="left")],
     "labelled": ["array-like", None], **SELECTION_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def select_pairs(model, X, groups=None, *, n_pairs, strategy="d_optimal", pool="cross_prompt",
                 n_candidates=100_000, labelled=None, batch="greedy", ridge=1.0,
                 chunk_size=8192, random_state=None):
    """Choose the pairs of items an annotator should compare next.

    Candidates are drawn from the items (``pool``), and ``strategy`` picks
    ``n_pairs`` of them, using the fitted reward ``model``. The D-optimal
    strategies (Shen, Sun & Ton, *Active Reward Modeling*, ICML 2025) score a
    candidate by ``p (1 - p) d^T M^{-1} d``: ``d`` the difference of the two
    items' last-layer features (:func:`reward_features`), ``p`` the predicted
    probability that the first is preferred, ``M`` the Fisher information of
    the pairs chosen so far plus a ridge. With ``batch="greedy"`` each pick is
    added to ``M`` before the next (a batch does not repeat one direction).

    Parameters
    ----------
    model : fitted reward model
        Has ``decision_function(X_items)``; the feature-based strategies
        also need its features (:func:`reward_features`), ``"disagreement"``
        an ensemble's ``member_rewards(X)``.
    X : array-like of shape (n_items, n_features)
        The items that may be compared.
    groups : array-like of shape (n_items,), default=None
        Prompt id of every item; required by ``pool="same_prompt"``.
    n_pairs : int
        Pairs to choose.
    strategy : {"d_optimal", "past_aware", "random", "gap", "disagreement", "coreset"}, \
default="d_optimal"
        ``"d_optimal"``: greedy D-optimal design from a ridge prior.
        ``"past_aware"``: the same, with ``M`` including the ``labelled``
        pairs (it avoids directions already labelled). ``"random"``: uniform.
        ``"gap"``: smallest predicted reward difference. ``"disagreement"``:
        largest spread of an ensemble's members' reward differences.
        ``"coreset"``: k-means on the candidates' feature differences, the
        candidate nearest each centre.
    pool : {"cross_prompt", "same_prompt"} or array-like of shape (n, 2), \
default="cross_prompt"
        Candidates: pairs of any two items, pairs of responses to one prompt,
        or these item index pairs.
    n_candidates : int, default=100_000
        Candidates drawn when ``pool`` is a name (at most the distinct pairs).
    labelled : array-like of shape (n_labelled, 2), default=None
        Item index pairs already annotated: never chosen again, and part of
        ``M`` for ``"past_aware"``.
    batch : {"greedy", "top_k"}, default="greedy"
        ``"greedy"``: update ``M`` after each pick; ``"top_k"``: the
        ``n_pairs`` best single gains (one shot, as the authors' code).
    ridge : float, default=1.0
        Weight of the prior ``M``, in candidate pairs of average information
        (``M`` starts at ``ridge * mean(w ||d||^2) / n_features * I``).
    chunk_size : int, default=8192
        Candidates processed at a time: bounds the temporary memory
        (``chunk_size * n_features`` numbers).
    random_state : int, RandomState instance or None, default=None
        Seeds the pool and the random choices.

    Returns
    -------
    pairs : ndarray of shape (n_pairs, 2)
        Item indices of the chosen pairs, in the order chosen.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier, simulate_comparisons
    >>> from skreward.active import select_pairs
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=50, random_state=0)
    >>> sim = simulate_comparisons(data.golden, data.groups, n_pairs=200, random_state=0)
    >>> model = OrderConsistentClassifier(LogisticRegression()).fit(sim.take(data.X), sim.y)
    >>> pairs = select_pairs(model, data.X, data.groups, n_pairs=10, pool="same_prompt",
    ...                      labelled=sim.pairs, random_state=0)
    >>> pairs.shape
    (10, 2)
    >>> bool((data.groups[pairs[:, 0]] == data.groups[pairs[:, 1]]).all())
    True
    """
    X = check_items(X)
    labelled = None if labelled is None else check_pairs(labelled, len(X), "labelled")
    if not isinstance(pool, str):
        pool = check_pairs(pool, len(X), "pool")
    return choose(model, X, groups if groups is None else np.asarray(groups), int(n_pairs),
                  strategy, pool, int(n_candidates), labelled, batch, float(ridge),
                  int(chunk_size), check_random_state(random_state))
