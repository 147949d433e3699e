"""Why CLF-MLP fell below a plain training loop under label noise: the cause, measured (issue 18).

Question
--------
Issue 18 reported that the library's CLF-MLP (``OrderConsistentClassifier(
RewardMLPClassifier())``) at its defaults scored below the same network
trained by a plain PyTorch loop on noisy comparisons (even below a random
pick), while BT-MLP beat its plain loop. Which part of its training did it?

Part ``causes``: the Best-of-N fraction of the oracle's gain over a random
pick of one-at-a-time changes, each testing one candidate cause:

* ``CLF-MLP lib``: the defaults after the fix: 10% of the *comparisons*
  held out (both rows of a comparison on one side), early stopping on the
  held-out rows' classification loss;
* ``CLF-MLP before``: the defaults before the fix: 10% of the *items* held
  out, early stopping on their classification loss;
* ``CLF comparisons, difference loss``: comparisons held out and scored by
  the logistic loss of their reward differences (BT-MLP's criterion);
* ``CLF comparisons, rescaled difference loss``: the same at the best
  rescaling of the differences (the order alone; a classifier of items
  learns the scale of differences slowly); these two are
  ``benchmarks/_clf_candidates.py``, candidates that were not adopted;
* ``CLF no early stopping``: no hold-out, 15 epochs (the plain loop's);
* ``CLF last epoch``: early stopping kept, the best epoch not restored;
* ``CLF batch 1024``: 1,024 rows per step (the plain loop's 512
  comparisons) instead of 256, i.e. a quarter of the steps;
* ``BT-MLP lib`` and the plain loops (``BT plain``, ``CLF plain``: 15
  epochs, Adam 1e-3, 512 comparisons per batch, no hold-out) for reference.

Part ``trajectories``: 15 epochs without early stopping, the validation
loss recorded each epoch under four hold-outs (items, as before; comparisons
scored as items, the default; comparisons scored by their reward
difference, unscaled and at the best rescaling) with the test
Best-of-N of the same epoch, and BT-MLP's. The Spearman correlation of the
two over the epochs says whether a lower validation loss means a better
reward (negative: it does; positive: early stopping on it picks worse
epochs); the oracle fraction at the epoch of least validation loss is what
early stopping would restore.

Setting: the synthetic testbed (a fresh one per seed: 500 training prompts
x 10 responses, 64 features; 50 test prompts x 100 candidates, Best-of-16)
and arena-bench (768-d MiniLM prompt + response embeddings, 80/20 by prompt;
Best-of-N at the smallest test prompt's size, 13-15), same-prompt
comparisons, ``beta`` in {0.3, 1}, 2,000 comparisons (``--sizes``), 2 seeds
(``--seeds``). The network is the default :class:`skreward.RewardMLP`
(1024 -> 512 -> 1) in every row. The full grid
(all noise levels, sizes and pairings, 5 seeds, the authors' recipe) is
``bench_clf_noise_grid.py``.

Writes ``benchmarks/results/clf_noise.json`` and prints the tables. Run from
the repository root (about 20 minutes on two shared cores)::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_clf_noise.py
"""


import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from sklearn.utils import check_random_state
from skorch.callbacks import Callback
from torch import nn

from skreward import (BTRegressor, OrderConsistentClassifier, RewardMLP, RewardMLPClassifier,
                      simulate_comparisons)
from skreward.metrics import best_of_n_report
from skreward.models._holdout import holdout_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _clf_candidates import HeldOutComparisonsClassifier  # noqa: E402
from _splits import arena_splits, testbed_splits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = (1024, 512)
CACHE = os.environ.get("SKREWARD_BENCH_CACHE", str(ROOT / ".skreward_cache"))


def _split_seed(random_state):
    """The seed RewardNet draws its hold-out with (the second of its four seeds)."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max, size=4)[1])


def item_split(random_state, fraction=0.1):
    """CLF-MLP's hold-out as it was before issue 18: ``fraction`` of the *items*, drawn as
    RewardNet drew it (the two items of a comparison may fall on either side)."""
    seed = _split_seed(random_state)

    def split(dataset, y=None, groups=None, **fit_params):
        train, valid = holdout_split(len(dataset), fraction, seed)  # groups ignored, as before
        return dataset.take(train), dataset.take(valid)

    return split


def causes(seed):
    """The models of part ``causes`` for one seed (CLF variants change one thing each)."""
    arch = dict(module__hidden_sizes=HIDDEN, random_state=seed)
    clf = lambda **kw: OrderConsistentClassifier(RewardMLPClassifier(**arch, **kw))  # noqa: E731
    return {
        "BT-MLP lib": BTRegressor(**arch),
        "CLF-MLP lib": clf(),
        "CLF-MLP before": clf(train_split=item_split(seed)),
        "CLF comparisons, difference loss": OrderConsistentClassifier(
            HeldOutComparisonsClassifier(**arch)),
        "CLF comparisons, rescaled difference loss": OrderConsistentClassifier(
            HeldOutComparisonsClassifier(rescaled=True, **arch)),
        "CLF no early stopping": clf(validation_fraction=None, max_epochs=15),
        "CLF last epoch": clf(callbacks__early_stopping__load_best=False),
        "CLF batch 1024": clf(batch_size=1024),
    }


def plain_loop(kind, X, y, hidden, seed, epochs=15, lr=1e-3, batch=512):
    """The same network by a plain PyTorch loop: fixed epochs, no validation."""
    torch.manual_seed(seed)
    net = RewardMLP(n_features=X.shape[2], hidden_sizes=hidden)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=gen).split(batch):
            xb, yb = X[idx], y[idx]
            if kind == "bt":
                r = net(xb)  # (b, 2)
                loss = loss_fn(r[:, 0] - r[:, 1], yb)
            else:  # both items of every comparison: winner 1, loser 0
                first_wins = yb > 0.5
                winners = torch.where(first_wins[:, None], xb[:, 0], xb[:, 1])
                losers = torch.where(first_wins[:, None], xb[:, 1], xb[:, 0])
                rows = torch.cat([winners, losers])
                labels = torch.cat([torch.ones(len(xb)), torch.zeros(len(xb))])
                loss = loss_fn(net(rows), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


def splits(dataset, seeds, log):
    return testbed_splits(seeds) if dataset == "testbed" else arena_splits(seeds, CACHE, log)


def best_of(groups_test):
    return min(16, int(np.bincount(groups_test)[np.unique(groups_test)].min()))


def run_causes(datasets, seeds, betas, sizes, log):
    rows = []
    for dataset in datasets:
        for seed, X, golden, groups, X_test, golden_test, groups_test in splits(dataset, seeds,
                                                                               log):
            n = best_of(groups_test)
            for beta in betas:
                for n_pairs in sizes:
                    sim = simulate_comparisons(golden, groups, n_pairs=n_pairs, beta=beta,
                                               pairing="same_prompt", random_state=seed)
                    X_fit, y_fit = sim.take(X), np.asarray(sim.y, dtype=float)
                    cell = dict(dataset=dataset, seed=seed, beta=beta, n_pairs=n_pairs,
                                error_rate=float(sim.error_rate))

                    def record(name, rewards, epochs, best_epoch, seconds):
                        fraction = best_of_n_report(golden_test, rewards, groups_test,
                                                    n=n).oracle_fraction
                        rows.append(dict(cell, model=name, oracle_fraction=float(fraction),
                                         epochs=epochs, best_epoch=best_epoch, seconds=seconds))
                        log(f"{dataset} seed {seed} beta={beta:g} n={n_pairs} {name:30s} "
                            f"{fraction:6.3f} epochs={epochs} best={best_epoch}")

                    for name, model in causes(seed).items():
                        start = time.perf_counter()
                        model.fit(X_fit, y_fit)
                        seconds = time.perf_counter() - start
                        history = getattr(model, "estimator_", model).history_
                        best = [h["epoch"] for h in history if h.get("valid_loss_best")]
                        record(name, model.decision_function(X_test), len(history),
                               best[-1] if best else len(history), seconds)
                    for kind, name in (("bt", "BT-MLP plain"), ("clf", "CLF-MLP plain")):
                        start = time.perf_counter()
                        net = plain_loop(kind, X_fit, y_fit, HIDDEN, seed)
                        seconds = time.perf_counter() - start
                        with torch.no_grad():
                            rewards = net(torch.as_tensor(X_test, dtype=torch.float32))
                        record(name, rewards.numpy().astype(float), 15, 15, seconds)
    return rows


class TestEachEpoch(Callback):
    """Records the test Best-of-N oracle fraction of every epoch in the history."""

    def __init__(self, X_test, golden_test, groups_test):
        self.X_test, self.golden_test, self.groups_test = X_test, golden_test, groups_test

    def on_epoch_end(self, net, **kwargs):
        report = best_of_n_report(self.golden_test, net.decision_function(self.X_test),
                                  self.groups_test, n=best_of(self.groups_test))
        net.history.record("test", report.oracle_fraction)


def run_trajectories(datasets, seeds, betas, n_pairs, log):
    rows = []
    for dataset in datasets:
        for seed, X, golden, groups, X_test, golden_test, groups_test in splits(dataset, seeds,
                                                                               log):
            test = [("test", TestEachEpoch(X_test, golden_test, groups_test))]
            fixed = dict(module__hidden_sizes=HIDDEN, random_state=seed, max_epochs=15,
                         patience=None, callbacks=test)
            holdouts = {
                "items (before)": OrderConsistentClassifier(RewardMLPClassifier(
                    train_split=item_split(seed), **fixed)),
                "comparisons, items' loss (lib)": OrderConsistentClassifier(
                    RewardMLPClassifier(**fixed)),
                "comparisons, difference loss": OrderConsistentClassifier(
                    HeldOutComparisonsClassifier(**fixed)),
                "comparisons, rescaled difference loss": OrderConsistentClassifier(
                    HeldOutComparisonsClassifier(rescaled=True, **fixed)),
                "BT-MLP (lib)": BTRegressor(**fixed),
            }
            monitored = {"comparisons, rescaled difference loss": "valid_order_loss"}
            for beta in betas:
                sim = simulate_comparisons(golden, groups, n_pairs=n_pairs, beta=beta,
                                           pairing="same_prompt", random_state=seed)
                X_fit, y_fit = sim.take(X), np.asarray(sim.y, dtype=float)
                for name, model in holdouts.items():
                    history = getattr(model.fit(X_fit, y_fit), "estimator_", model).history_
                    valid = np.array([h[monitored.get(name, "valid_loss")] for h in history])
                    test_ = np.array([h["test"] for h in history])
                    rows.append(dict(dataset=dataset, seed=seed, beta=beta, n_pairs=n_pairs,
                                     holdout=name, spearman=float(spearmanr(valid, test_)[0]),
                                     at_least_loss=float(test_[np.argmin(valid)]),
                                     epoch_least_loss=int(np.argmin(valid)) + 1,
                                     best_test=float(test_.max()),
                                     epoch_best_test=int(np.argmax(test_)) + 1,
                                     valid_loss=valid.round(4).tolist(),
                                     test=test_.round(3).tolist()))
                    log(f"{dataset} seed {seed} beta={beta:g} {name:36s} spearman "
                        f"{rows[-1]['spearman']:+.2f}, at least loss "
                        f"{rows[-1]['at_least_loss']:.3f} (epoch {rows[-1]['epoch_least_loss']}), "
                        f"best {rows[-1]['best_test']:.3f}")
    return rows


def summarise(frame, keys, value="oracle_fraction"):
    return (frame.groupby(keys, sort=False)
            .agg(seeds=("seed", "nunique"), mean=(value, "mean"), std=(value, "std"))
            .reset_index())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["causes", "trajectories", "both"], default="both")
    parser.add_argument("--datasets", nargs="+", default=["testbed", "arena"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--betas", type=float, nargs="+", default=[0.3, 1.0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000])
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "clf_noise.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    start = time.perf_counter()
    output = Path(args.output)
    result = json.loads(output.read_text()) if output.exists() else {}
    result.update(question=__doc__.splitlines()[0],
                  machine=dict(platform=platform.platform(), python=platform.python_version(),
                               torch=torch.__version__, torch_threads=1,
                               load_average=os.getloadavg()))
    if args.part in ("causes", "both"):
        frame = pd.DataFrame(run_causes(args.datasets, args.seeds, args.betas, args.sizes, log))
        summary = summarise(frame, ["dataset", "beta", "n_pairs", "model"])
        print(summary.to_string(index=False, float_format="%.3f"))
        result["causes"] = dict(
            settings=dict(datasets=args.datasets, seeds=args.seeds, betas=args.betas,
                          sizes=args.sizes, pairing="same_prompt", hidden_sizes=list(HIDDEN)),
            summary=summary.to_dict("records"), fits=frame.to_dict("records"))
    if args.part in ("trajectories", "both"):
        frame = pd.DataFrame(run_trajectories(args.datasets, args.seeds, args.betas,
                                              min(args.sizes), log))
        table = (frame.groupby(["dataset", "beta", "holdout"], sort=False)
                 .agg(seeds=("seed", "nunique"), spearman=("spearman", "mean"),
                      at_least_loss=("at_least_loss", "mean"),
                      epoch_least_loss=("epoch_least_loss", "mean"),
                      best_test=("best_test", "mean"),
                      epoch_best_test=("epoch_best_test", "mean"))
                 .reset_index())
        print(table.to_string(index=False, float_format="%.3f"))
        result["trajectories"] = dict(
            settings=dict(datasets=args.datasets, seeds=args.seeds, betas=args.betas,
                          n_pairs=min(args.sizes), max_epochs=15, pairing="same_prompt"),
            summary=table.to_dict("records"), runs=frame.to_dict("records"))
    result["seconds"] = time.perf_counter() - start
    output.write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {output} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
