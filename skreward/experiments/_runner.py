"""Run a grid of (model, beta, n_pairs, pairing, seed) cells, appending results as they finish."""

import csv
import os
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils import Bunch

from .._simulation import SimulatedAnnotator
from ..datasets import make_preference_testbed
from ..metrics import best_of_n_curve, best_of_n_report, prompt_spearman_score
from ._grid import cell_key, grid_cells, load_grid, make_model

RESULTS = "results.csv"
CURVE_NS = (2, 4, 8, 16, 32, 64, 128, 256, 500)


def run_experiments(grid="quick", *, data=None, output="skreward-results", n_jobs=1,
                    progress=True):
    """Fit and judge every cell of a grid; results are appended to ``output/results.csv``.

    Each cell simulates ``n_pairs`` annotations at quality ``beta`` with its
    ``pairing`` and ``seed`` on the training prompts, fits the ``model`` and
    reports Best-of-N on the held-out prompts. Cells run in parallel with
    joblib (so ``joblib.parallel_config(backend="dask")`` runs them on a Dask
    cluster), and each result is written as soon as it arrives: a run that is
    stopped resumes where it stopped, skipping the cells already in the file.

    Parameters
    ----------
    grid : str, path or dict, default="quick"
        A preset (``"quick"``, ``"paper"``), a JSON grid file, or a dict;
        see :func:`skreward.experiments.load_grid`.
    data : Bunch, str or path, default=None
        Items with golden rewards: a Bunch with ``X``, ``golden``, ``groups``
        (and optionally ``X_test``, ``golden_test``, ``groups_test``); an
        ``.npz`` file with those arrays; a ``.parquet`` file with columns
        ``golden``, ``groups`` and one column per feature; or a JSON-lines
        file of scored responses (see
        :func:`~skreward.datasets.load_scored_responses`, e.g. arena-bench),
        embedded by :class:`~skreward.SentenceEmbedder` with an on-disk cache
        in ``$SKREWARD_CACHE`` (default ``~/.cache/skreward``). Without test arrays, 20% of the prompts are
        held out. ``None``: the synthetic testbed, sized by the grid's
        ``dataset`` entry.
    output : str or path, default="skreward-results"
        Folder of ``results.csv``.
    n_jobs : int, default=1
        Cells run at once.
    progress : bool, default=True
        Show a progress bar.

    Returns
    -------
    results : list of dict
        Every row of ``results.csv`` (this run's and earlier ones').

    Examples
    --------
    >>> import tempfile
    >>> from skreward.experiments import run_experiments
    >>> grid = {"dataset": {"n_prompts": 60, "n_test_prompts": 5, "n_candidates": 16},
    ...         "grid": {"model": ["CLF-LGB"], "beta": [10.0], "n_pairs": [500],
    ...                  "pairing": ["same_prompt"], "seed": [0]}}
    >>> rows = run_experiments(grid, output=tempfile.mkdtemp(), progress=False)
    >>> len(rows), rows[0]["model"], float(rows[0]["improvement"]) > 0
    (1, 'CLF-LGB', True)
    """
    from tqdm.auto import tqdm

    grid = load_grid(grid)
    data = load_data(data, grid)
    path = Path(output) / RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    done = {cell_key(row) for row in read_results(path)}
    todo = [cell for cell in grid_cells(grid) if cell_key(cell) not in done]
    n_eval = int(min(grid.get("n_eval", 64), np.bincount(np.unique(
        data.groups_test, return_inverse=True)[1]).min()))
    rows = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(run_cell)(cell, data, grid.get("mlp"), n_eval) for cell in todo)
    for row in tqdm(rows, total=len(todo), disable=not progress, desc="cells"):
        _append(path, row)
    return read_results(path)


def run_cell(cell, data, mlp, n_eval):
    """Simulate, fit and judge one cell; returns its result row."""
    model = SimulatedAnnotator(make_model(cell["model"], cell["seed"], mlp),
                               n_pairs=cell["n_pairs"], pairing=cell["pairing"],
                               beta=cell["beta"], link=cell["link"], random_state=cell["seed"])
    start = time.perf_counter()
    model.fit(data.X, data.golden, groups=data.groups)
    fit_seconds = time.perf_counter() - start  # the simulation is a small part of it
    reward = model.decision_function(data.X_test)
    args = (data.golden_test, reward, data.groups_test)
    bon = best_of_n_report(*args, n=n_eval, random_state=cell["seed"])
    ns = [n for n in CURVE_NS if n <= n_eval]
    curve = best_of_n_curve(*args, ns=ns, n_repeats=20, random_state=cell["seed"])
    return {**cell, "n_eval": n_eval, "annotation_error_rate": model.annotation_error_rate_,
            "mean_abs_delta": model.mean_abs_delta_, "improvement": bon.improvement,
            "oracle_fraction": bon.oracle_fraction, "golden": bon.golden,
            "spearman": prompt_spearman_score(*args), "fit_seconds": fit_seconds,
            **{f"improvement@{n}": v for n, v in zip(ns, curve.improvement)}}


def load_data(data, grid):
    """The items of an experiment as a Bunch with a training and a held-out part."""
    if data is None:
        return make_preference_testbed(**grid.get("dataset", {}), random_state=0)
    if isinstance(data, (str, Path)):
        data = _read_items(Path(data))
    missing = {"X", "golden", "groups"} - set(data)
    if missing:
        raise ValueError(f"data must have X, golden and groups; missing {sorted(missing)}.")
    if "X_test" in data:
        return data
    train, test = next(GroupShuffleSplit(1, test_size=0.2, random_state=0).split(
        data["X"], groups=data["groups"]))
    return Bunch(**{f"{key}{suffix}": np.asarray(data[key])[index]
                    for key in ("X", "golden", "groups")
                    for suffix, index in (("", train), ("_test", test))})


def _read_items(path):
    """Items from ``.npz`` (arrays), ``.parquet`` (columns) or scored responses (``.jsonl``)."""
    if not path.is_file():
        raise ValueError(f"data file {str(path)!r} does not exist.")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            return Bunch(**{key: arrays[key] for key in arrays.files})
    if path.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        features = frame.drop(columns=["golden", "groups"], errors="ignore")
        return Bunch(X=features.to_numpy(np.float64), **{k: frame[k].to_numpy()
                                                         for k in ("golden", "groups") if k in frame})
    if ".jsonl" in path.suffixes:
        from ..text import SentenceEmbedder
        from ..datasets import load_scored_responses

        answers = load_scored_responses(path)
        cache = os.environ.get("SKREWARD_CACHE", Path.home() / ".cache" / "skreward")
        X = SentenceEmbedder(cache=cache).transform(answers)
        return Bunch(X=X, golden=answers.score.to_numpy(), groups=answers.group.to_numpy())
    raise ValueError(f"data must be a .npz, .parquet or scored-responses .jsonl(.gz) file; "
                     f"got {path.name!r}.")


def read_results(path):
    """Rows of a results file (none if it does not exist yet)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as file:
        # A run killed mid-line leaves a short last row: it is not a finished cell.
        return [row for row in csv.DictReader(file) if None not in row.values()
                and None not in row and row.get("model")]


def _append(path, row):
    """Append one row, a whole line at a time, so a killed run loses at most that cell."""
    header = None
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as file:
            header = file.readline().decode().strip().split(",")
            file.seek(-1, 2)
            ends_line = file.read(1) == b"\n"
    with path.open("a", newline="") as file:
        if header and not ends_line:
            file.write("\n")  # close the line a killed run left unfinished
        writer = csv.DictWriter(file, fieldnames=header or list(row), extrasaction="ignore")
        if not header:
            writer.writeheader()
        writer.writerow(row)
        file.flush()
