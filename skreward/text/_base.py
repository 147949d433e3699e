"""What the embedding front ends share, written once.

:class:`EmbedderMixin` turns checked columns of texts into items or
comparisons, embeds each distinct request once (through the
:class:`~skreward.EmbeddingCache` when there is one, storing each finished
chunk as it comes so an interrupted run keeps its work), and keeps the loaded
model, the cache namespace and a directory's cache between calls without
pickling them. A front end supplies ``_encode(requests)`` (the model run) and
``_namespace()`` (the identity of its model and settings).
"""

import os

import numpy as np
from sklearn.utils import TransformerTags

from ._cache import EmbeddingCache


class EmbedderMixin:
    """Mixin of skreward's text embedders (left of ``TransformerMixin``).

    A subclass defines ``_embed_items(prompts, responses)`` (features of
    items, usually through :meth:`_embed`), ``_encode(requests)`` yielding
    ``(positions, vectors)`` chunk by chunk, and ``_namespace()``; it has a
    ``cache`` parameter.
    """

    def fit_transform(self, X, y=None):
        """Check and embed the input (the embedder learns nothing).

        Parameters
        ----------
        X : DataFrame, dict of lists or datasets.Dataset
            As in :meth:`transform`.
        y : None
            Ignored.

        Returns
        -------
        X_out : ndarray of shape (n_items, n_features) or (n_pairs, 2, n_features)
        """
        return self.transform(X)

    def _arrays(self, kind, columns):
        """Items ``(n, d)`` or comparisons ``(n, 2, d)``, chosen first, from checked columns."""
        if kind == "items":
            return self._embed_items(columns.get("prompt"), columns["response"])
        n = len(columns["chosen"])
        both = self._embed_items(
            None if columns.get("prompt") is None else columns["prompt"] * 2,
            columns["chosen"] + columns["rejected"])
        return np.stack([both[:n], both[n:]], axis=1)

    def _embed(self, requests):
        """Embeddings of requests ``(role, *texts)``; each distinct one embedded once."""
        keys = ["\x00".join(r) for r in requests]
        unique, inverse = np.unique(np.array(keys, dtype=object), return_inverse=True)
        unique = unique.tolist()
        request_of = dict(zip(keys, requests))
        cache = self._cache()
        if cache is None:
            vectors, missing = [None] * len(unique), np.ones(len(unique), dtype=bool)
        else:
            namespace = self._namespace()
            vectors, missing = cache.get(namespace, unique)
        todo = np.flatnonzero(missing)
        if len(todo):  # all missing texts in one pass, stored chunk by chunk as they come
            for chunk, new in self._encode([request_of[unique[i]] for i in todo]):
                if cache is not None:
                    cache.put(namespace, [unique[i] for i in todo[chunk]], new)
                for i, vector in zip(todo[chunk], new):
                    vectors[i] = vector
        return np.stack(vectors).astype(np.float32, copy=False)[inverse.ravel()]

    # -- what is kept between calls ---------------------------------------------------

    def _memo(self, name, key, compute):
        """``compute()``, kept under ``name`` until ``key`` (the parameters it reads) changes.

        The one place an embedder keeps anything: the loaded model, the cache
        namespace and a directory's cache. Memos are private (``get_params``
        and :func:`~sklearn.base.clone` never see them) and never pickled.
        """
        memos = self.__dict__.setdefault("_memos", {})
        if name not in memos or memos[name][0] != key:
            memos[name] = (key, compute())
        return memos[name][1]

    def _cache(self):
        """The EmbeddingCache to use, or None; a directory gets one kept across calls."""
        if self.cache is None or isinstance(self.cache, EmbeddingCache):
            return self.cache
        directory = os.fspath(self.cache)
        return self._memo("cache", directory, lambda: EmbeddingCache(directory))

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: pickling keeps this embedder's memos
        state.pop("_memos", None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.dict = True
        tags.requires_fit = False
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        tags.non_deterministic = False
        return tags
