"""
Searching reward models, annotation quality and pairing with GridSearchCV
=========================================================================

One :class:`~sklearn.model_selection.GridSearchCV` searches the reward
objective (Bradley-Terry or classification), the annotation quality ``beta``
and the pairing strategy, and scores every candidate by Best-of-N on held-out
prompts: the search of the :ref:`evaluation` guide. :class:`~skreward.SimulatedAnnotator`
simulates the annotations on each training fold; :class:`~skreward.BestOfNScorer`
receives the test fold's prompt ids through scikit-learn's metadata routing.

The MLPs are smaller than the paper's (``128 -> 64`` hidden units instead of
``1024 -> 512``) so that the example runs in a few minutes on two CPU cores.
"""

# %%
# The synthetic testbed
# ---------------------
# Prompts with ten responses each, embedded in 64 dimensions and scored by a
# known non-linear golden reward.
import sklearn
from lightgbm import LGBMClassifier
from sklearn.model_selection import GridSearchCV, GroupKFold

from skreward import (BestOfNScorer, BTRegressor, OrderConsistentClassifier,
                      RewardMLPClassifier, SimulatedAnnotator)
from skreward.datasets import make_preference_testbed

sklearn.set_config(enable_metadata_routing=True)
data = make_preference_testbed(n_prompts=450, random_state=0)

mlp = {"module__hidden_sizes": (128, 64), "max_epochs": 30, "random_state": 0}
models = {
    "BT-MLP": BTRegressor(**mlp),
    "CLF-MLP": OrderConsistentClassifier(RewardMLPClassifier(**mlp)),
    "CLF-LGB": OrderConsistentClassifier(LGBMClassifier(n_jobs=1, verbose=-1, random_state=0)),
}
search = GridSearchCV(
    SimulatedAnnotator(models["CLF-LGB"], n_pairs=2000, random_state=0),
    {"estimator": list(models.values()), "beta": [0.3, 10.0],
     "pairing": ["same_prompt", "cross_prompt"]},
    scoring=BestOfNScorer(n=8),
    cv=GroupKFold(3),
    n_jobs=2,  # one process per core; each uses one torch thread
    error_score="raise",  # a failing candidate stops the search instead of scoring NaN
)
search.fit(data.X, data.golden, groups=data.groups)

# %%
# The results, best first
# -----------------------
import pandas as pd

names = {id(model): name for name, model in models.items()}


def results_table(search):
    table = pd.DataFrame({
        "model": [names[id(p["estimator"])] for p in search.cv_results_["params"]],
        "beta": search.cv_results_["param_beta"],
        "pairing": search.cv_results_["param_pairing"],
        "best_of_8_improvement": search.cv_results_["mean_test_score"],
        "std": search.cv_results_["std_test_score"],
    })
    return table.sort_values("best_of_8_improvement", ascending=False, ignore_index=True)


table = results_table(search)
print(table.to_string(float_format="{:.3f}".format))

# %%
# Best-of-N improvement by model, beta and pairing
# ------------------------------------------------
import matplotlib.pyplot as plt


def plot_table(table, title):
    pairings = sorted(table.pairing.unique())
    fig, axes = plt.subplots(1, len(pairings), figsize=(9, 3.5), sharey=True)
    for ax, pairing in zip(axes, pairings):
        for model, part in table[table.pairing == pairing].groupby("model"):
            part = part.sort_values("beta")
            ax.errorbar(part.beta, part.best_of_8_improvement, yerr=part["std"], marker="o",
                        capsize=3, label=model)
        ax.set_xscale("log")
        ax.set_xlabel("annotation quality beta")
        ax.set_title(pairing)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Best-of-8 improvement")
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()


plot_table(table, "Synthetic testbed")

# %%
# The same search on arena-bench
# ------------------------------
# When the arena-bench file is at hand (GPT-4 grades of 13-16 answers to 300
# hard prompts), its scores serve as the golden reward. Texts are embedded once
# by :class:`~skreward.SentenceEmbedder` with the bundled offline model, and
# kept in an on-disk cache (``$SKREWARD_CACHE``, default ``~/.cache/skreward``)
# for the next run.
import os
from pathlib import Path

from skreward import SentenceEmbedder
from skreward.datasets import load_scored_responses

here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
arena = next((p / "shared/data/arena_bench_v1_scored.jsonl.gz" for p in here.parents
              if (p / "shared/data/arena_bench_v1_scored.jsonl.gz").exists()), None)
if arena is not None:
    answers = load_scored_responses(arena)
    cache = os.environ.get("SKREWARD_CACHE", Path.home() / ".cache" / "skreward")
    X = SentenceEmbedder(cache=cache).transform(answers)
    arena_search = GridSearchCV(
        SimulatedAnnotator(models["CLF-LGB"], n_pairs=4000, random_state=0),
        {"estimator": list(models.values()), "beta": [1.0, 10.0],
         "pairing": ["same_prompt", "cross_prompt"]},
        scoring=BestOfNScorer(n=8), cv=GroupKFold(3), n_jobs=2, error_score="raise",
    ).fit(X, answers.score.to_numpy(), groups=answers.group.to_numpy())
    arena_table = results_table(arena_search)
    print(arena_table.to_string(float_format="{:.3f}".format))
    plot_table(arena_table, "arena-bench (GPT-4 scores as golden reward)")
else:
    print("arena-bench file not found: skipped.")
