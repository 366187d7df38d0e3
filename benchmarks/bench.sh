#!/usr/bin/env bash
# Reproduce benchmarks/results/bench/: the run the shipped model was exported from (named in
# its manifest; benchmarks/ship.sh trains it) with its Keras model, and the seed articles'
# baselines runs/cnn and runs/mlp (trained by benchmarks/train.sh, exported here when they
# have no export yet), every format and each operator's share (--profile), in one bench run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
shipped=$(.venv/bin/python benchmarks/shipped_run.py)
for run in runs/cnn runs/mlp; do
    [ -f "$run/export/manifest.json" ] || .venv/bin/fmnist export "$run"
done
.venv/bin/fmnist bench "$shipped" runs/cnn runs/mlp --profile --out benchmarks/results/bench
