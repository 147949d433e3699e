"""
Classification against Bradley-Terry as annotations get noisier
===============================================================

The smallest version of the paper's main experiment: simulate annotations of
the synthetic testbed at several annotation qualities ``beta``, fit
Bradley-Terry and classification reward models on each, and judge them by
Best-of-N on held-out prompts.

Three models that fit in seconds, so that this example runs in the
documentation build: linear Bradley-Terry (logistic regression on
differences of embeddings), its classification counterpart CLF-linear
(logistic regression of winners and losers: same linear reward, other
objective) and CLF-LGB (a LightGBM classifier, its logit used as the
reward). The MLP models of the paper (:class:`~skreward.BTRegressor` and
CLF-MLP) slot into the same dictionary. Which model wins depends on the
data: read the numbers, not the labels.
"""

# %%
# Data and models
# ---------------
# Training prompts with ten responses each, and held-out prompts with 64
# candidates each for Best-of-N. Every item is an embedding; the golden
# reward is a known non-linear function of it.
import matplotlib.pyplot as plt
import numpy as np
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skreward import (OrderConsistentClassifier, PairwiseTransformer,
                      simulate_comparisons)
from skreward.datasets import make_preference_testbed
from skreward.metrics import best_of_n_curve, best_of_n_report

data = make_preference_testbed(n_prompts=400, n_test_prompts=30,
                               n_candidates=64, random_state=0)
# one LightGBM thread: small data fits fastest so, even on a busy machine
lgbm = LGBMClassifier(n_estimators=100, n_jobs=1, verbose=-1,
                      random_state=0)
models = {
    "BT-linear": make_pipeline(PairwiseTransformer("difference"),
                               LogisticRegression(fit_intercept=False)),
    "CLF-linear": OrderConsistentClassifier(LogisticRegression()),
    "CLF-LGB": OrderConsistentClassifier(lgbm),
}


def fitted_reward(model, sim):
    """Fit on the simulated comparisons, score the held-out candidates."""
    model.fit(sim.take(data.X), sim.y)
    return model.decision_function(data.X_test)


# %%
# Best-of-16 improvement against the annotation error rate
# --------------------------------------------------------
# ``beta`` sets how often the simulated annotator prefers the response of
# higher golden reward: ``P(correct) = sigmoid(beta * |delta r| / std(r))``.
# The realised error rate is on the x-axis.
betas = [0.3, 1.0, 3.0, 10.0]
error_rates, improvements = [], {name: [] for name in models}
for beta in betas:
    sim = simulate_comparisons(data.golden, data.groups, n_pairs=3000,
                               beta=beta, pairing="cross_prompt",
                               random_state=0)
    error_rates.append(sim.error_rate)
    for name, model in models.items():
        reward = fitted_reward(model, sim)
        report = best_of_n_report(data.golden_test, reward,
                                  data.groups_test, n=16, random_state=0)
        improvements[name].append(report.improvement)
    scores = ", ".join(f"{name} {values[-1]:.3f}"
                       for name, values in improvements.items())
    print(f"beta={beta:>4}: error rate {sim.error_rate:.3f}, {scores}")

fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name, values in improvements.items():
    ax.plot(error_rates, values, marker="o", label=name)
ax.set_xlabel("annotation error rate")
ax.set_ylabel("Best-of-16 improvement")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()

# %%
# Best-of-N over N
# ----------------
# The improvement of the pick over a random candidate grows with N for
# every model; the golden reward's own pick (the oracle) bounds it.
sim = simulate_comparisons(data.golden, data.groups, n_pairs=3000,
                           beta=1.0, pairing="cross_prompt", random_state=0)
ns = [2, 4, 8, 16, 32, 64]
fig, ax = plt.subplots(figsize=(5.5, 3.5))
for name, model in models.items():
    curve = best_of_n_curve(data.golden_test, fitted_reward(model, sim),
                            data.groups_test, ns=ns, n_repeats=20,
                            random_state=0)
    ax.plot(ns, curve.improvement, marker="o", label=name)
ax.plot(ns, curve.oracle_improvement, color="black", linestyle="--",
        label="oracle")
ax.set_xscale("log", base=2)
ax.set_xlabel("N (candidates per prompt)")
ax.set_ylabel("Best-of-N improvement")
ax.set_title(f"beta=1 (error rate {sim.error_rate:.2f})")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
print("oracle improvement at N=64:",
      np.round(curve.oracle_improvement[-1], 3))
