"""Hugging Face transformers models for LLMEmbedder: loading, identity, text, forward pass.

Kept apart from the estimator so that each concern is one small function:
which model and tokenizer (loaded offline from a folder or the local Hugging
Face cache, or given loaded), their identity for the cache, the text of a
(prompt, response) pair, token ids cut to the window from the start, and one
padded forward pass read at the last real token (or averaged over the real
tokens), whatever side the tokenizer pads.
"""

import hashlib
import inspect
import json
import os
from pathlib import Path

import numpy as np

from ._formats import ROLE_NAMES, TURN_SEPARATOR
from ._model import directory_fingerprint

#: The plain rendering of a (prompt, response) pair: the prompt as given (HH-RLHF's
#: ``"Human: ..."`` dialogue, or the plain rendering of a conversation), then the reply
#: as an assistant turn, as ``render_conversation`` renders the whole conversation.
ASSISTANT_TURN = TURN_SEPARATOR + ROLE_NAMES["assistant"] + ": "
DTYPES = ("auto", "float32", "bfloat16", "float16")


def render_pair(tokenizer, prompt, response, chat_template="auto"):
    """(text, templated) of one (prompt, response) pair, the text the model reads.

    ``chat_template="auto"`` and a tokenizer with a chat template: the template
    applied to ``[{"role": "user", "content": prompt}, {"role": "assistant",
    "content": response}]``. Otherwise the plain rendering ``prompt +
    "\\n\\nAssistant: " + response``.
    """
    if chat_template == "auto" and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": prompt},
                    {"role": "assistant", "content": response}]
        return tokenizer.apply_chat_template(messages, tokenize=False), True
    return prompt + ASSISTANT_TURN + response, False


def resolve_device(device, module=None):
    """The torch device: a loaded model's own, else ``device``, else CUDA when there is one."""
    import torch

    if module is not None:
        return next(module.parameters()).device
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(torch_dtype, device):
    """``"auto"``: bfloat16 on a GPU, float32 on a CPU; else the named dtype."""
    import torch

    if torch_dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, torch_dtype)


def _is_loaded(model):
    return not isinstance(model, (str, os.PathLike))


def load(model, tokenizer, *, device, torch_dtype, quiet):
    """(base module, tokenizer, device): loaded from a folder or the local cache, or as given.

    A loaded model is used where it is, in its own dtype; nothing is downloaded.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if _is_loaded(model):
        if tokenizer is None:
            raise ValueError(
                "tokenizer must be given with a loaded model: pass tokenizer= the model's "
                "Hugging Face tokenizer, or pass model= the folder it was saved to.")
        base = getattr(model, "base_model", model)  # the transformer without its head
        return base, tokenizer, resolve_device(None, base)
    source = os.fspath(model)
    path = Path(source).expanduser()
    where = str(path) if path.exists() else source
    resolved = resolve_device(device)
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    if quiet:
        hf_logging.set_verbosity_error()  # the load report of a head-less base model
        hf_logging.disable_progress_bar()
    try:
        module = AutoModel.from_pretrained(where, local_files_only=True,
                                           **_dtype_argument(resolve_dtype(torch_dtype, resolved)))
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=True)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"model={source!r} could not be loaded ({type(err).__name__}: {err}). Pass the "
            "folder of a Hugging Face transformers model (with its tokenizer, or tokenizer=), "
            "a model name already in the local Hugging Face cache (nothing is downloaded), "
            "or a loaded model with its tokenizer.") from err
    finally:
        hf_logging.set_verbosity(verbosity)
        if quiet and bars:
            hf_logging.enable_progress_bar()
    module.to(resolved)
    module.eval()
    return module, tokenizer, resolved


def _dtype_argument(dtype):
    """``from_pretrained``'s dtype keyword: ``dtype`` since transformers 4.56, ``torch_dtype``
    before."""
    import transformers
    from packaging.version import Version

    new = Version(transformers.__version__).release >= (4, 56)
    return {"dtype" if new else "torch_dtype": dtype}


def model_identity(model, tokenizer):
    """Fingerprint of the model's weights (or folder) and of the tokenizer, for the cache."""
    if not _is_loaded(model):
        path = Path(os.fspath(model)).expanduser()
        identity = ("dir:" + directory_fingerprint(path) if path.is_dir()
                    else "name:" + _hub_fingerprint(os.fspath(model)))
    else:
        identity = "weights:" + weights_fingerprint(model)
    if tokenizer is not None:
        identity += "|tokenizer:" + tokenizer_fingerprint(tokenizer)
    return identity


def _hub_fingerprint(name):
    try:
        from huggingface_hub import snapshot_download
        return directory_fingerprint(snapshot_download(name, local_files_only=True))
    except Exception:  # not in the local cache: loading fails and says so
        return name


def weights_fingerprint(module):
    """SHA-256 of a loaded model's configuration and of every parameter and buffer."""
    import torch

    digest = hashlib.sha256(type(module).__name__.encode())
    config = getattr(module, "config", None)
    if config is not None:
        digest.update(config.to_json_string(use_diff=False).encode())
    for name, tensor in module.state_dict().items():
        data = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{data.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def tokenizer_fingerprint(tokenizer):
    """SHA-256 of what a tokenizer turns text into: its vocabulary, rules and chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    rules = backend.to_str() if backend is not None else json.dumps(
        sorted(tokenizer.get_vocab().items()))
    special = json.dumps(getattr(tokenizer, "special_tokens_map", {}), sort_keys=True,
                         default=str)
    template = str(getattr(tokenizer, "chat_template", None))
    return hashlib.sha256("\0".join([type(tokenizer).__name__, rules, special,
                                     template]).encode()).hexdigest()


def context_length(module, tokenizer, max_length):
    """Tokens per text: ``max_length``, else the model's context (and the tokenizer's)."""
    if max_length is not None:
        return int(max_length)
    config = getattr(module, "config", None)
    limits = [getattr(config, name, None) for name in ("max_position_embeddings", "n_positions")]
    limits.append(getattr(tokenizer, "model_max_length", None))
    limits = [int(n) for n in limits if isinstance(n, (int, np.integer)) and 0 < n < 10**7]
    return min(limits) if limits else None


def token_ids(tokenizer, texts, *, special_tokens, max_length):
    """Token ids of each text; a long one keeps its end (and a leading BOS token)."""
    ids = tokenizer(list(texts), add_special_tokens=special_tokens, verbose=False)["input_ids"]
    if max_length is None:
        return ids
    bos = getattr(tokenizer, "bos_token_id", None)
    out = []
    for row in ids:
        if len(row) > max_length:
            keep_bos = bos is not None and row[0] == bos and max_length > 1
            row = ([bos] if keep_bos else []) + row[len(row) - max_length + keep_bos:]
        out.append(row)
    return out


def forward(module, batch, *, pad_id, padding_side, pooling):
    """Embeddings (float32 numpy) of a batch of token-id lists, padded as the tokenizer pads.

    Positions count real tokens only, so left and right padding give the same
    states; ``"last"`` reads the last real token (the last 1 of the attention
    mask), ``"mean"`` averages the real tokens.
    """
    import torch

    device = next(module.parameters()).device
    width = max(len(row) for row in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, row in enumerate(batch):
        where = slice(0, len(row)) if padding_side == "right" else slice(width - len(row), width)
        input_ids[i, where] = torch.as_tensor(row, dtype=torch.long)
        mask[i, where] = 1
    inputs = {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}
    accepted = inspect.signature(module.forward).parameters
    if "position_ids" in accepted:
        inputs["position_ids"] = (mask.cumsum(1) - 1).clamp(min=0).to(device)
    if "use_cache" in accepted:
        inputs["use_cache"] = False
    with torch.inference_mode():
        output = module(**inputs)
        states = output[0] if not hasattr(output, "last_hidden_state") else \
            output.last_hidden_state
        mask = inputs["attention_mask"]
        if pooling == "last":
            last = width - 1 - mask.flip(1).argmax(1)
            vectors = states[torch.arange(len(batch), device=device), last]
        else:
            weights = mask.unsqueeze(-1).float()
            vectors = (states.float() * weights).sum(1) / weights.sum(1)
        return vectors.float().cpu().numpy()
