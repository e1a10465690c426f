#!/usr/bin/env bash
# The prepared GPU check (benchmarks/device_check.py does the work): install
# without the network, devices, a test subset, the full denoising preset, step
# times vs torch; one JSON and one Markdown table (+ a log) into OUTDIR.
#
#   bash benchmarks/device_check.sh OUTDIR          # GPU machine, <= 8 min
#   bash benchmarks/device_check.sh OUTDIR --dry    # the same on CPU, tiny
#   PYTHON=.venv/bin/python bash benchmarks/device_check.sh /tmp/c --dry
#
# More flags go to device_check.py (--configs, --skip, --budget_s, ...).
# Exit 0: all passed; 1: a step failed (OUTDIR/device_check.md says which);
# 2: JAX sees no GPU (not with --dry); 3: usage.
set -u
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: $0 OUTDIR [--dry] [device_check.py flags]" >&2
  exit 3
fi
out=$1
shift
mkdir -p "$out" || exit 3
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.." || exit 3
export PYTHONUNBUFFERED=1
# A backstop only: device_check.py keeps its own --budget_s (450 s), stops
# its children on SIGTERM and writes what it has.
exec timeout -k 15 "${DD_CHECK_TIMEOUT_S:-480}" "${PYTHON:-python3}" \
  benchmarks/device_check.py --out="$out" "$@"
