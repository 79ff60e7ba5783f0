#!/usr/bin/env bash
# Install the torch build that fits this machine into the project's virtualenv (make run / make test).
#
#   TORCH=auto  (default) the CUDA build where an NVIDIA driver answers (nvidia-smi works),
#               the CPU build otherwise (no multi-gigabyte CUDA libraries on a CPU-only machine)
#   TORCH=cpu   the CPU build        TORCH=cuda  the CUDA build        TORCH=skip  leave torch alone
#
# Usage: bash packaging/install_torch.sh PYTHON [TORCH] [VERSION]
# A wheel that pip can already find without the network (a local wheel folder or mirror) is used
# first, so CI on a CPU machine stays offline-ish.
set -euo pipefail

PY="$1"
CHOICE="${2:-auto}"
VERSION="${3:-2.13.0}"
CPU_INDEX="${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
CUDA_INDEX="${TORCH_CUDA_INDEX:-https://download.pytorch.org/whl/cu128}"

if [ "$CHOICE" = auto ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
        CHOICE=cuda
        WHY="nvidia-smi found an NVIDIA driver"
    else
        CHOICE=cpu
        WHY="no NVIDIA driver (nvidia-smi absent or failing)"
    fi
else
    WHY="TORCH=$CHOICE"
fi

case "$CHOICE" in
    skip)
        echo "torch: TORCH=skip, leaving torch as it is"
        exit 0
        ;;
    cpu)
        echo "torch: installing the CPU build of torch==$VERSION ($WHY)"
        # The CPU wheel from a local mirror or wheel folder when pip finds one without the network
        # (then its dependencies from the usual index), else PyTorch's CPU index.
        if "$PY" -m pip install --no-index --no-deps "torch==$VERSION" 2>/dev/null; then
            "$PY" -m pip install "torch==$VERSION"
        else
            "$PY" -m pip install "torch==$VERSION" --extra-index-url "$CPU_INDEX"
        fi
        ;;
    cuda)
        echo "torch: installing the CUDA build of torch==$VERSION ($WHY; index $CUDA_INDEX)"
        "$PY" -m pip install "torch==$VERSION" --extra-index-url "$CUDA_INDEX"
        ;;
    *)
        echo "install_torch.sh: TORCH must be auto, cpu, cuda or skip (got '$CHOICE')" >&2
        exit 2
        ;;
esac
"$PY" -c "import importlib.metadata as m; print('torch: installed', m.version('torch'))"
