"""Train/test splits that several benchmarks share: the synthetic testbed by seed, and
arena-bench (embedded once through the cache) split by prompt.

Each split is ``(seed, X, golden, groups, X_test, golden_test, groups_test)``.
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from skreward import SentenceEmbedder
from skreward.datasets import load_scored_responses, make_preference_testbed

ARENA = Path(__file__).resolve().parents[2] / "shared" / "data" / "arena_bench_v1_scored.jsonl.gz"


def testbed_splits(n_seeds, n_prompts=500):
    """One testbed per seed: ``n_prompts`` x 10 training responses, 50 test prompts x 100."""
    for seed in range(n_seeds):
        data = make_preference_testbed(n_prompts=n_prompts, n_responses=10, n_test_prompts=50,
                                       n_candidates=100, random_state=seed)
        yield seed, data.X, data.golden, data.groups, data.X_test, data.golden_test, \
            data.groups_test


def arena_splits(n_seeds, cache, log, distinct=False):
    """arena-bench embedded (all-MiniLM-L6-v2, prompt + response), 80/20 by prompt per seed.

    ``distinct``: keep each identical (prompt, response) row once (a ranking may not show
    an item twice).
    """
    data = load_scored_responses(ARENA)
    start = time.perf_counter()
    X = SentenceEmbedder(combine="concat", cache=cache).transform(data).astype(np.float32)
    log(f"arena-bench: {len(data)} responses embedded in {time.perf_counter() - start:.0f} s "
        f"(cache {cache})")
    golden, groups = data["score"].to_numpy(), pd.factorize(data["group"])[0]
    if distinct:
        keep = np.sort(np.unique(X, axis=0, return_index=True)[1])
        log(f"arena-bench: {len(X) - len(keep)} duplicate rows (same prompt and response) "
            "dropped")
        X, golden, groups = X[keep], golden[keep], groups[keep]
    splits = GroupShuffleSplit(n_splits=n_seeds, test_size=0.2, random_state=0)
    for seed, (train, test) in enumerate(splits.split(X, groups=groups)):
        yield seed, X[train], golden[train], groups[train], X[test], golden[test], groups[test]
