"""Why does the library's CLF-MLP fall below a plain training loop under label noise? (issue 18, step 1)

Question
--------
Issue 18 reports that the library's CLF-MLP (``OrderConsistentClassifier(
RewardMLPClassifier())``) at defaults scores below the same network trained
by a plain PyTorch loop on noisy comparisons, while BT-MLP beats its plain
loop. This script measures, on the synthetic testbed only, the Best-of-N
fraction of the oracle's improvement over a random pick of:

1. the library's CLF-MLP and BT-MLP (``BTRegressor``) at defaults;
2. the same networks trained by a plain loop: 15 epochs, Adam 1e-3, 512
   comparisons per batch, no validation split, no early stopping (for CLF
   the rows of both items of every comparison of a batch, winner 1, loser 0);
3. one-at-a-time changes to CLF-MLP's defaults, each testing one candidate
   cause of the issue:

   * ``no ES, 15 ep``: ``validation_fraction=None, max_epochs=15`` (no
     validation split, no early stopping, the plain loop's epochs);
   * ``batch 1024``: the plain loop's batch of 512 comparisons (1024 rows),
     early stopping kept. (The default ``batch_size=256`` items already takes
     as many steps per epoch as BT-MLP's 128 comparisons, so "steps matched
     to BT" *is* the default; this variant tests the batch size instead);
   * ``patience 15``: early stopping with patience 15 instead of 5;
   * ``pair split``: the 10% validation hold-out drawn over comparisons (both
     items of a comparison on the same side) instead of over items, through
     skorch's ``train_split``.

For every library fit the number of epochs trained (``len(history_)``) and
the epoch whose weights were restored (best validation loss) are recorded.

Setting
-------
:func:`skreward.datasets.make_preference_testbed` (500 training prompts x 10
responses, 64 features; 50 held-out prompts x 100 candidates), a fresh
testbed per seed; same-prompt comparisons from
:func:`skreward.simulate_comparisons` at ``beta`` in {0.3, 1} and 2,000 /
6,000 comparisons. 3 seeds (fewer than the issue's 5), testbed only (no
arena-bench), no cross-prompt pairs, no beta 3/10, no 20,000: a quick first
measurement, not the issue's full grid. All networks are the library's
default :class:`skreward.RewardMLP`, 64 -> 1024 -> 512 -> 1 ReLU
(``--hidden 1024 512``), the same in every model.

Results go to ``benchmarks/results/clf_noise.json`` and a printed table (mean
± std over seeds). Run from the repository root (about 7 minutes on two
shared cores)::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_clf_noise.py
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from skreward import (BTRegressor, OrderConsistentClassifier, RewardMLP, RewardMLPClassifier,
                      simulate_comparisons)
from skreward.datasets import make_preference_testbed
from skreward.metrics import best_of_n_report

ROOT = Path(__file__).resolve().parents[1]


def pair_split(dataset, y=None, **fit_params):
    """10% validation over comparisons: rows i and i + n (OrderConsistentClassifier's
    pointwise layout: first items, then second items) stay on the same side."""
    n = len(dataset) // 2
    rng = np.random.default_rng(0)
    valid = np.zeros(n, bool)
    valid[rng.permutation(n)[:int(np.ceil(0.1 * n))]] = True
    rows = np.concatenate([valid, valid])
    return dataset.take(np.flatnonzero(~rows)), dataset.take(np.flatnonzero(rows))


def library_models(hidden):
    arch = dict(module__hidden_sizes=hidden)

    def clf(**kw):
        return lambda seed: OrderConsistentClassifier(
            RewardMLPClassifier(random_state=seed, **arch, **kw))

    return {
        "BT-MLP (lib default)": lambda seed: BTRegressor(random_state=seed, **arch),
        "CLF-MLP (lib default)": clf(),
        "CLF-MLP no ES, 15 ep": clf(validation_fraction=None, max_epochs=15),
        "CLF-MLP batch 1024": clf(batch_size=1024),
        "CLF-MLP patience 15": clf(patience=15),
        "CLF-MLP pair split": clf(train_split=pair_split),
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


def epochs_of(model):
    net = getattr(model, "estimator_", model)
    hist = net.history_
    best = [h["epoch"] for h in hist if h.get("valid_loss_best")]
    return len(hist), (best[-1] if best else len(hist))


def run(seeds, betas, sizes, hidden, log):
    rows = []
    models = library_models(hidden)
    for seed in range(seeds):
        data = make_preference_testbed(n_prompts=500, n_responses=10, n_test_prompts=50,
                                       n_candidates=100, random_state=seed)
        X_test_t = torch.as_tensor(data.X_test, dtype=torch.float32)
        for beta in betas:
            for n_pairs in sizes:
                sim = simulate_comparisons(data.golden, data.groups, n_pairs=n_pairs, beta=beta,
                                           pairing="same_prompt", random_state=seed)
                X_fit, y_fit = sim.take(data.X), np.asarray(sim.y, dtype=float)

                def record(name, rewards, seconds, epochs=None, best_epoch=None):
                    report = best_of_n_report(data.golden_test, rewards, data.groups_test)
                    rows.append(dict(seed=seed, beta=beta, n_pairs=n_pairs, model=name,
                                     error_rate=sim.error_rate,
                                     oracle_fraction=report.oracle_fraction,
                                     epochs=epochs, best_epoch=best_epoch, seconds=seconds))
                    log(f"seed {seed} beta={beta:g} n={n_pairs} {name:24s} "
                        f"{report.oracle_fraction:6.3f} epochs={epochs} best={best_epoch} "
                        f"({seconds:.1f} s)")

                for name, make in models.items():
                    start = time.perf_counter()
                    model = make(seed).fit(X_fit, y_fit)
                    seconds = time.perf_counter() - start
                    record(name, model.decision_function(data.X_test), seconds, *epochs_of(model))
                for kind, name in (("bt", "BT-MLP plain loop"), ("clf", "CLF-MLP plain loop")):
                    start = time.perf_counter()
                    net = plain_loop(kind, X_fit, y_fit, hidden, seed)
                    seconds = time.perf_counter() - start
                    with torch.no_grad():
                        rewards = net(X_test_t).numpy().astype(float)
                    record(name, rewards, seconds, 15, 15)
    return rows


def summarise(frame):
    return (frame.groupby(["beta", "n_pairs", "model"], sort=False)
            .agg(error_rate=("error_rate", "mean"), oracle_fraction=("oracle_fraction", "mean"),
                 oracle_fraction_std=("oracle_fraction", "std"), epochs=("epochs", "mean"),
                 epochs_min=("epochs", "min"), epochs_max=("epochs", "max"),
                 best_epoch=("best_epoch", "mean"), seconds=("seconds", "mean"))
            .reset_index())


def table(summary):
    lines = [f"{'beta':>4s} {'pairs':>5s} {'err':>5s} {'model':24s} {'oracle frac':>13s} "
             f"{'epochs (min-max)':>16s} {'best ep':>7s}"]
    for r in summary.itertuples():
        lines.append(f"{r.beta:4g} {r.n_pairs:5d} {r.error_rate:5.3f} {r.model:24s} "
                     f"{r.oracle_fraction:6.3f}±{r.oracle_fraction_std:5.3f} "
                     f"{r.epochs:6.1f} ({r.epochs_min:2.0f}-{r.epochs_max:2.0f})  "
                     f"{r.best_epoch:6.1f}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--betas", type=float, nargs="+", default=[0.3, 1.0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 6000])
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 512])
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "clf_noise.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    start = time.perf_counter()
    hidden = tuple(args.hidden)
    summary = summarise(pd.DataFrame(run(args.seeds, args.betas, args.sizes, hidden, log)))
    print(table(summary))
    result = dict(
        question="Best-of-N oracle fraction of the library's CLF-MLP and BT-MLP vs the same "
                 "network by a plain 15-epoch loop, and one-at-a-time changes to CLF-MLP's "
                 "defaults, under label noise (issue 18, step 1; testbed, same-prompt only)",
        settings=dict(seeds=args.seeds, betas=args.betas, sizes=args.sizes,
                      hidden_sizes=list(hidden), pairing="same_prompt",
                      plain_loop="15 epochs, Adam 1e-3, 512 comparisons per batch, no "
                                 "validation, no early stopping"),
        caveats="3 seeds (issue asks 5); testbed only; same-prompt only; beta 0.3 and 1 only",
        machine=dict(platform=platform.platform(), python=platform.python_version(),
                     torch=torch.__version__, torch_threads=1,
                     note="two CPU cores shared with 8 other jobs; times are indicative"),
        seconds=time.perf_counter() - start,
        summary=summary.to_dict("records"))
    Path(args.output).write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.output} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
