#!/usr/bin/env bash
# Set up (scripts/setup.sh), then lint, type-check and run the whole test suite on CPU, offline.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/pyright
.venv/bin/python -m pytest "$@"
