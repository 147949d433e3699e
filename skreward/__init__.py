"""skreward: reward models from preference comparisons, scikit-learn style."""

from ._feedback_simulation import SimulatedFeedback, simulate_feedback
from ._simulation import SimulatedAnnotator, SimulatedComparisons, simulate_comparisons
from ._ranking_simulation import SimulatedRankings, simulate_rankings
from ._rankings import ranking_to_pairs
from ._persistence import load, read_card, save, trusted_types
from ._rerank import RerankResult, rerank, rerank_table, score_texts
from .metrics import BestOfNScorer
from .models import FeedbackClassifier
from .models import CalibratedReward
from .models import PlackettLuceRegressor
from .models import TieAwareBTRegressor
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
    "PlackettLuceRegressor",
    "RerankResult",
    "RewardEnsemble",
    "RewardMLP",
    "RewardMLPClassifier",
    "SentenceEmbedder",
    "SimulatedAnnotator",
    "SimulatedComparisons",
    "SimulatedFeedback",
    "SimulatedRankings",
    "TextVectorizer",
    "TieAwareBTRegressor",
    "load",
    "normalize_preferences",
    "preference_targets",
    "read_card",
    "render_conversation",
    "ranking_to_pairs",
    "rerank",
    "rerank_table",
    "save",
    "score_texts",
    "simulate_comparisons",
    "simulate_feedback",
    "simulate_rankings",
    "trusted_types",
]
