#!/bin/sh
# The fault-injection suite at full size (`./run.sh faults`; CI runs the same tests scaled down).
#   - simulated power cuts (T-DB-2): 200 cuts dropping unsynced writes, 200 keeping a random torn
#     subset, and a 50-cut synchronous=NORMAL control that must show loss;
#   - storage faults in a running kiosk process (T-DB-5, T-DB-6): 2,000 passes each on a full
#     16 MiB tmpfs (hold and deny), with libfiu pwrite ENOSPC (p=0.02) and fdatasync EIO (p=0.05);
#   - SIGKILLs of `kiosk run` across a stream of passes on the stand-in site (T-DB-1): 200 kills;
#   - the parser fuzzing (T-FUZZ-1/2, tests/faults/test_fuzz_parsers.py) at 4,000 examples per property;
#   - everything else under tests/faults/ at its normal size.
# Each power-cut line is one JSON summary; the script exits non-zero if any target is missed.
set -eu
cd "$(dirname "$0")/../.."
PY="${PYTHON:-.venv/bin/python}"
CUTS="${CUTS:-200}"
status=0
for args in "--mode drop" "--mode subset" "--mode drop --synchronous normal --cuts 50"; do
    # shellcheck disable=SC2086
    $PY -m tests.faults.powercut --cuts "$CUTS" $args || status=1
done
report="$(mktemp)"
KIOSK_FAULTS_PASSES="${PASSES:-2000}" KIOSK_FAULTS_REPORT="$report" \
    $PY -m pytest -q -p no:cacheprovider tests/faults/test_storage_faults.py || status=1
KIOSK_CRASH_KILLS="${KILLS:-200}" KIOSK_FAULTS_REPORT="$report" \
    $PY -m pytest -q -p no:cacheprovider tests/faults/test_crash.py || status=1
cat "$report"
rm -f "$report"
KIOSK_FUZZ_EXAMPLES="${FUZZ:-4000}" $PY -m pytest -q -p no:cacheprovider tests/faults/test_fuzz_parsers.py || status=1
$PY -m pytest -q -p no:cacheprovider tests/faults --ignore=tests/faults/test_storage_faults.py \
    --ignore=tests/faults/test_crash.py || status=1
exit $status
