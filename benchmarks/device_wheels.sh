#!/usr/bin/env bash
# Fills benchmarks/wheels/ (git-ignored) with the pure-Python wheels that the
# GPU machine's python3 (3.12, no network) lacks, for device_check.sh to
# install there; pass `carry=["benchmarks/wheels"]` to the device run.
#
#   bash benchmarks/device_wheels.sh          # here, where pip reaches PyPI
#
# requirements.txt vs /work/.library/device/KINDS.md's package list: only
# ml_collections is missing (its needs, absl-py and PyYAML, are there).
# PyWavelets is missing too but compiled, and only the `baselines` extra and
# tests outside the device subset use it: not carried.
set -eu
cd "$(dirname "$0")/.."
PKGS="ml_collections"
dest=benchmarks/wheels
py=${PYTHON:-python3}
[ -x .venv/bin/python ] && py=${PYTHON:-.venv/bin/python}
mkdir -p "$dest"
for name in $PKGS; do
  pin=$(grep -i "^${name}==" requirements.txt) || {
    echo "no pin for $name in requirements.txt" >&2; exit 1; }
  rm -f "$dest/${name}"-*.whl  # One version of each: two stop the install.
  "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation py --abi none --platform any -d "$dest" "$pin"
done
for w in "$dest"/*.whl; do
  case "$w" in
    *-none-any.whl) ;;
    *) echo "not a pure-Python wheel: $w" >&2; exit 1 ;;
  esac
done
ls -l "$dest"
