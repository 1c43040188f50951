#!/usr/bin/env bash
# fpcheck against every sandbox scenario, one line each, with no Stripe or FirstPromoter account;
# `bash scripts/demo.sh NAME` shows that scenario's full report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/fpcheck demo "$@"
