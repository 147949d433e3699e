"""Do TRL's preference formats give the same arrays and the same accuracy as skreward's loader?

Question
--------
The same comparisons reach skreward in several shapes. Does a reward model
see the same thing whichever shape the user has? HH-RLHF harmless-base test
(2,312 human comparisons, from ``../shared/data`` or ``--data``) is fed to
``SentenceEmbedder(combine="concat")`` three ways:

A. ``skreward.datasets.load_hh_rlhf`` (the baseline);
B. converted to TRL's **conversational** format: each dialogue split at its
   ``"\\n\\nHuman:"`` / ``"\\n\\nAssistant:"`` markers into ``{"role",
   "content"}`` messages, the shared turns as an explicit ``prompt`` and the
   final assistant turns as ``chosen`` / ``rejected`` (as TRL's own HH-RLHF
   script does; the few pairs whose dialogues part before their final turn
   get no prompt, which makes that row an implicit-prompt conversation);
   read once with ``chat_template="auto"`` (the default: the model's tokenizer
   is consulted, which loads the model) and once with ``"plain"``;
C. TRL's **implicit-prompt** format as a Hugging Face ``datasets.Dataset``:
   the raw ``chosen`` / ``rejected`` dialogues, the prompt split off by
   skreward.

Every answer is kept (``drop_empty=False``, ``allow_empty=True``) so the three
ways have the same rows. Reported: whether the normalised texts are equal row
by row, whether the embeddings are bitwise equal, and the 5-fold
cross-validated pairwise accuracy (order consistency, ties half and ties
wrong) of a linear Bradley-Terry-style classification reward model
(``OrderConsistentClassifier(LogisticRegression(C=0.1))``) on each, with the
ratio of each way's embedding time to the baseline's, measured after a
warm-up pass (so every way reads the embedding cache, and the times measure
normalisation and cache lookups, not the model).

Embeddings are cached (``--cache``, default ``.skreward_cache``): the first
run embeds about 7,000 texts (minutes on two busy CPU cores), a rerun embeds
nothing.

Run from the repository root::

    nice -n 10 python benchmarks/bench_formats.py

Results: ``benchmarks/results/formats.json`` and a printed table.
"""

import argparse
import functools
import gzip
import json
import platform
import re
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score

from skreward import OrderConsistentClassifier, SentenceEmbedder
from skreward.datasets import load_hh_rlhf
from skreward.metrics import order_consistency_scorer
from skreward.text import normalize_preferences

ROOT = Path(__file__).resolve().parents[1]
FILE = "hh_rlhf_harmless_base_test.jsonl.gz"
_TURN = re.compile(r"\n\n(Human|Assistant):")
ROLES = {"Human": "user", "Assistant": "assistant"}


def dialogue_messages(text):
    """An HH-RLHF dialogue as TRL messages (the one space after each marker removed)."""
    parts = _TURN.split(text)
    if parts[0].strip():
        raise ValueError(f"text before the first turn: {parts[0][:40]!r}")
    return [{"role": ROLES[role], "content": content[1:] if content.startswith(" ") else content}
            for role, content in zip(parts[1::2], parts[2::2])]


def to_conversational(records):
    """Way B: explicit-prompt conversational rows (prompt None where the dialogues part early)."""
    rows = {"prompt": [], "chosen": [], "rejected": []}
    for record in records:
        chosen = dialogue_messages(record["chosen"])
        rejected = dialogue_messages(record["rejected"])
        same_start = chosen[:-1] == rejected[:-1] and chosen[-1]["role"] == "assistant" == \
            rejected[-1]["role"]
        rows["prompt"].append(chosen[:-1] if same_start else None)
        rows["chosen"].append(chosen[-1:] if same_start else chosen)
        rows["rejected"].append(rejected[-1:] if same_start else rejected)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--cache", default=str(ROOT / ".skreward_cache"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "formats.json"))
    args = parser.parse_args()

    import datasets

    path = Path(args.data) / FILE
    records = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    conversational = to_conversational(records)
    embedder = SentenceEmbedder(combine="concat", cache=args.cache, allow_empty=True)
    plain = SentenceEmbedder(combine="concat", cache=args.cache, allow_empty=True,
                             chat_template="plain")
    ways = {  # name: (data, the embedder that reads it)
        "A: load_hh_rlhf": (lambda: load_hh_rlhf(path, drop_empty=False), embedder),
        "B: TRL conversational (dict of lists)": (lambda: conversational, embedder),
        "B': same, chat_template='plain'": (lambda: conversational, plain),
        "C: TRL implicit prompt (datasets.Dataset)": (lambda: datasets.Dataset.from_dict(
            {"chosen": [r["chosen"] for r in records],
             "rejected": [r["rejected"] for r in records]}), embedder),
    }
    cv = KFold(5, shuffle=True, random_state=0)
    model = OrderConsistentClassifier(LogisticRegression(C=0.1, max_iter=2000))
    results, tables, arrays = {}, {}, {}
    start = time.perf_counter()  # warm-up: embeds what the cache lacks, so timings compare
    embedder.transform(ways[next(iter(ways))][0]())
    warmup_seconds = time.perf_counter() - start
    for name, (make, front_end) in ways.items():
        data = make()
        tables[name] = normalize_preferences(data, allow_empty=True)[
            ["prompt", "chosen", "rejected"]]
        start = time.perf_counter()
        X = front_end.transform(data)
        seconds = time.perf_counter() - start
        arrays[name] = X
        accuracy = {ties: cross_val_score(model, X, cv=cv, scoring=functools.partial(
            order_consistency_scorer, ties=ties)) for ties in ("half", "wrong")}
        results[name] = {
            "n_comparisons": int(len(X)), "embed_seconds": round(seconds, 2),
            "accuracy_5fold_mean": float(accuracy["half"].mean()),
            "accuracy_5fold_std": float(accuracy["half"].std()),
            "accuracy_5fold_folds": [float(a) for a in accuracy["half"]],
            "accuracy_5fold_ties_wrong_mean": float(accuracy["wrong"].mean()),
        }
    base = next(iter(ways))
    for name in ways:
        results[name]["texts_equal_to_A"] = bool(tables[name].equals(tables[base]))
        results[name]["rows_with_different_text"] = int(
            (tables[name].to_numpy() != tables[base].to_numpy()).any(axis=1).sum())
        results[name]["embeddings_bitwise_equal_to_A"] = bool(
            np.array_equal(arrays[name], arrays[base]))
        results[name]["embed_time_ratio_to_A"] = round(
            results[name]["embed_seconds"] / max(results[base]["embed_seconds"], 1e-9), 2)
    n_implicit_rows = sum(p is None for p in conversational["prompt"])
    out = {
        "question": "Do TRL's formats (conversational; implicit prompt as a datasets.Dataset) "
                    "give the same embeddings and 5-fold accuracy as load_hh_rlhf?",
        "data": FILE, "features": "SentenceEmbedder(combine='concat'), all-MiniLM-L6-v2",
        "model": "OrderConsistentClassifier(LogisticRegression(C=0.1)), KFold(5, shuffle, 0)",
        "conversational_rows_without_explicit_prompt": n_implicit_rows,
        "warmup_seconds": round(warmup_seconds, 2),
        "timing_note": "embed_seconds are measured after a warm-up pass of way A, so each way "
                       "reads the embedding cache: they time normalisation and cache lookups; "
                       "B (chat_template='auto') also loads the model once, to see whether its "
                       "tokenizer has a chat template (it has none: plain rendering); B' skips "
                       "that",
        "machine": f"{platform.platform()}; 2 CPU cores shared with other jobs (times are "
                   "noisy)",
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"{'way':45s} {'rows':>5s} {'texts=A':>8s} {'emb=A':>6s} {'acc (ties half)':>16s} "
          f"{'ties wrong':>10s} {'embed s':>8s} {'x A':>5s}")
    for name, r in results.items():
        print(f"{name:45s} {r['n_comparisons']:5d} {str(r['texts_equal_to_A']):>8s} "
              f"{str(r['embeddings_bitwise_equal_to_A']):>6s} "
              f"{r['accuracy_5fold_mean']:.4f} +- {r['accuracy_5fold_std']:.4f} "
              f"{r['accuracy_5fold_ties_wrong_mean']:10.4f} {r['embed_seconds']:8.1f} "
              f"{r['embed_time_ratio_to_A']:5.2f}")
    print(f"conversational rows without an explicit prompt: {n_implicit_rows}")


if __name__ == "__main__":
    main()
