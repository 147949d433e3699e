"""A cache of text embeddings, in memory and optionally on disk.

Every entry is one vector, keyed by a hash of a namespace (the model's
identity and the settings that change its vectors) and the text. On disk an
entry is one small file, written to a temporary file and renamed into place
(``os.replace`` is atomic), so two processes writing at once, or a run killed
mid-write, never leave a half-written entry under its name. Each file carries
a SHA-256 checksum of its key and vector; an entry that fails it (or has the
wrong size or header) is treated as missing, so it is recomputed and
rewritten, never returned.
"""

import hashlib
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

_MAGIC = b"SKRWEMB1"
_HEADER = struct.Struct("<8sI32s")  # magic, dimension, sha256(key + vector bytes)


def text_key(namespace, *parts):
    """Hex SHA-256 key of a namespace and the text parts of one entry."""
    digest = hashlib.sha256(namespace.encode())
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(b"\x00" + str(len(data)).encode() + b"\x00" + data)
    return digest.hexdigest()


class EmbeddingCache:
    """Embeddings of texts, kept in memory and, with a directory, on disk.

    Pass it (or just a directory) as the ``cache`` of
    :class:`~skreward.SentenceEmbedder`: every distinct text is then embedded
    once, across the fits of a grid search, the folds of a cross-validation
    and, with a directory, across runs and processes. Entries are keyed by
    the model's identity, the settings that change the vectors, and the text.

    Parameters
    ----------
    directory : str or path-like, default=None
        Where entries are stored, one file each, under a sub-folder per model
        and settings. ``None`` keeps them in memory only.

    Notes
    -----
    Disk writes are atomic (a temporary file renamed into place), so
    concurrent processes and interrupted runs are safe; each entry carries a
    SHA-256 checksum, and an entry that fails it is recomputed, never
    returned. Copies of the cache (``copy.deepcopy``, as :func:`sklearn.clone`
    makes of parameters) share its entries; a pickled cache keeps only its
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

    def __init__(self, directory=None):
        self.directory = directory
        self._memory = {}

    def _path(self, namespace, key):
        return Path(self.directory) / hashlib.sha256(namespace.encode()).hexdigest()[:16] / key[:2] / key

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
            The vector of every entry found, ``None`` where missing.
        missing : ndarray of shape (len(keys),) of bool
            Which entries were not found (or failed their checksum).
        """
        keys = _check_keys(namespace, keys)
        vectors = []
        for text in keys:
            key = text_key(namespace, text)
            vector = self._memory.get(key)
            if vector is None and self.directory is not None:
                vector = _read_entry(self._path(namespace, key), key)
                if vector is not None:
                    self._memory[key] = vector
            vectors.append(vector)
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
            Their embeddings, stored as float32.
        """
        keys = _check_keys(namespace, keys)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(keys):
            raise ValueError(
                f"vectors must be of shape (len(keys), dim) = ({len(keys)}, dim), one row per "
                f"key; got shape {vectors.shape}."
            )
        for text, vector in zip(keys, vectors):
            key = text_key(namespace, text)
            vector = vector.copy()
            vector.flags.writeable = False
            self._memory[key] = vector
            if self.directory is not None:
                _write_entry(self._path(namespace, key), key, vector)

    def clear_memory(self):
        """Forget the entries held in memory (those on disk stay)."""
        self._memory.clear()

    def __deepcopy__(self, memo):
        return self  # a cache is shared, like a handle: clones of an estimator use one cache

    def __getstate__(self):
        return {"directory": self.directory}

    def __setstate__(self, state):
        self.directory = state["directory"]
        self._memory = {}

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


def _read_entry(path, key):
    """The vector stored at ``path``, or None if it is missing, truncated or corrupt."""
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
    vector = np.frombuffer(payload, dtype="<f4")
    return vector


def _write_entry(path, key, vector):
    """Write atomically: a temporary file in the same folder, renamed into place."""
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
