#!/usr/bin/env bash
# See fpcheck's real report for every sandbox scenario, with no Stripe or FirstPromoter account.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/fpcheck demo "$@"
