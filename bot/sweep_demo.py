"""`fpcheck demo sweep`: the real sweep against stand-ins seeded with a month of payments."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.sweep_cli import exit_code, progress_bar, render
from checks.settings import Settings, load_settings
from checks.sweep.run import Sweeper
from checks.sweep.window import parse_since
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


def run_demo_sweep(as_json: bool = False) -> int:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    truth = seed_month(stripe, fp, invoices=400, referrals=150, commissions=80, lost=12)
    with stripe, fp:
        window = parse_since("30d", datetime.now(UTC))
        if not as_json:
            print(f"fpcheck demo sweep: Stripe stand-in at {stripe.url}, FirstPromoter stand-in at {fp.url}")
            print(f"Seeded a month: {truth.invoices} paid invoices, {truth.referrals} referrals, "
                  f"{truth.commissions} commissions, and {len(truth.lost)} lost commissions:")
            for _kind, check, story in LOST_CAUSES:
                print(f"  {check:14} {story}")
            print()
        with progress_bar() as tick:
            result = Sweeper(month_settings(stripe, fp)).run(window, progress=tick)
    if as_json:
        print(json.dumps(result.to_json_dict()))
    else:
        print(render(result, window, UTC))
    return exit_code(result)
