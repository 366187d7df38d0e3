#!/usr/bin/env bash
# Reproduce benchmarks/results/frontier/: train each variant of the edge family with one
# recipe, export it to int8 TFLite, measure them all with the shipped int8 TFLite model in one
# bench run (one thread, no cold start), then write the table and the plot of the
# accuracy-latency frontier (benchmarks/frontier.py).
# Usage: bash benchmarks/frontier.sh [fmnist train options, the same for every variant]
# Environment: FRONTIER_VARIANTS (default: the nine edge-family architectures),
# FRONTIER_RUNS (default runs/frontier), FRONTIER_OUT (default benchmarks/results/frontier),
# FRONTIER_EXPORT_ARGS (extra fmnist export options, e.g. a looser --max-accuracy-drop).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
runs=${FRONTIER_RUNS:-runs/frontier}
out=${FRONTIER_OUT:-benchmarks/results/frontier}
read -ra export_args <<< "${FRONTIER_EXPORT_ARGS:-}"
read -ra variants <<< "${FRONTIER_VARIANTS:-edge edge-n8 edge-w96 edge-w48 edge-deep edge-gap edge-sep edge-s2 edge-s2w24}"
for arch in "${variants[@]}"; do
    .venv/bin/fmnist train --arch "$arch" --name "$arch" --runs-dir "$runs" "$@" >/dev/null
    .venv/bin/fmnist export "$runs/$arch" --format tflite-int8 "${export_args[@]}" >/dev/null
done
.venv/bin/fmnist bench tflite-int8 "${variants[@]/#/$runs/}" \
    --threads 1 --batch 1,256 --cold-starts 0 --no-keras --out "$out/bench" >/dev/null
.venv/bin/python benchmarks/frontier.py "$out/bench/bench.json" --out "$out"
