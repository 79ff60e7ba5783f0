#!/usr/bin/env bash
# The GPU benchmark in one call on a bare machine with an NVIDIA GPU and this repository:
#   bash tests/benchmarks/gpu.sh [OUT.json]      (about 5 minutes on an H100; ≤ 8 min budget)
#   bash tests/benchmarks/gpu.sh --smoke [OUT]   (the tiny models, one round, any device: checks
#                                                 the script end to end in a minute or two)
# Uses the venv when there is one, else the system python; installs only what is missing
# (torch itself is expected to be there, as on any CUDA image). Random weights: no downloads.
set -euo pipefail
cd "$(dirname "$0")/../.."
SMOKE=""
if [ "${1:-}" = "--smoke" ]; then SMOKE="--smoke"; shift; fi
OUT="${1:-docs/bench/gpu-$(date +%Y%m%d).json}"
[ -n "$SMOKE" ] && OUT="${1:-bench-out/gpu-smoke.json}"
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
if ! "$PY" -c "import diffusers, transformers, PIL" 2>/dev/null; then
  "$PY" -m pip install --quiet -e . || "$PY" -m pip install --quiet diffusers transformers \
    safetensors pillow numpy opencv-python-headless huggingface_hub
fi
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
if [ -n "$SMOKE" ]; then exec "$PY" -m tests.benchmarks.bench_gpu --smoke --out "$OUT"; fi
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU'; print(torch.cuda.get_device_name(0))"
exec "$PY" -m tests.benchmarks.bench_gpu --out "$OUT" --rounds "${ROUNDS:-3}"
