"""skreward: reward models from preference comparisons, scikit-learn style."""

from ._annotator import SimulatedAnnotator
from ._classification import OrderConsistentClassifier
from ._embedding_cache import EmbeddingCache
from ._pairwise import PairwiseTransformer
from ._simulation import SimulatedComparisons, simulate_comparisons
from ._text import SentenceEmbedder
from .metrics import BestOfNScorer

__version__ = "0.1.0"

__all__ = [
    "BestOfNScorer",
    "EmbeddingCache",
    "OrderConsistentClassifier",
    "PairwiseTransformer",
    "SentenceEmbedder",
    "SimulatedAnnotator",
    "SimulatedComparisons",
    "simulate_comparisons",
]
