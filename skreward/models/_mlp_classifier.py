"""CLF-MLP: the scoring network trained as a binary classifier of winners and losers."""

import numpy as np
import torch
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.utils import is_dataset, to_tensor
from torch import nn

from ._modules import RewardMLP
from ._nets import NET_PARAMETER_CONSTRAINTS, ScoringNetMixin, float32_input
from .._validation import check_items


class RewardMLPClassifier(ClassifierMixin, ScoringNetMixin, NeuralNet):
    """Binary classifier on items with the scoring network; its logit is the reward (CLF-MLP).

    The same network as :class:`~skreward.BTRegressor` (by default
    :class:`~skreward.RewardMLP`), trained with ``BCEWithLogits(r(x), y)`` on
    single items. Wrapped as ``OrderConsistentClassifier(RewardMLPClassifier())``
    it is the CLF-MLP reward model of Sun, Shen & Ton (2025): every
    comparison's preferred item is labelled 1 and the other 0, and
    :meth:`decision_function` (the logit) is the reward. BT-MLP and CLF-MLP
    then differ only in the objective.

    It is a skorch ``NeuralNet``: callbacks, ``history_``, ``warm_start``,
    ``partial_fit`` and ``module__*`` / ``optimizer__*`` parameters work as in
    skorch.

    Parameters
    ----------
    module : torch module class or instance, default=RewardMLP
        Network from items ``(batch, n_features)`` to logits ``(batch,)``. A
        class with an ``n_features`` argument is sized from the data; set
        its other arguments as ``module__hidden_sizes=(256,)``.
    center_rewards_coef : float, default=0.0
        Adds ``center_rewards_coef * mean(logit ** 2)`` over the batch.
    criterion : torch loss class, default=torch.nn.BCEWithLogitsLoss
        Loss of ``(logit, y)`` with ``y`` in {0, 1} (1: ``classes_[1]``).
    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimizer; its settings as ``optimizer__weight_decay=...``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=50
        Most passes over the training items.
    batch_size : int, default=256
        Items per step: as many items as a :class:`~skreward.BTRegressor`
        step of 128 comparisons.
    validation_fraction : float or None, default=0.1
        Fraction of the items held out (seeded by ``random_state``) to
        monitor ``valid_loss`` for early stopping. ``None``: no validation.
        Ignored when ``train_split`` is given.
    patience : int or None, default=5
        Stop after ``patience`` epochs without a better ``valid_loss`` and
        restore the weights of the best epoch. ``None``: no early stopping.
    train_split : callable or None, default=None
        A skorch split that replaces ``validation_fraction``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the validation split, the batch order
        and dropout, without touching torch's global random generators.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"`` or ``"cuda:<index>"``.
    callbacks : list of (name, callback) or None, default=None
        skorch callbacks, in addition to the defaults.
    warm_start : bool, default=False
        Whether ``fit`` continues from the current weights.
    verbose : int, default=0
        1 prints skorch's table of losses per epoch.
    **kwargs
        Any further skorch ``NeuralNet`` parameter.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels; the logit is that of ``classes_[1]``.
    module_ : torch.nn.Module
        The trained network.
    history_ : skorch.history.History
        Losses and timings of every epoch and batch.
    n_features_in_ : int
        Features of each item.

    See Also
    --------
    BTRegressor : The same network trained on comparisons (BT-MLP).
    OrderConsistentClassifier : Turns this classifier into a reward model.

    Examples
    --------
    >>> from skreward import OrderConsistentClassifier, RewardMLPClassifier
    >>> from skreward import simulate_comparisons
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=100, n_test_prompts=10, n_candidates=32,
    ...                                random_state=0)
    >>> sim = simulate_comparisons(data.golden, data.groups, n_pairs=1000, beta=10,
    ...                            random_state=0)
    >>> clf_mlp = OrderConsistentClassifier(
    ...     RewardMLPClassifier(module__hidden_sizes=(32,), max_epochs=5, lr=1e-2, random_state=0))
    >>> clf_mlp = clf_mlp.fit(sim.take(data.X), sim.y)
    >>> rewards = clf_mlp.decision_function(data.X_test)  # the network's logits
    >>> rewards.shape == data.golden_test.shape
    True
    >>> bool(clf_mlp.score(sim.take(data.X), sim.y) > 0.7)
    True
    """

    _parameter_constraints = dict(NET_PARAMETER_CONSTRAINTS)

    def __init__(self, module=RewardMLP, *, center_rewards_coef=0.0,
                 criterion=nn.BCEWithLogitsLoss, optimizer=torch.optim.Adam, lr=1e-3,
                 max_epochs=50, batch_size=256, validation_fraction=0.1, patience=5,
                 train_split=None, random_state=None, device="cpu", callbacks=None,
                 warm_start=False, verbose=0, **kwargs):
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size, train_split=train_split,
                         callbacks=callbacks, warm_start=warm_start, verbose=verbose,
                         device=device, **kwargs)
        self.center_rewards_coef = center_rewards_coef
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    # -- skorch hooks -------------------------------------------------------------

    def check_data(self, X, y=None):
        """Validate items and binary labels, and size the module for the items' features."""
        if is_dataset(X):
            if not hasattr(self, "classes_"):
                self.classes_ = np.array([0, 1])
            self._size_module(self._dataset_width(X))
            return
        X = check_items(X)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y")
        if y_type != "binary":
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"{y_type}; {type(self).__name__} classifies winners and losers."
            )
        classes = np.unique(y)
        if len(classes) != 2:
            raise ValueError(
                f"{type(self).__name__} is a binary classifier: y must hold exactly 2 classes "
                f"(e.g. winner 1 and loser 0); got {len(classes)} class(es): {classes[:5]}."
            )
        self.classes_ = classes
        self._size_module(X.shape[1])

    def _targets(self, X, y):
        if y is None:  # items to score: no target
            return np.zeros(len(X), dtype=np.float32)
        return (column_or_1d(y) == self.classes_[1]).astype(np.float32)

    def infer(self, x, **fit_params):
        """Logits of a batch of items, shape ``(batch,)``."""
        x = to_tensor(x, device=self.device)
        return self.module_(x, **fit_params).reshape(len(x))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``criterion(logit, y) + center_rewards_coef * mean(logit ** 2)``."""
        y_true = to_tensor(y_true, device=self.device).to(y_pred.dtype)
        loss = self.criterion_(y_pred, y_true)
        if self.center_rewards_coef:
            loss = loss + self.center_rewards_coef * y_pred.square().mean()
        return loss

    # -- classifier ---------------------------------------------------------------

    def decision_function(self, X):
        """Logit of ``classes_[1]``: the reward of every item.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        logit : ndarray of shape (n_items,)
            Computed a batch at a time.
        """
        check_is_fitted(self, "classes_")
        checked = check_items(X, n_features=self.n_features_in_)
        return self._forward_numpy(float32_input(X, checked))

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        proba : ndarray of shape (n_items, 2)
            ``sigmoid(-logit)`` and ``sigmoid(logit)``, in the order of ``classes_``.
        """
        logit = self.decision_function(X)
        return np.column_stack([expit(-logit), expit(logit)])

    def predict(self, X):
        """The more probable class of every item.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features)
            Items.

        Returns
        -------
        y_pred : ndarray of shape (n_items,)
        """
        logit = self.decision_function(X)
        return self.classes_[(logit > 0).astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
