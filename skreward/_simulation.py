"""Simulated annotation: the function that draws and labels comparisons, and its estimator.

:func:`simulate_comparisons` draws comparisons of items by a pairing strategy
(:mod:`skreward._pair_sampling`) and labels them through a noisy link;
:class:`SimulatedAnnotator` does it on its training fold and fits a reward
model on the result, so that annotation settings are hyper-parameters (as
scikit-learn keeps ``k_means`` beside ``KMeans``).
"""

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params
from sklearn.utils.metadata_routing import _routing_enabled, process_routing
from sklearn.utils.validation import validate_data

from ._annotator_base import AnnotatorMixin
from ._links import LINKS
from ._pair_sampling import PAIRINGS, draw_pairs
from ._tie_simulation import TIE_CONSTRAINTS, declare_ties, tie_rates
from ._validation import check_groups, check_rewards, check_sample_weight, is_sample_aligned

#: Constraints of the annotation settings: the one definition used by
#: :func:`simulate_comparisons`, :class:`SimulatedAnnotator` and the experiment grids.
ANNOTATION_CONSTRAINTS = {
    "n_pairs": [Interval(numbers.Integral, 1, None, closed="left")],
    "pairing": [StrOptions(set(PAIRINGS))],
    "beta": [Interval(numbers.Real, 0, None, closed="both")],  # np.inf: noiseless
    "link": [StrOptions(set(LINKS))],
    "scale": [Interval(numbers.Real, 0, None, closed="neither"), None],
    "replace": ["boolean"],
    "random_state": ["random_state"],
}


@dataclass(frozen=True)
class SimulatedComparisons:
    """Comparisons drawn and annotated by :func:`simulate_comparisons`.

    Attributes
    ----------
    pairs : ndarray of shape (n_pairs, 2)
        Item indices of the first and second item of every comparison.
    y : ndarray of shape (n_pairs,)
        1 where the annotator preferred the first item, else 0; 0.5 where
        the annotator declared a tie (only with ``tie_threshold`` or
        ``tie_param``, which make the labels floats).
    error_rate : float
        The realised annotation error rate: the fraction of comparisons
        whose label contradicts the golden reward, where a comparison of
        tied golden rewards counts one half (its label is a fair coin flip,
        neither right nor wrong). It is ``1 - order_consistency_score`` of
        the labels against the golden rewards, the library's convention for
        ties; among untied comparisons only, the error rate is
        ``(error_rate - tie_rate / 2) / (1 - tie_rate)``.
    mean_abs_delta : float
        Mean ``|r(first) - r(second)|`` of the golden reward over the
        comparisons (the x-axis of the paper's Figure 6).
    tie_rate : float
        Fraction of comparisons whose two items have equal golden rewards.
    declared_tie_rate : float
        Fraction of comparisons the annotator declared ties (label 0.5;
        each counts one half in ``error_rate``).
    decided_error_rate : float
        Error rate among the comparisons not declared ties (``error_rate``
        when there are none).
    """

    pairs: np.ndarray
    y: np.ndarray
    error_rate: float
    mean_abs_delta: float
    tie_rate: float = 0.0
    declared_tie_rate: float = 0.0
    decided_error_rate: float = float("nan")

    def take(self, X):
        """The comparisons as an array of the items ``X``.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            The items that ``pairs`` index.

        Returns
        -------
        X_pairs : ndarray of shape (n_pairs, 2, n_features)
            ``X_pairs[:, 0]`` the first items, ``X_pairs[:, 1]`` the second.
        """
        return np.asarray(X)[self.pairs]


@validate_params(
    {"golden": ["array-like"], "groups": ["array-like", None], **ANNOTATION_CONSTRAINTS,
     **TIE_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def simulate_comparisons(golden, groups=None, *, n_pairs, pairing="same_prompt", beta=1.0,
                         link="logistic", scale=None, replace=False, random_state=None,
                         tie_threshold=None, tie_param=None):
    """Draw comparisons of items and annotate them from a golden reward, with noise.

    The annotator prefers the item of higher golden reward with probability
    ``link(beta * |r_a - r_b| / scale)``: ``beta`` is the annotation quality
    (0: coin flips, large: nearly always right), as in Sun, Shen & Ton (2025).
    Items of equal golden reward get a fair coin flip, whatever ``beta``, so
    that neither position is favoured on data with many ties (e.g. integer
    grades).

    Parameters
    ----------
    golden : array-like of shape (n_items,)
        Golden reward of every item.
    groups : array-like of shape (n_items,), default=None
        Prompt id of every item; required by every pairing but
        ``"cross_prompt"``.
    n_pairs : int
        Number of comparisons to draw.
    pairing : {"same_prompt", "cross_prompt", "similar", "diverse"}, default="same_prompt"
        ``"same_prompt"``: two responses of one prompt. ``"cross_prompt"``: two
        items of any prompts. ``"similar"``: two responses of one prompt among
        its middle-ranked half (by golden reward). ``"diverse"``: one of the
        worst quarter and one of the best quarter of a prompt's responses.
        The last two are the paper's ablations.
    beta : float, default=1.0
        Annotation quality; ``np.inf`` gives noiseless labels.
    link : {"logistic", "probit"}, default="logistic"
        Logistic (Bradley-Terry, as the paper) or probit (Thurstone) noise.
    scale : float, default=None
        Unit of reward differences; ``None`` uses the standard deviation of
        ``golden``, so ``beta`` means the same on any reward scale.
    replace : bool, default=False
        Whether a pair of items may be drawn more than once.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw and the annotation noise.
    tie_threshold : float or None, default=None
        Ties declared when the annotator cannot tell: a comparison with
        ``|r_a - r_b| / scale < tie_threshold`` is labelled 0.5 (a tie).
        ``None``: no declared ties.
    tie_param : float or None, default=None
        Ties drawn from Davidson's model, ``nu = tie_param``: a tie with
        probability ``nu / (e^(d/2) + e^(-d/2) + nu)`` at ``d = beta *
        (r_a - r_b) / scale`` (:class:`~skreward.TieAwareBTRegressor`'s
        model). At most one of ``tie_threshold`` and ``tie_param``.

    Returns
    -------
    comparisons : SimulatedComparisons
        ``pairs``, labels ``y``, ``error_rate`` (ties count one half),
        ``mean_abs_delta``, ``tie_rate``, and with declared ties
        ``declared_tie_rate`` and ``decided_error_rate``;
        ``comparisons.take(X)`` gives the comparison array.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward import simulate_comparisons
    >>> golden = np.arange(8.0)
    >>> groups = np.repeat([0, 1], 4)
    >>> sim = simulate_comparisons(golden, groups, n_pairs=12, beta=np.inf, random_state=0)
    >>> sim.pairs.shape, sim.error_rate
    ((12, 2), 0.0)
    >>> bool(np.all(groups[sim.pairs[:, 0]] == groups[sim.pairs[:, 1]]))
    True
    >>> bool(np.all((golden[sim.pairs[:, 0]] > golden[sim.pairs[:, 1]]) == (sim.y == 1)))
    True
    """
    golden = check_rewards(golden, len(np.ravel(golden)), input_name="golden")
    if len(golden) < 2:
        raise ValueError(f"golden must hold at least two items to compare; got n_samples={len(golden)}.")
    if pairing != "cross_prompt":
        groups = check_groups(groups, len(golden))
    scale = _check_scale(golden, scale)
    rng = check_random_state(random_state)
    first, second = draw_pairs(golden, groups, int(n_pairs), pairing, replace, rng)
    y, correct, tied, delta = annotate_pairs(golden, first, second, beta, link, scale, rng)
    y, ties = declare_ties(y, delta, beta=beta, scale=scale, tie_threshold=tie_threshold,
                           tie_param=tie_param, rng=rng)
    return SimulatedComparisons(
        pairs=np.column_stack([first, second]),
        y=y,
        mean_abs_delta=float(np.mean(np.abs(delta))),
        tie_rate=float(np.mean(tied)),
        # 1 - order consistency of the labels with the golden order; a tie counts one half
        **tie_rates(correct, tied, ties),
    )


def annotate_pairs(golden, first, second, beta, link, scale, rng):
    """Noisy labels of the pairs ``(first, second)`` of items with golden rewards.

    The one annotation rule of the simulation (also used by
    :mod:`skreward.active`): right with probability
    ``link(beta * |delta| / scale)``, a fair coin for tied golden rewards.

    Returns
    -------
    y, correct, tied, delta : ndarray of shape (n_pairs,)
        Labels (1: first preferred), whether each label agrees with the
        golden order, whether the pair is tied, and the golden difference.
    """
    delta = golden[first] - golden[second]
    with np.errstate(invalid="ignore"):
        p_correct = np.where(delta == 0, 0.5, LINKS[link](beta * np.abs(delta) / scale))
    correct = rng.random(len(delta)) < p_correct
    tied = delta == 0  # p_correct is 0.5 there: ``correct`` is a fair coin, read as the label
    y = np.where(tied, correct, np.where(correct, delta > 0, delta < 0)).astype(np.int64)
    return y, correct, tied, delta


def _check_scale(golden, scale):
    scale = np.std(golden) if scale is None else scale
    if not scale > 0:
        raise ValueError(
            f"scale must be positive; got {scale} (with scale=None, golden must not be constant)."
        )
    return scale


class SimulatedAnnotator(AnnotatorMixin, BaseEstimator):
    """Simulate preference annotations from a golden reward, then fit a reward model on them.

    ``fit(X_items, golden_reward, groups=prompt_ids)`` draws ``n_pairs``
    comparisons of the training items by ``pairing``, labels them with
    annotation quality ``beta`` (see :func:`~skreward.simulate_comparisons`)
    and fits ``clone(estimator)`` on them. The annotation settings are
    hyper-parameters, so one ``GridSearchCV`` searches reward models,
    annotation quality and pairing together, scored by
    :class:`~skreward.BestOfNScorer` on held-out prompts.

    ``fit`` requests ``groups`` through scikit-learn's metadata routing
    (``sklearn.set_config(enable_metadata_routing=True)``); called directly,
    ``groups`` is an ordinary argument.

    Parameters
    ----------
    estimator : reward model
        Fitted on comparisons ``(n_pairs, 2, n_features)``, with a
        ``decision_function`` on items (:class:`~skreward.BTRegressor`,
        :class:`~skreward.OrderConsistentClassifier`, ...). It is cloned.
    n_pairs : int, default=10_000
        Comparisons to simulate on the training items.
    pairing : {"same_prompt", "cross_prompt", "similar", "diverse"}, default="same_prompt"
        How items are paired for annotation.
    beta : float, default=1.0
        Annotation quality (``np.inf``: noiseless).
    link : {"logistic", "probit"}, default="logistic"
        Annotation noise model.
    scale : float, default=None
        Unit of golden reward differences; ``None``: the standard deviation of
        the training fold's golden rewards.
    replace : bool, default=False
        Whether a pair may be annotated more than once.
    random_state : int, RandomState instance or None, default=None
        Seeds the simulated annotations (not the estimator: seed it itself).

    Attributes
    ----------
    estimator_ : reward model
        The fitted clone of ``estimator``.
    comparisons_ : SimulatedComparisons
        The simulated comparisons (item indices into the training fold and labels).
    annotation_error_rate_ : float
        Realised fraction of labels that contradict the golden reward (a
        pair of tied golden rewards counts one half).
    annotation_tie_rate_ : float
        Fraction of the simulated pairs with tied golden rewards (labelled
        by a fair coin).
    mean_abs_delta_ : float
        Mean golden reward difference of the annotated pairs.
    n_features_in_ : int
        Features of each item.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier, SimulatedAnnotator
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=100, random_state=0)
    >>> model = SimulatedAnnotator(OrderConsistentClassifier(LogisticRegression()),
    ...                            n_pairs=2000, beta=10, random_state=0)
    >>> model = model.fit(data.X, data.golden, groups=data.groups)
    >>> round(model.annotation_error_rate_, 3)
    0.076
    >>> model.decision_function(data.X_test).shape
    (25000,)
    """

    __metadata_request__fit = {"groups": True}
    __metadata_request__score = {"groups": True}

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "decision_function"])],
        **ANNOTATION_CONSTRAINTS,
    }

    def __init__(self, estimator, *, n_pairs=10_000, pairing="same_prompt", beta=1.0,
                 link="logistic", scale=None, replace=False, random_state=None):
        self.estimator = estimator
        self.n_pairs = n_pairs
        self.pairing = pairing
        self.beta = beta
        self.link = link
        self.scale = scale
        self.replace = replace
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)  # the reward model validates its own
    def fit(self, X, y, groups=None, **fit_params):
        """Simulate comparisons of the items ``X`` and fit the reward model on them.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items (e.g. embeddings of prompt and response).
        y : array-like of shape (n_items,)
            Golden reward of every item.
        groups : array-like of shape (n_items,), default=None
            Prompt id of every item; required unless ``pairing="cross_prompt"``.
        **fit_params : dict
            Passed to the reward model's ``fit`` (with metadata routing
            enabled: those it requests). A parameter with one value per item
            is given per comparison: ``sample_weight`` as the geometric mean
            of the two items' weights (items of one prompt weighted alike
            give their comparisons that weight; an item of weight 0 takes
            part in no comparison's loss), any other as an array
            ``(n_pairs, 2, ...)`` of the two items' values.

        Returns
        -------
        self : SimulatedAnnotator
        """
        with np.errstate(invalid="ignore", over="ignore"):  # +-inf: the ValueError, no warning
            X, y = validate_data(self, X, y, y_numeric=True)
        if _routing_enabled():
            fit_params = process_routing(self, "fit", groups=groups, **fit_params).estimator.fit
        if groups is None and self.pairing != "cross_prompt":
            raise ValueError(
                f"groups is required for pairing={self.pairing!r}: pass the prompt id of "
                "every item. In GridSearchCV or cross_validate, enable metadata routing "
                "(sklearn.set_config(enable_metadata_routing=True)) and pass groups to fit."
            )
        self.comparisons_ = simulate_comparisons(
            y, groups, n_pairs=self.n_pairs, pairing=self.pairing, beta=self.beta,
            link=self.link, scale=self.scale, replace=self.replace,
            random_state=self.random_state)
        self.annotation_error_rate_ = self.comparisons_.error_rate
        self.annotation_tie_rate_ = self.comparisons_.tie_rate
        self.mean_abs_delta_ = self.comparisons_.mean_abs_delta
        pairs = self.comparisons_.pairs
        fit_params = {key: _per_comparison(key, value, pairs, len(X))
                      for key, value in fit_params.items()}
        self.estimator_ = clone(self.estimator).fit(
            self.comparisons_.take(X), self.comparisons_.y, **fit_params)
        return self


def _per_comparison(name, value, pairs, n_items):
    """A per-item fit parameter as one value per comparison; others pass unchanged."""
    if not is_sample_aligned(value, n_items):
        return value
    if name == "sample_weight":
        weights = check_sample_weight(value, n_items)[pairs]
        return np.sqrt(weights[:, 0] * weights[:, 1])
    return np.asarray(value)[pairs]
