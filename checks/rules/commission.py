"""The outcome the guide is about: did FirstPromoter record a commission for this customer's payment?

A commission's `event_id` is the Stripe invoice id (subscriptions) or charge id (one-time sales);
we also accept the charge / PaymentIntent ids that paid an invoice.  A payment FirstPromoter should
count, older than its ~2 minutes, with no commission is the symptom support is asked about.
"""

from __future__ import annotations

from checks.facts import Commission, Facts
from checks.links import Dashboard
from checks.model import Evidence, Outcome, Status
from checks.registry import rule
from checks.rules.account import FP_INTEGRATION
from checks.rules.lead import lead_doubts
from checks.rules.payment import TRACKING_DELAY, counting_payments, fmt_time, payment_url, payments
from checks.rules.referral import BLOCKING, found_referral, import_events_hint


def _amount(c: Commission) -> str:
    if c.amount is None:
        return "amount unknown"
    if c.unit in (None, "cash"):
        return f"{c.amount / 100:,.2f} cash"  # FirstPromoter keeps cash amounts in cents
    return f"{c.amount} {c.unit}"


def _describe(c: Commission) -> str:
    return f"#{c.id} ({c.status or 'unknown status'}, {_amount(c)}) for {c.event_id}"


@rule(
    "fp.commission",
    title="Commission in FirstPromoter",
    order=110,
    needs=("fp.commissions", "stripe.invoices", "stripe.charges"),
)
def check(facts: Facts) -> Outcome:
    dash = Dashboard.of(facts)
    paid = payments(facts)
    commissions = tuple(facts.fp.commissions.value or ())
    by_event = {}
    for p in paid:
        for stripe_id in p.ids:
            by_event[stripe_id] = p
    matched = [c for c in commissions if c.event_id and c.event_id in by_event]
    if matched:
        return Outcome(
            status=Status.PASS,
            summary="FirstPromoter recorded commission " + "; ".join(_describe(c) for c in matched) + ".",
            evidence=tuple(
                Evidence(label="Commission", value=_describe(c), url=payment_url(dash, by_event[c.event_id]))
                for c in matched
            ),
        )

    counting = counting_payments(facts)
    if not counting:
        why = "no payment yet" if not paid else "no payment FirstPromoter would count"
        return Outcome(
            status=Status.SKIP,
            summary=f"No commission is expected: {why} (see payment.exists and payment.amount).",
        )
    old = [p for p in counting if facts.now - p.when >= TRACKING_DELAY]
    if not old:
        return Outcome(
            status=Status.SKIP,
            summary="No commission yet, but the payment is under 2 minutes old (see payment.timing).",
        )
    lookup = facts.fp.referral
    if lookup.ok and lookup.value is not None and lookup.value.referral is None:
        return Outcome(
            status=Status.SKIP,
            summary="No commission, and none can be recorded: there is no FirstPromoter referral (see fp.referral).",
        )

    latest = old[-1]
    evidence = [
        Evidence(label=f"Paid {p.kind} without commission", value=f"{p.id} on {fmt_time(p.when)}", url=payment_url(dash, p))
        for p in reversed(old[-5:])
    ]
    evidence += [Evidence(label="Other commission of this person", value=_describe(c)) for c in commissions[:5]]
    customer = latest.customer
    ref = found_referral(facts)
    state = (ref.state or "").lower() if ref else ""
    if state in BLOCKING:
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"FirstPromoter recorded no commission for {latest.label} (paid {fmt_time(latest.when)}): "
                f"expected while the referral is {state} (see fp.referral)."
            ),
            evidence=tuple(evidence),
            remediation="Fix the referral's state first (see fp.referral), then " + import_events_hint(customer) + ".",
        )
    doubts = lead_doubts(facts)
    if doubts:
        # the lead.email warning is the likelier cause; a failure here would hide it in the verdict
        return Outcome(
            status=Status.WARN,
            summary=(
                f"FirstPromoter recorded no commission for {latest.label} (paid {fmt_time(latest.when)}), "
                f"likely because {' and '.join(doubts)} (see lead.email)."
            ),
            evidence=tuple(evidence),
            remediation="Resolve the lead.email warning first, then " + import_events_hint(customer) + ".",
        )
    return Outcome(
        status=Status.FAIL,
        summary=(
            f"FirstPromoter recorded no commission for {latest.label} (paid {fmt_time(latest.when)}), although "
            "the payment counts and is older than 2 minutes."
        ),
        evidence=tuple(evidence),
        remediation=(
            f"{FP_INTEGRATION}: check that Stripe is still connected (to the right account and mode) and "
            "that its webhooks reach FirstPromoter. Then " + import_events_hint(customer) + "."
        ),
    )
