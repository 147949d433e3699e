"""The steps of ``benchmarks/gpu_check.sh``: does skreward work, and how fast, on a CUDA GPU?

Question: on a machine with a CUDA GPU, do the CUDA tests pass, how many
comparisons per second do BT-MLP, CLF-MLP and a 10-member batched ensemble
(``fit_stacked``) train at d = 2048 with ``device="cuda"``, and does a
CUDA-trained model pickle and predict the same rewards in a process that
sees no GPU? Each step runs in its own process with a time limit, so one
failure is recorded and the others still run; everything goes into one JSON.

Run it through ``bash benchmarks/gpu_check.sh`` (which picks the Python that
has a CUDA build of torch and makes skreward importable);
``--cpu-dry-run`` runs every step on the CPU at tiny sizes, to check the
script itself on a machine without a GPU.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Step sizes: (full run on a GPU, dry run on a CPU). The full sizes are meant to take well
# under a minute each on one H100-class GPU (an estimate: the script has not run on a GPU
# yet); the time limits below keep the whole check under 8 minutes whatever happens.
TRAINING = (["--device", "cuda", "--dims", "2048", "--n-pairs", "20000", "--reps", "3"],
            ["--device", "cpu", "--dims", "64", "--n-pairs", "400", "--reps", "1"])
STACKED = (["--device", "cuda", "--dims", "384", "2048", "--members", "5", "10", "--models",
            "BT-MLP", "CLF-MLP", "--n-pairs", "20000", "--epochs", "1", "--reps", "2"],
           ["--device", "cpu", "--dims", "64", "--members", "2", "--n-pairs", "300",
            "--epochs", "1", "--reps", "1"])
PICKLE = (["3000", "256,128"], ["500", "32"])  # comparisons, hidden sizes
LIMITS = {"tests": 90, "training": 120, "stacked": 150, "pickle": 45}  # sum 450 s < 8 min
DRY_RUN_SLOWER = 4  # limits of a dry run: a (possibly shared) CPU, not a GPU


def run(name, command, workdir, limit, env=None):
    """Run one step; its output goes to ``<workdir>/<name>.log``."""
    start = time.perf_counter()
    log = workdir / f"{name}.log"
    with open(log, "w") as out:
        try:
            rc = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                timeout=limit, env=env).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    seconds = time.perf_counter() - start
    tail = log.read_text(errors="replace").splitlines()[-15:]
    print(f"[{name}] rc={rc} in {seconds:.0f} s (limit {limit} s)", flush=True)
    return {"name": name, "command": " ".join(map(str, command)), "rc": rc,
            "seconds": round(seconds, 1), "limit_s": limit, "log_tail": tail}


def cuda_test_files():
    """Test files with a ``test_*cuda*`` function and a torch.cuda.is_available() check."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                  if "cuda.is_available" in p.read_text()
                  and re.search(r"def test_\w*cuda", p.read_text()))


def junit_summary(path):
    import xml.etree.ElementTree as ET
    if not path.exists():
        return None
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                reason = (child.get("message") or "")[:200]
                break
        else:
            reason = ""
        cases.append({"test": f"{case.get('classname')}::{case.get('name')}",
                      "outcome": outcome, "reason": reason,
                      "seconds": float(case.get("time", 0))})
    counts = {k: sum(c["outcome"] == k for c in cases)
              for k in ("passed", "failure", "error", "skipped")}
    return {"counts": counts, "cases": cases}


PICKLE_FIT = """
import pickle, sys
import numpy as np
from skreward import BTRegressor, RewardMLPClassifier, OrderConsistentClassifier
from skreward import simulate_comparisons
from skreward.datasets import make_preference_testbed
from skreward.models import fit_stacked
device, n_pairs, hidden = sys.argv[1], int(sys.argv[3]), tuple(map(int, sys.argv[4].split(",")))
data = make_preference_testbed(n_prompts=200, n_test_prompts=20, n_candidates=16, random_state=0)
sim = simulate_comparisons(data.golden, data.groups, n_pairs=n_pairs, beta=10, random_state=0)
X = sim.take(data.X)
small = dict(module__hidden_sizes=hidden, max_epochs=5, random_state=0, device=device)
models = {"BT-MLP": BTRegressor(**small).fit(X, sim.y),
          "CLF-MLP": OrderConsistentClassifier(RewardMLPClassifier(**small)).fit(X, sim.y)}
for i, m in enumerate(fit_stacked([BTRegressor(**{**small, "random_state": s}) for s in range(3)],
                                  X, sim.y)):
    models[f"stacked member {i}"] = m
rewards = {name: m.decision_function(data.X_test).tolist() for name, m in models.items()}
with open(sys.argv[2], "wb") as f:
    pickle.dump({"models": models, "rewards": rewards, "X_test": data.X_test}, f)
print("fitted on", device)
"""

PICKLE_LOAD = """
import json, pickle, sys, warnings
import numpy as np, torch
assert not torch.cuda.is_available(), "the loading process must see no GPU"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with open(sys.argv[1], "rb") as f:
        saved = pickle.load(f)
result = {"warnings": sorted({str(w.message)[:160] for w in caught})}
for name, model in saved["models"].items():
    reward = model.decision_function(saved["X_test"])
    result[name] = float(np.max(np.abs(reward - np.asarray(saved["rewards"][name]))))
json.dump(result, open(sys.argv[2], "w"), indent=2)
print(json.dumps(result, indent=2))
"""


def pickle_check(workdir, device, limit, sizes):
    """Fit on ``device``, pickle; load and predict in a process that sees no GPU."""
    (workdir / "pickle_fit.py").write_text(PICKLE_FIT)
    (workdir / "pickle_load.py").write_text(PICKLE_LOAD)
    blob, out = workdir / "models.pkl", workdir / "pickle_load.json"
    steps = [run("pickle_fit", [sys.executable, str(workdir / "pickle_fit.py"), device,
                                str(blob), *sizes], workdir, limit)]
    cpu_env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    steps.append(run("pickle_load_on_cpu", [sys.executable, str(workdir / "pickle_load.py"),
                                            str(blob), str(out)], workdir, limit, env=cpu_env))
    differences = json.loads(out.read_text()) if out.exists() else None
    return steps, differences


def environment(workdir):
    import torch
    info = {"python": sys.executable, "python_version": platform.python_version(),
            "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "torch_cuda": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    for name, command in [("nvidia_smi", ["nvidia-smi"]),
                          ("pip_list", [sys.executable, "-m", "pip", "list"])]:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
            info[name] = (done.stdout or done.stderr).splitlines()
        except (OSError, subprocess.TimeoutExpired) as error:
            info[name] = [f"not available: {error}"]
    return info


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="every step on the CPU at tiny sizes (checks the script, not a GPU)")
    parser.add_argument("--workdir", required=True, help="folder for logs and partial results")
    parser.add_argument("--output", action="append", default=[],
                        help="where to write the JSON (repeatable)")
    args = parser.parse_args()
    dry = args.cpu_dry_run
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = {"question": __doc__.split("\n\n")[1].replace("\n", " ").removeprefix("Question: "),
              "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "dry_run_on_cpu": dry, "environment": environment(workdir), "steps": []}
    if not dry and not result["environment"]["cuda_available"]:
        raise SystemExit("torch sees no CUDA GPU: run on a GPU machine, or pass --cpu-dry-run.")
    device = "cpu" if dry else "cuda"
    limits = {k: v * (DRY_RUN_SLOWER if dry else 1) for k, v in LIMITS.items()}
    py = sys.executable

    junit = workdir / "tests.xml"
    files = cuda_test_files()
    result["steps"].append(run("tests", [py, "-m", "pytest", "-q", "-rs", "-p", "no:warnings",
                                         "--continue-on-collection-errors", "-k", "cuda",
                                         f"--junitxml={junit}", *files],
                               workdir, limits["tests"]))
    result["tests"] = {"files": files, "selection": "-k cuda", **(junit_summary(junit) or {})}

    training_json = workdir / "training.json"
    result["steps"].append(run("training", [py, "benchmarks/bench_training.py",
                                            *TRAINING[dry], "--output", str(training_json)],
                               workdir, limits["training"]))
    result["training"] = json.loads(training_json.read_text()) if training_json.exists() else None

    stacked_json = workdir / "stacked.json"
    result["steps"].append(run("stacked", [py, "benchmarks/bench_stacked.py", *STACKED[dry],
                                           "--output", str(stacked_json)],
                               workdir, limits["stacked"]))
    result["stacked"] = json.loads(stacked_json.read_text()) if stacked_json.exists() else None

    steps, differences = pickle_check(workdir, device, limits["pickle"], PICKLE[dry])
    result["steps"] += steps
    result["pickle_to_cpu_max_abs_reward_difference"] = differences

    result["summary"] = summary(result)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, indent=2) + "\n"
    for output in args.output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
        print(f"wrote {output}")
    print(json.dumps(result["summary"], indent=2))
    return 0 if result["summary"]["ok"] else 1


def summary(result):
    rows = {}
    for row in (result.get("training") or {}).get("training", []):
        rows[f"{row['model']} d={row['d']} comparisons/s"] = round(row["skorch_comparisons_per_s"])
    for row in (result.get("stacked") or {}).get("rows", []):
        key = f"{row['model']} x{row['n_members']} d={row['d']}"
        rows[f"{key} stacked member-rows/s"] = round(row["stacked_rows_per_s"])
        rows[f"{key} speedup over one by one"] = round(row["speedup"], 2)
    tests = result.get("tests", {}).get("counts", {})
    differences = result.get("pickle_to_cpu_max_abs_reward_difference") or {}
    pickled = [v for k, v in differences.items() if k != "warnings"]
    ok = (all(step["rc"] == 0 for step in result["steps"])
          and bool(pickled) and max(pickled) < 1e-4)
    return {"ok": ok, "tests": tests, "pickle_to_cpu_max_diff": max(pickled, default=None),
            **rows}


if __name__ == "__main__":
    sys.exit(main())
