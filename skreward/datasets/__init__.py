"""Data for reward modelling: a synthetic testbed and loaders of public formats."""

from ._testbed import make_preference_testbed

__all__ = ["make_preference_testbed"]
