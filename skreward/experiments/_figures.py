"""The report's figures: each varies one factor at the reference condition, error bars labelled.

Each function takes the results frame, the reference condition and the
output folder, saves one PNG and returns ``(title, what is held fixed, file
name, markdown table)``, or None when the grid has too few settings for it. Figures are
made without pyplot: no backend is chosen, no state is changed.
"""

import numpy as np

from ._conditions import MAIN_PAIRINGS, ablation, hold, mean_sem, n_pairs_sweep

PALETTE = {"BT-MLP": "tab:blue", "CLF-MLP": "tab:orange", "CLF-LGB": "tab:green",
           "BT-linear": "tab:gray"}
MARKERS = {"same_prompt": "o", "cross_prompt": "s", "similar": "v", "diverse": "^"}
YLABEL = "Best-of-N improvement"


def _table(stats):
    stats = stats.reset_index()
    header = "| " + " | ".join(map(str, stats.columns)) + " |"
    rule = "|" + "---|" * len(stats.columns)
    body = ["| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |"
            for row in stats.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _figure(figsize, ncols=1, **kwargs):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(1, ncols, **kwargs)


def _save(fig, output, name, stats, held):
    """Save with a footnote saying what the error bars are and what is held fixed."""
    seeds = sorted(set(stats["seeds"].astype(int)))
    count = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
    fig.text(0.01, 0.01, f"mean over {count} seeds; error bars: standard error over the seeds "
             f"of one condition. {held}", fontsize=7, va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(output / name, dpi=110)
    return name


def _lines(ax, frame, x, value="improvement"):
    for model, part in frame.groupby("model"):
        stats = mean_sem(part, x, value)
        ax.errorbar(stats.index, stats["mean"], yerr=stats["sem"], marker="o", capsize=3,
                    label=model, color=PALETTE.get(model))
    ax.set_ylabel(YLABEL)
    ax.grid(alpha=0.3)


def _stated(ref, *free):
    return "Held: " + ", ".join(f"{k}={v}" for k, v in ref.items() if k not in free) + "."


def fig_models(frame, ref, output):
    part = hold(frame, ref)
    stats = mean_sem(part, "model")
    fig, ax = _figure((5, 3.6))
    ax.bar(stats.index, stats["mean"], yerr=stats["sem"], capsize=4,
           color=[PALETTE.get(m) for m in stats.index])
    ax.set_ylabel(YLABEL)
    held = _stated(ref)
    return "Fig. 1: improvement per reward model", held, \
        _save(fig, output, "fig1_models.png", stats, held), _table(stats[["mean", "sem", "seeds"]])


def fig_error_rate(frame, ref, output):
    main = hold(frame, ref, "beta", "pairing")
    main = main[main.pairing.isin(MAIN_PAIRINGS)]
    if main.beta.nunique() < 2:
        return None
    pairings = sorted(main.pairing.unique())
    fig, axes = _figure((5 * len(pairings), 3.8), len(pairings), sharey=True, squeeze=False)
    for ax, pairing in zip(axes[0], pairings):
        part = main[main.pairing == pairing].copy()
        # x: the realised error rate of each beta, averaged over seeds and models
        part["error_rate"] = part.groupby("beta").annotation_error_rate.transform("mean").round(3)
        _lines(ax, part, "error_rate")
        ax.set_xlabel("annotation error rate")
        ax.set_title(pairing)
    axes[0][0].legend()
    stats = mean_sem(main, ["pairing", "beta", "model"])
    held = _stated(ref, "beta", "pairing")
    return "Fig. 2: improvement against annotation error rate", held, \
        _save(fig, output, "fig2_error_rate.png", stats, held), \
        _table(stats[["mean", "sem", "seeds"]])


def fig_n_pairs(frame, ref, output):
    part = n_pairs_sweep(frame)
    sizes = sorted(part.n_pairs.unique())
    if len(sizes) < 2:
        return None
    fig, ax = _figure((5.5, 3.8))
    _lines(ax, part, "n_pairs")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.minorticks_off()  # log-scale minor labels (e.g. 6x10^2, 2x10^3) overlap the sizes
    ax.set_xlabel("annotated pairs")
    ax.legend()
    stats = mean_sem(part, ["n_pairs", "model"])
    held = f"Held: pairing={part.pairing.iloc[0]}, beta={part.beta.iloc[0]}."
    return "Fig. 3: improvement against the number of annotations", held, \
        _save(fig, output, "fig3_n_pairs.png", stats, held), _table(stats[["mean", "sem", "seeds"]])


def fig_pairing(frame, ref, output):
    main = hold(frame, ref, "beta", "pairing")
    main = main[main.pairing.isin(MAIN_PAIRINGS)]
    if main.pairing.nunique() < 2:
        return None
    models = sorted(main.model.unique())
    betas = sorted(main.beta.unique())
    fig, axes = _figure((4 * len(models), 3.8), len(models), sharey=True, squeeze=False)
    for ax, model in zip(axes[0], models):
        for pairing, part in main[main.model == model].groupby("pairing"):
            stats = mean_sem(part, "beta")
            ax.errorbar(stats.index, stats["mean"], yerr=stats["sem"], capsize=3,
                        marker=MARKERS.get(pairing, "o"), label=pairing)
        ax.set_xscale("log")
        ax.set_xticks(betas, [f"{b:g}" for b in betas])
        ax.minorticks_off()
        ax.set_xlabel("beta")
        ax.set_title(model)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(YLABEL)
    axes[0][0].legend()
    stats = mean_sem(main, ["model", "pairing", "beta"])
    held = _stated(ref, "beta", "pairing")
    table = main.groupby(["model", "pairing"]).improvement.mean().unstack()
    return "Fig. 4: same-prompt against cross-prompt annotation", \
        f"{held} Table: mean over beta {[float(b) for b in betas]} and seeds.", \
        _save(fig, output, "fig4_pairing.png", stats, held), _table(table)


def fig_similar_diverse(frame, ref, output):
    part = ablation(frame)
    if part.empty:
        return None
    conditions = sorted(set(zip(part.beta, part.n_pairs)))
    models = sorted(part.model.unique())
    pairings = [p for p in MARKERS if p in set(part.pairing)]
    width = 0.8 / len(pairings)
    fig, axes = _figure((6 * len(conditions), 3.8), len(conditions), sharey=True, squeeze=False)
    for ax, (beta, n_pairs) in zip(axes[0], conditions):
        stats = mean_sem(part[(part.beta == beta) & (part.n_pairs == n_pairs)],
                         ["model", "pairing"]).reset_index()
        for k, pairing in enumerate(pairings):
            rows = stats[stats.pairing == pairing].set_index("model").reindex(models)
            ax.bar(np.arange(len(models)) + k * width, rows["mean"], width, yerr=rows["sem"],
                   capsize=3, label=pairing)
        ax.set_xticks(np.arange(len(models)) + 0.4 - width / 2, models)
        ax.set_title(f"beta={beta}, n_pairs={n_pairs}")
    axes[0][0].set_ylabel(YLABEL)
    axes[0][0].legend(fontsize=8)
    stats = mean_sem(part, ["beta", "n_pairs", "model", "pairing"])
    table = stats["mean"].unstack()[pairings]
    held = "Held: " + "; ".join(f"beta={b}, n_pairs={n}" for b, n in conditions) + "."
    return "Fig. 5: similar and diverse pairs", held, \
        _save(fig, output, "fig5_similar_diverse.png", stats, "Held: beta, n_pairs per panel."), \
        _table(table)


def fig_delta(frame, ref, output):
    part = ablation(frame)
    if part.empty:
        part = hold(frame, ref, "pairing")
    fig, ax = _figure((5.5, 3.8))
    keys = ["beta", "n_pairs", "model", "pairing"]
    x, y = mean_sem(part, keys, "mean_abs_delta"), mean_sem(part, keys)
    for (beta, n_pairs, model, pairing), row in y.iterrows():
        ax.errorbar(x.loc[(beta, n_pairs, model, pairing), "mean"], row["mean"],
                    xerr=x.loc[(beta, n_pairs, model, pairing), "sem"], yerr=row["sem"],
                    marker=MARKERS.get(pairing, "o"), color=PALETTE.get(model), capsize=2)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=PALETTE.get(m), marker="o", ls="", label=m)
               for m in sorted(part.model.unique())]
    handles += [Line2D([], [], color="black", marker=MARKERS.get(p, "o"), ls="", label=p)
                for p in sorted(part.pairing.unique())]
    ax.legend(handles=handles, fontsize=7)
    ax.set_xlabel("mean |golden reward gap| of annotated pairs")
    ax.set_ylabel(YLABEL)
    ax.grid(alpha=0.3)
    conditions = ", ".join(f"beta={b}, n_pairs={n}" for b, n in sorted(set(zip(part.beta,
                                                                               part.n_pairs))))
    table = part.groupby("pairing")[["mean_abs_delta", "improvement"]].mean()
    return "Fig. 6: improvement against the reward gap of annotated pairs", \
        f"Held: {conditions}. Table: mean over models and seeds.", \
        _save(fig, output, "fig6_delta.png", y, f"Held: {conditions}."), _table(table)


def fig_curve(frame, ref, output):
    columns = sorted((c for c in frame.columns if c.startswith("improvement@")),
                     key=lambda c: int(c.split("@")[1]))
    part = hold(frame, ref)
    if not columns or part.empty:
        return None
    ns = [int(c.split("@")[1]) for c in columns]
    fig, ax = _figure((5, 3.8))
    rows = {}
    for model, cells in part.groupby("model"):
        mean = cells[columns].mean()
        sem = (cells[columns].std() / np.sqrt(len(cells))).fillna(0.0)
        ax.errorbar(ns, mean.values, yerr=sem.values, marker="o", capsize=3, label=model,
                    color=PALETTE.get(model))
        rows[model] = mean.values
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("N (candidates per prompt)")
    ax.set_ylabel(YLABEL)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    import pandas as pd

    table = pd.DataFrame(rows, index=[f"N={n}" for n in ns]).T.rename_axis("model")
    held = _stated(ref)
    return "Best-of-N over N", held, \
        _save(fig, output, "fig_best_of_n_curve.png", mean_sem(part, "model"), held), _table(table)


FIGURES = (fig_models, fig_error_rate, fig_n_pairs, fig_pairing, fig_similar_diverse, fig_delta,
           fig_curve)
