"""How fast is annotation simulation and Best-of-N evaluation?

Question: does ``simulate_comparisons`` draw and label a million comparisons
in well under a second for every pairing, and how does it compare with the
straightforward per-prompt loop? And how long does a Best-of-N curve take
(the paper's protocol: N up to 500, 100 repeats)?

Run: ``python benchmarks/bench_simulation.py``; writes
``benchmarks/results/simulation.json`` and prints a table.
"""

import json
import platform
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

from skreward import simulate_comparisons
from skreward.datasets import make_preference_testbed
from skreward.metrics import best_of_n_curve

N_PAIRS = 1_000_000


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def loop_same_prompt(golden, groups, n_pairs, beta, rng):
    """The straightforward way: pick a prompt, then two of its responses, one pair at a time."""
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    scale = golden.std()
    pairs, labels = [], []
    for _ in range(n_pairs):
        items = members[rng.integers(len(members))]
        a, b = rng.choice(items, 2, replace=False)
        delta = golden[a] - golden[b]
        correct = rng.random() < expit(beta * abs(delta) / scale)
        pairs.append((a, b))
        labels.append(int((delta > 0) == correct))
    return np.array(pairs), np.array(labels)


def main():
    data = make_preference_testbed(n_prompts=50_000, n_responses=10, n_test_prompts=100,
                                   n_candidates=500, n_features=16, n_latent=8, random_state=0)
    rows = []
    for pairing in ["same_prompt", "cross_prompt", "similar", "diverse"]:
        seconds = best_of(lambda: simulate_comparisons(
            data.golden, data.groups, n_pairs=N_PAIRS, pairing=pairing, beta=1.0,
            replace=pairing in ("similar", "diverse"), random_state=0))
        rows.append({"task": f"simulate 1M {pairing}", "seconds": seconds,
                     "per_second": N_PAIRS / seconds})
    n_loop = 20_000
    loop = best_of(lambda: loop_same_prompt(data.golden, data.groups, n_loop, 1.0,
                                            np.random.default_rng(0)), repeat=1)
    fast = rows[0]["seconds"] / N_PAIRS * n_loop
    rows.append({"task": f"per-prompt Python loop, {n_loop} same_prompt", "seconds": loop,
                 "per_second": n_loop / loop, "speedup_of_vectorised": loop / fast})
    reward = data.golden_test + np.random.default_rng(0).normal(size=len(data.golden_test))
    ns = [2, 4, 8, 16, 32, 64, 128, 256, 500]
    seconds = best_of(lambda: best_of_n_curve(data.golden_test, reward, data.groups_test, ns=ns,
                                              n_repeats=100, random_state=0), repeat=1)
    rows.append({"task": "Best-of-N curve, 100 prompts x 500, N=2..500, 100 repeats",
                 "seconds": seconds})

    print(f"{'task':<62} {'seconds':>9} {'per second':>12}")
    for row in rows:
        extra = f"  ({row['speedup_of_vectorised']:.0f}x slower than vectorised)" \
            if "speedup_of_vectorised" in row else ""
        print(f"{row['task']:<62} {row['seconds']:>9.3f} {row.get('per_second', 0):>12,.0f}{extra}")
    out = Path(__file__).parent / "results" / "simulation.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": f"{platform.processor() or platform.machine()}, "
                                          f"{__import__('os').cpu_count()} cores",
                               "command": "python benchmarks/bench_simulation.py",
                               "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
