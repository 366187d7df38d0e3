#!/usr/bin/env bash
# Set up fmnist on a fresh machine: a virtual environment in .venv with the package and its
# extras (FMNIST_EXTRAS, default "all"), and the Fashion-MNIST dataset.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
quietly() {  # pip's notes and warnings are printed only when it fails
    local output
    if ! output=$("$@" 2>&1); then
        echo "$output" >&2
        return 1
    fi
}
quietly .venv/bin/python -m pip install --upgrade pip
quietly .venv/bin/python -m pip install -e ".[${FMNIST_EXTRAS:-all}]"

if ! .venv/bin/fmnist data >/dev/null 2>&1; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist
    elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
        sudo apt-get update -qq
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist
    else
        .venv/bin/fmnist data download
    fi
fi
.venv/bin/fmnist data
