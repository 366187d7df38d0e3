#!/usr/bin/env bash
# Reproduce benchmarks/results/runtime/cold-start.json: the wall time of
# `fmnist predict examples/shirt.jpg` with the shipped int8 model, as fresh processes, in a
# runtime-only install (fmnist[tflite] in .venv-runtime: numpy, Pillow, LiteRT, no TensorFlow).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-runtime/bin/python ] || python3 -m venv .venv-runtime
.venv-runtime/bin/python -m pip install --quiet --upgrade pip
.venv-runtime/bin/python -m pip install --quiet --force-reinstall --no-deps . && .venv-runtime/bin/python -m pip install --quiet ".[tflite]"
mkdir -p benchmarks/results/runtime
.venv-runtime/bin/python benchmarks/cold_start.py --runs 21 --out benchmarks/results/runtime/cold-start.json \
    -- .venv-runtime/bin/fmnist predict examples/shirt.jpg
