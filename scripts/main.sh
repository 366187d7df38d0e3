#!/usr/bin/env bash
# The main job on a fresh machine: set up, get the data, train the `edge` model into
# runs/edge (printing its metrics), export it to every format (each verified against the
# Keras model), then benchmark every format against the float model and print the
# comparison table (reports in runs/edge/bench/). Rerunning resumes an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/fmnist train --arch edge "$@"
.venv/bin/fmnist export runs/edge
.venv/bin/fmnist bench runs/edge --out runs/edge/bench
