"""Start the seeded Stripe and FirstPromoter stand-ins together and point the engine at them."""

from __future__ import annotations

import time
from typing import Any

from checks.settings import Settings, load_settings
from sandbox import scenarios as sc
from sandbox.fp_seed import seed_firstpromoter
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.stripe_seed import seed_stripe
from sandbox.stripe_server import StripeStandIn


class Sandbox:
    """`with Sandbox() as sb:` — both stand-ins on 127.0.0.1, seeded with every scenario."""

    def __init__(self, latency: float = 0.0, *, month: bool = False, writes: bool = False,
                 import_seconds: float = 0.0, fp: str = "v2") -> None:
        self.stripe = StripeStandIn()
        self.fp_version = fp  # "v1": the FirstPromoter v1 ("legacy") stand-in (sandbox/fp_v1_server.py)
        if fp == "v1" and (month or writes):
            raise ValueError("the month of payments and FirstPromoter's writes exist for v2 only")
        self.fp: Any = _v1_standin() if fp == "v1" else FirstPromoterStandIn()
        # `fpcheck fix` against the sandbox: FirstPromoter's write routes (sandbox/fp_writes.py), its
        # imports reading this Stripe stand-in's test mode, as FirstPromoter's integration is connected
        self.writes = None
        if writes:
            from sandbox.fp_writes import enable_writes

            self.writes = enable_writes(self.fp, self.stripe, mode="test", import_seconds=import_seconds)
        self.latency = latency
        self.month = month  # a month of payments with lost commissions (sandbox/month_seed.py), for sweeps
        self.seeded_at = 0.0

    def start(self, *, stripe_port: int = 0, fp_port: int = 0) -> Sandbox:
        self.seeded_at = time.time()
        if self.month:
            from sandbox.month_seed import seed_month

            seed_month(self.stripe, self.fp, invoices=400, referrals=150, commissions=80, lost=12)
        else:
            seed_stripe(self.stripe, now=self.seeded_at)
            if self.fp_version == "v1":
                from sandbox.fp_v1_seed import seed_firstpromoter_v1

                seed_firstpromoter_v1(self.fp, now=self.seeded_at)
            else:
                seed_firstpromoter(self.fp, now=self.seeded_at)
        self.stripe.start(stripe_port)
        try:
            self.fp.start(fp_port)
        except Exception:
            self.stripe.stop()
            raise
        self.stripe.latency = self.fp.latency = self.latency
        return self

    def refresh_stripe(self) -> None:
        """Seed the Stripe data again as of now, so a payment "seconds ago" is seconds old again."""
        self.stripe.clear_data()
        self.seeded_at = time.time()
        seed_stripe(self.stripe, now=self.seeded_at)

    def stop(self) -> None:
        self.stripe.stop()
        self.fp.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """The sandbox's settings as environment variables (what a user would put in .env)."""
        if self.fp_version == "v1":  # a legacy account: the V1 key, no V2 key or Account ID
            return {
                "STRIPE_API_KEY": sc.STRIPE_TEST_KEY,
                "STRIPE_API_BASE": self.stripe.url,
                "STRIPE_OTHER_MODE_API_KEY": sc.STRIPE_LIVE_KEY,
                "FIRSTPROMOTER_V1_API_KEY": sc.FP_V1_API_KEY,
                "FIRSTPROMOTER_V1_API_BASE": f"{self.fp.url}/api/v1",
                "FPCHECK_EXPECTED_STRIPE_ACCOUNT": sc.STRIPE_ACCOUNT_ID,
                "FPCHECK_EXPECTED_STRIPE_MODE": "test",
            }
        return {
            "STRIPE_API_KEY": sc.STRIPE_TEST_KEY,
            "STRIPE_API_BASE": self.stripe.url,
            "STRIPE_OTHER_MODE_API_KEY": sc.STRIPE_LIVE_KEY,
            "FIRSTPROMOTER_API_KEY": sc.FP_API_KEY,
            "FIRSTPROMOTER_ACCOUNT_ID": sc.FP_ACCOUNT_ID,
            "FIRSTPROMOTER_API_BASE": f"{self.fp.url}/api/v2/company",
            "FPCHECK_EXPECTED_STRIPE_ACCOUNT": sc.STRIPE_ACCOUNT_ID,
            "FPCHECK_EXPECTED_STRIPE_MODE": "test",
        }

    def settings(self, **overrides: Any) -> Settings:
        """Settings for the engine against this sandbox; overrides by field name (lower case)."""
        values: dict[str, Any] = {k.lower(): v for k, v in self.env().items()}
        values.update(overrides)
        return load_settings(_env_file=None, **values)

    def scenario_settings(self, scenario: sc.Scenario, **overrides: Any) -> Settings:
        return self.settings(**{k.lower(): v for k, v in scenario.env.items()}, **overrides)


def _v1_standin() -> Any:
    from sandbox.fp_v1_server import FirstPromoterV1StandIn

    return FirstPromoterV1StandIn()
