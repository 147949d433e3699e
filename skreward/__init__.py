"""skreward: reward models from preference comparisons, scikit-learn style."""

from ._classification import OrderConsistentClassifier
from ._pairwise import PairwiseTransformer
from ._simulation import SimulatedComparisons, simulate_comparisons

__version__ = "0.1.0"

__all__ = [
    "OrderConsistentClassifier",
    "PairwiseTransformer",
    "SimulatedComparisons",
    "simulate_comparisons",
]
