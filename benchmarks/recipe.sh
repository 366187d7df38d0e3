#!/usr/bin/env bash
# Reproduce benchmarks/results/frontier/ablation.*: train `edge` (seed 0, full training set)
# with today's recipe, then adding one change at a time, export each run to int8 TFLite, and
# tabulate float and int8 test accuracy (benchmarks/ablation.py). The teacher for the last
# row, `wide`, is trained first. Finished runs are kept: rerunning skips them.
# Environment: RECIPE_RUNS (default runs/recipe), RECIPE_OUT (default benchmarks/results/frontier).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
runs=${RECIPE_RUNS:-runs/recipe}
out=${RECIPE_OUT:-benchmarks/results/frontier}
fmnist=.venv/bin/fmnist
$fmnist train --arch wide --erase 0.25 --name wide --runs-dir "$runs" >/dev/null
steps=(
    "today's recipe (30 epochs, flips and shifts, label smoothing 0.1)=--epochs 30 --erase 0 --ema 0"
    "+ random erasing (p 0.5)=--epochs 30 --erase 0.5 --ema 0"
    "+ moving average of the weights (0.999)=--epochs 30 --erase 0.5 --ema 0.999"
    "+ 60 epochs=--erase 0.5 --ema 0.999 --epochs 60"
    "+ distillation from wide (weight 0.5, T 4)=--erase 0.5 --ema 0.999 --epochs 60 --teacher $runs/wide"
)
labelled=()
for i in "${!steps[@]}"; do
    label=${steps[$i]%%=*}
    read -ra flags <<< "${steps[$i]#*=}"
    $fmnist train --arch edge --name "step$i" --runs-dir "$runs" "${flags[@]}" >/dev/null
    [ -f "$runs/step$i/export/manifest.json" ] || $fmnist export "$runs/step$i" --format tflite-int8 >/dev/null
    labelled+=("$label=$runs/step$i")
done
.venv/bin/python benchmarks/ablation.py --out "$out" "${labelled[@]}"
