#!/bin/sh
# Set up and run the kiosk from a clean clone, on Debian / Raspberry Pi OS (Bookworm).
#
#   ./run.sh demo [ARGS...]   install what is missing, then `kiosk demo` on stand-in hardware
#   ./run.sh test [ARGS...]   install what is missing (with test tools), then ruff, mypy and the test suite
#   ./run.sh faults           the full-size fault-injection suite (tests/faults/run_full.sh)
#
# System packages come from apt-get (via sudo when not root), Python packages go into ./.venv.
set -eu

cd "$(dirname "$0")"
VENV=.venv
# Debian packages the kiosk needs at run time (zbar for QR decoding, espeak-ng and aplay for
# voice, socat for technicians' serial experiments) and for the tests (chromium renders the
# street status page; systemd-analyze checks the units; fiu-utils injects I/O errors into the
# pass log, tests/faults/; postgresql: the district server's tests start a throwaway cluster,
# tests/pgcluster.py).
RUN_DEBS="python3-venv libzbar0 espeak-ng alsa-utils fonts-noto-cjk"   # fonts-noto-cjk: Chinese on printed badges and paper codes (kiosk/codes/render.py)
TEST_DEBS="chromium systemd fiu-utils postgresql nginx-light"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

need_debs() {
    missing=""
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        echo "run.sh: installing system packages:$missing" >&2
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends $missing >&2
    fi
}

pick_python() {
    for py in python3.11 python3; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            echo "$py"; return
        fi
    done
    echo "run.sh: Python 3.11 or newer is required" >&2
    exit 1
}

setup() {
    extras="$1"
    if command -v dpkg-query >/dev/null 2>&1; then
        need_debs $RUN_DEBS
        [ "$extras" = "test" ] && need_debs $TEST_DEBS
    fi
    stamp="$VENV/.installed-$extras"
    if [ ! -x "$VENV/bin/python" ]; then
        "$(pick_python)" -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$VENV/bin/python" -m pip install -q --upgrade pip >&2
        if [ "$extras" = "test" ]; then
            "$VENV/bin/python" -m pip install -q -e ".[test]" >&2
        else
            "$VENV/bin/python" -m pip install -q -e . >&2
        fi
        touch "$stamp"
    fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    demo)
        setup run
        exec "$VENV/bin/kiosk" demo "$@"
        ;;
    test)
        setup test
        # lint and types first: the rules are in pyproject.toml; any finding fails the run
        "$VENV/bin/ruff" check --quiet .
        "$VENV/bin/mypy"
        exec "$VENV/bin/python" -m pytest -n 2 "$@"
        ;;
    faults)
        setup test
        exec tests/faults/run_full.sh "$@"
        ;;
    *)
        echo "usage: ./run.sh demo [ARGS...] | ./run.sh test [ARGS...] | ./run.sh faults" >&2
        exit 2
        ;;
esac
