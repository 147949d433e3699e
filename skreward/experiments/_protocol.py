"""Sun et al.'s evaluation of ensembles: one fitted ensemble, judged under several aggregates.

A grid with an ``ensemble`` entry (the ``authors-quick`` and ``authors-full``
presets) fits every cell's model as a :class:`~skreward.RewardEnsemble`; the
authors report each ensemble's mean, its minimum and its first member. The
aggregate is read when rewards are computed, so one fit gives all of them:
each adds columns ``<aggregate>:<metric>`` to the cell's row, and the report
gets a table of them.
"""

import numpy as np

from ..metrics import best_of_n_curve, best_of_n_report, prompt_spearman_score

METRICS = ("golden", "improvement", "oracle_fraction", "quantile", "spearman")


def aggregate_columns(ensemble, data, n_eval, ns, aggregates):
    """The columns of a fitted ensemble under each aggregate, on the held-out prompts.

    Best-of-N (the exact expectation) at ``n_eval`` and at every N of ``ns``,
    the pick's golden-reward quantile and the per-prompt Spearman correlation.
    ``ensemble`` is left with the aggregate it had.
    """
    columns, original = {}, ensemble.aggregate
    try:
        for aggregate in aggregates:
            reward = ensemble.set_params(aggregate=aggregate).decision_function(data.X_test)
            args = (data.golden_test, reward, data.groups_test)
            report = best_of_n_report(*args, n=n_eval)
            curve = best_of_n_curve(*args, ns=ns)
            values = {**{key: report[key] for key in METRICS[:4]},
                      "spearman": prompt_spearman_score(*args),
                      **{f"improvement@{n}": v for n, v in zip(ns, curve.improvement)}}
            columns.update({f"{aggregate}:{key}": value for key, value in values.items()})
    finally:
        ensemble.set_params(aggregate=original)
    return columns


def aggregate_table(frame):
    """Markdown lines comparing the aggregates of the ensembles in ``frame`` (none without).

    Per model and aggregate: the mean over the cells of each metric, with
    its standard error, at every (beta, n_pairs) condition of the grid.
    """
    aggregates = sorted({c.split(":")[0] for c in frame.columns if ":" in c},
                        key=lambda a: ("mean", "min", "conservative", "first").index(a))
    if not aggregates:
        return []
    ns = sorted({int(c.split("@")[1]) for c in frame.columns
                 if c.startswith(f"{aggregates[0]}:improvement@")})
    picked = [n for n in ns if n in (2, 10, 50, 100, 500) or n == ns[-1]]
    header = ["model", "pairing", "beta", "n_pairs", "aggregate", *METRICS,
              *(f"improvement@{n}" for n in picked)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    conditions = ["model", "pairing", "beta", "n_pairs"]
    for (model, pairing, beta, n_pairs), cells in frame.groupby(conditions):
        for aggregate in aggregates:
            keys = [*METRICS, *(f"improvement@{n}" for n in picked)]
            values = [cells[f"{aggregate}:{key}"] for key in keys]
            lines.append("| " + " | ".join([model, pairing, f"{beta:g}", f"{int(n_pairs)}",
                                            aggregate] + [
                _mean_sem(v) for v in values]) + " |")
    seeds = frame.groupby(conditions).size()
    seeds = f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}-{seeds.max()}"
    return ["## Ensemble aggregates (Sun et al.'s protocol)", "",
            f"One ensemble per cell, its reward aggregated over the members in each way "
            f"listed; values are means over {seeds} seeds (± standard error). Best-of-N is the exact "
            f"expectation over random candidate subsets; `quantile`: fraction of the prompt's "
            f"candidates whose golden reward is at most the pick's; `spearman`: per-prompt "
            f"rank correlation with the golden reward.", "", *lines, ""]


def _mean_sem(values):
    values = np.asarray(values, dtype=float)
    sem = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{values.mean():.3f} ± {sem:.3f}"
