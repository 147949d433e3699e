"""skreward: reward models from preference comparisons, scikit-learn style."""

from ._feedback_simulation import SimulatedFeedback, simulate_feedback
from ._simulation import SimulatedAnnotator, SimulatedComparisons, simulate_comparisons
from ._persistence import load, read_card, save, trusted_types
from ._rerank import RerankResult, rerank, rerank_table, score_texts
from .metrics import BestOfNScorer
from .models import FeedbackClassifier
from .models import CalibratedReward
from .models import (BTRegressor, LengthControlledReward, OrderConsistentClassifier,
                     PairwiseTransformer, RewardEnsemble, RewardMLP, RewardMLPClassifier)
from .text import EmbeddingCache, LLMEmbedder, SentenceEmbedder, TextVectorizer
from .text import normalize_preferences, preference_targets, render_conversation

__version__ = "0.1.0"

__all__ = [
    "BTRegressor",
    "BestOfNScorer",
    "CalibratedReward",
    "EmbeddingCache",
    "FeedbackClassifier",
    "LLMEmbedder",
    "LengthControlledReward",
    "OrderConsistentClassifier",
    "PairwiseTransformer",
    "RerankResult",
    "RewardEnsemble",
    "RewardMLP",
    "RewardMLPClassifier",
    "SentenceEmbedder",
    "SimulatedAnnotator",
    "SimulatedComparisons",
    "SimulatedFeedback",
    "TextVectorizer",
    "load",
    "normalize_preferences",
    "preference_targets",
    "read_card",
    "render_conversation",
    "rerank",
    "rerank_table",
    "save",
    "score_texts",
    "simulate_comparisons",
    "simulate_feedback",
    "trusted_types",
]
