"""A markdown report with figures that mirror the paper's, from a results folder.

Every figure and finding compares like with like: it varies one factor (or
two, named) and holds the others at the grid's reference condition (see
``_conditions.reference_condition``); error bars are standard errors over
the seeds of one condition.
"""

import json
from pathlib import Path

from ._conditions import MAIN_PAIRINGS, ablation, hold, n_pairs_sweep, reference_condition
from ._figures import FIGURES
from ._protocol import aggregate_table
from ._results import RESULTS, check_folder, read_manifest, read_results


def results_frame(output):
    """``output/results.csv`` as a DataFrame with numeric columns (what :func:`findings` reads)."""
    import pandas as pd

    rows = read_results(check_folder(output) / RESULTS)
    if not rows:
        raise ValueError(f"no results in {Path(output) / RESULTS}; run the experiments first.")
    frame = pd.DataFrame(rows)
    for column in frame.columns.drop(["model", "pairing", "link"]):
        # "nan" (e.g. length_correlation of data without lengths) is not numeric to pandas
        frame[column] = pd.to_numeric(frame[column].replace({"nan": ""}))
    return frame


def describe_inputs(manifest):
    """The report's lines on what produced the results (from ``manifest.json``)."""
    if manifest is None:
        return ["Inputs not recorded: this folder has no manifest.json (an older skreward)."]
    data = manifest["data"]
    if data["source"] == "synthetic testbed":
        what = "synthetic testbed, `make_preference_testbed(" + ", ".join(
            f"{k}={v}" for k, v in data["settings"].items()) + ")`"
    elif data["source"] == "file":
        what = f"`{data['name']}` ({data['size']:,} bytes, SHA-256 `{data['sha256']}`)"
    else:
        what = f"in-memory arrays {data['keys']} (joblib hash `{data['hash']}`)"
    mlp = json.dumps(manifest["mlp"]) if manifest["mlp"] else "library defaults"
    lines = [f"- Data: {what}.", f"- MLP settings: {mlp}; Best-of-N N requested: "
             f"{manifest['n_eval']}; skreward {manifest['skreward_version']}.",
             *_protocol_lines(manifest), "- Grid (the union of its parts):"]
    return lines + [f"  - `{json.dumps(part)}`" for part in manifest["grid"]]


def _protocol_lines(manifest):
    lines = []
    if manifest.get("ensemble"):
        lines.append(f"- Every model an ensemble: {json.dumps(manifest['ensemble'])}.")
    if manifest.get("best_of_n"):
        lines.append(f"- Best-of-N: {manifest['best_of_n']['method']} expectation over random "
                     f"candidate subsets; curve at N = {manifest['best_of_n']['curve_ns']} "
                     "(those up to the smallest test prompt).")
    return lines


def write_report(output="skreward-results"):
    """Write ``report.md`` and its PNG figures from ``output/results.csv``.

    Figures mirror Sun, Shen & Ton (2025): Best-of-N improvement per model
    (Fig. 1), against the annotation error rate (Fig. 2), against the number
    of annotations (Fig. 3), same- against cross-prompt pairing (Fig. 4),
    similar/diverse pairing (Fig. 5), against the mean golden reward gap of
    the annotated pairs (Fig. 6), and a Best-of-N curve over N. Each figure
    varies its factor and holds the others at the grid's reference
    condition, stated in the report: per factor (``beta``, ``n_pairs``,
    ``pairing``), the value most cells share; the annotation-size sweep
    and the similar/diverse ablation are shown at their own conditions.
    Error bars are standard errors over the seeds of one condition. The report
    states its data and grid (from ``output/manifest.json``) and checks
    each of the paper's findings against these numbers.

    Parameters
    ----------
    output : str or path, default="skreward-results"
        Folder with ``results.csv``; the report is written beside it.

    Returns
    -------
    path : Path
        The markdown report.

    Examples
    --------
    >>> import tempfile
    >>> from skreward.experiments import run_experiments, write_report
    >>> grid = {"dataset": {"n_prompts": 60, "n_test_prompts": 5, "n_candidates": 16},
    ...         "grid": {"model": ["CLF-LGB", "BT-linear"], "beta": [1.0, 10.0],
    ...                  "n_pairs": [500], "pairing": ["same_prompt"], "seed": [0]}}
    >>> folder = tempfile.mkdtemp()
    >>> _ = run_experiments(grid, output=folder, progress=False)
    >>> write_report(folder).read_text().startswith("# skreward experiment report")
    True
    """
    frame = results_frame(output)
    output = Path(output)
    ref = reference_condition(frame)
    figures = [figure(frame, ref, output) for figure in FIGURES]
    lines = ["# skreward experiment report", "", *describe_inputs(read_manifest(output)), "",
             f"{len(frame)} cells: " + ", ".join(
                 f"{column} {sorted(frame[column].unique().tolist())}"
                 for column in ("model", "beta", "n_pairs", "pairing", "seed")) + ". "
             f"Best-of-N with N = {int(frame.n_eval.max())} on held-out prompts; "
             "improvement = golden reward of the pick minus the mean candidate's.", "",
             "Each figure varies its factor and holds the others at the reference condition "
             f"(beta={ref['beta']}, n_pairs={ref['n_pairs']}, pairing={ref['pairing']}); "
             "error bars and `sem` are standard errors over the seeds of one condition.", "",
             "## Findings of the paper, checked", ""]
    lines += [f"- {line}" for line in findings(frame)] + [""]
    lines += aggregate_table(frame)
    for title, held, name, table in filter(None, figures):
        lines += [f"## {title}", "", held, "", f"![{title}]({name})", "", table, ""]
    path = output / "report.md"
    path.write_text("\n".join(lines))
    return path


def findings(frame):
    """Each finding of the paper, with the numbers that confirm or refute it here.

    Each compares cells that differ only in the factor it is about: the
    annotation-quality and pairing findings at the reference ``n_pairs``,
    the similar/diverse finding at the conditions where those ran, the
    annotation-size finding on its sweep.
    """
    ref = reference_condition(frame)
    main = hold(frame, ref, "beta", "pairing")
    main = main[main.pairing.isin(MAIN_PAIRINGS)]
    out = []
    betas = sorted(main.beta.unique())
    models = set(main.model)
    if "BT-MLP" in models and models & {"CLF-MLP", "CLF-LGB"} and len(betas) > 1:
        by = main.groupby(["beta", "model"]).improvement.mean().unstack()
        clf = [m for m in ("CLF-MLP", "CLF-LGB") if m in by]
        noisy, clean = betas[0], betas[-1]
        at = f"n_pairs={ref['n_pairs']}, mean over seeds and same/cross pairing"
        out.append(_verdict(by.loc[noisy, clf].max() >= by.loc[noisy, "BT-MLP"],
                            f"Classification at least as good as BT under noisy labels "
                            f"(beta={noisy}, {at}): best CLF {by.loc[noisy, clf].max():.3f} "
                            f"vs BT-MLP {by.loc[noisy, 'BT-MLP']:.3f}"))
        out.append(_verdict(by.loc[clean, "BT-MLP"] >= by.loc[clean, clf].max(),
                            f"BT ahead at the cleanest labels (beta={clean}, {at}): BT-MLP "
                            f"{by.loc[clean, 'BT-MLP']:.3f} vs best CLF "
                            f"{by.loc[clean, clf].max():.3f}"))
    both = main.groupby(["model", "beta"]).pairing.transform("nunique") == 2
    pair = main[both].groupby("pairing").improvement.mean()
    if len(pair) == 2:
        out.append(_verdict(pair["cross_prompt"] > pair["same_prompt"],
                            f"Cross-prompt ahead of same-prompt: {pair['cross_prompt']:.3f} vs "
                            f"{pair['same_prompt']:.3f} (n_pairs={ref['n_pairs']}, mean over "
                            f"models, beta and seeds)"))
    part = ablation(frame)
    means = part.groupby("pairing").improvement.mean()
    if {"similar", "diverse"} <= set(means.index):
        conditions = ", ".join(f"beta={b}, n_pairs={n}"
                               for b, n in sorted(set(zip(part.beta, part.n_pairs))))
        out.append(_verdict(means["diverse"] > means["similar"],
                            f"Annotating similar responses helps least: similar "
                            f"{means['similar']:.3f} vs diverse {means['diverse']:.3f} "
                            f"({conditions}, mean over models and seeds)"))
    part = n_pairs_sweep(frame)
    sizes = part.groupby("n_pairs").improvement.mean()
    if len(sizes) > 1:
        out.append(_verdict(sizes.iloc[-1] > sizes.iloc[0],
                            f"More annotations help ({part.pairing.iloc[0]}, "
                            f"beta={part.beta.iloc[0]}, mean over models and seeds): "
                            f"{int(sizes.index[0])} pairs {sizes.iloc[0]:.3f} -> "
                            f"{int(sizes.index[-1])} pairs {sizes.iloc[-1]:.3f}"))
    return out or ["Too few settings in this grid to check the paper's findings."]


def _verdict(holds, text):
    return f"**{'reproduces' if holds else 'does not reproduce'}**: {text}."
