#!/usr/bin/env bash
# Set everything up (scripts/setup.sh), check format, lint and types (scripts/check.sh), then
# run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check.sh
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
