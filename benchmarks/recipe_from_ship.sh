#!/usr/bin/env bash
# Reproduce benchmarks/results/frontier/from-ship/: changes tried on the shipped model's recipe
# (edge-n8, seed 1, 60 epochs, random erasing, the weights' moving average), each alone:
# 100 epochs, distillation from `wide` as benchmarks/recipe.sh trains it (label smoothing 0.1),
# distillation from a `wide` trained without label smoothing, and less regularisation (no random
# erasing, with and without label smoothing), since the model fits its augmented training images
# no better than its validation images. Each run is exported to int8 TFLite and
# benchmarks/ablation.py --from-first tabulates float and int8 test accuracy.
# Finished runs are kept: rerunning skips them.
# Environment: SHIP_RUNS (default runs/ship), RECIPE_RUNS (default runs/recipe).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
ship=${SHIP_RUNS:-runs/ship}
teachers=${RECIPE_RUNS:-runs/recipe}
fmnist=.venv/bin/fmnist
$fmnist train --arch wide --erase 0.25 --name wide --runs-dir "$teachers" >/dev/null
$fmnist train --arch wide --erase 0.25 --label-smoothing 0 --name wide-ls0 --runs-dir "$teachers" >/dev/null
recipe=(--arch edge-n8 --erase 0.5 --ema 0.999 --seed 1)
runs=(
    "the shipped recipe (seed 1, 60 epochs)=n8-seed1=--epochs 60"
    "100 epochs instead of 60=n8-e100-seed1=--epochs 100"
    "distillation from wide, trained with label smoothing 0.1 (weight 0.5, T 4)=n8-kd-seed1=--epochs 60 --teacher $teachers/wide"
    "distillation from wide, trained without label smoothing=n8-kd0-seed1=--epochs 60 --teacher $teachers/wide-ls0"
    "no random erasing=n8-e0-seed1=--epochs 60 --erase 0"
    "no random erasing, no label smoothing=n8-e0-ls0-seed1=--epochs 60 --erase 0 --label-smoothing 0"
)
labelled=()
for entry in "${runs[@]}"; do
    IFS== read -r label name flags <<< "$entry"
    read -ra flags <<< "$flags"
    $fmnist train "${recipe[@]}" "${flags[@]}" --name "$name" --runs-dir "$ship" >/dev/null
    [ -f "$ship/$name/export/manifest.json" ] || $fmnist export "$ship/$name" --format tflite-int8 >/dev/null
    labelled+=("$label=$ship/$name")
done
.venv/bin/python benchmarks/ablation.py --from-first --out benchmarks/results/frontier/from-ship "${labelled[@]}"
