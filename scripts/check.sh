#!/usr/bin/env bash
# Format, lint and type checks (ruff and mypy, configured in pyproject.toml); fails on any
# finding. scripts/test.sh runs it first; `ruff format .` and `ruff check --fix .` fix most.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff format --check --quiet .
.venv/bin/ruff check --quiet .
.venv/bin/mypy --no-error-summary
