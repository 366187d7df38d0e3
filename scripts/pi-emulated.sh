#!/usr/bin/env bash
# fmnist's runtime on an emulated Raspberry Pi: Debian bookworm arm64 under qemu, Cortex-A72
# and Cortex-A76, compared with x86 (scripts/pi_emulated/ says what is checked). Installs
# qemu-user-static and mmdebstrap with apt when missing (as root, or with sudo) and sets up
# .venv like the tests. Arguments go to the check (--out DIR, --cache DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mmdebstrap >/dev/null || ! { command -v qemu-aarch64-static || command -v qemu-aarch64; } >/dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static mmdebstrap >/dev/null
fi
if ! setup=$(bash scripts/setup.sh 2>&1); then  # quiet unless it fails
    echo "$setup" >&2
    exit 1
fi
PYTHONPATH=scripts exec .venv/bin/python -m pi_emulated "$@"
