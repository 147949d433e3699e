"""
Choosing which pairs to annotate: D-optimal design against random pairs
=======================================================================

With a fixed annotation budget, should the next comparisons be random pairs,
or the ones a first reward model finds most informative? This example runs
rounds of select -> annotate -> refit on the synthetic testbed
(:func:`skreward.active.simulate_active_annotation`; the annotations are
simulated from the testbed's golden reward) and draws the learning curves:
Best-of-N fraction of the oracle on held-out prompts against the number of
labels, for random selection, greedy D-optimal design, and its past-aware
variant, a few seeds each.

The reward model is a linear Bradley-Terry model (logistic regression of
winners and losers), refitted after every round. Which strategy wins depends
on the data, the pool and the annotation quality: read the curves, and see
``benchmarks/bench_active.py`` for the full comparison.
"""

# %%
# Rounds of active annotation
# ---------------------------
# Every run starts from the same 200 random labels; each later round adds
# labels chosen by the strategy from a fresh pool of 3,000 same-prompt
# candidate pairs.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from skreward import OrderConsistentClassifier
from skreward.active import simulate_active_annotation
from skreward.datasets import make_preference_testbed
from skreward.metrics import best_of_n_score

data = make_preference_testbed(n_prompts=300, n_test_prompts=30, n_candidates=64,
                               random_state=0)
schedule = (200, 400, 800, 1600)
strategies = ["random", "d_optimal", "past_aware"]
curves = {strategy: [] for strategy in strategies}
for strategy in strategies:
    for seed in range(3):
        rounds = simulate_active_annotation(
            OrderConsistentClassifier(LogisticRegression(max_iter=1000)), data.X,
            data.golden, data.groups, strategy=strategy, n_labels=schedule,
            pool="same_prompt", n_candidates=3000, beta=1.0, random_state=seed)
        curves[strategy].append([
            best_of_n_score(data.golden_test, r.estimator.decision_function(data.X_test),
                            data.groups_test, n=16, metric="oracle_fraction")
            for r in rounds])

# %%
# Learning curves
# ---------------
# Mean over seeds, with the spread (one standard deviation) shaded.
fig, ax = plt.subplots(figsize=(6, 4))
for strategy, runs in curves.items():
    runs = np.array(runs)
    mean, std = runs.mean(axis=0), runs.std(axis=0)
    ax.plot(schedule, mean, marker="o", label=strategy)
    ax.fill_between(schedule, mean - std, mean + std, alpha=0.15)
    print(f"{strategy:10s}", " ".join(f"{m:.3f}" for m in mean))
ax.set_xscale("log")
ax.set_xlabel("labels")
ax.set_ylabel("Best-of-16: fraction of the oracle")
ax.legend()
fig.tight_layout()
plt.show()
