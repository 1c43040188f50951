"""Was this one payment credited?  The payment watch's question, answered with the sweep's join and
the engine's per-person diagnosis.

The sale's objects are read again as they are now (the sweep's expansions, typed as the engine
reads them), turned into one `Payment` by the sweep's `build_payments`, and joined, exactly as
the sweep joins a window, against what FirstPromoter knows of that person: their referral (by
email, the customer id, the customer's `fp_uid`), the promoter campaigns' tracking coupons, and
the commissions filed under the payment's Stripe ids.  Only a candidate (a referral's payment, or
one with a tracking coupon or an `fp_tid`, that no commission names) gets the full diagnosis; a
diagnosis that finds the commission after all clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from checks.engine import Engine
from checks.model import Report, Status
from checks.sources.firstpromoter import FirstPromoterReader
from checks.sweep.events import Ref, WatchStripe
from checks.sweep.join import Payment, build_payments, join
from checks.sweep.lists import Listing
from checks.sweep.run import _query

Fate = Literal["not_a_sale", "not_a_referral", "credited", "cleared", "lost"]


@dataclass
class Judged:
    outcome: Fate
    payment: Payment | None = None
    report: Report | None = None  # the diagnosis, for "cleared" and "lost"
    matched_by: tuple[str, ...] = ()


def _referral_row(fp: FirstPromoterReader, p: Payment) -> list[dict[str, Any]]:
    uids = [u for u in (p.customer_id, p.fp_uid) if u]
    if not p.email and not uids:
        return []
    found = fp.find_referral(p.email, uids).referral
    return [found.model_dump(mode="json")] if found is not None else []


def judge(engine: Engine, stripe: WatchStripe, fp: FirstPromoterReader, refs: list[Ref],
          promoter_campaigns: list[dict[str, Any]]) -> Judged:
    """Raises SourceError when Stripe or FirstPromoter could not be read (the caller tries again)."""
    got: dict[str, Listing[Any]] = {"invoice": Listing(), "charge": Listing(), "checkout_session": Listing()}
    for ref in dict.fromkeys(refs):
        one = stripe.fetch(ref)
        if one is not None:
            got[ref[0]].extend(one)
    invoices, charges, sessions = got["invoice"].items, got["charge"].items, got["checkout_session"].items
    if not invoices:
        # a charge that paid an invoice is that invoice's sale: its own events bring it
        charges = [c for c in charges if not (c.payment_intent and stripe.invoice_paid_by(c.payment_intent))]
        if not charges:
            sessions = [s for s in sessions if not s.invoice]
    customers = {**got["invoice"].customers, **got["charge"].customers}
    payments = build_payments(invoices, charges, sessions, customers)
    if not payments:
        return Judged("not_a_sale")  # $0, refunded, or an invoice's charge
    p = payments[0]
    referrals = _referral_row(fp, p)
    first = join([p], referrals, [], promoter_campaigns)
    if not first.candidates:
        return Judged("not_a_referral", p)
    commissions = [{"event_id": c.event_id} for eid in sorted(p.event_ids) for c in fp.commissions(eid)
                   if c.event_id == eid]
    joined = join([p], referrals, commissions, promoter_campaigns)
    if not joined.candidates:
        return Judged("credited", p, matched_by=first.candidates[0].matched_by)
    cand = joined.candidates[0]
    report = engine.check(_query(p))
    outcome: Fate = "cleared" if report.verdict.status is Status.PASS else "lost"
    return Judged(outcome, p, report, cand.matched_by)
