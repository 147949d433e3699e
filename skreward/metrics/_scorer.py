"""Scorers for model selection: Best-of-N with a golden reward, order consistency without."""

import numpy as np
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.metadata_routing import MetadataRequest

from ._best_of_n import BEST_OF_N_CONSTRAINTS, best_of_n_curve, best_of_n_report, check_ns


class BestOfNScorer:
    """Best-of-N scorer for ``GridSearchCV``, ``cross_validate`` and friends.

    Scores a reward model on held-out items with golden rewards ``y``: per
    prompt, the candidate of highest ``decision_function`` is picked and
    judged by :func:`~skreward.metrics.best_of_n_score`, by default the exact
    expectation over random subsets of ``n`` candidates. It needs the prompt
    ``groups`` of the test fold, which scikit-learn passes through metadata
    routing: call ``sklearn.set_config(enable_metadata_routing=True)``; the
    scorer requests ``groups`` itself.

    A scorer that cannot score raises (it never returns NaN); scikit-learn's
    searches turn a raising scorer into ``error_score=np.nan`` with a warning,
    so use ``error_score="raise"`` while developing.

    Parameters
    ----------
    n : int, sequence of int or None, default=16
        Candidates per prompt. A sequence averages the score over several N.
        ``None`` uses all candidates of each prompt.
    metric : {"improvement", "golden", "oracle_fraction", "quantile"}, \
            default="improvement"
        See :func:`~skreward.metrics.best_of_n_score`.
    n_repeats : int, default=None
        ``None``: the exact expectation over random candidate subsets. An
        int: the mean over that many random subsets per prompt and N.
    random_state : int, RandomState instance or None, default=0
        Seeds the subsets when ``n_repeats`` is set. Fixed by default so that
        every candidate of a search is judged on the same subsets.

    Examples
    --------
    >>> import sklearn
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GroupKFold, cross_val_score
    >>> from skreward import BestOfNScorer, OrderConsistentClassifier, SimulatedAnnotator
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=100, random_state=0)
    >>> model = SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()),
    ...                            n_pairs=1000, beta=10, random_state=0)
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     scores = cross_val_score(model, data.X, data.golden, params={"groups": data.groups},
    ...                              cv=GroupKFold(3), scoring=BestOfNScorer(n=8))
    >>> bool(scores.min() > 0)
    True
    """

    _parameter_constraints = {**BEST_OF_N_CONSTRAINTS,
                              "n": [*BEST_OF_N_CONSTRAINTS["n"], "array-like"]}

    def __init__(self, n=16, *, metric="improvement", n_repeats=None, random_state=0):
        self.n = n
        self.metric = metric
        self.n_repeats = n_repeats
        self.random_state = random_state

    def __call__(self, estimator, X, y, groups=None):
        """Best-of-N score of ``estimator`` on items ``X`` with golden rewards ``y``."""
        validate_parameter_constraints(
            self._parameter_constraints, {k: getattr(self, k) for k in self._parameter_constraints},
            caller_name="BestOfNScorer")
        if groups is None:
            raise ValueError(
                "BestOfNScorer needs the prompt groups of the test fold. Enable metadata "
                "routing with sklearn.set_config(enable_metadata_routing=True) and pass "
                "groups to fit (e.g. search.fit(X, y, groups=prompt_ids)), or call the "
                "scorer with groups=..."
            )
        ns = check_ns(self.n, "n") if np.iterable(self.n) else [self.n]
        reward = estimator.decision_function(X)
        if self.n_repeats is None and np.iterable(self.n):  # exact: one sort for every N
            score = float(np.mean(best_of_n_curve(y, reward, groups, ns=ns)[self.metric]))
        else:
            score = float(np.mean([
                best_of_n_report(y, reward, groups, n=n, n_repeats=self.n_repeats,
                                 random_state=self.random_state)[self.metric]
                for n in ns
            ]))
        if np.isnan(score):  # only oracle_fraction can be undefined
            raise ValueError(
                f"metric={self.metric!r} is undefined here: the best candidate of the "
                f"subsets (n={self.n!r}) is never better than their mean (golden rewards "
                "constant within every prompt, or n=1). Use metric='improvement', or a "
                "larger n."
            )
        return score

    def get_metadata_routing(self):
        """The scorer requests ``groups`` (scikit-learn metadata routing)."""
        request = MetadataRequest(owner=type(self).__name__)
        request.score.add_request(param="groups", alias=True)
        return request

    def __repr__(self):
        return (f"BestOfNScorer(n={self.n!r}, metric={self.metric!r}, "
                f"n_repeats={self.n_repeats!r}, random_state={self.random_state!r})")
