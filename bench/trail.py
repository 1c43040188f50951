"""How long the checks take on one person's long history: 10 to 3,000 paid invoices, each with its
charge, one report each (no network: the facts are built in memory, so this is fpcheck's own CPU).

    python bench/trail.py                 # 10, 100, 300, 1000, 3000 invoices, median of 5 runs
    python bench/trail.py --sizes 10 3000 --runs 3

Beside each size it prints the linear reference measured in the same run: the 10-invoice time
scaled to that many invoices. A ratio near 1 means the checks stay linear in the history.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checks import registry  # noqa: E402
from checks.facts import (  # noqa: E402
    CheckConfig,
    Commission,
    Facts,
    Fetch,
    FPFacts,
    Query,
    Referral,
    ReferralLookup,
    StripeAccount,
    StripeCharge,
    StripeCustomer,
    StripeFacts,
    StripeInvoice,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def history(n: int) -> Facts:
    """A customer paying $29.00 a day for `n` days, every invoice credited."""
    invoices, charges, commissions = [], [], []
    for i in range(n):
        paid = NOW - timedelta(days=n - i)
        invoices.append(StripeInvoice(id=f"in_{i}", customer="cus_A", status="paid", currency="usd", amount_due=2900,
                                      amount_paid=2900, subtotal=2900, total=2900, created=paid, paid_at=paid,
                                      billing_reason="subscription_cycle", charge_ids=(f"ch_{i}",),
                                      payment_intent_ids=(f"pi_{i}",)))
        charges.append(StripeCharge(id=f"ch_{i}", customer="cus_A", amount=2900, amount_captured=2900, currency="usd",
                                    status="succeeded", paid=True, created=paid, payment_intent=f"pi_{i}"))
        commissions.append(Commission(id=i + 1, status="approved", event_id=f"in_{i}", amount=580, sale_amount=2900,
                                      unit="cash", created_at=paid + timedelta(minutes=2), referral_id=1))
    ref = Referral(id=1, email="a@example.com", uid="cus_A", state="active", entry_source="cookie",
                   created_at=NOW - timedelta(days=n + 1), customer_since=NOW - timedelta(days=n))
    return Facts(
        query=Query(raw="a@example.com", email="a@example.com"), now=NOW,
        config=CheckConfig(expected_stripe_account="acct_1", expected_stripe_mode="test"),
        stripe=StripeFacts(key_mode="test", account=Fetch.of(StripeAccount(id="acct_1")),
                           customers=Fetch.of((StripeCustomer(id="cus_A", email="a@example.com", created=NOW),)),
                           invoices=Fetch.of(tuple(reversed(invoices))), charges=Fetch.of(tuple(reversed(charges))),
                           subscriptions=Fetch.of(()), payment_intents=Fetch.of(()), checkout_sessions=Fetch.of(()),
                           guest_charges=Fetch.of(())),
        fp=FPFacts(referral=Fetch.of(ReferralLookup(referral=ref, found_by="email")), promoter_campaigns=Fetch.of(()),
                   commissions=Fetch.of(tuple(commissions))),
    )


def timed(n: int, runs: int) -> float:
    samples = []
    for _ in range(runs):
        facts = history(n)  # a new snapshot each run: nothing derived is carried over
        started = time.perf_counter()
        results = registry.run(facts)
        samples.append(time.perf_counter() - started)
        assert results[-1].status.value == "pass", results[-1].summary
    return statistics.median(samples)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 300, 1000, 3000])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    registry.all_checks()
    timed(10, 1)  # warm imports
    base = timed(10, args.runs) / 10
    print(f"one report, every check; median of {args.runs}; linear reference = the 10-invoice time per invoice")
    print(f"{'invoices':>9} {'report':>10} {'per invoice':>12} {'linear ref':>11} {'ratio':>6}")
    for n in args.sizes:
        t = timed(n, args.runs)
        print(f"{n:>9} {t * 1000:>8.1f} ms {t / n * 1e6:>9.0f} µs {base * n * 1000:>8.1f} ms {t / (base * n):>6.2f}")


if __name__ == "__main__":
    main()
