#!/usr/bin/env bash
# Set everything up (scripts/setup.sh), check format, lint and types (scripts/check.sh), then
# run the test suite. As root on Debian it also installs Debian's chromium, the real browser the
# service's page is tested in, and the Cortex-M4 toolchain and emulator `fmnist bench mcu` is
# tested with. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
packages=()
command -v chromium >/dev/null || packages+=(chromium)
command -v qemu-system-arm >/dev/null || packages+=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)
if [ ${#packages[@]} -gt 0 ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
bash scripts/check.sh
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
