"""What does LLMEmbedder cost over a plain transformers forward pass on the same batches?

Question
--------
``LLMEmbedder`` renders each (prompt, response), tokenizes, sorts the texts by
length, pads each batch on the tokenizer's side with positions of real tokens,
runs the model and reads the last real token. How long does that take against
the least a user would write by hand: the tokenizer's own padding
(``tokenizer(batch, padding=True, return_tensors="pt")``), ``model(**inputs)``
under ``torch.inference_mode()`` and the last token read through the attention
mask, on **the same batches** (texts in the order LLMEmbedder batches them)?
The ratio LLMEmbedder / plain is the overhead. For scale, the plain pass is
also timed on batches in the input order (unsorted), which pads more.

The model is a randomly initialised Llama (no download): ``--size tiny``
(about 3M parameters, for a CPU) or ``--size 1b`` (about 1B parameters, for
a GPU: bfloat16 on CUDA, as ``torch_dtype="auto"`` loads it). The tokenizer
reads characters, so a text of n characters is about n tokens; texts are
random words, 100 to ``--max-chars`` (2,000) characters (log-uniform),
rendered with a chat template. Rounds of the three paths are interleaved (``--reps``) and each
path's median round is reported. No cache: every text is embedded each time.
Run from the repository root, niced on a shared machine::

    nice -n 10 python benchmarks/bench_llm_embedder.py --n-texts 64 --max-chars 500  # CPU
    python benchmarks/bench_llm_embedder.py --size 1b --n-texts 512      # GPU

Writes ``benchmarks/results/llm_embedder_<device>.json`` and prints a table.
"""

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaModel, PreTrainedTokenizerFast

from skreward import LLMEmbedder

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}")
SIZES = {
    "tiny": dict(hidden_size=256, intermediate_size=704, num_hidden_layers=4,
                 num_attention_heads=8, num_key_value_heads=4),
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
               num_attention_heads=32, num_key_value_heads=8),
}


def char_tokenizer():
    chars = [chr(i) for i in range(32, 127)] + ["\n"]
    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>"] + chars)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>",
                                        eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    tokenizer.chat_template = TEMPLATE
    return tokenizer


def make_texts(n, seed, max_chars):
    rng = np.random.default_rng(seed)
    words = ["reward", "model", "the", "answer", "is", "a", "preference", "of", "prompt",
             "helpful", "and", "harmless", "response", "to", "bread", "flour", "yeast"]
    lengths = np.exp(rng.uniform(np.log(100), np.log(max_chars), size=n)).astype(int)
    texts = []
    for length in lengths:
        text = " ".join(rng.choice(words, size=length // 4))
        texts.append(text[:length])
    return ([t[: len(t) // 4] for t in texts], [t[len(t) // 4:] for t in texts])


def plain_forward(model, tokenizer, texts, batch_size, device):
    """The least a user would write: tokenizer padding, forward, last token by the mask."""
    out = []
    for start in range(0, len(texts), batch_size):
        inputs = tokenizer(texts[start:start + batch_size], padding=True,
                           add_special_tokens=False, return_tensors="pt").to(device)
        with torch.inference_mode():
            states = model(**inputs).last_hidden_state
            last = inputs["attention_mask"].sum(1) - 1
            out.append(states[torch.arange(len(last), device=device), last].float().cpu())
    if device.type == "cuda":
        torch.cuda.synchronize()
    return torch.cat(out).numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="tiny")
    parser.add_argument("--n-texts", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-chars", type=int, default=2000, help="longest text")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokenizer = char_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=4096,
                         pad_token_id=0, bos_token_id=1, eos_token_id=2, **SIZES[args.size])
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = LlamaModel(config).to(device=device, dtype=dtype).eval()
    n_params = sum(p.numel() for p in model.parameters())
    prompts, responses = make_texts(args.n_texts, seed=0, max_chars=args.max_chars)
    items = {"prompt": prompts, "response": responses}
    embedder = LLMEmbedder(model, tokenizer=tokenizer, batch_size=args.batch_size)
    rendered = [tokenizer.apply_chat_template(
        [{"role": "user", "content": p}, {"role": "assistant", "content": r}], tokenize=False)
        for p, r in zip(prompts, responses)]
    order = np.argsort([-len(t) for t in rendered], kind="stable")  # LLMEmbedder's batches
    sorted_texts = [rendered[i] for i in order]

    paths = {
        "llm_embedder": lambda: embedder.transform(items),
        "plain_same_batches": lambda: plain_forward(model, tokenizer, sorted_texts,
                                                    args.batch_size, device),
        "plain_input_order": lambda: plain_forward(model, tokenizer, rendered,
                                                   args.batch_size, device),
    }
    ours = paths["llm_embedder"]()  # warm-up, and the check that both read the same vectors
    theirs = paths["plain_same_batches"]()
    np.testing.assert_allclose(ours[order], theirs, atol=1e-3 if dtype == torch.float32 else 0.1)
    times = {name: [] for name in paths}
    load_before = os.getloadavg()[0]
    for _ in range(args.reps):
        for name, run in paths.items():
            t0 = time.perf_counter()
            run()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    median = {name: statistics.median(t) for name, t in times.items()}
    result = {
        "question": __doc__.split("\n")[0],
        "command": f"python benchmarks/bench_llm_embedder.py --size {args.size} "
                   f"--n-texts {args.n_texts} --batch-size {args.batch_size} "
                   f"--max-chars {args.max_chars} --reps {args.reps}",
        "machine": {"platform": platform.platform(), "device": str(device),
                    "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
                    "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "niceness": os.nice(0), "load_average": [load_before, os.getloadavg()[0]],
                    "note": "a CPU run on a shared machine: several processes use its cores"
                    if device.type == "cpu" else ""},
        "model": {"size": args.size, "parameters": n_params, "dtype": str(dtype)},
        "texts": {"n": args.n_texts, "mean_tokens": float(np.mean([len(t) for t in rendered])),
                  "batch_size": args.batch_size},
        "seconds": times, "median_s": median,
        "texts_per_s": {name: args.n_texts / t for name, t in median.items()},
        "ratio_llm_embedder_over_plain_same_batches":
            median["llm_embedder"] / median["plain_same_batches"],
        "ratio_plain_input_order_over_same_batches":
            median["plain_input_order"] / median["plain_same_batches"],
    }
    output = args.output or ROOT / f"benchmarks/results/llm_embedder_{device.type}.json"
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{device} {dtype}, {n_params / 1e6:.1f}M parameters, {args.n_texts} texts of "
          f"{result['texts']['mean_tokens']:.0f} tokens on average, batch {args.batch_size}")
    for name, t in median.items():
        print(f"{name:<22}{t:>9.2f} s{args.n_texts / t:>9.1f} texts/s")
    print(f"LLMEmbedder / plain on the same batches: "
          f"{result['ratio_llm_embedder_over_plain_same_batches']:.3f}; plain unsorted / sorted: "
          f"{result['ratio_plain_input_order_over_same_batches']:.2f}")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
