"""RewardEnsemble: several reward models as one, their disagreement as uncertainty."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.ensemble._base import _set_random_states
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import _routing_enabled, process_routing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from ._base import RewardModelMixin
from ._bt import BTRegressor
from ._nets import RewardNet
from ._stacked import fit_stacked, stacking_problem
from .._validation import (check_comparison_labels, check_comparisons, check_items,
                           check_sample_weight, fit_router, is_sample_aligned, is_text_table,
                           text_comparison_items)
from ..metrics import order_consistency_score

_MAX_SEED = np.iinfo(np.int32).max


class RewardEnsemble(RewardModelMixin, MetaEstimatorMixin, BaseEstimator):
    """An ensemble of reward models: one reward, and the members' disagreement.

    Fits ``n_estimators`` clones of one reward model, each with its own
    ``random_state`` (and, with ``bootstrap=True``, its own bootstrap sample
    of the comparisons), or a list of different reward models or text
    pipelines. The reward of an item aggregates the members' rewards (their
    mean, their minimum, a conservative mean minus ``k`` standard deviations,
    or the first member's); :meth:`reward_std` gives the members'
    disagreement, an estimate of the reward's uncertainty. Sun, Shen & Ton
    (2025) train every reward model as an ensemble of 10 and report its mean,
    minimum and first member; conservative rewards guard against a policy
    (or a Best-of-N pick among many candidates) exploiting one model's
    errors.

    Before aggregation each member's rewards are put on a common footing,
    by ``standardize`` (``"auto"``: ``"center"`` for clones of one model,
    ``"scale"`` for a list): each member's mean reward (and, for
    ``"scale"``, its standard deviation) over its **training items** is
    removed. The training items are both items of every comparison passed
    to ``fit`` (all ``2 * n_pairs`` rows, an item counted as often as it
    appears), weighted by their comparison's ``sample_weight``; with
    ``bootstrap=True`` too, all comparisons count, not only a member's
    sample. A Bradley-Terry reward is defined up to a constant, so centring
    is what makes ``"min"`` and :meth:`reward_std` compare like with like.

    Parameters
    ----------
    estimator : reward model or list of reward models, default=None
        One reward model (with ``fit`` on comparisons and
        ``decision_function`` on items), cloned ``n_estimators`` times; each
        clone's ``random_state`` parameters (nested ones too) are set to
        seeds drawn from ``random_state``. Or a list of reward models or
        whole pipelines (e.g. a text front end and a reward model), each
        cloned as it is (their own ``random_state`` kept): a heterogeneous
        ensemble, fitted on the same input, comparisons or a table of texts
        with columns ``prompt``, ``chosen``, ``rejected``. ``None``:
        :class:`BTRegressor` (BT-MLP).
    n_estimators : int or None, default=10
        Number of members of one ``estimator``. With a list it must be
        ``None`` or the list's length.
    aggregate : {"mean", "min", "conservative", "first"}, default="mean"
        How the members' standardised rewards make the reward: their mean,
        their minimum, ``mean - k * std`` (population standard deviation
        over the members) or the first member's. Read when rewards are
        computed, so ``set_params(aggregate=...)`` needs no refit.
    k : float, default=1.0
        Weight of the standard deviation in ``aggregate="conservative"``; >= 0.
    bootstrap : bool, default=False
        Fit each member on a bootstrap sample of the comparisons (``n_pairs``
        drawn with replacement, seeded per member from ``random_state``);
        ``sample_weight`` and other per-comparison metadata follow the sample.
    standardize : {"auto", "center", "scale"} or None, default="auto"
        Per-member standardisation before aggregation, on the training items:
        ``"center"`` removes the mean reward, ``"scale"`` also divides by the
        standard deviation, ``None`` keeps raw rewards. ``"auto"``:
        ``"center"`` for clones of one ``estimator`` (rewards on one scale),
        ``"scale"`` for a list (rewards on unrelated scales).
    stacked : {"auto"} or bool, default="auto"
        Fit neural members (clones of one :class:`BTRegressor` or other
        ``RewardNet``) as one batched network through
        ``skreward.models._stacked.fit_stacked``, which gives the same models
        as separate fits. ``"auto"``: when possible; ``False``: one after
        another; ``True``: refuse to fit otherwise.
    n_jobs : int, default=None
        Processes or threads that fit members in parallel (joblib);
        ``None``: 1. Neural members fit one after another (torch threads
        them already).
    random_state : int, RandomState instance or None, default=None
        Seeds the members' ``random_state`` and their bootstrap samples, one
        member after another: the first ``m`` members of an ensemble are
        the members that ``n_estimators=m`` gives.

    Attributes
    ----------
    estimators_ : list of reward models
        The fitted members.
    offsets_ : ndarray of shape (n_members,)
        Reward removed from each member (its mean on the training items, or 0).
    scales_ : ndarray of shape (n_members,)
        Divisor of each member's centred reward (its standard deviation, or 1).
    bootstrap_indices_ : list of ndarray or None
        Comparisons each member was fitted on, with ``bootstrap=True``.
    n_features_in_ : int
        Features of each item; set when fitted on comparisons (not on texts).

    See Also
    --------
    skreward.metrics.best_of_n_score : Best-of-N of any reward, e.g. an ensemble's.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreward import OrderConsistentClassifier, RewardEnsemble
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 2, 4))
    >>> y = (X[:, 0, 0] - X[:, 1, 0] + rng.logistic(size=300) > 0).astype(int)
    >>> ensemble = RewardEnsemble(OrderConsistentClassifier(LogisticRegression()),
    ...                           n_estimators=5, bootstrap=True, random_state=0)
    >>> ensemble = ensemble.fit(X, y)
    >>> items = rng.normal(size=(6, 4))
    >>> ensemble.member_rewards(items).shape
    (5, 6)
    >>> mean = ensemble.decision_function(items)
    >>> cautious = ensemble.set_params(aggregate="conservative", k=1.0)
    >>> bool(np.allclose(cautious.decision_function(items),
    ...                  mean - ensemble.reward_std(items)))
    True
    """

    __metadata_request__fit = {"sample_weight": True}

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "decision_function"]), list, None],
        "n_estimators": [Interval(Integral, 1, None, closed="left"), None],
        "aggregate": [StrOptions({"mean", "min", "conservative", "first"})],
        "k": [Interval(Real, 0, None, closed="left")],
        "bootstrap": ["boolean"],
        "standardize": [StrOptions({"auto", "center", "scale"}), None],
        "stacked": [StrOptions({"auto"}), "boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, n_estimators=10, aggregate="mean", k=1.0,
                 bootstrap=False, standardize="auto", stacked="auto", n_jobs=None,
                 random_state=None):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.aggregate = aggregate
        self.k = k
        self.bootstrap = bootstrap
        self.standardize = standardize
        self.stacked = stacked
        self.n_jobs = n_jobs
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)  # the members validate their own
    def fit(self, X, y=None, **fit_params):
        """Fit every member on the comparisons (or on its bootstrap sample of them).

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or table of texts
            Comparisons; or, for members that start with a text front end, a
            DataFrame or dict with columns ``prompt``, ``chosen``,
            ``rejected``.
        y : array-like of shape (n_pairs,), default=None
            1 where the first item is preferred (or -1/+1); ``None``: the
            first item is always the preferred one.
        **fit_params : dict
            Passed to each member's ``fit`` (with metadata routing enabled:
            those it requests). ``sample_weight``, one weight per comparison,
            also weighs the training items of the standardisation; the
            ensemble requests it for itself.

        Returns
        -------
        self : RewardEnsemble
        """
        members, names = self._unfitted_members()
        if is_text_table(X):
            items, n_pairs = text_comparison_items(X)
            pair_of_item = np.tile(np.arange(n_pairs), 2)  # chosen answers, then rejected
            y = None if y is None else check_comparison_labels(y, n_pairs)
            self.__dict__.pop("n_features_in_", None)  # texts have no width
        else:
            X, y = check_comparisons(X, y)
            n_pairs, self.n_features_in_ = len(X), X.shape[2]
            items = X.reshape(-1, X.shape[2])
            pair_of_item = np.repeat(np.arange(n_pairs), 2)  # both items of a pair in turn
        weight = fit_params.get("sample_weight")
        weight = None if weight is None else check_sample_weight(weight, n_pairs)
        if _routing_enabled():
            routed = process_routing(self, "fit", **fit_params)
            params = [routed[name].fit for name in names]
        else:
            params = [fit_params] * len(members)
        # one row of seeds per member, drawn in order: the first m members of an ensemble
        # are those that n_estimators=m fits
        member_seeds, sample_seeds = check_random_state(self.random_state).randint(
            _MAX_SEED, size=(len(members), 2)).T
        if not isinstance(self.estimator, list):
            for member, seed in zip(members, member_seeds):
                _set_random_states(member, seed)
        self.bootstrap_indices_ = ([check_random_state(s).randint(n_pairs, size=n_pairs)
                                    for s in sample_seeds] if self.bootstrap else None)
        self.estimators_ = self._fit_members(members, X, y, params, n_pairs)
        self._standardisation(items, None if weight is None else weight[pair_of_item])
        return self

    def _fit_members(self, members, X, y, params, n_pairs):
        indices = self.bootstrap_indices_ or [None] * len(members)
        if self._stacks(members, params):
            return list(fit_stacked(members, X, y, sample_weight=params[0].get("sample_weight"),
                                    sample_indices=self.bootstrap_indices_))
        neural = any(_is_neural(member) for member in members)
        return Parallel(n_jobs=1 if neural else self.n_jobs)(
            delayed(_fit_member)(member, X, y, p, idx, n_pairs)
            for member, p, idx in zip(members, params, indices))

    def _stacks(self, members, params):
        """Whether the members are trained as one batched network (``fit_stacked``)."""
        if self.stacked is False:
            return False
        if isinstance(self.estimator, list) or not isinstance(members[0], RewardNet):
            reason = "the members are not clones of one RewardNet (e.g. BTRegressor)."
        elif any(set(p) - {"sample_weight"} for p in params):
            reason = "fit parameters other than sample_weight are passed."
        else:
            reason = stacking_problem(members)
        if reason is None:
            return True
        if self.stacked is True:
            raise ValueError(f"stacked=True, but the members cannot be fitted as one batched "
                             f"network: {reason} Pass stacked='auto' or False.")
        return False

    def _standardisation(self, items, weight):
        """Each member's offset and scale from its rewards on the training items."""
        rewards = self._raw_rewards(items)
        mode = self.standardize
        if mode == "auto":
            mode = "scale" if isinstance(self.estimator, list) else "center"
        n_members = len(self.estimators_)
        self.offsets_, self.scales_ = np.zeros(n_members), np.ones(n_members)
        if mode is None:
            return
        self.offsets_ = np.average(rewards, axis=1, weights=weight)
        if mode == "scale":
            spread = np.sqrt(np.average((rewards - self.offsets_[:, None]) ** 2, axis=1,
                                        weights=weight))
            self.scales_ = np.where(spread > 0, spread, 1.0)

    def _unfitted_members(self):
        """Clones to fit, and the routing name of each member's metadata."""
        if isinstance(self.estimator, list):
            if not self.estimator:
                raise ValueError("estimator is an empty list; pass at least one reward model "
                                 "(or one reward model and n_estimators).")
            if self.n_estimators is not None and self.n_estimators != len(self.estimator):
                raise ValueError(
                    f"n_estimators={self.n_estimators}, but estimator is a list of "
                    f"{len(self.estimator)} reward models; pass n_estimators=None (the list's "
                    "length), or one reward model to clone n_estimators times.")
            for i, member in enumerate(self.estimator):
                if not (hasattr(member, "fit") and hasattr(member, "decision_function")):
                    raise TypeError(
                        f"estimator[{i}] ({type(member).__name__}) has no fit and "
                        "decision_function; every member must be a reward model that scores "
                        "items (e.g. BTRegressor, OrderConsistentClassifier, a pipeline ending "
                        "in one).")
            return ([clone(member) for member in self.estimator],
                    [f"estimator_{i}" for i in range(len(self.estimator))])
        if self.n_estimators is None:
            raise ValueError("n_estimators=None is only for a list of reward models; pass "
                             "the number of clones of estimator, e.g. n_estimators=10.")
        estimator = self._estimator()
        return [clone(estimator) for _ in range(self.n_estimators)], \
            ["estimator"] * self.n_estimators

    def _estimator(self):
        return BTRegressor() if self.estimator is None else self.estimator

    def get_metadata_routing(self):
        """``sample_weight`` for the ensemble itself; ``fit``'s metadata to every member.

        Returns
        -------
        routing : MetadataRouter
        """
        if isinstance(self.estimator, list):
            estimators = {f"estimator_{i}": e for i, e in enumerate(self.estimator)}
        else:
            estimators = {"estimator": self._estimator()}
        return fit_router(self, consumes=True, estimators=estimators)

    def member_rewards(self, X):
        """Every member's standardised reward of items.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features) or table of texts
            Items (a table with columns ``prompt``, ``response`` for text
            pipelines).

        Returns
        -------
        rewards : ndarray of shape (n_members, n_items)
            ``(reward - offsets_) / scales_`` of each member.
        """
        check_is_fitted(self)
        if not is_text_table(X):
            X = check_items(X, n_features=getattr(self, "n_features_in_", None), estimator=self)
        return (self._raw_rewards(X) - self.offsets_[:, None]) / self.scales_[:, None]

    def decision_function(self, X):
        """The ensemble's reward of items: the members' rewards aggregated by ``aggregate``.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features) or table of texts
            Items.

        Returns
        -------
        reward : ndarray of shape (n_items,)
        """
        self._validate_params()  # aggregate and k may be set after fit
        rewards = self.member_rewards(X)
        if self.aggregate == "first":
            return rewards[0]
        if self.aggregate == "min":
            return rewards.min(axis=0)
        mean = rewards.mean(axis=0)
        return mean - self.k * rewards.std(axis=0) if self.aggregate == "conservative" else mean

    def reward_std(self, X):
        """The members' disagreement: the standard deviation of their rewards per item.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features) or table of texts
            Items.

        Returns
        -------
        std : ndarray of shape (n_items,)
            Population standard deviation over the members of their
            standardised rewards (0 for a one-member ensemble).
        """
        return self.member_rewards(X).std(axis=0)

    def score(self, X, y=None, sample_weight=None):
        """Order consistency of the reward on comparisons (arrays or a table of triples).

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or table of texts
            Comparisons, or columns ``prompt``, ``chosen``, ``rejected``.
        y : array-like of shape (n_pairs,), default=None
            1 where the first item is preferred; ``None``: always the first.
        sample_weight : array-like of shape (n_pairs,), default=None
            Weight of each comparison.

        Returns
        -------
        score : float
            Fraction of comparisons ordered as the labels say (ties count half).
        """
        if not is_text_table(X):
            return super().score(X, y, sample_weight=sample_weight)
        items, n_pairs = text_comparison_items(X)
        reward = self.decision_function(items)
        return order_consistency_score(check_comparison_labels(y, n_pairs),
                                       reward[:n_pairs] - reward[n_pairs:],
                                       sample_weight=sample_weight)

    def _raw_rewards(self, X):
        return np.stack([np.asarray(m.decision_function(X), dtype=np.float64).ravel()
                         for m in self.estimators_])


def _take(X, indices):
    if isinstance(X, dict):
        return {key: [values[i] for i in indices] for key, values in X.items()}
    return _safe_indexing(X, indices)


def _fit_member(member, X, y, params, indices, n_pairs):
    if indices is not None:
        X, y = _take(X, indices), None if y is None else y[indices]
        params = {key: _safe_indexing(np.asarray(value), indices)
                  if is_sample_aligned(value, n_pairs) else value
                  for key, value in params.items()}
    return member.fit(X, y, **params)


def _is_neural(estimator):
    values = [estimator]
    if hasattr(estimator, "get_params") and not isinstance(estimator, type):
        values += list(estimator.get_params(deep=True).values())
    return any(isinstance(value, RewardNet) for value in values)
