#!/usr/bin/env bash
# Reproduce benchmarks/results/bench/: export runs/edge, runs/cnn and runs/mlp (trained by
# benchmarks/train.sh) where they have no export yet, then benchmark all three.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
for arch in edge cnn mlp; do
    [ -f "runs/$arch/export/manifest.json" ] || .venv/bin/fmnist export "runs/$arch"
done
.venv/bin/fmnist bench runs/edge runs/cnn runs/mlp --out benchmarks/results/bench
