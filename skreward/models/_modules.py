"""The scoring network shared by the neural reward models: an MLP from an item to a reward."""

from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
}


def _make_activation(activation):
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)} or a callable returning a "
                f"torch module; got {activation!r}."
            )
        return ACTIVATIONS[activation]()
    if callable(activation):
        module = activation()
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"activation must return a torch.nn.Module; {activation!r} returned "
                f"{type(module).__name__}."
            )
        return module
    raise TypeError(f"activation must be a name or a callable; got {activation!r}.")


class RewardMLP(nn.Module):
    """Scoring network: a multi-layer perceptron from item features to one reward.

    The architecture of Sun, Shen & Ton (2025): ``n_features -> 1024 -> 512
    -> 1`` with ReLU. :class:`~skreward.BTRegressor` applies it to both
    items of a comparison and :class:`~skreward.RewardMLPClassifier` to
    single items, so BT-MLP and CLF-MLP differ only in the objective. The
    nets size ``n_features`` from the data; set the other arguments through
    the net, e.g. ``BTRegressor(module__hidden_sizes=(256,), module__dropout=0.1)``.

    Parameters
    ----------
    n_features : int
        Features of each item (the embedding width).
    hidden_sizes : sequence of int, default=(1024, 512)
        Width of each hidden layer; ``()`` gives a linear reward.
    dropout : float, default=0.0
        Dropout probability after every hidden activation.
    activation : str or callable, default="relu"
        ``"relu"``, ``"gelu"``, ``"silu"``, ``"tanh"``, ``"leaky_relu"``,
        ``"elu"``, or a callable (e.g. a ``torch.nn`` class) that returns a
        fresh activation module.

    Examples
    --------
    >>> import torch
    >>> from skreward import RewardMLP
    >>> net = RewardMLP(n_features=8, hidden_sizes=(16, 4))
    >>> net(torch.zeros(5, 8)).shape
    torch.Size([5])
    >>> net(torch.zeros(3, 2, 8)).shape  # any leading shape: here 3 comparisons
    torch.Size([3, 2])
    """

    def __init__(self, n_features, hidden_sizes=(1024, 512), *, dropout=0.0, activation="relu"):
        super().__init__()
        if int(n_features) != n_features or n_features < 1:
            raise ValueError(f"n_features must be a positive integer; got {n_features!r}.")
        if any(int(h) != h or h < 1 for h in hidden_sizes):
            raise ValueError(
                f"hidden_sizes must be positive integers; got {tuple(hidden_sizes)!r}."
            )
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")
        layers, width = [], int(n_features)
        for size in hidden_sizes:
            layers += [nn.Linear(width, int(size)), _make_activation(activation)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(size)
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        """Reward of every item: ``(..., n_features) -> (...)``."""
        return self.layers(X).squeeze(-1)

