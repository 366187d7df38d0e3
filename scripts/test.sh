#!/usr/bin/env bash
# Set everything up (scripts/setup.sh), check format, lint and types (scripts/check.sh), then
# run the test suite. As root on Debian it also installs Debian's chromium, the real browser the
# service's page is tested in. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
bash scripts/check.sh
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
