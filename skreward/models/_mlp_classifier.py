"""CLF-MLP: the scoring network trained as a binary classifier of winners and losers."""

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from skorch.utils import is_dataset
from torch import nn

from .._validation import check_items
from ._modules import RewardMLP
from ._nets import RewardNet


class RewardMLPClassifier(ClassifierMixin, RewardNet):
    """Binary classifier on items with the scoring network; its logit is the reward (CLF-MLP).

    The same network as :class:`~skreward.BTRegressor` (by default
    :class:`~skreward.RewardMLP`), trained with ``BCEWithLogits(r(x), y)`` on
    single items. Wrapped as ``OrderConsistentClassifier(RewardMLPClassifier())``
    it is the CLF-MLP reward model of Sun, Shen & Ton (2025): every
    comparison's preferred item is labelled 1 and the other 0, and
    :meth:`decision_function` (the logit of ``classes_[1]``) is the reward.
    BT-MLP and CLF-MLP then differ only in the objective.

    ``fit(X, y, sample_weight=None)`` takes items, their hard labels and
    optionally a weight per item; a ``margin`` is refused (it belongs to a
    comparison's reward difference). Soft labels of comparisons reach it
    through :class:`~skreward.OrderConsistentClassifier` as weighted rows.

    Early stopping holds out whole comparisons:
    :class:`~skreward.OrderConsistentClassifier` gives the two rows of each
    comparison one ``groups`` value, and the hold-out keeps a group's rows
    on one side (with items split apart, a held-out winner's own loser is
    trained on with the opposite label, and early stopping then restores an
    under-trained epoch). The user guide's :ref:`early-stopping` section
    gives the measurements. It is a skorch ``NeuralNet``: callbacks,
    ``history_``, ``warm_start``, ``partial_fit`` and ``module__*`` /
    ``optimizer__*`` parameters work as in skorch.

    Parameters
    ----------
    module : torch module class or instance, default=RewardMLP
        Network from items ``(batch, n_features)`` to logits ``(batch,)``. A
        class with an ``n_features`` argument is sized from the data; set
        its other arguments as ``module__hidden_sizes=(256,)``.
    criterion : torch loss class or None, default=None
        Loss of ``(logit, y)`` with ``y`` in {0, 1} (1: ``classes_[1]``);
        ``None`` is ``torch.nn.BCEWithLogitsLoss``.
    batch_size : int, default=256
        Items per step: as many items as a :class:`~skreward.BTRegressor`
        step of 128 comparisons.
    {net_parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels; the logit is that of ``classes_[1]``.
    {net_attributes}

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

    def __init__(self, module=RewardMLP, *, criterion=None, batch_size=256, **kwargs):
        super().__init__(module, criterion=criterion, batch_size=batch_size, **kwargs)

    # -- the hooks of RewardNet ---------------------------------------------------

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
        y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"), warn=True)
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

    def _labels(self, X, y):
        if y is None:  # items to score: no target
            return np.zeros(len(X))
        return column_or_1d(y) == self.classes_[1]

    def _default_criterion(self):
        return nn.BCEWithLogitsLoss

    def _logit(self, rewards, labels):
        return rewards

    # -- classifier ---------------------------------------------------------------

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
