#!/usr/bin/env bash
# Lint, format check and type check; `make test` runs this before the test suite (ruff.toml, mypy.ini).
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
ruff format --check .
mypy
