"""A meta-estimator that simulates annotation on its training fold, then fits a reward model."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._simulation import LINKS, PAIRINGS, simulate_comparisons
from .metrics import prompt_spearman_score


class SimulatedAnnotator(MetaEstimatorMixin, BaseEstimator):
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
        Realised fraction of labels that contradict the golden reward.
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
        "n_pairs": [Interval(numbers.Integral, 1, None, closed="left")],
        "pairing": [StrOptions(set(PAIRINGS))],
        "beta": [Interval(numbers.Real, 0, None, closed="left")],
        "link": [StrOptions(set(LINKS))],
        "scale": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "replace": ["boolean"],
        "random_state": ["random_state"],
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
            Passed to the reward model's ``fit``.

        Returns
        -------
        self : SimulatedAnnotator
        """
        self._validate_params()
        X, y = validate_data(self, X, y, y_numeric=True)
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
        self.mean_abs_delta_ = self.comparisons_.mean_abs_delta
        self.estimator_ = clone(self.estimator).fit(
            self.comparisons_.take(X), self.comparisons_.y, **fit_params)
        return self

    def decision_function(self, X):
        """The learned reward of items.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.asarray(self.estimator_.decision_function(X), dtype=np.float64).ravel()

    def predict(self, X):
        """The learned reward of items (the same as :meth:`decision_function`).

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
        """
        return self.decision_function(X)

    def score(self, X, y, groups=None):
        """Spearman correlation of the learned and golden rewards.

        Within each prompt and averaged when ``groups`` is given (what
        Best-of-N depends on), else over all items. Use
        :class:`~skreward.BestOfNScorer` to score by Best-of-N.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.
        y : array-like of shape (n_items,)
            Golden rewards.
        groups : array-like of shape (n_items,), default=None
            Prompt ids.

        Returns
        -------
        score : float
        """
        reward = self.decision_function(X)
        groups = np.zeros(len(reward)) if groups is None else groups
        return prompt_spearman_score(y, reward, groups)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
