"""`fpcheck demo sweep`: the real sweep against stand-ins seeded with a month of payments."""

from __future__ import annotations

import argparse
import shutil
import textwrap
from datetime import UTC, datetime

from bot.sweep_cli import exit_code, print_result, progress_bar
from checks.settings import Settings, load_settings
from checks.sweep.run import Sweeper
from checks.sweep.window import parse_window
from sandbox import scenarios as sc
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import LOST_CAUSES, seed_month
from sandbox.stripe_server import StripeStandIn


def month_settings(stripe: StripeStandIn, fp: FirstPromoterStandIn, **overrides: object) -> Settings:
    return load_settings(
        _env_file=None, stripe_api_key=sc.STRIPE_TEST_KEY, stripe_api_base=stripe.url,
        firstpromoter_api_key=sc.FP_API_KEY, firstpromoter_account_id=sc.FP_ACCOUNT_ID,
        firstpromoter_api_base=f"{fp.url}/api/v2/company", fpcheck_expected_stripe_account=sc.STRIPE_ACCOUNT_ID,
        fpcheck_expected_stripe_mode="test", **overrides,
    )


def run_demo_sweep(args: argparse.Namespace | None = None) -> int:
    """The sweep over a seeded month; `args` are the sweep's own options (--since, --from/--to, --json,
    --csv, --limit), 30 days by default."""
    as_json = bool(args and args.json)
    as_csv = bool(args and args.csv)
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    truth = seed_month(stripe, fp, invoices=400, referrals=150, commissions=80, lost=12)
    start, end = (args.start, args.end) if args else (None, None)
    since = (args.since if args else None) or (None if start or end else "30d")  # the seeded month by default
    window = parse_window(since, start, end, now=datetime.now(UTC))
    with stripe, fp:
        if not (as_json or as_csv):
            width = shutil.get_terminal_size((80, 24)).columns
            print(textwrap.fill(f"fpcheck demo sweep: Stripe stand-in at {stripe.url}, FirstPromoter stand-in at "
                                f"{fp.url}. Seeded a month: {truth.invoices} paid invoices, {truth.referrals} "
                                f"referrals, {truth.commissions} commissions, and {len(truth.lost)} lost "
                                "commissions:", width))
            for _kind, check, story in LOST_CAUSES:
                print(textwrap.fill(story, width, initial_indent=f"  {check:14} ", subsequent_indent=" " * 17))
            print()
        with progress_bar() as tick:
            result = Sweeper(month_settings(stripe, fp), limit=args.limit if args else None).run(window, progress=tick)
    print_result(result, window, UTC, as_json=as_json, as_csv=as_csv)
    return exit_code(result)
