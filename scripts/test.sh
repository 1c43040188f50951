#!/usr/bin/env bash
# Run fpcheck's whole test suite on a fresh machine: install, lint, test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
# exit 5 means pytest collected nothing: that is a failure here, never a pass
.venv/bin/python -m pytest "$@"
