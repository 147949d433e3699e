"""Reproduce the paper's experiments: a grid runner, a report, and the ``skreward`` command."""

from ._grid import MODELS, PRESETS, load_grid
from ._report import findings, write_report
from ._runner import run_experiments

__all__ = ["MODELS", "PRESETS", "findings", "load_grid", "run_experiments", "write_report"]
