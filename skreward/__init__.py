"""skreward: reward models from preference comparisons, scikit-learn style."""

from ._simulation import SimulatedAnnotator, SimulatedComparisons, simulate_comparisons
from .metrics import BestOfNScorer
from .models import (BTRegressor, LengthControlledReward, OrderConsistentClassifier,
                     PairwiseTransformer, RewardEnsemble, RewardMLP, RewardMLPClassifier)
from .text import EmbeddingCache, SentenceEmbedder, TextVectorizer

__version__ = "0.1.0"

__all__ = [
    "BTRegressor",
    "BestOfNScorer",
    "EmbeddingCache",
    "LengthControlledReward",
    "OrderConsistentClassifier",
    "PairwiseTransformer",
    "RewardEnsemble",
    "RewardMLP",
    "RewardMLPClassifier",
    "SentenceEmbedder",
    "SimulatedAnnotator",
    "SimulatedComparisons",
    "TextVectorizer",
    "simulate_comparisons",
]
