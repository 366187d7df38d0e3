#!/usr/bin/env bash
# Reproduce benchmarks/results/export/lean/: the shipped model's weights (its run, named in
# the manifest; benchmarks/ship.sh trains it) exported twice, by today's exporter and by the
# one before the lean graphs (commit 49e252c, in a git worktree), then timed side by side:
# benchmarks/onnx_int8.py (every int8 ONNX option, interleaved in one process:
# onnx-int8.json) and one bench run of both export folders (bench/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
out=benchmarks/results/export/lean
run=$(.venv/bin/python benchmarks/shipped_run.py)
before=$(mktemp -d)
git worktree add --detach "$before/code" 49e252c >/dev/null 2>&1
trap 'git worktree remove --force "$before/code"; rm -rf "$before"' EXIT
[ -f "$run/export/manifest.json" ] || .venv/bin/fmnist export "$run" >/dev/null
(cd "$before/code" && "$OLDPWD/.venv/bin/python" -m fmnist export "$OLDPWD/$run" --format onnx,onnx-int8,tflite,tflite-int8 \
    --out "$before/export" >/dev/null)
mkdir -p "$out"
.venv/bin/python benchmarks/onnx_int8.py "$run/export" --before "$before/export" --out "$out/onnx-int8.json"
mkdir -p "$before/bench" && cp -r "$before/export" "$before/bench/before" && cp -r "$run/export" "$before/bench/lean"
.venv/bin/fmnist bench "$before/bench/before" "$before/bench/lean" --threads 1,2 --batch 1,256 --cold-starts 0 --no-keras \
    --out "$out/bench"
