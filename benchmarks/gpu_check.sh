#!/usr/bin/env bash
# One-command GPU check of skreward (under 8 minutes on one CUDA GPU):
#   * the CUDA tests (tests that check torch.cuda.is_available(), selected with -k cuda);
#   * the training benchmark with device="cuda": BT-MLP and CLF-MLP at d = 2048
#     (benchmarks/bench_training.py), and M = 5 and 10 members trained one by one vs as one
#     batched network at d = 384 and 2048 (benchmarks/bench_stacked.py), in comparisons/s;
#   * a CUDA-trained BT-MLP, CLF-MLP and stacked members, pickled, then loaded and scored in a
#     process that sees no GPU (CUDA_VISIBLE_DEVICES=""): the largest reward difference;
#   * nvidia-smi and pip list of the Python used.
# Everything goes into one JSON: $OUT/gpu_check.json (when OUT is set) and
# benchmarks/results/gpu_check.json; logs of each step in a temporary folder (printed).
#
# Usage, from anywhere in the repository:
#   bash benchmarks/gpu_check.sh                 # on a machine with a CUDA GPU
#   bash benchmarks/gpu_check.sh --cpu-dry-run   # every step on the CPU at tiny sizes: checks
#                                                # the script itself (results go to the temp folder)
#   bash benchmarks/gpu_check.sh --fetch-wheels  # on a machine with internet: download the wheels
#                                                # of skreward's dependencies that GPU images often
#                                                # lack (skorch, skops) into .whl/ for carrying
# Environment: PYTHON=/path/to/python picks the interpreter; WHEELS=dir adds wheels to install.
#
# Nothing is downloaded on the GPU machine (it may have no internet). The script uses a Python
# whose torch sees a CUDA GPU (the repository's .venv, then python3, then python), puts the
# repository on PYTHONPATH (no build, no install of skreward), and only if `import skreward`
# still fails installs wheels found in $WHEELS, .whl/ or benchmarks/wheels/ with
# `pip install --no-index --no-deps --target` into the temporary folder.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DRY=""
case "${1:-}" in
  --cpu-dry-run) DRY="--cpu-dry-run" ;;
  --fetch-wheels)  # pure-Python wheels, the versions installed here (else the latest)
    FETCH_PY="${PYTHON:-python3}"
    [ -z "${PYTHON:-}" ] && [ -x "$ROOT/.venv/bin/python" ] && FETCH_PY="$ROOT/.venv/bin/python"
    mkdir -p .whl
    for pkg in skorch skops; do
      version="$("$FETCH_PY" -c "import importlib.metadata as m; print(m.version('$pkg'))" 2>/dev/null)"
      "$FETCH_PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation py -d .whl "$pkg${version:+==$version}" || exit 1
    done
    ls -l .whl
    echo "(keep .whl/ out of git: echo /.whl/ >> .git/info/exclude)"; exit 0 ;;
  "") ;;
  *) echo "usage: bash benchmarks/gpu_check.sh [--cpu-dry-run | --fetch-wheels]" >&2; exit 2 ;;
esac
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
echo "gpu_check: logs in $WORK"

# 1. A Python whose torch sees a CUDA GPU (any torch for a dry run).
want='import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)'
[ -n "$DRY" ] && want='import torch'
PY=""
for candidate in ${PYTHON:-} "$ROOT/.venv/bin/python" python3 python; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$want" 2>/dev/null; then
    PY="$(command -v "$candidate")"; break
  fi
done
if [ -z "$PY" ]; then
  echo "gpu_check: no Python with a CUDA build of torch that sees a GPU (tried:" \
       "${PYTHON:-} .venv/bin/python python3 python); nvidia-smi says:" >&2
  nvidia-smi >&2 || true
  exit 1
fi
echo "gpu_check: using $PY ($("$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'))"

# 2. skreward importable: the repository on PYTHONPATH; missing dependencies from local wheels.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
check='import skreward, skreward.models, sklearn, scipy, skorch, pytest'
if ! "$PY" -c "$check" 2>"$WORK/import.err"; then
  echo "gpu_check: import failed: $(tail -1 "$WORK/import.err")"
  for dir in ${WHEELS:-} "$ROOT/.whl" "$ROOT/benchmarks/wheels"; do
    if ls "$dir"/*.whl >/dev/null 2>&1; then
      echo "gpu_check: installing the wheels of $dir into $WORK/site"
      "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "$dir"/*.whl
      export PYTHONPATH="$WORK/site:$PYTHONPATH"
      break
    fi
  done
  if ! "$PY" -c "$check"; then
    echo "gpu_check: skreward's dependencies are missing and no wheels were found. On a" \
         "machine with internet run 'bash benchmarks/gpu_check.sh --fetch-wheels', and" \
         "bring .whl/ along (or set WHEELS=dir)." >&2
    exit 1
  fi
fi

# 3. The steps, each in its own process with a time limit, into one JSON.
outputs=(--output "$WORK/gpu_check.json")
if [ -z "$DRY" ]; then
  outputs+=(--output "$ROOT/benchmarks/results/gpu_check.json")
  [ -n "${OUT:-}" ] && outputs+=(--output "$OUT/gpu_check.json")
elif [ -n "${OUT:-}" ]; then
  outputs+=(--output "$OUT/gpu_check_cpu_dry_run.json")
fi
PYTHONUNBUFFERED=1 "$PY" benchmarks/gpu_check.py $DRY --workdir "$WORK" "${outputs[@]}"
