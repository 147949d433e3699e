"""Data for reward modelling: a synthetic testbed and loaders of public formats."""

from ._embedding_files import load_embedding_arrays
from ._loaders import load_hh_rlhf, load_scored_responses
from ._preferences import load_preferences
from ._testbed import make_preference_testbed

__all__ = ["load_embedding_arrays", "load_hh_rlhf", "load_preferences", "load_scored_responses",
           "make_preference_testbed"]
