#!/usr/bin/env bash
# Check that the exported ONNX files load and agree in an old onnxruntime.
# Usage: bash benchmarks/old_onnxruntime.sh [EXPORT_DIR] [VERSION]   (default: runs/edge/export 1.15.0)
set -euo pipefail
cd "$(dirname "$0")/.."
export_dir="${1:-runs/edge/export}"
version="${2:-1.15.0}"
venv=".venv-onnxruntime-$version"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet "onnxruntime==$version" "numpy<2"
.venv/bin/python -c "
import numpy as np; from fmnist import data
np.save('$venv/pixels.npy', data.load().x_test[..., None])"
for model in model.onnx model.int8.onnx; do
    "$venv/bin/python" -c "
import numpy as np, onnxruntime as ort
s = ort.InferenceSession('$export_dir/$model', providers=['CPUExecutionProvider'])
np.save('$venv/old.npy', s.run(None, {'pixels': np.load('$venv/pixels.npy')})[0])
print('onnxruntime', ort.__version__, end=' ')"
    .venv/bin/python -c "
import numpy as np; from fmnist.runtime.backends import open_backend
new = open_backend('$export_dir/$model')(np.load('$venv/pixels.npy')); old = np.load('$venv/old.npy')
import onnxruntime
print(f'vs {onnxruntime.__version__}: $model on 10000 test images, max |Δ logit| {np.abs(new - old).max():.2g}, '
      f'top-1 agreement {(new.argmax(1) == old.argmax(1)).mean():.2%}')"
done
