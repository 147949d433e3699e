"""Can the embedding cache hold a corpus? SQLite store vs the old one-file-per-vector store.

Question
--------
``EmbeddingCache`` wrote one small file per vector: about 27,000 files for the
real-data benchmark, a million files for a million texts. It now keeps every
entry in one SQLite database in WAL mode. How long do inserting and looking up
vectors take, how much disk do they use, and how many files do they create?

* **At scale**: 1,000,000 vectors of 384 float32 (all-MiniLM-L6-v2's size)
  in the SQLite store, inserted in batches of ``--batch`` (one transaction
  each), then all looked up in a shuffled order, in batches of the same size,
  by a fresh cache object (so nothing comes from Python's memory; the
  operating system's page cache is warm, as it is for a run that has just
  written them), then looked up again by the same object ("again": what the
  next fit of a grid search does; the old store kept every vector in memory,
  the new one keeps the most recently used 512 MiB).
* **Side by side** in the same run, on the first 20,000 of those vectors: the
  old store (a copy of its code is below, as it was before the change) and the
  new one, each inserted and looked up the same way, with the ratio old / new.
  The new store is also timed with batches of 512, what ``SentenceEmbedder``
  stores per chunk at its default ``batch_size``.

Disk is reported as the files' sizes and as the blocks they occupy (a file of
1.6 KB occupies a 4 KB block). Each insert and lookup verifies a sample of the
vectors it read. Run from the repository root, niced on a shared machine::

    nice -n 10 python benchmarks/bench_cache.py

``--n 100000`` for a quicker run. Writes ``benchmarks/results/cache.json`` and
prints a table; the load average before and after is recorded with the numbers.
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import sqlite3
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from skreward import EmbeddingCache

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "benchmark-model|max_seq_length=None|normalize=True|v1"


# -- the store as it was before (one file per vector), copied from skreward/text/_cache.py ----

_MAGIC = b"SKRWEMB1"
_HEADER = struct.Struct("<8sI32s")  # magic, dimension, sha256(key + vector bytes)


def _text_key(namespace, *parts):
    digest = hashlib.sha256(namespace.encode())
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(b"\x00" + str(len(data)).encode() + b"\x00" + data)
    return digest.hexdigest()


def _checksum(key, payload):
    return hashlib.sha256(key.encode() + payload).digest()


class OldEmbeddingCache:
    """The one-file-per-vector cache, as of commit 0c1e95e (memory layer included)."""

    def __init__(self, directory=None):
        self.directory = directory
        self._memory = {}

    def _path(self, namespace, key):
        return (Path(self.directory) / hashlib.sha256(namespace.encode()).hexdigest()[:16]
                / key[:2] / key)

    def get(self, namespace, keys):
        vectors = []
        for text in keys:
            key = _text_key(namespace, text)
            vector = self._memory.get(key)
            if vector is None and self.directory is not None:
                vector = _read_entry(self._path(namespace, key), key)
                if vector is not None:
                    self._memory[key] = vector
            vectors.append(vector)
        return vectors, np.array([v is None for v in vectors], dtype=bool)

    def put(self, namespace, keys, vectors):
        vectors = np.asarray(vectors, dtype=np.float32)
        for text, vector in zip(keys, vectors):
            key = _text_key(namespace, text)
            vector = vector.copy()
            vector.flags.writeable = False
            self._memory[key] = vector
            if self.directory is not None:
                _write_entry(self._path(namespace, key), key, vector)


def _read_entry(path, key):
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < _HEADER.size:
        return None
    magic, dim, checksum = _HEADER.unpack_from(data)
    payload = data[_HEADER.size:]
    if magic != _MAGIC or len(payload) != 4 * dim or _checksum(key, payload) != checksum:
        return None
    return np.frombuffer(payload, dtype="<f4")


def _write_entry(path, key, vector):
    payload = np.ascontiguousarray(vector, dtype="<f4").tobytes()
    data = _HEADER.pack(_MAGIC, len(vector), _checksum(key, payload)) + payload
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- measuring ---------------------------------------------------------------------------------


def batch_vectors(start, stop, dim):
    """The vectors of keys start..stop-1, the same on every call (seeded by position)."""
    return np.random.default_rng(start).standard_normal((stop - start, dim), dtype=np.float32)


def keys_of(start, stop):
    return [f"response number {i}" for i in range(start, stop)]


def disk_usage(folder):
    files = [p for p in Path(folder).rglob("*") if p.is_file()]
    return {"files": len(files),
            "folders": sum(1 for p in Path(folder).rglob("*") if p.is_dir()),
            "bytes": sum(p.stat().st_size for p in files),
            "allocated_bytes": sum(p.stat().st_blocks * 512 for p in files)}


def run_store(make, folder, n, dim, batch, seed):
    """Insert n vectors in batches, then look all up in a shuffled order with a fresh object."""
    cache = make(folder)
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        cache.put(NAMESPACE, keys_of(start, stop), batch_vectors(start, stop, dim))
    insert_s = time.perf_counter() - t0
    if hasattr(cache, "close"):
        cache.close()  # SQLite folds its write-ahead log into the database
    usage_after_insert = disk_usage(folder)
    order = np.random.default_rng(seed).permutation(n)
    cache = make(folder)
    times = []
    for _ in range(2):  # a fresh object, then the same one again (a grid search's next fit)
        t0 = time.perf_counter()
        n_missing = 0
        checked = 0
        for start in range(0, n, batch):
            rows = order[start:start + batch]
            found, missing = cache.get(NAMESPACE, [f"response number {i}" for i in rows])
            n_missing += int(missing.sum())
            i = int(rows[0])  # verify one vector per batch against its generator
            expected = batch_vectors(i - i % batch, min(i - i % batch + batch, n), dim)[i % batch]
            checked += int(np.array_equal(found[0], expected))
        times.append(time.perf_counter() - t0)
        assert n_missing == 0, f"{n_missing} entries missing"
        assert checked == len(range(0, n, batch)), "a vector read back differs"
    if hasattr(cache, "close"):
        cache.close()
    return {"n": n, "dim": dim, "batch": batch,
            "insert_s": insert_s, "insert_per_s": n / insert_s,
            "lookup_s": times[0], "lookup_per_s": n / times[0],
            "lookup_again_s": times[1], "lookup_again_per_s": n / times[1],
            **usage_after_insert}


def load_average():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors in the big run")
    parser.add_argument("--n-subset", type=int, default=20_000, help="vectors side by side")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch", type=int, default=10_000, help="vectors per put / get")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/cache.json")
    args = parser.parse_args()

    load_before = load_average()
    work = Path(tempfile.mkdtemp(prefix="bench_cache_", dir=args.workdir))
    runs = {}
    try:
        subset = dict(n=args.n_subset, dim=args.dim, seed=0)
        for name, make, batch in [("old_files", OldEmbeddingCache, args.batch),
                                  ("sqlite", EmbeddingCache, args.batch),
                                  ("sqlite_batch512", EmbeddingCache, 512)]:
            print(f"{name}: {args.n_subset:,} vectors ...", flush=True)
            runs[name] = run_store(make, work / name, batch=batch, **subset)
            shutil.rmtree(work / name)
        print(f"sqlite: {args.n:,} vectors ...", flush=True)
        runs["sqlite_full"] = run_store(EmbeddingCache, work / "full", n=args.n, dim=args.dim,
                                        batch=args.batch, seed=0)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    old, new = runs["old_files"], runs["sqlite"]
    ratios = {k: old[k] / new[k] for k in ("insert_s", "lookup_s", "lookup_again_s", "files",
                                           "allocated_bytes")}
    result = {
        "question": __doc__.split("\n")[0],
        "command": "nice -n 10 python benchmarks/bench_cache.py "
                   + (f"--n {args.n} " if args.n != 1_000_000 else "")
                   + (f"--batch {args.batch}" if args.batch != 10_000 else ""),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "sqlite": sqlite3.sqlite_version, "niceness": os.nice(0),
                    "load_average": [load_before, load_average()],
                    "note": "shared machine: 2 cores used by several processes at once"},
        "runs": runs,
        "old_over_sqlite_on_subset": ratios,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")

    print(f"\nload average {load_before:.1f} -> {load_average():.1f}, niceness {os.nice(0)}")
    print(f"{'store':<18}{'vectors':>10}{'batch':>7}{'insert s':>10}{'per s':>10}"
          f"{'lookup s':>10}{'per s':>10}{'again s':>9}{'files':>9}{'MB':>9}{'MB alloc':>10}")
    for name, r in runs.items():
        print(f"{name:<18}{r['n']:>10,}{r['batch']:>7}{r['insert_s']:>10.2f}"
              f"{r['insert_per_s']:>10,.0f}{r['lookup_s']:>10.2f}{r['lookup_per_s']:>10,.0f}"
              f"{r['lookup_again_s']:>9.2f}{r['files']:>9,}{r['bytes'] / 1e6:>9.1f}"
              f"{r['allocated_bytes'] / 1e6:>10.1f}")
    print("old / sqlite on the subset: " + ", ".join(f"{k} {v:.1f}x" for k, v in ratios.items()))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
