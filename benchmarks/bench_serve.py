"""How much does serving rewards over HTTP cost, and does the server survive bad clients?

Question: ``skreward serve`` answers OpenRLHF's ``POST /get_reward`` for a
SentenceEmbedder + reward-model pipeline. At concurrency 1, 16 and 64 (httpx
async clients on loopback, one query per request, >= 10,000 requests per level),
what are its throughput and p50/p99 latency, and how does its wall time compare
with calling the same pipeline's ``decision_function`` in-process on the same
texts (ratio; target <= 1.3x at concurrency 16)? Errors (target 0) and the
server's memory (RSS) before and after. Then faults: malformed JSON, wrong
types, oversize bodies, clients that disconnect mid-request, and a restart under
load: each must be answered or recovered from, and nothing may hang.

The embedding cache is cold: the served model has no cache, so every text is
embedded when it is scored, and every level uses texts of its own. The model is
small so the run takes minutes: all-MiniLM-L6-v2 (bundled, CPU,
``combine="text"``, ``max_seq_length=64``) and a logistic-regression
classification reward. In-process baselines: ``decision_function`` one item
per call (the work of concurrency 1), and in calls of as many items as there
are concurrent clients (what an in-process caller holding that many items
would do).

    nice -n 10 python benchmarks/bench_serve.py [--requests 10000] [--quick]

writes benchmarks/results/serve.json and prints a table. The clients, the
server and the baseline share the machine's cores.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

OUT = Path(__file__).parent / "results" / "serve.json"
WORDS = ("the a reward model answer question helpful kind clear short long polite rude "
         "explain step first then finally because water egg boil minutes cool garden "
         "plant seed soil light python code error list loop function value test data "
         "sorry cannot help sure happy glad welcome thanks idea plan trip city map").split()


def texts(n, seed):
    """``n`` distinct (prompt, response) pairs."""
    rng = random.Random(seed)
    prompts = [f"Question {seed}-{i // 8}: " + " ".join(rng.choices(WORDS, k=8)) + "?"
               for i in range(n)]
    responses = [f"Answer {i}: " + " ".join(rng.choices(WORDS, k=rng.randint(8, 24))) + "."
                 for i in range(n)]
    return prompts, responses


def build_model(path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from skreward import OrderConsistentClassifier, SentenceEmbedder, save

    prompts, good = texts(200, seed=-1)
    bad = [r.split(":")[0] + ": no." for r in good]
    model = make_pipeline(
        SentenceEmbedder(combine="text", max_seq_length=64, batch_size=64, device="cpu"),
        OrderConsistentClassifier(LogisticRegression()))
    model.fit({"prompt": prompts, "chosen": good, "rejected": bad})
    save(model, path, card={"purpose": "bench_serve"})
    return model


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``skreward serve`` in a child process; stopped (and killed if need be) on exit."""

    def __init__(self, model_path, port, *extra):
        self.args = [sys.executable, "-m", "skreward", "serve", str(model_path),
                     "--port", str(port), *extra]
        self.url = f"http://127.0.0.1:{port}"
        self.process = None

    def start(self, timeout=120):
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return time.monotonic() - (deadline - timeout)
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def cpu_seconds(self):
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def counters(self):
        health = httpx.get(f"{self.url}/health", timeout=60).json()
        return health["batches"], health["items"]

    def rss_mib(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
        return kb / 1024

    def stop(self, sig=signal.SIGTERM):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def body(prompt, response):
    return {"query": [prompt + response], "prompts": [prompt]}


async def load_level(url, prompts, responses, concurrency, retry_until=None):
    """Send one request per text with ``concurrency`` clients; latencies, errors, rewards."""
    latencies, errors, rewards = [], {}, np.full(len(prompts), np.nan)
    queue = iter(range(len(prompts)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        async def worker():
            for i in queue:
                while True:
                    start = time.perf_counter()
                    try:
                        answer = await client.post("/get_reward",
                                                   json=body(prompts[i], responses[i]))
                        if answer.status_code == 200:
                            rewards[i] = answer.json()["rewards"][0]
                            latencies.append(time.perf_counter() - start)
                            break
                        key = f"HTTP {answer.status_code}"
                    except httpx.HTTPError as error:
                        key = type(error).__name__
                    errors[key] = errors.get(key, 0) + 1
                    if retry_until is None or time.monotonic() > retry_until:
                        break
                    await asyncio.sleep(0.05)
        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        wall = time.perf_counter() - start
    return wall, np.array(latencies), errors, rewards


def in_process(model, prompts, responses, batch):
    start = time.perf_counter()
    out = np.concatenate([
        model.decision_function({"prompt": prompts[i:i + batch],
                                 "response": responses[i:i + batch]})
        for i in range(0, len(prompts), batch)])
    return time.perf_counter() - start, out


def faults(server, model_path):
    """Each fault answered (status, message) or recovered from; the server stays up."""
    out = {}
    post = lambda **kw: httpx.post(f"{server.url}/get_reward", timeout=30, **kw)  # noqa: E731
    cases = {
        "malformed_json": dict(content=b'{"query": ["a"', headers={"content-type":
                                                                   "application/json"}),
        "wrong_types": dict(json={"query": [1, 2], "prompts": "x"}),
        "not_an_object": dict(json=[1, 2, 3]),
        "oversize_body": dict(json={"query": ["x" * 2_000_000], "prompts": ["x"]}),
        "too_many_texts": dict(json={"query": ["Hi a"] * 2000, "prompts": ["Hi"] * 2000}),
        "prompt_mismatch": dict(json={"query": ["Hi a"], "prompts": ["Bye"]}),
    }
    for name, kwargs in cases.items():
        answer = post(**kwargs)
        out[name] = {"status": answer.status_code, "detail": answer.json().get("detail")}
    port = int(server.url.rsplit(":", 1)[1])
    # a client that sends half a body, then goes away
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 5000\r\n\r\n{\"query\": [\"abc")
    # a client that sends a full, large request and goes away before the answer
    prompts, responses = texts(500, seed=999)
    payload = json.dumps({"query": [p + r for p, r in zip(prompts, responses)],
                          "prompts": prompts}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /get_reward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    start = time.monotonic()
    health = httpx.get(f"{server.url}/health", timeout=60)
    ok = post(json=body("Hi", " there")).status_code
    out["client_disconnects"] = {"health_after": health.status_code, "request_after": ok,
                                 "seconds_to_answer_after": round(time.monotonic() - start, 3)}
    return out


async def restart_under_load(server, n_requests, concurrency):
    """Clients keep sending; the server is stopped and started again in the middle."""
    prompts, responses = texts(n_requests, seed=7)

    async def restart():
        await asyncio.sleep(2.0)
        stopped = time.monotonic()
        await asyncio.to_thread(server.stop, signal.SIGKILL)
        await asyncio.to_thread(server.start)
        return time.monotonic() - stopped

    load = load_level(server.url, prompts, responses, concurrency,
                      retry_until=time.monotonic() + 300)
    (wall, latencies, errors, rewards), downtime = await asyncio.wait_for(
        asyncio.gather(load, restart()), timeout=600)
    return {"requests": n_requests, "concurrency": concurrency,
            "answered": int(np.isfinite(rewards).sum()), "failed_tries_retried": errors,
            "downtime_seconds": round(downtime, 2), "wall_seconds": round(wall, 2),
            "hung": False}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests per level")
    parser.add_argument("--quick", action="store_true", help="2,000 requests per level")
    parser.add_argument("--levels", default="1,16,64")
    parser.add_argument("--requests-c1", type=int, default=None,
                        help="requests at concurrency 1 (default: --requests)")
    parser.add_argument("--output", default=str(OUT), help="results file")
    parser.add_argument("--max-wait-ms", type=float, default=0.0,
                        help="the server's --max-wait-ms")
    parser.add_argument("--no-faults", action="store_true",
                        help="skip the faults and the restart (load levels only)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch threads of the server and of the in-process baseline")
    args = parser.parse_args()
    n = n_default = 2000 if args.quick else args.requests
    levels = [int(c) for c in args.levels.split(",")]
    import torch

    from skreward import load

    torch.set_num_threads(args.torch_threads)  # the in-process baseline, as the server
    workdir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    model_path = workdir / "model.skops"
    build_model(model_path)
    model = load(model_path)
    server = Server(model_path, free_port(), "--max-body-bytes", "1000000",
                    "--max-batch", "1024", "--torch-threads", str(args.torch_threads),
                    "--max-wait-ms", str(args.max_wait_ms))
    results = {"question": __doc__.split("\n\n")[1].replace("\n", " "),
               "command": "nice -n 10 python " + " ".join(sys.argv),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other "
                          "jobs; clients, server and baseline on the same cores",
               "torch_threads": torch.get_num_threads(),
               "server_max_wait_ms": args.max_wait_ms,
               "model": "SentenceEmbedder(all-MiniLM-L6-v2, combine='text', "
                        "max_seq_length=64, cpu) + OrderConsistentClassifier("
                        "LogisticRegression()); no embedding cache (cold)",
               "levels": []}
    try:
        results["server_start_seconds"] = round(server.start(), 2)
        warm_p, warm_r = texts(64, seed=12345)
        asyncio.run(load_level(server.url, warm_p, warm_r, 8))  # load the embedder
        in_process(model, warm_p, warm_r, 16)
        results["server_rss_mib_start"] = round(server.rss_mib(), 1)
        for level, concurrency in enumerate(levels):
            n = (args.requests_c1 or n_default) if concurrency == 1 else n_default
            prompts, responses = texts(n, seed=level)
            rss_before, cpu_before = server.rss_mib(), server.cpu_seconds()
            batches_before, items_before = server.counters()
            client_before = time.process_time()
            wall, latencies, errors, rewards = asyncio.run(
                load_level(server.url, prompts, responses, concurrency))
            client_cpu = time.process_time() - client_before
            rss_after, server_cpu = server.rss_mib(), server.cpu_seconds() - cpu_before
            batches_after, items_after = server.counters()
            base_cpu = time.process_time()
            base_wall, base = in_process(model, prompts, responses, concurrency)
            base_cpu = time.process_time() - base_cpu
            entry = {
                "concurrency": concurrency, "requests": n, "errors": errors,
                "wall_seconds": round(wall, 2), "requests_per_second": round(n / wall, 1),
                "p50_ms": round(1000 * np.percentile(latencies, 50), 2),
                "p99_ms": round(1000 * np.percentile(latencies, 99), 2),
                "in_process_batch": concurrency,
                "in_process_seconds": round(base_wall, 2),
                "ratio_vs_in_process": round(wall / base_wall, 3),
                "max_abs_reward_difference": float(np.nanmax(np.abs(rewards - base))),
                "mean_items_per_forward_pass": round(
                    (items_after - items_before) / max(batches_after - batches_before, 1), 2),
                "server_cpu_seconds": round(server_cpu, 1),
                "client_cpu_seconds": round(client_cpu, 1),
                "in_process_cpu_seconds": round(base_cpu, 1),
                "server_rss_mib_before": round(rss_before, 1),
                "server_rss_mib_after": round(rss_after, 1)}
            results["levels"].append(entry)
            print(f"concurrency {concurrency:3}: {entry['requests_per_second']:8.1f} req/s, "
                  f"p50 {entry['p50_ms']:7.2f} ms, p99 {entry['p99_ms']:7.2f} ms, "
                  f"in-process (batches of {concurrency}) {base_wall:6.1f} s vs served "
                  f"{wall:6.1f} s: ratio {entry['ratio_vs_in_process']:.3f}, errors {errors}, "
                  f"RSS {rss_before:.0f} -> {rss_after:.0f} MiB, "
                  f"{entry['mean_items_per_forward_pass']} items per pass, CPU s server "
                  f"{server_cpu:.0f} / clients {client_cpu:.0f} / in-process {base_cpu:.0f}",
                  flush=True)
        if args.no_faults:
            return
        results["faults"] = faults(server, model_path)
        print("faults:", json.dumps(results["faults"], indent=1), flush=True)
        results["restart_under_load"] = asyncio.run(
            restart_under_load(server, min(n_default, 3000), 64))
        print("restart under load:", results["restart_under_load"], flush=True)
        results["server_rss_mib_end"] = round(server.rss_mib(), 1)
    finally:
        server.stop()
        out = Path(args.output)
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
