#!/usr/bin/env bash
# Reproduce the shipped model (fmnist/runtime/default_model) and the spread of its recipe:
# edge-n8 trained three times (seeds 0, 1, 2) for 60 epochs with random erasing and the
# weights' moving average, each exported to every format; the seed with the best validation
# accuracy (never the test set) is shipped, as int8 TFLite, int8 ONNX and float ONNX with its
# manifest and golden vectors, then gains TFLite Micro sources and the C engine. Writes
# benchmarks/results/ship/seeds.md and seeds.json. Each run takes about 15 minutes on the 2-core VM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
runs=${SHIP_RUNS:-runs/ship}
recipe=(--arch edge-n8 --epochs 60 --erase 0.5 --ema 0.999)
labelled=()
for seed in 0 1 2; do
    .venv/bin/fmnist train "${recipe[@]}" --seed "$seed" --name "n8-seed$seed" --runs-dir "$runs" >/dev/null
    .venv/bin/fmnist export "$runs/n8-seed$seed" >/dev/null
    labelled+=("seed $seed=$runs/n8-seed$seed")
done
best=$(.venv/bin/python -c '
import json, sys
print(max(sys.argv[1:], key=lambda run: json.load(open(run + "/metrics.json"))["val_accuracy"]))
' "$runs"/n8-seed{0,1,2})
.venv/bin/fmnist export "$best" --format tflite-int8,onnx,onnx-int8 --out fmnist/runtime/default_model >/dev/null
.venv/bin/fmnist export fmnist/runtime/default_model --format tflm,c >/dev/null  # from its int8 TFLite
.venv/bin/python benchmarks/ablation.py --spread --out benchmarks/results/ship "${labelled[@]}"
