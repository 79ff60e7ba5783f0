#!/usr/bin/env bash
# Start the built app under a virtual X server (Xvfb) and check that its window appears.
#
# The app's --smoke-test flag shows the window, prints "SMOKE-TEST: window shown" and closes it
# after 3 s; this script also looks the window up by its title with xwininfo while it is open.
# Needs xvfb-run and xwininfo (apt-get install xvfb xauth x11-utils) and the Qt xcb libraries
# listed in packaging/screenshot.sh.
#
# Usage: bash packaging/smoke_test.sh [PROGRAM]   (default dist/img2img-studio/img2img-studio;
#        any command that starts the window works, e.g. ".venv/bin/img2img-studio")
set -euo pipefail
cd "$(dirname "$0")/.."

PROGRAM="${1:-dist/img2img-studio/img2img-studio}"
TITLE="Img2Img Studio"
command -v xvfb-run >/dev/null || { echo "smoke_test.sh: xvfb-run not found (apt-get install xvfb xauth)" >&2; exit 1; }
command -v xwininfo >/dev/null || { echo "smoke_test.sh: xwininfo not found (apt-get install x11-utils)" >&2; exit 1; }
[ -x "$PROGRAM" ] || command -v "$PROGRAM" >/dev/null || { echo "smoke_test.sh: $PROGRAM not found (make package builds it)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export IMG2IMG_STUDIO_CONFIG_DIR="$WORK/config" HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=xcb

# Inside the X server: start the app, wait for a window with the app's title, then for the app
# to close it by itself (exit status 0).
cat >"$WORK/inside.sh" <<'INSIDE'
set -u
"$1" --smoke-test >"$2/app.log" 2>&1 &
app=$!
found=""
for _ in $(seq 1 120); do  # up to 60 s: a full build loads Qt and its plugins from disk
    if xwininfo -root -tree 2>/dev/null | grep -q "\"[^\"]*$3"; then found=yes; break; fi
    kill -0 "$app" 2>/dev/null || break
    sleep 0.5
done
wait "$app"; status=$?
cat "$2/app.log"
[ -n "$found" ] || { echo "smoke_test.sh: no window titled '$3' appeared" >&2; exit 1; }
[ "$status" = 0 ] || { echo "smoke_test.sh: the app exited with status $status" >&2; exit 1; }
grep -q "SMOKE-TEST: window shown" "$2/app.log" || { echo "smoke_test.sh: no SMOKE-TEST line" >&2; exit 1; }
echo "smoke_test.sh: the window '$3' appeared and closed by itself"
INSIDE
xvfb-run -a -s "-screen 0 1600x1000x24" bash "$WORK/inside.sh" "$PROGRAM" "$WORK" "$TITLE"
