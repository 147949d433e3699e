"""Active reward modelling: choose which pairs of items to annotate.

* :func:`select_pairs` - the pairs an annotator should compare next, by a
  selection strategy (D-optimal design and its rivals);
* :func:`reward_features` - the features of items that a reward model's last
  linear layer reads (the protocol the feature-based strategies use);
* :func:`simulate_active_annotation` and :class:`ActiveAnnotator` - rounds of
  select, annotate (simulated from a golden reward), refit, for experiments.
"""

from ._features import reward_features
from ._loop import ActiveAnnotator, ActiveRound, simulate_active_annotation
from ._select import select_pairs
from ._strategies import STRATEGIES

__all__ = [
    "STRATEGIES",
    "ActiveAnnotator",
    "ActiveRound",
    "reward_features",
    "select_pairs",
    "simulate_active_annotation",
]
