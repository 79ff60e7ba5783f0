#!/usr/bin/env bash
# Write docs/screenshot.png from the REAL window running under a virtual X server (Xvfb).
#
# Installs nothing. Needs (Debian/Ubuntu):
#   apt-get install xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
#                   libxkbcommon-x11-0 libxcb-cursor0 libxcb-xinerama0 libxcb-randr0 \
#                   libxcb-shape0 libxcb-xfixes0 libegl1 libgl1 libfontconfig1
# and the project's virtualenv (make run / make test create it).
#
# Usage: bash packaging/screenshot.sh [OUT.png]     (default docs/screenshot.png)
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-docs/screenshot.png}"
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
command -v xvfb-run >/dev/null || { echo "screenshot.sh: xvfb-run not found (apt-get install xvfb xauth)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# 1. A tiny offline random-weight model (chosen in the window; no pass runs: it only makes noise).
"$PYTHON" -m tests.tiny_models.tiny_model "$WORK/random-weights-test-model" >/dev/null

# 2. The real window under Xvfb: open a picture, paint a mask, set a prompt, grab the window.
export HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=xcb IMG2IMG_STUDIO_CONFIG_DIR="$WORK/config"
xvfb-run -a -s "-screen 0 1600x1000x24" \
    "$PYTHON" packaging/screenshot.py --model "$WORK/random-weights-test-model" --work "$WORK" --out "$OUT"
echo "wrote $OUT"
