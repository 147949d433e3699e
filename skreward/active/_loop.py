"""The active annotation loop with a golden reward: select, annotate (simulated), refit.

:func:`simulate_active_annotation` yields the model after every round, for
learning curves; :class:`ActiveAnnotator` runs the rounds in ``fit``, so a
``GridSearchCV`` compares strategies like any hyper-parameter (as
:class:`~skreward.SimulatedAnnotator` does for annotation settings).
"""

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params
from sklearn.utils.metadata_routing import _routing_enabled, process_routing
from sklearn.utils.validation import validate_data

from .._annotator_base import AnnotatorMixin
from .._links import LINKS
from .._simulation import _check_scale, annotate_pairs
from .._validation import check_groups, check_items, check_rewards
from ._pool import candidate_pool
from ._select import SELECTION_CONSTRAINTS, choose

#: Settings of the loop: the selection's, the schedule and the simulated annotator's.
LOOP_CONSTRAINTS = {
    **SELECTION_CONSTRAINTS,
    "n_labels": ["array-like"],
    "beta": [Interval(numbers.Real, 0, None, closed="both")],
    "link": [StrOptions(set(LINKS))],
    "scale": [Interval(numbers.Real, 0, None, closed="neither"), None],
}


@dataclass(frozen=True)
class ActiveRound:
    """The state after one round of :func:`simulate_active_annotation`.

    Attributes
    ----------
    n_labels : int
        Comparisons labelled so far.
    pairs : ndarray of shape (n_labels, 2)
        Item indices of every labelled comparison, in the order labelled.
    y : ndarray of shape (n_labels,)
        Their labels (1: first preferred).
    estimator : reward model
        A clone of the estimator fitted on them.
    error_rate : float
        Fraction of this round's labels that contradict the golden reward
        (ties count one half).
    """

    n_labels: int
    pairs: np.ndarray
    y: np.ndarray
    estimator: object
    error_rate: float


def _check_schedule(n_labels):
    schedule = np.asarray(n_labels)
    if (schedule.ndim != 1 or len(schedule) == 0 or not np.issubdtype(schedule.dtype, np.integer)
            or schedule[0] < 1 or np.any(np.diff(schedule) <= 0)):
        raise ValueError(
            "n_labels must be increasing positive integers, the labels after each round "
            f"(the first round is random); got {n_labels!r}."
        )
    return schedule.astype(np.int64)


@validate_params(
    {"estimator": [HasMethods(["fit", "decision_function"])], "X": ["array-like"],
     "golden": ["array-like"], "groups": ["array-like", None], **LOOP_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def simulate_active_annotation(estimator, X, golden, groups=None, *, strategy="d_optimal",
                               n_labels=(500, 1000, 1500, 2000), pool="cross_prompt",
                               n_candidates=10_000, batch="greedy", ridge=1.0,
                               chunk_size=8192, beta=1.0, link="logistic", scale=None,
                               random_state=None):
    """Rounds of active annotation simulated from a golden reward: select, annotate, refit.

    The first round labels ``n_labels[0]`` random pairs of the pool; every
    later round chooses ``n_labels[r] - n_labels[r - 1]`` new pairs with
    ``strategy`` (see :func:`select_pairs`) using the model of the round
    before, annotates them at quality ``beta`` (as
    :func:`~skreward.simulate_comparisons`) and refits a clone of
    ``estimator`` on every label so far.

    Parameters
    ----------
    estimator : reward model
        Fitted on comparisons; cloned every round.
    X : array-like of shape (n_items, n_features)
        Items.
    golden : array-like of shape (n_items,)
        Golden reward of every item (the simulated annotator's truth).
    groups : array-like of shape (n_items,), default=None
        Prompt ids; required by ``pool="same_prompt"``.
    strategy, pool, n_candidates, batch, ridge, chunk_size
        As :func:`select_pairs`; a fresh pool is drawn every round.
    n_labels : array-like of int, default=(500, 1000, 1500, 2000)
        Labels after each round, increasing.
    beta : float, default=1.0
        Annotation quality (``np.inf``: noiseless).
    link : {"logistic", "probit"}, default="logistic"
        Annotation noise model.
    scale : float, default=None
        Unit of golden differences; ``None``: the standard deviation of ``golden``.
    random_state : int, RandomState instance or None, default=None
        Seeds pools, choices and annotation noise (not the estimator).

    Yields
    ------
    round : ActiveRound
        After each round: the labels so far and the refitted estimator.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.active import simulate_active_annotation
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=100, random_state=0)
    >>> rounds = simulate_active_annotation(
    ...     OrderConsistentClassifier(LogisticRegression()), data.X, data.golden,
    ...     n_labels=(100, 200, 300), beta=10, random_state=0)
    >>> [r.n_labels for r in rounds]
    [100, 200, 300]
    """
    X = check_items(X)
    golden = check_rewards(golden, len(X), input_name="golden")
    if len(golden) < 2:
        raise ValueError(f"golden must hold at least two items to compare; got "
                         f"n_samples={len(golden)}.")
    if groups is not None or pool == "same_prompt":
        groups = check_groups(groups, len(X))
    schedule = _check_schedule(n_labels)
    scale = _check_scale(golden, scale)
    rng = check_random_state(random_state)
    pairs = np.empty((0, 2), dtype=np.int64)
    y = np.empty(0, dtype=np.int64)
    model = None
    for budget in np.diff(schedule, prepend=0):
        if model is None:
            candidates = candidate_pool(len(X), groups, pool, max(n_candidates, budget), None,
                                        rng)
            if budget > len(candidates):
                raise ValueError(f"n_labels[0]={budget} is larger than the pool's "
                                 f"{len(candidates)} candidate pairs.")
            new = candidates[rng.permutation(len(candidates))[:budget]]
        else:
            new = choose(model, X, groups, int(budget), strategy, pool, n_candidates, pairs,
                         batch, ridge, chunk_size, rng)
        labels, correct, tied, _ = annotate_pairs(golden, new[:, 0], new[:, 1], beta, link,
                                                  scale, rng)
        pairs, y = np.concatenate([pairs, new]), np.concatenate([y, labels])
        model = clone(estimator).fit(X[pairs], y)
        yield ActiveRound(n_labels=len(pairs), pairs=pairs, y=y, estimator=model,
                          error_rate=float(np.mean(np.where(tied, 0.5, ~correct))))


class ActiveAnnotator(AnnotatorMixin, BaseEstimator):
    """Fit a reward model on actively chosen, simulated annotations of a golden reward.

    ``fit(X_items, golden_reward, groups=prompt_ids)`` runs
    :func:`simulate_active_annotation`: a random first round, then rounds
    that choose pairs by ``strategy``, annotate them at quality ``beta`` and
    refit. Its settings are hyper-parameters, so one ``GridSearchCV``
    compares selection strategies, scored by
    :class:`~skreward.BestOfNScorer` on held-out prompts.

    Parameters
    ----------
    estimator : reward model
        Fitted on comparisons, with a ``decision_function`` on items. Cloned.
    strategy : {"d_optimal", "past_aware", "random", "gap", "disagreement", "coreset"}, \
default="d_optimal"
        How pairs are chosen (see :func:`select_pairs`).
    n_labels : array-like of int, default=(500, 1000, 1500, 2000)
        Labels after each round, increasing (the last one is the budget).
    pool : {"cross_prompt", "same_prompt"}, default="cross_prompt"
        Candidate pairs of any two items, or of responses to one prompt.
    n_candidates : int, default=10_000
        Candidates drawn every round.
    batch : {"greedy", "top_k"}, default="greedy"
        Greedy batches (``M`` updated after each pick) or the one-shot top-k.
    ridge : float, default=1.0
        Prior weight of the D-optimal strategies.
    chunk_size : int, default=8192
        Candidates processed at a time.
    beta : float, default=1.0
        Annotation quality.
    link : {"logistic", "probit"}, default="logistic"
        Annotation noise model.
    scale : float, default=None
        Unit of golden differences; ``None``: their standard deviation.
    random_state : int, RandomState instance or None, default=None
        Seeds pools, choices and annotation noise.

    Attributes
    ----------
    estimator_ : reward model
        Fitted on every label of the last round.
    pairs_ : ndarray of shape (n_labels, 2)
        Item indices of the labelled comparisons.
    y_ : ndarray of shape (n_labels,)
        Their labels.
    history_ : list of dict
        Per round: ``n_labels`` and ``error_rate``.
    n_features_in_ : int
        Features of each item.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier
    >>> from skreward.active import ActiveAnnotator
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=100, random_state=0)
    >>> model = ActiveAnnotator(OrderConsistentClassifier(LogisticRegression()),
    ...                         n_labels=(100, 200), beta=10, random_state=0)
    >>> model = model.fit(data.X, data.golden, groups=data.groups)
    >>> [h["n_labels"] for h in model.history_]
    [100, 200]
    >>> model.decision_function(data.X_test).shape
    (25000,)
    """

    __metadata_request__fit = {"groups": True}
    __metadata_request__score = {"groups": True}

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "decision_function"])],
        **LOOP_CONSTRAINTS,
        "pool": [StrOptions({"cross_prompt", "same_prompt"})],
    }

    def __init__(self, estimator, *, strategy="d_optimal", n_labels=(500, 1000, 1500, 2000),
                 pool="cross_prompt", n_candidates=10_000, batch="greedy", ridge=1.0,
                 chunk_size=8192, beta=1.0, link="logistic", scale=None, random_state=None):
        self.estimator = estimator
        self.strategy = strategy
        self.n_labels = n_labels
        self.pool = pool
        self.n_candidates = n_candidates
        self.batch = batch
        self.ridge = ridge
        self.chunk_size = chunk_size
        self.beta = beta
        self.link = link
        self.scale = scale
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None):
        """Run the rounds of active annotation on the items ``X`` with golden rewards ``y``.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.
        y : array-like of shape (n_items,)
            Golden reward of every item.
        groups : array-like of shape (n_items,), default=None
            Prompt ids; required by ``pool="same_prompt"``.

        Returns
        -------
        self : ActiveAnnotator
        """
        with np.errstate(invalid="ignore", over="ignore"):
            X, y = validate_data(self, X, y, y_numeric=True)
        if _routing_enabled():
            process_routing(self, "fit", groups=groups)
        rounds = list(simulate_active_annotation(
            self.estimator, X, y, groups, strategy=self.strategy, n_labels=self.n_labels,
            pool=self.pool, n_candidates=self.n_candidates, batch=self.batch, ridge=self.ridge,
            chunk_size=self.chunk_size, beta=self.beta, link=self.link, scale=self.scale,
            random_state=self.random_state))
        last = rounds[-1]
        self.estimator_, self.pairs_, self.y_ = last.estimator, last.pairs, last.y
        self.history_ = [dict(n_labels=r.n_labels, error_rate=r.error_rate) for r in rounds]
        return self
