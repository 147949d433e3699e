"""From text to skreward's arrays: embedders, a vectorizer and an embedding cache.

* :class:`SentenceEmbedder` - a sentence-transformers model (offline by default);
* :class:`LLMEmbedder` - a language model's last hidden state (the paper's representation);
* :class:`TextVectorizer` - any scikit-learn text vectorizer fitted on the answers;
* :class:`EmbeddingCache` - every distinct text embedded once across fits and runs;
* :func:`normalize_preferences` - TRL's preference formats as one table of texts.

Every name is also importable from :mod:`skreward`.
"""

from ._cache import EmbeddingCache
from ._embedder import SentenceEmbedder
from ._llm_embedder import LLMEmbedder
from ._formats import normalize_preferences, render_conversation
from ._signals import preference_targets
from ._vectorizer import TextVectorizer

__all__ = ["EmbeddingCache", "LLMEmbedder", "SentenceEmbedder", "TextVectorizer",
           "normalize_preferences", "preference_targets", "render_conversation"]
