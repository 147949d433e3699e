"""Features of items as a reward model sees them: the protocol behind feature-based selection.

D-optimal design and the coreset strategy work on the features a reward
model's last, linear layer reads. :func:`reward_features` finds them:

1. a model that defines ``reward_features(X) -> (n_items, n_features_out)``
   is asked (the protocol: any new reward model plugs in by defining it);
2. a neural model (``RewardNet``: :class:`~skreward.BTRegressor`,
   :class:`~skreward.RewardMLPClassifier`) gives its scoring network's last
   hidden layer: the input run through every layer but the final linear one;
3. a linear or tree model gives the raw item features (a linear reward is
   linear in them; a tree model has no hidden layer, and its input is the
   closest stand-in);
4. a meta-estimator (:class:`~skreward.OrderConsistentClassifier`,
   :class:`~skreward.SimulatedAnnotator`, ...) gives its fitted
   ``estimator_``'s features, and a pipeline its final step's features of the
   transformed items.
"""

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .._validation import check_items


def reward_features(model, X):
    """The features of items that a fitted reward model's last linear layer reads.

    Parameters
    ----------
    model : fitted reward model
        Any reward model of the library, or any object with a
        ``reward_features(X)`` method (the protocol a new model follows).
    X : array-like of shape (n_items, n_features)
        Items.

    Returns
    -------
    features : ndarray of shape (n_items, n_features_out)
        The last hidden layer of a neural model; ``X`` itself for a linear
        or tree model.

    Raises
    ------
    TypeError
        If the model offers no features (define ``reward_features(X)``).

    Examples
    --------
    >>> import numpy as np
    >>> from skreward import BTRegressor
    >>> from skreward.active import reward_features
    >>> rng = np.random.RandomState(0)
    >>> X_pairs = rng.normal(size=(64, 2, 5))
    >>> net = BTRegressor(module__hidden_sizes=(8, 3), max_epochs=2,
    ...                   validation_fraction=None, random_state=0).fit(X_pairs)
    >>> reward_features(net, X_pairs[:, 0]).shape  # the last hidden layer, 3 units
    (64, 3)
    """
    method = getattr(model, "reward_features", None)
    if callable(method):
        return np.asarray(method(X), dtype=np.float64)
    X = check_items(X)
    if hasattr(model, "module_") and hasattr(model, "forward_iter"):
        return _last_hidden_layer(model, X)
    if isinstance(model, Pipeline):
        check_is_fitted(model)
        for _, step in model.steps[:-1]:
            if step is not None and step != "passthrough" and hasattr(step, "transform"):
                X = step.transform(X)
        return reward_features(model.steps[-1][1], X)
    if hasattr(model, "estimator_"):
        return reward_features(model.estimator_, X)
    if _is_linear_or_tree(model):
        return np.asarray(X, dtype=np.float64)
    raise TypeError(
        f"{type(model).__name__} offers no features of items for this selection strategy: "
        "give it a method reward_features(X) returning (n_items, n_features) (the features its "
        "last linear layer reads), or use a strategy that needs none ('random', 'gap', "
        "'disagreement')."
    )


def _is_linear_or_tree(model):
    """A fitted linear model (``coef_``) or tree model (scikit-learn's, LightGBM's)."""
    return any(hasattr(model, name)
               for name in ("coef_", "feature_importances_", "booster_", "tree_"))


def _last_hidden_layer(net, X):
    """A RewardNet's items run through all layers of its scoring module but the last linear one."""
    check_is_fitted(net, "n_features_in_")
    X = check_items(X, n_features=net.n_features_in_, estimator=net)
    layers = getattr(net.module_, "layers", None)
    if not isinstance(layers, torch.nn.Sequential) or not isinstance(layers[-1], torch.nn.Linear):
        raise TypeError(
            f"{type(net).__name__}'s module {type(net.module_).__name__} has no `layers` "
            "(a torch.nn.Sequential ending in a Linear layer) to read its last hidden layer "
            "from: give the net a method reward_features(X)."
        )
    body = layers[:-1]
    if len(body) == 0:  # a linear reward (hidden_sizes=()): its features are the items
        return np.asarray(X, dtype=np.float64)
    device = next(layers.parameters()).device
    out = np.empty((len(X), layers[-1].in_features))
    size = net._predict_batch_size()
    was_training = body.training
    body.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(X), size):
                batch = torch.as_tensor(np.asarray(X[start:start + size], dtype=np.float32),
                                        device=device)
                out[start:start + size] = body(batch).cpu().numpy()
    finally:
        body.train(was_training)
    return out
