"""Metrics for reward models: order consistency, Best-of-N selection and length bias."""

from ._best_of_n import (best_of_n_curve, best_of_n_report, best_of_n_score,
                         prompt_spearman_score)
from ._length import length_correlation, response_lengths
from ._order import order_consistency_score, order_consistency_scorer
from ._scorer import BestOfNScorer

__all__ = [
    "BestOfNScorer",
    "best_of_n_curve",
    "best_of_n_report",
    "best_of_n_score",
    "length_correlation",
    "order_consistency_score",
    "order_consistency_scorer",
    "prompt_spearman_score",
    "response_lengths",
]
