#!/usr/bin/env bash
# Reproduce benchmarks/results/frontier/from-ship/: changes tried on the shipped model's recipe
# (edge-n8, seed 1, 60 epochs, random erasing, the weights' moving average), each alone:
# 100 epochs, distillation from `wide` as benchmarks/recipe.sh trains it (label smoothing 0.1),
# distillation from a `wide` trained without label smoothing, and less regularisation (no random
# erasing, with and without label smoothing), since the model fits its augmented training images
# no better than its validation images, and two architectures whose first block strides 2
# instead of being pooled (edge-s2, also with seeds 0 and 2, and edge-s2w24). Each run is exported
# to int8 TFLite and benchmarks/ablation.py tabulates float and int8 test accuracy; one bench run
# times the two architectures beside the shipped model.
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
n8=(--arch edge-n8 --ema 0.999 --seed 1)  # the shipped recipe but for its erasing, epochs and arch
runs=(
    "the shipped recipe (seed 1, 60 epochs)=n8-seed1=--epochs 60 --erase 0.5"
    "100 epochs instead of 60=n8-e100-seed1=--epochs 100 --erase 0.5"
    "distillation from wide, trained with label smoothing 0.1 (weight 0.5, T 4)=n8-kd-seed1=--epochs 60 --erase 0.5 --teacher $teachers/wide"
    "distillation from wide, trained without label smoothing=n8-kd0-seed1=--epochs 60 --erase 0.5 --teacher $teachers/wide-ls0"
    "no random erasing=n8-e0-seed1=--epochs 60 --erase 0"
    "no random erasing, no label smoothing=n8-e0-ls0-seed1=--epochs 60 --erase 0 --label-smoothing 0"
)
s2=(--epochs 60 --erase 0.5 --ema 0.999)  # the shipped recipe on the stride-2 architectures
train_and_export() {  # NAME [fmnist train options]: a finished run is kept, an exported one too
    local name=$1
    shift
    $fmnist train "$@" --name "$name" --runs-dir "$ship" >/dev/null
    [ -f "$ship/$name/export/manifest.json" ] || $fmnist export "$ship/$name" --format tflite-int8 >/dev/null
}
labelled=()
for entry in "${runs[@]}"; do
    IFS== read -r label name flags <<< "$entry"
    read -ra flags <<< "$flags"
    train_and_export "$name" "${n8[@]}" "${flags[@]}"
    labelled+=("$label=$ship/$name")
done
train_and_export s2-seed1 --arch edge-s2 "${s2[@]}" --seed 1
train_and_export s2w24-seed1 --arch edge-s2w24 "${s2[@]}" --seed 1
labelled+=(
    "a stride-2 first block, 16/32/112 channels (edge-s2)=$ship/s2-seed1"
    "a stride-2 first block, 24/32/96 channels (edge-s2w24)=$ship/s2w24-seed1"
)
.venv/bin/python benchmarks/ablation.py --from-first --out benchmarks/results/frontier/from-ship "${labelled[@]}"
# edge-s2's three seeds, as benchmarks/ship.sh trains edge-n8's
seeds=()
for seed in 0 1 2; do
    train_and_export "s2-seed$seed" --arch edge-s2 "${s2[@]}" --seed "$seed"
    seeds+=("seed $seed=$ship/s2-seed$seed")
done
.venv/bin/python benchmarks/ablation.py --spread --out benchmarks/results/frontier/from-ship/edge-s2 "${seeds[@]}"
# the architectures' int8 latency against the shipped model's, in one bench run
$fmnist bench fmnist/runtime/default_model "$ship"/s2-seed1 "$ship"/s2w24-seed1 \
    --threads 1 --batch 1 --cold-starts 0 --no-keras --out benchmarks/results/frontier/from-ship/bench >/dev/null
