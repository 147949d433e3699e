"""Does calibrating reward differences make preference probabilities better?

Question: on held-out comparisons, is the Brier score of
``CalibratedReward(model, method="sigmoid").preference_proba`` (Platt scaling of
the reward difference, fitted on out-of-fold rewards of the training comparisons)
lower than that of the uncalibrated ``sigmoid(r(a) - r(b))`` of the same reward
model fitted on all the training comparisons?

Side by side in one run, on the synthetic testbed (known golden reward), for
CLF-LR (OrderConsistentClassifier(LogisticRegression)), CLF-LGB
(OrderConsistentClassifier(LGBMClassifier)) and BT-MLP (BTRegressor, small),
annotation quality beta in {1, 10}, same-prompt pairs, several seeds. Also shown:
log loss, expected calibration error (10 bins) and the floor, the Brier score of
the true annotation probability ``sigmoid(beta * delta_golden)``.

    nice -n 10 python benchmarks/bench_calibration.py [--quick]

writes benchmarks/results/calibration.json and prints a table.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from lightgbm import LGBMClassifier
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from skreward import BTRegressor, CalibratedReward, OrderConsistentClassifier, simulate_comparisons
from skreward.datasets import make_preference_testbed

OUT = Path(__file__).parent / "results" / "calibration.json"
MODELS = {
    "CLF-LR": lambda seed: OrderConsistentClassifier(LogisticRegression()),
    "CLF-LGB": lambda seed: OrderConsistentClassifier(
        LGBMClassifier(n_estimators=200, verbose=-1, n_jobs=1, random_state=seed)),
    "BT-MLP": lambda seed: BTRegressor(max_epochs=20, module__hidden_sizes=(64,),
                                       random_state=seed),
}


def ece(p, y, bins=10):
    """Expected calibration error: bin-weighted |mean(p) - mean(y)| over equal-width bins."""
    which = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(p[which == b].mean() - y[which == b].mean()) * np.mean(which == b)
                     for b in range(bins) if np.any(which == b)))


def scores(p, y):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return {"brier": float(np.mean((p - y) ** 2)),
            "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
            "ece": ece(p, y)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 2000 pairs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [0, 1] if args.quick else [0, 1, 2]
    n_pairs = 2000 if args.quick else 4000
    data = make_preference_testbed(n_prompts=400, n_test_prompts=100, random_state=0)
    rows = []
    for beta in (1.0, 10.0):
        for seed in seeds:
            train = simulate_comparisons(data.golden, data.groups, n_pairs=n_pairs, beta=beta,
                                         random_state=seed)
            test = simulate_comparisons(data.golden_test, data.groups_test, n_pairs=4000,
                                        beta=beta, random_state=100 + seed)
            X_test = test.take(data.X_test)
            golden = data.golden_test[test.pairs]
            floor = scores(expit(beta * (golden[:, 0] - golden[:, 1])), test.y)
            for name, make in MODELS.items():
                start = time.perf_counter()
                model = CalibratedReward(make(seed), cv=3).fit(train.take(data.X), train.y)
                raw = model.raw_reward(X_test.reshape(-1, X_test.shape[2])).reshape(-1, 2)
                row = {"model": name, "beta": beta, "seed": seed, "scale": model.scale_,
                       "raw": scores(expit(raw[:, 0] - raw[:, 1]), test.y),
                       "calibrated": scores(model.preference_proba(X_test), test.y),
                       "true_probability": floor,
                       "fit_seconds": time.perf_counter() - start}
                rows.append(row)
                print(f"beta={beta:<4} seed={seed} {name:8} scale={row['scale']:.3f} "
                      f"brier raw={row['raw']['brier']:.4f} "
                      f"calibrated={row['calibrated']['brier']:.4f} "
                      f"(floor {floor['brier']:.4f})", flush=True)
    summary = []
    print(f"\n{'model':8} {'beta':>5} {'Brier raw':>10} {'calibrated':>11} {'ratio':>6} "
          f"{'ECE raw':>8} {'ECE cal':>8} {'floor':>7} {'wins':>5}")
    for name in MODELS:
        for beta in (1.0, 10.0):
            sel = [r for r in rows if r["model"] == name and r["beta"] == beta]
            mean = lambda kind, key: float(np.mean([r[kind][key] for r in sel]))  # noqa: E731
            entry = {"model": name, "beta": beta, "n_seeds": len(sel),
                     "brier_raw": mean("raw", "brier"),
                     "brier_calibrated": mean("calibrated", "brier"),
                     "ece_raw": mean("raw", "ece"), "ece_calibrated": mean("calibrated", "ece"),
                     "log_loss_raw": mean("raw", "log_loss"),
                     "log_loss_calibrated": mean("calibrated", "log_loss"),
                     "brier_true_probability": mean("true_probability", "brier"),
                     "calibrated_wins": int(sum(r["calibrated"]["brier"] < r["raw"]["brier"]
                                                for r in sel))}
            summary.append(entry)
            print(f"{name:8} {beta:5.0f} {entry['brier_raw']:10.4f} "
                  f"{entry['brier_calibrated']:11.4f} "
                  f"{entry['brier_calibrated'] / entry['brier_raw']:6.3f} "
                  f"{entry['ece_raw']:8.4f} {entry['ece_calibrated']:8.4f} "
                  f"{entry['brier_true_probability']:7.4f} "
                  f"{entry['calibrated_wins']:>2}/{len(sel)}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({
        "question": __doc__.split("\n\n")[1].replace("\n", " "),
        "command": "nice -n 10 python benchmarks/bench_calibration.py"
                   + (" --quick" if args.quick else ""),
        "setting": {"testbed": "make_preference_testbed(n_prompts=400, n_test_prompts=100, "
                               "random_state=0)", "train_pairs": n_pairs, "test_pairs": 4000,
                    "pairing": "same_prompt", "cv": 3},
        "machine": f"{platform.machine()}, shared by several jobs (timings indicative)",
        "summary": summary, "rows": rows}, indent=1))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
