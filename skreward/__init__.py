"""skreward: reward models from preference comparisons, scikit-learn style."""

from ._annotator import SimulatedAnnotator
from ._bt import BTRegressor
from ._classification import OrderConsistentClassifier
from ._embedding_cache import EmbeddingCache
from ._mlp_classifier import RewardMLPClassifier
from ._modules import RewardMLP
from ._pairwise import PairwiseTransformer
from ._simulation import SimulatedComparisons, simulate_comparisons
from ._text import SentenceEmbedder
from ._text_vectorizer import TextVectorizer
from .metrics import BestOfNScorer

__version__ = "0.1.0"

__all__ = [
    "BTRegressor",
    "BestOfNScorer",
    "EmbeddingCache",
    "OrderConsistentClassifier",
    "PairwiseTransformer",
    "RewardMLP",
    "RewardMLPClassifier",
    "SentenceEmbedder",
    "SimulatedAnnotator",
    "SimulatedComparisons",
    "TextVectorizer",
    "simulate_comparisons",
]
