"""
A reward model on HH-RLHF text
==============================

Human preference data comes as text: a dialogue and two candidate final
answers, the one people chose and the one they rejected. This example goes
from those triples to a reward model in one scikit-learn pipeline:

1. :class:`~skreward.SentenceEmbedder` embeds the dialogue and each answer
   with the bundled all-MiniLM-L6-v2 model (offline), giving comparisons of
   shape ``(n_pairs, 2, n_features)`` with the chosen answer first;
2. :class:`~skreward.OrderConsistentClassifier` with LightGBM learns to tell
   chosen answers from rejected ones, and its logit is the reward.

It runs on a seeded subset of 600 of the 2,312 comparisons of Anthropic's
HH-RLHF *harmless-base* test split, so that it takes a few minutes on two CPU
cores; embeddings are cached in ``.skreward_cache/``, so a second run takes
seconds. ``benchmarks/bench_real_data.py`` runs the whole split and more
reward models.
"""

# %%
# Load the comparisons
# --------------------
# :func:`~skreward.datasets.load_hh_rlhf` reads the file you have (nothing is
# downloaded) and splits each pair of dialogues into their shared context,
# the ``prompt``, and the two final assistant turns. Set ``SKREWARD_DATA`` to
# the folder that holds ``hh_rlhf_harmless_base_test.jsonl.gz``.
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from lightgbm import LGBMClassifier
from sklearn.model_selection import GroupKFold, GroupShuffleSplit, cross_val_score
from sklearn.pipeline import make_pipeline

from skreward import OrderConsistentClassifier, SentenceEmbedder
from skreward.datasets import load_hh_rlhf

try:
    here = Path(__file__).resolve().parent
except NameError:  # run where __file__ is not set (e.g. pasted into a notebook)
    here = Path.cwd()
data_dir = Path(os.environ.get("SKREWARD_DATA", here.parent.parent / "shared" / "data"))
comparisons = load_hh_rlhf(data_dir / "hh_rlhf_harmless_base_test.jsonl.gz")
comparisons = comparisons.sample(n=600, random_state=0).reset_index(drop=True)
print(comparisons.loc[0, "prompt"][-200:])
print("chosen:  ", comparisons.loc[0, "chosen"][:120])
print("rejected:", comparisons.loc[0, "rejected"][:120])

# %%
# One pipeline from text to reward
# --------------------------------
# The embedder turns the ``prompt``, ``chosen`` and ``rejected`` columns into
# comparisons; the classifier's ``fit`` takes them with ``y=None``, since the
# chosen answer always comes first. ``score`` is the pairwise accuracy: the
# fraction of held-out comparisons where the chosen answer gets the higher
# reward. Folds are grouped by dialogue.
model = make_pipeline(
    SentenceEmbedder(cache=".skreward_cache"),
    OrderConsistentClassifier(LGBMClassifier(n_estimators=200, learning_rate=0.03,
                                             num_leaves=15, colsample_bytree=0.3,
                                             n_jobs=1, verbose=-1, random_state=0)),
)
accuracy = cross_val_score(model, comparisons, groups=comparisons["dialogue"],
                           cv=GroupKFold(n_splits=5))
print(f"pairwise accuracy: {accuracy.mean():.3f} +- {accuracy.std():.3f} (5 folds)")

# %%
# Rewards of chosen and rejected answers
# --------------------------------------
# Fitted on 80% of the dialogues, the pipeline scores items, (prompt,
# response) pairs, of the other 20%: ``decision_function`` takes the
# ``prompt`` and ``response`` columns and returns one reward each.
train, test = next(GroupShuffleSplit(test_size=0.2, random_state=0).split(
    comparisons, groups=comparisons["dialogue"]))
model.fit(comparisons.iloc[train])
held_out = comparisons.iloc[test]
rewards = {
    answer: model.decision_function(held_out[["prompt", answer]].rename(
        columns={answer: "response"}))
    for answer in ("chosen", "rejected")
}
margin = rewards["chosen"] - rewards["rejected"]
print(f"held-out comparisons won by the chosen answer: {np.mean(margin > 0):.3f}")

fig, (ax_reward, ax_margin) = plt.subplots(1, 2, figsize=(10, 4))
bins = np.linspace(min(map(np.min, rewards.values())), max(map(np.max, rewards.values())), 30)
for answer, color in (("chosen", "tab:green"), ("rejected", "tab:red")):
    ax_reward.hist(rewards[answer], bins=bins, alpha=0.6, color=color, label=answer)
ax_reward.set(xlabel="reward (classifier logit)", ylabel="answers",
              title="Held-out rewards")
ax_reward.legend()
ax_margin.hist(margin, bins=30, color="tab:blue")
ax_margin.axvline(0, color="black", lw=1)
ax_margin.set(xlabel="reward(chosen) - reward(rejected)", ylabel="comparisons",
              title="Margin of each held-out comparison")
fig.tight_layout()
plt.show()
