"""
Calibrated rewards: reliability of preference probabilities
===========================================================

A reward model's scale is arbitrary: a classification reward model returns its
classifier's logit, whose differences need not be log-odds of a preference.
:class:`~skreward.CalibratedReward` learns the scale from comparisons that the
reward model did not see (out-of-fold rewards), so that
``sigmoid(r(a) - r(b))`` becomes a calibrated probability that ``a`` is
preferred. This example draws the reliability diagram of the raw and the
calibrated probabilities on held-out comparisons and compares their Brier
scores, then shows normalised rewards (OpenRLHF's convention) and rewards
calibrated to the golden scale.
"""

# %%
# Data and a reward model
# -----------------------
# Noisy annotations (``beta=1``) of the synthetic testbed; the reward model is
# CLF-LGB, a LightGBM classifier of winners and losers, whose logits are sharp.
import matplotlib.pyplot as plt
import numpy as np
from lightgbm import LGBMClassifier
from scipy.special import expit
from sklearn.calibration import calibration_curve

from skreward import CalibratedReward, OrderConsistentClassifier, simulate_comparisons
from skreward.datasets import make_preference_testbed

data = make_preference_testbed(n_prompts=400, n_test_prompts=100, random_state=0)
train = simulate_comparisons(data.golden, data.groups, n_pairs=3000, beta=1, random_state=0)
test = simulate_comparisons(data.golden_test, data.groups_test, n_pairs=4000, beta=1,
                            random_state=1)
X_train, X_test = train.take(data.X), test.take(data.X_test)

lgb = OrderConsistentClassifier(LGBMClassifier(n_estimators=200, verbose=-1, n_jobs=1,
                                               random_state=0))
model = CalibratedReward(lgb, method="sigmoid", cv=3).fit(X_train, train.y)
print(f"Platt scale of the reward differences: {model.scale_:.3f}")

# %%
# Raw and calibrated preference probabilities on held-out comparisons
# -------------------------------------------------------------------
raw = model.raw_reward(X_test.reshape(-1, X_test.shape[2])).reshape(-1, 2)
p_raw = expit(raw[:, 0] - raw[:, 1])
p_calibrated = model.preference_proba(X_test)
golden = data.golden_test[test.pairs]
p_true = expit(golden[:, 0] - golden[:, 1])  # the annotators' own probability (beta=1)


def brier(p):
    return np.mean((p - test.y) ** 2)


print(f"Brier score, sigmoid of the raw difference: {brier(p_raw):.4f}")
print(f"Brier score, calibrated (Platt):           {brier(p_calibrated):.4f}")
print(f"Brier score of the true probability:        {brier(p_true):.4f}")

fig, ax = plt.subplots(figsize=(5, 5))
ax.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
for p, label in [(p_raw, "raw sigmoid(r(a) - r(b))"), (p_calibrated, "CalibratedReward")]:
    observed, predicted = calibration_curve(test.y, p, n_bins=10, strategy="quantile")
    ax.plot(predicted, observed, "o-", label=f"{label} (Brier {brier(p):.3f})")
ax.set_xlabel("predicted P(first preferred)")
ax.set_ylabel("observed fraction preferred")
ax.set_title("Reliability on held-out comparisons")
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %%
# Normalised rewards and rewards on the golden scale
# --------------------------------------------------
# ``method="normalize"`` returns ``(r - mean) / std`` with the training rewards'
# statistics, as OpenRLHF's ``normalize_reward`` does; ``method="isotonic"``
# maps the reward onto golden rewards when there are some (here the
# testbed's, through a :class:`~skreward.SimulatedAnnotator`).
from sklearn.frozen import FrozenEstimator  # noqa: E402

normalised = CalibratedReward(FrozenEstimator(model.estimator_), method="normalize")
normalised.fit(X_train, train.y)
print(f"training rewards: mean {normalised.reward_mean_:.3f}, std {normalised.reward_std_:.3f}")

isotonic = CalibratedReward(FrozenEstimator(model.estimator_), method="isotonic")
isotonic.fit(data.X, data.golden)
fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(model.raw_reward(data.X_test), data.golden_test, s=3, alpha=0.3,
           label="golden reward")
order = np.argsort(model.raw_reward(data.X_test))
ax.plot(model.raw_reward(data.X_test)[order], isotonic.decision_function(data.X_test)[order],
        "r-", label="isotonic calibration")
ax.set_xlabel("raw reward (CLF-LGB logit)")
ax.set_ylabel("reward on the golden scale")
ax.legend()
plt.show()
