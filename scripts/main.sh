#!/usr/bin/env bash
# The main job on a fresh machine: set up, get the data, train the `edge` model into
# runs/edge (printing its metrics), then export it to every format, each verified against
# the Keras model, and print the table of artifacts. Rerunning resumes an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/fmnist train --arch edge "$@"
.venv/bin/fmnist export runs/edge
