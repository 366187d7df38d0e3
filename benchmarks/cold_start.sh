#!/usr/bin/env bash
# Reproduce benchmarks/results/runtime/: in a runtime-only install (fmnist[tflite] in
# .venv-runtime: numpy, Pillow, LiteRT, no TensorFlow), the wall time and peak memory of
# `fmnist predict` as fresh processes, each paired with a bare `python -c "import numpy,
# PIL.Image"`: on examples/shirt.jpg (cold-start.json), the same through the Python API
# without the command line (cold-start-library.json), the command line's own libraries alone
# (typer and rich's console and table: cold-start-cli-libraries.json), and on a 108-megapixel
# JPEG, what a current phone takes (large-photo.json).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-runtime/bin/python ] || python3 -m venv .venv-runtime
.venv-runtime/bin/python -m pip install --quiet --upgrade pip
.venv-runtime/bin/python -m pip install --quiet --force-reinstall --no-deps . && .venv-runtime/bin/python -m pip install --quiet ".[tflite]"
mkdir -p benchmarks/results/runtime
.venv-runtime/bin/python benchmarks/time_processes.py --runs 21 --out benchmarks/results/runtime/cold-start.json \
    -- .venv-runtime/bin/fmnist predict examples/shirt.jpg
.venv-runtime/bin/python benchmarks/time_processes.py --runs 21 --out benchmarks/results/runtime/cold-start-library.json \
    -- .venv-runtime/bin/python -c \
    "from fmnist.runtime import Classifier, load_image; Classifier.load().predict(load_image('examples/shirt.jpg'))"
.venv-runtime/bin/python benchmarks/time_processes.py --runs 21 --out benchmarks/results/runtime/cold-start-cli-libraries.json \
    -- .venv-runtime/bin/python -c "import numpy, PIL.Image, typer, rich.console, rich.table"
photo=$(mktemp -d)/phone-108mp.jpg
.venv-runtime/bin/python -c "
from PIL import Image
image = Image.new('RGB', (12000, 9000), 'white')
image.paste((40, 60, 90), (3000, 1500, 9000, 7500))  # a dark garment on white, 12,000 x 9,000 pixels
image.save('$photo', quality=85)"
.venv-runtime/bin/python benchmarks/time_processes.py --runs 5 --out benchmarks/results/runtime/large-photo.json \
    -- .venv-runtime/bin/fmnist predict "$photo"
