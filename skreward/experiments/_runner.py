"""Run a grid of (model, beta, n_pairs, pairing, seed) cells, appending results as they finish."""

import hashlib
import os
import threading
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.model_selection import GroupShuffleSplit
from sklearn.utils import Bunch

from .. import __version__
from .._simulation import SimulatedAnnotator
from ..datasets import make_preference_testbed
from ..metrics import (best_of_n_curve, best_of_n_report, length_correlation,
                       prompt_spearman_score, response_lengths)
from ._grid import (DEFAULT_CURVE_NS, DEFAULT_N_EVAL, cell_key, check_ensemble, grid_cells,
                    load_grid, make_model, testbed_settings)
from ._protocol import aggregate_columns
from ._results import append_result, check_folder, prepare_folder, read_results

CURVE_NS = DEFAULT_CURVE_NS


def run_experiments(grid="quick", *, data=None, output="skreward-results", n_jobs=1,
                    progress=True, fresh=False, device="cpu"):
    """Fit and judge every cell of a grid; results are appended to ``output/results.csv``.

    Each cell simulates ``n_pairs`` annotations at quality ``beta`` with its
    ``pairing`` and ``seed`` on the training prompts, fits the ``model`` and
    reports Best-of-N on the held-out prompts. Cells run in parallel with
    joblib (so ``joblib.parallel_config(backend="dask")`` runs them on a Dask
    cluster), and each result is written as soon as it arrives: a run that is
    stopped resumes where it stopped, skipping the cells already in the file.
    Each row ends with a checksum: a row cut by a killed run is dropped from
    the file and its cell run again. Worker processes exit when the process
    that started them dies, even by ``SIGKILL``.

    ``output/manifest.json`` records what produced the results: the data
    (a file's name, size and SHA-256; the synthetic testbed's settings; or a
    hash of in-memory arrays), the ``mlp`` settings, ``n_eval``, the
    ``ensemble`` settings, how Best-of-N is computed (the exact expectation
    over random subsets, and the N of its curve), the skreward version and
    the grids run. With an ``ensemble`` entry (the ``authors-quick`` and
    ``authors-full`` presets, Sun et al.'s protocol), each cell fits one
    :class:`~skreward.RewardEnsemble` and adds columns
    ``<aggregate>:<metric>`` for each of its aggregates. A run into a folder whose results came from
    other inputs is refused with a ``ValueError`` naming both; a grid with
    other or more cells on the same inputs resumes and adds its cells.

    Parameters
    ----------
    grid : str, path or dict, default="quick"
        A preset (``"quick"``, ``"paper"``, ``"authors-quick"``,
        ``"authors-full"``), a JSON grid file, or a dict;
        see :func:`skreward.experiments.load_grid`.
    data : Bunch, str or path, default=None
        Items with golden rewards: a Bunch with ``X``, ``golden``, ``groups``
        (and optionally ``X_test``, ``golden_test``, ``groups_test``, and
        ``lengths`` / ``lengths_test``, the responses' lengths, which give the
        ``length_correlation`` column; NaN without them); an
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
        Cells run at once (at most one per cell left to run).
    progress : bool, default=True
        Show a progress bar.
    fresh : bool, default=False
        Start afresh: the files of an earlier run in ``output`` (results,
        manifest, report and figures) are moved into a subfolder
        ``output/replaced-<date>-<time>/``, never deleted.
    device : str, default="cpu"
        Where the neural reward models (BT-MLP, CLF-MLP) train: ``"cpu"``,
        ``"cuda"`` or ``"cuda:<index>"``; a CUDA device needs a GPU that
        PyTorch sees.

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

    check_folder(output)
    grid = load_grid(grid)
    mlp = dict(grid.get("mlp") or {}, device=_check_device(device))
    identity = describe_data(data, grid)
    data = load_data(data, grid)
    protocol = {"ensemble": check_ensemble(grid.get("ensemble")),
                "curve_ns": list(grid.get("curve_ns", CURVE_NS))}
    manifest = {"skreward_version": __version__, "data": identity,
                "n_eval": grid.get("n_eval", DEFAULT_N_EVAL), "mlp": grid.get("mlp") or {},
                "ensemble": protocol["ensemble"],
                "best_of_n": {"method": "exact", "curve_ns": protocol["curve_ns"]},
                "grid": grid["grid"]}
    path = prepare_folder(output, manifest, fresh=fresh)
    done = {cell_key(row) for row in read_results(path)}
    todo = [cell for cell in grid_cells(grid) if cell_key(cell) not in done]
    n_eval = int(min(manifest["n_eval"], np.bincount(np.unique(
        data.groups_test, return_inverse=True)[1]).min()))
    if todo:
        # Workers watch this process and exit when it dies (see _exit_with_parent).
        rows = Parallel(n_jobs=min(effective_n_jobs(n_jobs), len(todo)),
                        return_as="generator_unordered", initializer=_exit_with_parent,
                        initargs=(os.getpid(),))(
            delayed(run_cell)(cell, data, mlp, n_eval, protocol) for cell in todo)
        for row in tqdm(rows, total=len(todo), disable=not progress, desc="cells"):
            _append(path, row)
    return read_results(path)


def _append(path, row):
    append_result(path, row)


def _check_device(device):
    from ..models._torch_helpers import check_device

    if not isinstance(device, str):
        raise TypeError(f"device must be a str such as 'cpu' or 'cuda'; got {device!r}.")
    check_device(device)
    return device


def _exit_with_parent(parent):
    """In a worker process of the runner ``parent``: exit as soon as ``parent`` is gone.

    The initializer of joblib's process workers (loky, multiprocessing). A
    daemon thread polls whether ``parent`` lives (its own parent id, for a
    child of ``parent``; else the process id, e.g. under a fork server) and
    ends the worker once it is gone, even by SIGKILL, so no worker of a
    killed run outlives it; the resource trackers, whose pipes the workers
    held, then exit in turn. Not on Windows (no signal-free liveness check).
    """
    if os.name == "nt":
        return
    child = os.getppid() == parent

    def alive():
        if child:
            return os.getppid() == parent
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # not allowed to ask (a sandbox): never end a worker wrongly
            return True
        try:  # Linux: a killed runner not yet reaped is a zombie
            stat = Path(f"/proc/{parent}/stat").read_text()
        except OSError:
            return True
        return stat[stat.rindex(")") + 2] != "Z"

    if not alive():  # the runner died while this worker was starting
        os._exit(1)

    def watch():
        while alive():
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="skreward-exit-with-parent", daemon=True).start()


def run_cell(cell, data, mlp, n_eval, protocol=None):
    """Simulate, fit and judge one cell; returns its result row.

    ``protocol``: the grid's ``ensemble`` (None: a single model) and
    ``curve_ns``. Best-of-N is the exact expectation over random subsets.
    """
    protocol = protocol or {}
    ensemble = protocol.get("ensemble")
    model = SimulatedAnnotator(make_model(cell["model"], cell["seed"], mlp, ensemble),
                               n_pairs=cell["n_pairs"], pairing=cell["pairing"],
                               beta=cell["beta"], link=cell["link"], random_state=cell["seed"])
    start = time.perf_counter()
    model.fit(data.X, data.golden, groups=data.groups)
    fit_seconds = time.perf_counter() - start  # the simulation is a small part of it
    reward = model.decision_function(data.X_test)
    args = (data.golden_test, reward, data.groups_test)
    bon = best_of_n_report(*args, n=n_eval)
    ns = [n for n in protocol.get("curve_ns", CURVE_NS) if n <= n_eval]
    curve = best_of_n_curve(*args, ns=ns)
    lengths = data.get("lengths_test")  # response lengths, when the data has texts
    return {**cell, "n_eval": n_eval, "annotation_error_rate": model.annotation_error_rate_,
            "annotation_tie_rate": model.annotation_tie_rate_,
            "length_correlation": (np.nan if lengths is None else
                                   length_correlation(lengths, reward, data.groups_test)),
            "mean_abs_delta": model.mean_abs_delta_, "improvement": bon.improvement,
            "oracle_fraction": bon.oracle_fraction, "golden": bon.golden,
            "quantile": bon.quantile, "spearman": prompt_spearman_score(*args),
            "fit_seconds": fit_seconds,
            **{f"improvement@{n}": v for n, v in zip(ns, curve.improvement)},
            **({} if ensemble is None else aggregate_columns(
                model.estimator_, data, n_eval, ns, ensemble["aggregates"]))}


def describe_data(data, grid):
    """What identifies the data of a run, for its manifest and report."""
    if data is None:
        return {"source": "synthetic testbed",
                "settings": testbed_settings(grid.get("dataset", {}))}
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise ValueError(f"data file {str(path)!r} does not exist.")
        digest = hashlib.sha256()
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        return {"source": "file", "name": path.name, "size": path.stat().st_size,
                "sha256": digest.hexdigest()}
    if not hasattr(data, "keys"):
        raise TypeError("data must be None, a path, or a Bunch or dict of arrays; "
                        f"got {type(data).__name__}.")
    import joblib

    return {"source": "arrays", "keys": sorted(data),
            "hash": joblib.hash({key: np.asarray(data[key]) for key in data})}


def load_data(data, grid):
    """The items of an experiment as a Bunch with a training and a held-out part."""
    if data is None:
        return make_preference_testbed(**testbed_settings(grid.get("dataset", {})))
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
                    for key in ("X", "golden", "groups", "lengths") if key in data
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
        columns = [k for k in ("golden", "groups", "lengths") if k in frame]
        features = frame.drop(columns=columns)
        return Bunch(X=features.to_numpy(np.float64), **{k: frame[k].to_numpy() for k in columns})
    if ".jsonl" in path.suffixes:
        from ..text import SentenceEmbedder
        from ..datasets import load_scored_responses

        answers = load_scored_responses(path)
        cache = os.environ.get("SKREWARD_CACHE", Path.home() / ".cache" / "skreward")
        X = SentenceEmbedder(cache=cache).transform(answers)
        return Bunch(X=X, golden=answers.score.to_numpy(), groups=answers.group.to_numpy(),
                     lengths=response_lengths(answers.response))
    raise ValueError(f"data must be a .npz, .parquet or scored-responses .jsonl(.gz) file; "
                     f"got {path.name!r}.")
