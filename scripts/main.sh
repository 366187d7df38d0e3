#!/usr/bin/env bash
# The main job on a fresh machine: set up, get the data, train the `edge` model into
# runs/edge and print its metrics. Rerunning resumes an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/fmnist train --arch edge "$@"
