#!/usr/bin/env bash
# `fmnist bench mcu` of the shipped model: its C engine on an emulated Cortex-M4F (qemu
# mps2-an386), compared byte for byte with the same C on the host, with its flash, RAM and
# instructions per inference measured (fmnist/bench/mcu/ says how), beside its TFLite Micro
# export. Installs gcc-arm-none-eabi, newlib and qemu-system-arm with apt when missing (as root,
# or with sudo) and sets up .venv when it lacks fmnist. Writes benchmarks/results/mcu/ unless
# given --out DIR; other arguments go to the bench too (--board-images N, --images N, --work DIR,
# --data-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null \
    || [ "$(arm-none-eabi-gcc -print-file-name=rdimon.specs)" = rdimon.specs ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm >/dev/null
fi
if ! .venv/bin/python -c "import fmnist" 2>/dev/null && ! setup=$(bash scripts/setup.sh 2>&1); then
    echo "$setup" >&2  # quiet unless it fails
    exit 1
fi
exec .venv/bin/fmnist bench mcu fmnist/runtime/default_model --out benchmarks/results/mcu "$@"
