"""EmbeddingCache on disk: one SQLite database, atomic entries, checksums, several writers."""

import copy
import hashlib
import multiprocessing
import pickle
import signal
import sqlite3
import struct
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from joblib import Parallel, delayed

from skreward import EmbeddingCache, SentenceEmbedder
from skreward.datasets import load_hh_rlhf

HH_FILE = Path(__file__).parent / "data" / "hh_rlhf_harmless_base_test_sample.jsonl.gz"
DATABASE = "embeddings.sqlite3"


def vectors_of(keys, dim=16):
    """A vector determined by its key, so any writer writes the same value for a key."""
    return np.stack([np.random.default_rng(int(hashlib.sha256(k.encode()).hexdigest()[:8], 16))
                     .normal(size=dim) for k in keys]).astype(np.float32)


def files_in(folder):
    return sorted(p.name for p in Path(folder).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def hh():
    with pytest.warns(UserWarning, match="dropped 1 comparisons"):  # the sample's empty answer
        return load_hh_rlhf(HH_FILE).iloc[:6].reset_index(drop=True)


def test_entries_persist_in_one_database_file_keyed_by_namespace(tmp_path):
    keys = [f"text {i}" for i in range(300)]
    EmbeddingCache(tmp_path).put("model-a", keys, vectors_of(keys))
    # One database (and SQLite's write-ahead log and its index while open), not a file per entry.
    assert set(files_in(tmp_path)) <= {DATABASE, DATABASE + "-wal", DATABASE + "-shm"}
    found, missing = EmbeddingCache(str(tmp_path)).get("model-a", keys + ["unseen"])
    assert missing.tolist() == [False] * 300 + [True]
    np.testing.assert_array_equal(np.stack(found[:300]), vectors_of(keys))
    assert found[-1] is None and not found[0].flags.writeable
    assert EmbeddingCache(tmp_path).get("model-b", keys[:2])[1].tolist() == [True, True]
    with sqlite3.connect(tmp_path / DATABASE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT count(*) FROM entries").fetchone() == (300,)


def test_a_repeated_key_keeps_its_last_vector_and_replaces_on_disk(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("m", ["a", "b", "a"], np.arange(6, dtype=np.float32).reshape(3, 2))
    cache.put("m", ["b"], np.full((1, 2), 9.0))
    found, _ = EmbeddingCache(tmp_path).get("m", ["a", "b"])
    assert [v.tolist() for v in found] == [[4.0, 5.0], [9.0, 9.0]]


def test_recently_used_disk_entries_are_also_kept_in_memory_within_a_budget(tmp_path):
    keys = [f"text {i}" for i in range(6)]
    cache = EmbeddingCache(tmp_path, max_memory=3 * 16 * 4)  # three vectors of 16 float32
    cache.put("m", keys, vectors_of(keys))
    cache.get("m", keys[:1])  # a lookup makes "text 0" the most recently used
    with sqlite3.connect(tmp_path / DATABASE) as db:
        db.execute("DELETE FROM entries")
    _, missing = cache.get("m", keys)
    assert missing.tolist() == [False, True, True, True, False, False]  # from memory
    assert EmbeddingCache(tmp_path, max_memory=None).get("m", keys)[1].all()
    none_kept = EmbeddingCache(tmp_path, max_memory=0)
    none_kept.put("m", keys, vectors_of(keys))
    assert len(none_kept._memory) == 0 and not none_kept.get("m", keys)[1].any()
    cache.clear_memory()
    assert cache.get("m", keys)[1].tolist() == [False] * 6  # from disk again
    with pytest.raises(ValueError, match=r"max_memory must be a non-negative int \(bytes\) "
                                         r"or None; got -1"):
        EmbeddingCache(tmp_path, max_memory=-1)


def corrupt_rows(path, how):
    """Damage every stored row in one of the ways a disk or a bug could."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT rowid, vector, checksum FROM entries ORDER BY rowid").fetchall()
        for i, (rowid, vector, checksum) in enumerate(rows):
            kind = how if how != "mixed" else ("flip", "truncate", "checksum")[i % 3]
            if kind == "flip":
                vector = vector[:-4] + b"\x00\x00\x80\x7f"  # a changed value: +inf
            elif kind == "truncate":
                vector = vector[: len(vector) // 2 + 1]  # a cut that is not whole floats
            else:
                checksum = b"\x00" * 32
            db.execute("UPDATE entries SET vector = ?, checksum = ? WHERE rowid = ?",
                       (vector, checksum, rowid))
    return len(rows)


@pytest.mark.parametrize("how", ["flip", "truncate", "checksum"])
def test_a_corrupt_entry_is_reported_missing_never_returned(tmp_path, how):
    keys = ["a", "b", "c"]
    EmbeddingCache(tmp_path).put("m", keys, vectors_of(keys))
    assert corrupt_rows(tmp_path / DATABASE, how) == 3
    cache = EmbeddingCache(tmp_path)
    found, missing = cache.get("m", keys)
    assert missing.all() and found == [None, None, None]
    cache.put("m", keys, vectors_of(keys))  # what an embedder does with missing entries
    found, missing = EmbeddingCache(tmp_path).get("m", keys)
    assert not missing.any()
    np.testing.assert_array_equal(np.stack(found), vectors_of(keys))


@pytest.mark.slow
def test_embedder_reads_hits_and_recomputes_corrupt_entries(hh, tmp_path):
    embedder = SentenceEmbedder(cache=tmp_path)  # one model load for the three calls
    first = embedder.transform(hh)
    np.testing.assert_array_equal(embedder.transform(hh), first)  # a hit: identical arrays
    # 6 contexts and 12 responses, each embedded and stored once.
    assert corrupt_rows(tmp_path / DATABASE, "mixed") == 18
    embedder.set_params(cache=EmbeddingCache(tmp_path))  # as a new process: nothing in memory
    again = embedder.transform(hh)
    np.testing.assert_allclose(again, first, atol=1e-5)
    assert np.isfinite(again).all()
    found, missing = EmbeddingCache(tmp_path).get(
        embedder._namespace(), [f"head\x00{t}" for t in hh["chosen"]])
    assert not missing.any()  # rewritten and valid again
    np.testing.assert_array_equal(
        embedder.set_params(cache=EmbeddingCache(tmp_path, max_memory=0)).transform(hh), again)


def test_an_unreadable_database_warns_and_everything_is_recomputed(tmp_path):
    (tmp_path / DATABASE).write_bytes(b"not a database " * 100)
    cache = EmbeddingCache(tmp_path)
    with pytest.warns(RuntimeWarning, match=r"embeddings.sqlite3 cannot be read .*"
                                            r"treated as missing.*Delete the file"):
        assert cache.get("m", ["a", "b"])[1].tolist() == [True, True]
    cache.put("m", ["a"], np.ones((1, 2)))  # warned once; kept in memory, not on disk
    assert cache.get("m", ["a"])[1].tolist() == [False]
    with pytest.warns(RuntimeWarning, match="cannot be read"):
        assert EmbeddingCache(tmp_path).get("m", ["a"])[1].tolist() == [True]


def _write_forever(directory, dim):
    """What the killed writer runs: batches of 200 entries, one put (transaction) each."""
    return textwrap.dedent(f"""
        import sys
        import numpy as np
        from skreward import EmbeddingCache
        cache = EmbeddingCache({str(directory)!r})
        rng = np.random.default_rng(0)
        batch = 0
        while True:
            keys = [f"{{batch}}-{{i}}" for i in range(200)]
            cache.put("m", keys, np.full((200, {dim}), batch, dtype=np.float32))
            print(batch, flush=True)
            batch += 1
    """)


@pytest.mark.slow
def test_a_killed_writer_loses_nothing_it_committed(tmp_path):
    dim = 512
    writer = subprocess.Popen([sys.executable, "-c", _write_forever(tmp_path, dim)],
                              stdout=subprocess.PIPE, text=True)
    try:
        committed = [int(writer.stdout.readline()) for _ in range(5)]
    finally:
        writer.send_signal(signal.SIGKILL)  # mid-way through a later batch, most likely
        writer.wait(timeout=60)
    assert committed == [0, 1, 2, 3, 4] and writer.returncode == -signal.SIGKILL
    cache = EmbeddingCache(tmp_path)
    for batch in range(committed[-1] + 3):
        found, missing = cache.get("m", [f"{batch}-{i}" for i in range(200)])
        if batch <= committed[-1]:
            assert not missing.any(), batch
        # A batch is all there or not at all: the kill never leaves half a transaction.
        assert missing.all() or not missing.any(), batch
        if not missing.any():
            assert (np.stack(found) == batch).all()


def _put_in_chunks(directory, keys):
    cache = EmbeddingCache(directory)
    for start in range(0, len(keys), 50):  # one transaction per chunk, interleaved with others
        cache.put("m", keys[start:start + 50], vectors_of(keys[start:start + 50]))
    return len(keys)


@pytest.mark.slow
def test_concurrent_writers_in_several_processes(tmp_path):
    # Three processes, each writing its own keys and a shared range, in many transactions.
    shared = [f"shared {i}" for i in range(200)]
    jobs = [[f"own {w} {i}" for i in range(300)] + shared for w in range(3)]
    done = Parallel(n_jobs=3, backend="loky")(delayed(_put_in_chunks)(tmp_path, job)
                                             for job in jobs)
    assert sum(done) == 3 * 500
    keys = sorted({k for job in jobs for k in job})
    found, missing = EmbeddingCache(tmp_path).get("m", keys)
    assert len(keys) == 1100 and not missing.any()
    np.testing.assert_array_equal(np.stack(found), vectors_of(keys))


def test_one_cache_shared_by_threads(tmp_path):
    cache = EmbeddingCache(tmp_path)
    keys = [f"text {i}" for i in range(400)]

    def work(start):
        cache.put("m", keys[start:start + 50], vectors_of(keys[start:start + 50]))
        return cache.get("m", keys[start:start + 50])[1].sum()

    with ThreadPoolExecutor(4) as pool:
        assert all(n == 0 for n in pool.map(work, range(0, 400, 50)))
    np.testing.assert_array_equal(np.stack(cache.get("m", keys)[0]), vectors_of(keys))


def _child_reads(cache, keys, queue):
    found, missing = cache.get("m", keys)
    cache.put("m", ["from the child"], np.ones((1, 16)))
    queue.put((missing.tolist(), np.stack(found).tolist()))


def test_a_forked_child_opens_its_own_connection(tmp_path):
    cache = EmbeddingCache(tmp_path)
    keys = ["a", "b"]
    cache.put("m", keys, vectors_of(keys))  # the parent's connection is open
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_reads, args=(cache, keys, queue))
    child.start()
    missing, found = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0 and missing == [False, False]
    np.testing.assert_array_equal(np.array(found, dtype=np.float32), vectors_of(keys))
    assert not cache.get("m", ["from the child"])[1].any()


def test_copies_share_and_pickles_keep_the_directory(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("m", ["a"], np.ones((1, 2)))
    assert copy.deepcopy(cache) is cache
    clone = pickle.loads(pickle.dumps(cache))
    assert clone is not cache and clone.directory == cache.directory
    assert clone.get("m", ["a"])[0][0].tolist() == [1.0, 1.0]
    memory = EmbeddingCache()
    memory.put("m", ["a"], np.ones((1, 2)))
    assert pickle.loads(pickle.dumps(memory)).get("m", ["a"])[1].tolist() == [True]
    cache.close()
    assert cache.get("m", ["a"])[0][0].tolist() == [1.0, 1.0]  # reopened on use


def write_legacy_entry(directory, namespace, text, vector):
    """An entry as the one-file-per-vector cache of earlier versions wrote it."""
    from skreward.text._cache import text_key

    key = text_key(namespace, text)
    payload = np.asarray(vector, dtype="<f4").tobytes()
    header = struct.pack("<8sI32s", b"SKRWEMB1", len(vector),
                         hashlib.sha256(key.encode() + payload).digest())
    path = (Path(directory) / hashlib.sha256(namespace.encode()).hexdigest()[:16]
            / key[:2] / key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + payload)
    return path


def test_entries_of_the_old_layout_are_read_and_copied_into_the_database(tmp_path):
    write_legacy_entry(tmp_path, "m", "old", [1.0, 2.0])
    damaged = write_legacy_entry(tmp_path, "m", "damaged", [3.0, 4.0])
    damaged.write_bytes(damaged.read_bytes()[:-2])
    found, missing = EmbeddingCache(tmp_path).get("m", ["old", "damaged", "new"])
    assert missing.tolist() == [False, True, True] and found[0].tolist() == [1.0, 2.0]
    assert EmbeddingCache(tmp_path).get("other", ["old"])[1].tolist() == [True]
    with sqlite3.connect(tmp_path / DATABASE) as db:  # copied: read from the database now
        assert db.execute("SELECT count(*) FROM entries").fetchone() == (1,)
