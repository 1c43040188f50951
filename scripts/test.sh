#!/usr/bin/env bash
# Run fpcheck's whole test suite on a fresh machine: install, lint, test.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "scripts/test.sh: installing fpcheck and its test tools (pytest, hypothesis, jsonschema, pyyaml, ruff) into .venv" >&2
bash scripts/setup.sh
# the replica tests run against a real Redis server on 127.0.0.1 (started by the tests themselves)
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "scripts/test.sh: installing redis-server with apt-get (the replica tests start one on 127.0.0.1)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is needed for the tests: install it (Debian/Ubuntu: apt-get install redis-server)" >&2
    exit 1
  fi
fi
.venv/bin/ruff check .
# exit 5 means pytest collected nothing: that is a failure here, never a pass
.venv/bin/python -m pytest "$@"
