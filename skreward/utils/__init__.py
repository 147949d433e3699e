"""Utilities for developers of estimators that work with skreward.

* :mod:`skreward.utils.estimator_checks` - checks that a reward model (fitted
  on comparisons, scoring items), a comparison transformer or a text front end
  keeps skreward's conventions, and a pytest decorator that runs them.
"""
