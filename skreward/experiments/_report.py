"""A markdown report with figures that mirror the paper's, from a results file."""

from pathlib import Path

import numpy as np

from ._runner import RESULTS, read_results

PALETTE = {"BT-MLP": "tab:blue", "CLF-MLP": "tab:orange", "CLF-LGB": "tab:green",
           "BT-linear": "tab:gray"}


def results_frame(output):
    """``output/results.csv`` as a DataFrame with numeric columns (what :func:`findings` reads)."""
    import pandas as pd

    rows = read_results(Path(output) / RESULTS)
    if not rows:
        raise ValueError(f"no results in {Path(output) / RESULTS}; run the experiments first.")
    frame = pd.DataFrame(rows)
    for column in frame.columns.drop(["model", "pairing", "link"]):
        frame[column] = pd.to_numeric(frame[column])
    return frame


def _mean_sem(frame, by, value="improvement"):
    """Mean over seeds and the standard error of that mean."""
    stats = frame.groupby(by)[value].agg(["mean", "std", "count"])
    stats["sem"] = (stats["std"] / np.sqrt(stats["count"])).fillna(0.0)
    return stats


def write_report(output="skreward-results"):
    """Write ``report.md`` and its PNG figures from ``output/results.csv``.

    Figures mirror Sun, Shen & Ton (2025): Best-of-N improvement per model
    (Fig. 1), against the annotation error rate (Fig. 2), against the number
    of annotations (Fig. 3), same- against cross-prompt pairing (Fig. 4),
    similar/diverse pairing (Fig. 5), against the mean golden reward gap of
    the annotated pairs (Fig. 6), and a Best-of-N curve over N. Error bars
    are standard errors over seeds. The report also checks each of the
    paper's findings against these numbers and says which hold.

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
    figures = [f(frame, output) for f in (_fig_models, _fig_error_rate, _fig_n_pairs,
                                          _fig_pairing, _fig_similar_diverse, _fig_delta,
                                          _fig_curve)]
    lines = ["# skreward experiment report", "",
             f"{len(frame)} cells: " + ", ".join(
                 f"{column} {sorted(frame[column].unique().tolist())}"
                 for column in ("model", "beta", "n_pairs", "pairing", "seed")) + ". "
             f"Best-of-N with N = {int(frame.n_eval.max())} on held-out prompts; "
             "improvement = golden reward of the pick minus the mean candidate's.", "",
             "## Findings of the paper, checked", ""]
    lines += [f"- {line}" for line in findings(frame)] + [""]
    for title, name, table in filter(None, figures):
        lines += [f"## {title}", "", f"![{title}]({name})", "", table, ""]
    path = output / "report.md"
    path.write_text("\n".join(lines))
    return path


def findings(frame):
    """Each finding of the paper, with the numbers that confirm or refute it here."""
    main = frame[frame.pairing.isin(["same_prompt", "cross_prompt"])]
    out = []
    betas = sorted(main.beta.unique())
    models = set(main.model)
    if {"BT-MLP"} < models and len(betas) > 1:
        by = main.groupby(["beta", "model"]).improvement.mean().unstack()
        clf = [m for m in ("CLF-MLP", "CLF-LGB") if m in by]
        noisy, clean = betas[0], betas[-1]
        best_clf = by.loc[noisy, clf].max()
        out.append(_verdict(best_clf >= by.loc[noisy, "BT-MLP"],
                            f"Classification at least as good as BT under noisy labels (beta={noisy}): "
                            f"best CLF {best_clf:.3f} vs BT-MLP {by.loc[noisy, 'BT-MLP']:.3f}"))
        out.append(_verdict(by.loc[clean, "BT-MLP"] >= by.loc[clean, clf].max(),
                            f"BT ahead at the cleanest labels (beta={clean}): BT-MLP "
                            f"{by.loc[clean, 'BT-MLP']:.3f} vs best CLF {by.loc[clean, clf].max():.3f}"))
    pair = main.groupby("pairing").improvement.mean()
    if len(pair) == 2:
        out.append(_verdict(pair["cross_prompt"] > pair["same_prompt"],
                            f"Cross-prompt ahead of same-prompt: {pair['cross_prompt']:.3f} vs "
                            f"{pair['same_prompt']:.3f} (mean over models and beta)"))
    ablation = frame.groupby("pairing").improvement.mean()
    if {"similar", "diverse"} <= set(ablation.index):
        out.append(_verdict(ablation["diverse"] > ablation["similar"],
                            f"Annotating similar responses helps least: similar "
                            f"{ablation['similar']:.3f} vs diverse {ablation['diverse']:.3f}"))
    part = _n_pairs_sweep(frame)
    sizes = part.groupby("n_pairs").improvement.mean()
    if len(sizes) > 1:
        out.append(_verdict(sizes.iloc[-1] > sizes.iloc[0],
                            f"More annotations help (same-prompt, beta={part.beta.iloc[0]}): "
                            f"{int(sizes.index[0])} pairs {sizes.iloc[0]:.3f} -> "
                            f"{int(sizes.index[-1])} pairs {sizes.iloc[-1]:.3f}"))
    return out or ["Too few settings in this grid to check the paper's findings."]


def _n_pairs_sweep(frame):
    """Same-prompt cells at the beta with the most annotation sizes."""
    part = frame[frame.pairing == "same_prompt"]
    if part.empty:
        return part
    return part[part.beta == part.groupby("beta").n_pairs.nunique().idxmax()]


def _verdict(holds, text):
    return f"**{'reproduces' if holds else 'does not reproduce'}**: {text}."


def _table(stats):
    stats = stats.reset_index()
    header = "| " + " | ".join(map(str, stats.columns)) + " |"
    rule = "|" + "---|" * len(stats.columns)
    body = ["| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |"
            for row in stats.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _figure(figsize, ncols=1, **kwargs):
    """A figure and its axes, made without pyplot: no backend is chosen, no state is changed."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(1, ncols, **kwargs)


def _save(fig, output, name):
    fig.tight_layout()
    fig.savefig(output / name, dpi=110)
    return name


def _lines(ax, frame, x, value="improvement"):
    for model, part in frame.groupby("model"):
        stats = _mean_sem(part, x, value)
        ax.errorbar(stats.index, stats["mean"], yerr=stats["sem"], marker="o", capsize=3,
                    label=model, color=PALETTE.get(model))
    ax.set_ylabel("Best-of-N improvement")
    ax.grid(alpha=0.3)


def _fig_models(frame, output):
    stats = _mean_sem(frame, "model")
    fig, ax = _figure((5, 3.5))
    ax.bar(stats.index, stats["mean"], yerr=stats["sem"], capsize=4,
           color=[PALETTE.get(m) for m in stats.index])
    ax.set_ylabel("Best-of-N improvement (all cells)")
    return "Fig. 1: improvement per reward model", _save(fig, output, "fig1_models.png"), \
        _table(stats[["mean", "sem", "count"]])


def _fig_error_rate(frame, output):
    main = frame[frame.pairing.isin(["same_prompt", "cross_prompt"])]
    if main.beta.nunique() < 2:
        return None
    pairings = sorted(main.pairing.unique())
    fig, axes = _figure((5 * len(pairings), 3.5), len(pairings), sharey=True, squeeze=False)
    for ax, pairing in zip(axes[0], pairings):
        part = main[main.pairing == pairing].copy()
        # x: the realised error rate of each beta, averaged over seeds and models
        part["error_rate"] = part.groupby("beta").annotation_error_rate.transform("mean").round(3)
        _lines(ax, part, "error_rate")
        ax.set_xlabel("annotation error rate")
        ax.set_title(pairing)
    axes[0][0].legend()
    stats = _mean_sem(main, ["pairing", "beta", "model"])
    return "Fig. 2: improvement against annotation error rate", \
        _save(fig, output, "fig2_error_rate.png"), _table(stats[["mean", "sem"]])


def _fig_n_pairs(frame, output):
    part = _n_pairs_sweep(frame)
    if part.n_pairs.nunique() < 2:
        return None
    fig, ax = _figure((5, 3.5))
    _lines(ax, part, "n_pairs")
    ax.set_xscale("log")
    ax.set_xlabel(f"annotations (same-prompt, beta={part.beta.iloc[0]})")
    ax.legend()
    return "Fig. 3: improvement against the number of annotations", \
        _save(fig, output, "fig3_n_pairs.png"), _table(_mean_sem(part, ["n_pairs", "model"])[["mean", "sem"]])


def _fig_pairing(frame, output):
    main = frame[frame.pairing.isin(["same_prompt", "cross_prompt"])]
    if main.pairing.nunique() < 2:
        return None
    models = sorted(main.model.unique())
    fig, axes = _figure((4 * len(models), 3.5), len(models), sharey=True, squeeze=False)
    for ax, model in zip(axes[0], models):
        for pairing, part in main[main.model == model].groupby("pairing"):
            stats = _mean_sem(part, "beta")
            ax.errorbar(stats.index, stats["mean"], yerr=stats["sem"], marker="o", capsize=3,
                        label=pairing)
        ax.set_xscale("log")
        ax.set_xlabel("beta")
        ax.set_title(model)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("Best-of-N improvement")
    axes[0][0].legend()
    stats = main.groupby(["model", "pairing"]).improvement.mean().unstack()
    return "Fig. 4: same-prompt against cross-prompt annotation", \
        _save(fig, output, "fig4_pairing.png"), _table(stats)


def _fig_similar_diverse(frame, output):
    if not {"similar", "diverse"} & set(frame.pairing):
        return None
    betas = frame[frame.pairing.isin(["similar", "diverse"])].beta.unique()
    part = frame[frame.beta.isin(betas)]
    stats = _mean_sem(part, ["model", "pairing"]).reset_index()
    fig, ax = _figure((6, 3.5))
    pairings = sorted(part.pairing.unique())
    width = 0.8 / len(pairings)
    models = sorted(part.model.unique())
    for k, pairing in enumerate(pairings):
        rows = stats[stats.pairing == pairing].set_index("model").reindex(models)
        ax.bar(np.arange(len(models)) + k * width, rows["mean"], width, yerr=rows["sem"],
               capsize=3, label=pairing)
    ax.set_xticks(np.arange(len(models)) + 0.4 - width / 2, models)
    ax.set_ylabel("Best-of-N improvement")
    ax.legend(fontsize=8)
    return "Fig. 5: similar and diverse pairs", _save(fig, output, "fig5_similar_diverse.png"), \
        _table(part.groupby(["model", "pairing"]).improvement.mean().unstack())


def _fig_delta(frame, output):
    fig, ax = _figure((5, 3.5))
    for model, part in frame.groupby("model"):
        ax.scatter(part.mean_abs_delta, part.improvement, s=12, alpha=0.7, label=model,
                   color=PALETTE.get(model))
    ax.set_xlabel("mean |golden reward gap| of annotated pairs")
    ax.set_ylabel("Best-of-N improvement")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    stats = frame.groupby("pairing")[["mean_abs_delta", "improvement"]].mean()
    return "Fig. 6: improvement against the reward gap of annotated pairs", \
        _save(fig, output, "fig6_delta.png"), _table(stats)


def _fig_curve(frame, output):
    columns = sorted((c for c in frame.columns if c.startswith("improvement@")),
                     key=lambda c: int(c.split("@")[1]))
    if not columns:
        return None
    ns = [int(c.split("@")[1]) for c in columns]
    fig, ax = _figure((5, 3.5))
    means = frame.groupby("model")[columns].mean()
    for model, row in means.iterrows():
        ax.plot(ns, row.values, marker="o", label=model, color=PALETTE.get(model))
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N (candidates per prompt)")
    ax.set_ylabel("Best-of-N improvement")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    means.columns = [f"N={n}" for n in ns]
    return "Best-of-N over N", _save(fig, output, "fig_best_of_n_curve.png"), _table(means)
