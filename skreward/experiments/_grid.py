"""Experiment grids: presets, user files, and the reward models they name."""

import inspect
import json
import numbers
from pathlib import Path

from sklearn.model_selection import ParameterGrid
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints

from .._simulation import ANNOTATION_CONSTRAINTS

MODELS = ("BT-MLP", "CLF-MLP", "CLF-LGB", "BT-linear")
# The values each grid key may take; the annotation settings are SimulatedAnnotator's.
_VALUES = {"model": [StrOptions(set(MODELS))],
           "seed": [Interval(numbers.Integral, 0, 2**32 - 1, closed="both")],
           **{key: ANNOTATION_CONSTRAINTS[key] for key in ("beta", "n_pairs", "pairing", "link")}}
_KEYS = set(_VALUES)
# The entries of a grid file besides ``grid``.
_ENTRIES = {"grid", "description", "dataset", "mlp", "n_eval", "ensemble", "curve_ns"}
DEFAULT_N_EVAL = 64
# N of the Best-of-N curve of every cell (those above the smallest test prompt are left out).
DEFAULT_CURVE_NS = (2, 4, 8, 16, 32, 64, 128, 256, 500)
AGGREGATES = ("mean", "min", "conservative", "first")
_ENSEMBLE_KEYS = {"n_estimators", "aggregates", "k", "bootstrap"}

# Sun et al.'s own scripts: cross-prompt comparisons, binary cross-entropy (BT on reward
# differences, CLF on winners and losers), Adam at lr 1e-3, batches of about 10k, at most
# 30 epochs with an 80/20 split and patience 3, ensembles of 10 judged by their mean, their
# minimum and their first member, Best-of-N at N in {2, 5, ..., 500}.
_AUTHORS_MLP = {"lr": 1e-3, "max_epochs": 30, "validation_fraction": 0.2, "patience": 3}
_AUTHORS_ENSEMBLE = {"n_estimators": 10, "aggregates": ["mean", "min", "first"]}
_AUTHORS_NS = [2, 5, 10, 30, 50, 100, 300, 500]

# The paper's findings each need one factor to vary; a union of small grids
# (one per figure) costs far less than their full product.
PRESETS = {
    "quick": {
        "description": "One small grid per finding of the paper; minutes on 2 cores.",
        "dataset": {"n_prompts": 600, "n_test_prompts": 40, "n_candidates": 64},
        "mlp": {"module__hidden_sizes": [128, 64], "max_epochs": 30},
        "grid": [
            {"model": list(MODELS[:3]), "beta": [0.3, 1.0, 3.0, 10.0], "n_pairs": [3000],
             "pairing": ["same_prompt", "cross_prompt"], "seed": [0, 1]},
            {"model": list(MODELS[:3]), "beta": [1.0], "n_pairs": [500, 1000, 6000],
             "pairing": ["same_prompt"], "seed": [0, 1]},
            {"model": list(MODELS[:3]), "beta": [1.0], "n_pairs": [3000],
             "pairing": ["similar", "diverse"], "seed": [0, 1]},
        ],
    },
    "paper": {
        "description": "The paper's grid at full size (hours: see the README for the estimate).",
        "dataset": {"n_prompts": 4000, "n_test_prompts": 200, "n_candidates": 500},
        "n_eval": 500,
        "mlp": {"module__hidden_sizes": [1024, 512], "max_epochs": 100},
        "grid": [
            {"model": list(MODELS[:3]),
             "beta": [0.1, 0.3, 0.5, 0.7, 1.0, 2.0, 3.0, 5.0, 10.0],
             "n_pairs": [5000, 10000, 20000, 40000],
             "pairing": ["same_prompt", "cross_prompt"], "seed": list(range(5))},
            {"model": list(MODELS[:3]), "beta": [0.3, 1.0, 10.0], "n_pairs": [20000],
             "pairing": ["similar", "diverse"], "seed": list(range(5))},
        ],
    },
    "authors-quick": {
        "description": "Sun et al.'s protocol (ensembles of 10, exact Best-of-N at N up to "
                       "500), small: minutes on 2 cores.",
        "dataset": {"n_prompts": 400, "n_test_prompts": 40, "n_candidates": 100},
        "n_eval": 500, "curve_ns": _AUTHORS_NS, "ensemble": _AUTHORS_ENSEMBLE,
        "mlp": {**_AUTHORS_MLP, "module__hidden_sizes": [64, 32], "batch_size": 1000},
        "grid": [{"model": ["BT-MLP", "CLF-MLP"], "beta": [1.0, 10.0], "n_pairs": [4000],
                  "pairing": ["cross_prompt"], "seed": [0, 1, 2]}],
    },
    "authors-full": {
        "description": "Sun et al.'s protocol at the paper's size (a GPU or a cluster).",
        "dataset": {"n_prompts": 4000, "n_test_prompts": 200, "n_candidates": 500},
        "n_eval": 500, "curve_ns": _AUTHORS_NS, "ensemble": _AUTHORS_ENSEMBLE,
        "mlp": {**_AUTHORS_MLP, "module__hidden_sizes": [1024, 512], "batch_size": 10000},
        "grid": [{"model": list(MODELS[:3]),
                  "beta": [0.1, 0.3, 0.5, 0.7, 1.0, 3.0, 5.0, 10.0],
                  "n_pairs": [10000, 20000, 40000],
                  "pairing": ["cross_prompt"], "seed": list(range(5))}],
    },
}


def load_grid(spec):
    """A grid as a dict: a preset name, a path to a JSON file, or a dict already.

    The JSON file (or dict) has ``grid``: a dict, or a list of dicts, mapping
    ``model``, ``beta``, ``n_pairs``, ``pairing``, ``seed`` (and optionally
    ``link``) to lists of values; and optionally ``dataset`` (keyword
    arguments of :func:`~skreward.datasets.make_preference_testbed`),
    ``mlp`` (parameters of :class:`~skreward.BTRegressor` and
    :class:`~skreward.RewardMLPClassifier`, e.g. ``module__hidden_sizes``,
    ``max_epochs``), ``n_eval`` (N of the reported Best-of-N), ``curve_ns``
    (the N of each cell's Best-of-N curve) and ``ensemble``: every model of
    the grid becomes a :class:`~skreward.RewardEnsemble` of ``n_estimators``
    members (optionally ``k`` and ``bootstrap``), judged under each of its
    ``aggregates`` (``"mean"``, ``"min"``, ``"conservative"``, ``"first"``;
    the first gives the main columns).
    """
    if isinstance(spec, dict):
        grid = spec
    elif str(spec) in PRESETS:
        grid = PRESETS[str(spec)]
    else:
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"grid must be a preset {tuple(PRESETS)} or a JSON file; "
                             f"{str(spec)!r} is neither.")
        try:
            grid = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"grid file {path} is not valid JSON: {error}") from None
    return _check_grid(grid)


def _check_grid(grid):
    if not isinstance(grid, dict) or "grid" not in grid:
        raise ValueError("grid must be a JSON object with a 'grid' entry (a dict or a list of dicts).")
    unknown = set(grid) - _ENTRIES
    if unknown:
        raise ValueError(f"grid: unknown entries {sorted(unknown)}; a grid has 'grid' and may "
                         f"have {sorted(_ENTRIES - {'grid'})}.")
    testbed_settings(grid.get("dataset", {}))
    n_eval = grid.get("n_eval", DEFAULT_N_EVAL)
    if not isinstance(n_eval, numbers.Integral) or isinstance(n_eval, bool) or n_eval < 2:
        raise ValueError("grid: 'n_eval' must be an int >= 2 (the N of Best-of-N); "
                         f"got {n_eval!r}.")
    check_curve_ns(grid.get("curve_ns", list(DEFAULT_CURVE_NS)))
    check_ensemble(grid.get("ensemble"))
    if not isinstance(grid.get("mlp", {}), dict):
        raise ValueError(f"grid: 'mlp' must be an object of BTRegressor and RewardMLPClassifier "
                         f"parameters; got {grid['mlp']!r}.")
    parts = grid["grid"] if isinstance(grid["grid"], list) else [grid["grid"]]
    for part in parts:
        if not isinstance(part, dict):
            raise ValueError(f"grid: each part must be an object of lists; got {part!r}.")
        missing, unknown = _KEYS - {"link"} - part.keys(), part.keys() - _KEYS
        if missing or unknown:
            raise ValueError(f"grid: each part needs {sorted(_KEYS - {'link'})} (and may set "
                             f"'link'); missing {sorted(missing)}, unknown {sorted(unknown)}.")
        for key, values in part.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"grid: {key!r} must be a non-empty list; got {values!r}.")
        _check_values(part)
    return {**grid, "grid": parts}


def _check_values(part):
    for key, values in part.items():
        for value in values:
            validate_parameter_constraints({key: _VALUES[key]}, {key: value},
                                           caller_name="the experiment grid")


def check_curve_ns(ns):
    """The grid's ``curve_ns``: a non-empty list of ints >= 1."""
    if (not isinstance(ns, (list, tuple)) or not ns or any(
            not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1 for n in ns)):
        raise ValueError(f"grid: 'curve_ns' must be a non-empty list of ints >= 1 (the N of "
                         f"the Best-of-N curve); got {ns!r}.")
    return [int(n) for n in ns]


def check_ensemble(ensemble):
    """The grid's ``ensemble`` entry (None: single models), with its defaults filled in."""
    if ensemble is None:
        return None
    if not isinstance(ensemble, dict) or set(ensemble) - _ENSEMBLE_KEYS:
        raise ValueError(f"grid: 'ensemble' must be an object with keys among "
                         f"{sorted(_ENSEMBLE_KEYS)}; got {ensemble!r}.")
    ensemble = {"n_estimators": 10, "aggregates": ["mean"], "k": 1.0, "bootstrap": False,
                **ensemble}
    n, aggregates = ensemble["n_estimators"], ensemble["aggregates"]
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"grid: ensemble 'n_estimators' must be an int >= 1; got {n!r}.")
    if (not isinstance(aggregates, list) or not aggregates
            or not set(aggregates) <= set(AGGREGATES) or len(set(aggregates)) < len(aggregates)):
        raise ValueError(f"grid: ensemble 'aggregates' must be a non-empty list of distinct "
                         f"values among {list(AGGREGATES)}; got {aggregates!r}.")
    k = ensemble["k"]
    if not isinstance(k, numbers.Real) or isinstance(k, bool) or not k >= 0:
        raise ValueError(f"grid: ensemble 'k' must be a number >= 0; got {k!r}.")
    if not isinstance(ensemble["bootstrap"], bool):
        raise ValueError(f"grid: ensemble 'bootstrap' must be true or false; "
                         f"got {ensemble['bootstrap']!r}.")
    return ensemble


def testbed_settings(dataset):
    """The arguments of :func:`~skreward.datasets.make_preference_testbed` for a ``dataset``.

    The grid's values over the function's defaults, with ``random_state=0``;
    a key the function does not take is a ``ValueError`` naming it.
    """
    from ..datasets import make_preference_testbed

    if not isinstance(dataset, dict):
        raise ValueError("grid: 'dataset' must be an object of make_preference_testbed "
                         f"arguments; got {dataset!r}.")
    defaults = {name: parameter.default for name, parameter in
                inspect.signature(make_preference_testbed).parameters.items()}
    unknown = set(dataset) - set(defaults) | set(dataset) & {"random_state"}
    if unknown:
        raise ValueError(f"grid: unknown 'dataset' keys {sorted(unknown)}; "
                         "make_preference_testbed takes "
                         f"{sorted(set(defaults) - {'random_state'})}.")
    return {**defaults, **dataset, "random_state": 0}


def grid_cells(grid):
    """Every distinct cell of the grid, as dicts, in a stable order."""
    cells, seen = [], set()
    for cell in ParameterGrid(grid["grid"]):
        cell = {"link": "logistic", **cell}
        key = cell_key(cell)
        if key not in seen:
            seen.add(key)
            cells.append(cell)
    return cells


def cell_key(cell):
    """A cell's identity in the results file."""
    return (str(cell["model"]), float(cell["beta"]), int(cell["n_pairs"]), str(cell["pairing"]),
            int(cell["seed"]), str(cell.get("link", "logistic")))


def make_model(name, seed, mlp=None, ensemble=None):
    """The reward model a grid names, seeded; an ensemble of it with ``ensemble`` set."""
    if ensemble is not None:
        from .. import RewardEnsemble

        ensemble = check_ensemble(ensemble)
        return RewardEnsemble(make_model(name, seed, mlp), n_estimators=ensemble["n_estimators"],
                              aggregate=ensemble["aggregates"][0], k=ensemble["k"],
                              bootstrap=ensemble["bootstrap"], random_state=seed)
    from lightgbm import LGBMClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from .. import OrderConsistentClassifier, PairwiseTransformer

    if name == "CLF-LGB":
        return OrderConsistentClassifier(LGBMClassifier(verbose=-1, random_state=seed, n_jobs=1))
    if name == "BT-linear":
        return make_pipeline(PairwiseTransformer("difference"),
                             LogisticRegression(fit_intercept=False))
    return _make_mlp(name, seed, dict(mlp or {}))


def _make_mlp(name, seed, mlp):
    """BT-MLP and CLF-MLP: one scoring network, two objectives (``mlp``: their settings)."""
    from .. import BTRegressor, OrderConsistentClassifier, RewardMLPClassifier

    if "module__hidden_sizes" in mlp:
        mlp["module__hidden_sizes"] = tuple(mlp["module__hidden_sizes"])
    if name == "BT-MLP":
        return BTRegressor(random_state=seed, **mlp)
    return OrderConsistentClassifier(RewardMLPClassifier(random_state=seed, **mlp))
