"""A cache of text embeddings, in memory and optionally on disk in one SQLite file.

Every entry is one vector, keyed by a hash of a namespace (the model's
identity and the settings that change its vectors) and the text.

Why SQLite (in WAL mode) rather than sharded arrays with an index: the cache
must take entries a few hundred at a time, from several processes at once,
and survive a writer killed at any moment. SQLite gives exactly that out of
the box: a ``put`` is one transaction (all its entries or none), WAL mode
lets readers run while one writer commits and makes other writers wait
(``busy_timeout``) instead of failing, and a committed transaction survives
the death of the process that wrote it (the next connection replays the
write-ahead log). Sharded arrays would need their own append protocol, a lock
file, an index rebuilt after a crash, and compaction of replaced entries;
their only gain, reading a whole corpus as one memory map, is not how the
embedders read (a few thousand keys at a time, in any order). The store is
one file, ``embeddings.sqlite3`` (with SQLite's ``-wal`` and ``-shm``
companions while it is open), instead of one file per vector.

Each row holds the key (32 bytes), the vector (little-endian float32) and a
SHA-256 checksum of the key and the vector. SQLite checks its own pages but
not the bytes of a value, so a row that fails its checksum (or whose length
is not whole float32s) is treated as missing, recomputed by the embedder and
replaced, never returned. A database file that SQLite cannot read at all is
reported once with a warning and treated as empty.

Entries of the previous layout (one file per vector, under a folder per
namespace, in the same directory) are read when a key is missing from the
database, checked by their own checksum, and copied into it: an existing
cache directory keeps working without recomputing anything. The old files
are left in place (nothing else reads them); delete the 16-character
sub-folders to reclaim their space.
"""

import hashlib
import numbers
import os
import sqlite3
import struct
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

DATABASE = "embeddings.sqlite3"
_SCHEMA = ("CREATE TABLE IF NOT EXISTS entries "
           "(key BLOB PRIMARY KEY, vector BLOB NOT NULL, checksum BLOB NOT NULL)")
_PAGE_SIZE = 16384  # ~10 rows of 384 float32 per page (4096 wastes a fifth of each page)
_SELECT_BATCH = 500  # keys per SELECT: below every SQLite's limit on bound parameters
_BUSY_TIMEOUT_MS = 600_000  # a writer waits this long for another one to commit
_INHERITED = []  # connections of a parent process, never used nor closed after a fork

# The previous layout: one file per entry, magic, dimension, sha256(key + vector bytes).
_LEGACY_MAGIC = b"SKRWEMB1"
_LEGACY_HEADER = struct.Struct("<8sI32s")


def text_key(namespace, *parts):
    """Hex SHA-256 key of a namespace and the text parts of one entry."""
    digest = hashlib.sha256(namespace.encode())
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(b"\x00" + str(len(data)).encode() + b"\x00" + data)
    return digest.hexdigest()


class EmbeddingCache:
    """Embeddings of texts, kept in memory or, with a directory, in a database on disk.

    Pass it (or just a directory) as the ``cache`` of
    :class:`~skreward.SentenceEmbedder` or :class:`~skreward.LLMEmbedder`:
    every distinct text is then embedded once, across the fits of a grid
    search, the folds of a cross-validation and, with a directory, across
    runs and processes. Entries are keyed by the model's identity, the
    settings that change the vectors, and the text.

    Parameters
    ----------
    directory : str or path-like, default=None
        Where entries are stored: one SQLite database, ``embeddings.sqlite3``,
        in this folder (created if needed), shared by every model and
        setting. ``None`` keeps entries in memory only.
    max_memory : int or None, default=536870912
        With a ``directory``: bytes of vectors also kept in memory, the most
        recently used ones (512 MiB by default), so that the repeated
        lookups of a grid search do not go to disk. ``0`` keeps none,
        ``None`` keeps all. Without a directory, every entry is kept.

    Notes
    -----
    On disk, each :meth:`put` is one transaction: its entries are all stored
    or, if the process dies first, none are; entries committed before stay
    readable. Several processes may read and write one directory at once (a
    writer waits for another to finish). Each entry carries a SHA-256
    checksum, and an entry that fails it is reported missing, so the embedder
    recomputes and replaces it; it is never returned. Only the most recently
    used entries (``max_memory``) are also kept in memory, so a cache can hold
    a corpus larger than memory.
    Entries of the one-file-per-vector layout of earlier versions are read
    from the same directory and copied into the database when first looked
    up.

    Copies of the cache (``copy.deepcopy``, as :func:`sklearn.clone` makes of
    parameters) share its entries; a pickled cache keeps only its
    ``directory``, not the entries held in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from skreward import EmbeddingCache
    >>> cache = EmbeddingCache()
    >>> cache.put("model-a", ["hello"], np.ones((1, 3), dtype=np.float32))
    >>> vectors, missing = cache.get("model-a", ["hello", "world"])
    >>> missing.tolist(), vectors[0].tolist()
    ([False, True], [1.0, 1.0, 1.0])
    """

    def __init__(self, directory=None, *, max_memory=512 * 2**20):
        if max_memory is not None and (not isinstance(max_memory, numbers.Integral)
                                       or isinstance(max_memory, bool) or max_memory < 0):
            raise ValueError(f"max_memory must be a non-negative int (bytes) or None; got "
                             f"{max_memory!r}.")
        self.directory = directory
        self.max_memory = max_memory
        self._memory = OrderedDict()
        self._memory_bytes = 0
        self._memory_lock = threading.Lock()
        self._lock = threading.Lock()
        self._connection = None
        self._pid = None
        self._legacy = {}
        self._broken = False

    # -- public interface ----------------------------------------------------------

    def get(self, namespace, keys):
        """Look entries up.

        Parameters
        ----------
        namespace : str
            Identity of the model and settings.
        keys : sequence of str
            Texts (or precomputed keys) to look up.

        Returns
        -------
        vectors : list
            The vector of every entry found (read-only float32), ``None``
            where missing.
        missing : ndarray of shape (len(keys),) of bool
            Which entries were not found (or failed their checksum).
        """
        keys = [text_key(namespace, text) for text in _check_keys(namespace, keys)]
        with self._memory_lock:
            vectors = [self._memory.get(key) for key in keys]
            if self.directory is not None:
                for key, vector in zip(keys, vectors):
                    if vector is not None:
                        self._memory.move_to_end(key)  # recently used: evicted last
        absent = sorted({k for k, v in zip(keys, vectors) if v is None})
        if self.directory is not None and absent:
            found = self._select(absent)
            rest = [k for k in absent if k not in found]
            if rest:
                found.update(self._read_legacy(namespace, rest))
            self._remember(found.items())
            vectors = [found.get(key) if vector is None else vector
                       for key, vector in zip(keys, vectors)]
        return vectors, np.array([v is None for v in vectors], dtype=bool)

    def put(self, namespace, keys, vectors):
        """Store the vectors of texts.

        Parameters
        ----------
        namespace : str
            Identity of the model and settings.
        keys : sequence of str
            Texts (or precomputed keys), one per row of ``vectors``.
        vectors : ndarray of shape (len(keys), dim)
            Their embeddings, stored as float32. On disk, all of them are
            stored in one transaction.
        """
        keys = _check_keys(namespace, keys)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise ValueError(
                f"vectors must be of shape (len(keys), dim) = ({len(keys)}, dim), one row per "
                f"key; got shape {vectors.shape}."
            )
        keys = [text_key(namespace, text) for text in keys]
        if self.directory is not None and keys:
            self._insert(keys, np.ascontiguousarray(vectors, dtype="<f4"))
        copies = []
        for key, vector in zip(keys, vectors):
            vector = vector.copy()
            vector.flags.writeable = False
            copies.append((key, vector))
        self._remember(copies)

    def clear_memory(self):
        """Forget the entries held in memory (those on disk stay)."""
        with self._memory_lock:
            self._memory.clear()
            self._memory_bytes = 0

    def _remember(self, entries):
        """Keep entries in memory; on disk, within ``max_memory`` (least recently used out)."""
        limit = None if self.directory is None else self.max_memory
        with self._memory_lock:
            for key, vector in entries:
                old = self._memory.pop(key, None)
                self._memory_bytes -= 0 if old is None else old.nbytes
                if limit is None or vector.nbytes <= limit:
                    self._memory[key] = vector
                    self._memory_bytes += vector.nbytes
            while limit is not None and self._memory_bytes > limit:
                self._memory_bytes -= self._memory.popitem(last=False)[1].nbytes

    def close(self):
        """Close the database connection (a later call opens a new one)."""
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    # -- the database --------------------------------------------------------------

    def _connect(self):
        """This process's connection, opened (and the schema created) on first use."""
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        if self._connection is not None:  # inherited through fork: SQLite forbids reusing it
            _INHERITED.append(self._connection)
        folder = Path(self.directory).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(folder / DATABASE, timeout=_BUSY_TIMEOUT_MS / 1000,
                                     isolation_level=None, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            connection.execute(f"PRAGMA page_size = {_PAGE_SIZE}")  # only before the first table
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")  # commits survive a killed process
            connection.execute(_SCHEMA)
        except BaseException:
            connection.close()
            raise
        self._connection, self._pid = connection, os.getpid()
        return connection

    def _run(self, action, what):
        """``action(connection)`` under the lock; an unreadable database warns once."""
        with self._lock:
            try:
                return action(self._connect())
            except sqlite3.DatabaseError as err:
                if not self._broken:
                    self._broken = True
                    warnings.warn(
                        f"EmbeddingCache: the database {Path(self.directory) / DATABASE} "
                        f"cannot be {what} ({type(err).__name__}: {err}); its entries are "
                        "treated as missing and recomputed. Delete the file to start afresh.",
                        RuntimeWarning, stacklevel=4)
                return None

    def _select(self, keys):
        """{hex key: vector} of the entries found intact."""
        unique = sorted(set(keys))

        def select(connection):
            rows = []
            for start in range(0, len(unique), _SELECT_BATCH):
                batch = [bytes.fromhex(k) for k in unique[start:start + _SELECT_BATCH]]
                rows += connection.execute(
                    "SELECT key, vector, checksum FROM entries WHERE key IN "
                    f"({','.join('?' * len(batch))})", batch).fetchall()
            return rows

        found = {}
        for key, payload, checksum in self._run(select, "read") or []:
            key = key.hex()
            if len(payload) % 4 == 0 and len(payload) and _checksum(key, payload) == checksum:
                found[key] = np.frombuffer(payload, dtype="<f4")
        return found

    def _insert(self, keys, vectors):
        rows = []
        for key, vector in zip(keys, vectors):
            payload = vector.tobytes()
            rows.append((bytes.fromhex(key), payload, _checksum(key, payload)))

        def insert(connection):
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO entries (key, vector, checksum) VALUES (?, ?, ?)",
                    rows)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

        self._run(insert, "written")

    def _read_legacy(self, namespace, keys):
        """Entries of the one-file-per-vector layout, copied into the database."""
        folder = self._legacy.get(namespace)
        if folder is None:
            name = hashlib.sha256(namespace.encode()).hexdigest()[:16]
            folder = self._legacy[namespace] = Path(self.directory).expanduser() / name
        if not folder.is_dir():
            return {}
        found = {}
        for key in keys:
            vector = _read_legacy_entry(folder / key[:2] / key, key)
            if vector is not None:
                found[key] = vector
        if found:
            self._insert(list(found), np.stack(list(found.values())))
        return found

    # -- copies and pickles ------------------------------------------------------------

    def __deepcopy__(self, memo):
        return self  # a cache is shared, like a handle: clones of an estimator use one cache

    def __getstate__(self):
        return {"directory": self.directory, "max_memory": self.max_memory}

    def __setstate__(self, state):
        self.__init__(state["directory"], max_memory=state.get("max_memory", 512 * 2**20))

    def __repr__(self):
        return f"EmbeddingCache(directory={self.directory!r})"


def _check_keys(namespace, keys):
    """``keys`` as a list of str; a lone string (read as its characters) is refused."""
    if not isinstance(namespace, str):
        raise TypeError(f"namespace must be a str; got {type(namespace).__name__}.")
    if isinstance(keys, (str, bytes)) or not np.iterable(keys):
        raise TypeError(
            f"keys must be a sequence of str (one per entry); got {type(keys).__name__}. "
            "Wrap a single text in a list: keys=[text]."
        )
    keys = list(keys)
    for i, key in enumerate(keys):
        if not isinstance(key, str):
            raise TypeError(f"keys must be a sequence of str; keys[{i}] is a "
                            f"{type(key).__name__}.")
    return keys


def _checksum(key, payload):
    return hashlib.sha256(key.encode() + payload).digest()


def _read_legacy_entry(path, key):
    """The vector of an old-layout file, or None if it is missing, truncated or corrupt."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < _LEGACY_HEADER.size:
        return None
    magic, dim, checksum = _LEGACY_HEADER.unpack_from(data)
    payload = data[_LEGACY_HEADER.size:]
    if magic != _LEGACY_MAGIC or len(payload) != 4 * dim or _checksum(key, payload) != checksum:
        return None
    return np.frombuffer(payload, dtype="<f4")
