#!/usr/bin/env bash
# docs/your-model.md, as a new user runs it: TensorFlow's tutorial model trained and saved as
# my_model.keras, exported, evaluated, benchmarked and asked about a photo; then a PyTorch CNN
# (tests/models/cnn_logsoftmax.onnx, made by tests/models/make_torch.py) exported from its ONNX
# file. Each command's output goes to benchmarks/results/your-model/, with the bench reports and
# both manifests.
set -euo pipefail
cd "$(dirname "$0")/.."
out=benchmarks/results/your-model
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
fmnist=.venv/bin/fmnist
show() {  # the command as typed, then its output
    local file=$1
    shift
    { echo "\$ ${*/#$work\//}"; "$@" 2>&1 | sed "s#$work/##g"; echo; } | tee -a "$out/$file"
}
: >"$out/keras.txt"
: >"$out/onnx.txt"
(cd "$work" && "$OLDPWD/.venv/bin/python" "$OLDPWD/benchmarks/tutorial_model.py" my_model.keras) 2>&1 |
    grep -E "^(Epoch 10|Test accuracy)" -A1 | grep -v "^--" >"$out/training.txt"
show keras.txt "$fmnist" export "$work/my_model.keras"
show keras.txt "$fmnist" evaluate "$work/my_model-export"
show keras.txt "$fmnist" predict examples/shirt.jpg -m "$work/my_model-export"
show keras.txt "$fmnist" bench "$work/my_model-export" --quick --out "$out/keras-bench"
cp tests/models/cnn_logsoftmax.onnx "$work/cnn.onnx"
show onnx.txt "$fmnist" export "$work/cnn.onnx" --scaling standard
show onnx.txt "$fmnist" check "$work/cnn-export"
show onnx.txt "$fmnist" bench "$work/cnn-export" --quick --out "$out/onnx-bench"
cp "$work/my_model-export/manifest.json" "$out/keras-manifest.json"
cp "$work/cnn-export/manifest.json" "$out/onnx-manifest.json"
