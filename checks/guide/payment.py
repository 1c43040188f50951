"""Guide step "Payment Verification": a real payment happened, above $0.50, long enough ago, and
after the referral existed.

FirstPromoter converts a lead on `invoice.payment_succeeded` / `charge.succeeded`, but ignores
invoices with `amount_paid` 0 and charges of 0: so a trial's $0 invoice, a 100%-coupon invoice,
an empty invoice and an invoice below Stripe's minimum charge (marked paid, nothing charged)
never convert.  It needs about 2 minutes after the sale, and credits only payments made after the
referral was tracked.  What counts as a payment lives in checks/trail.py, amounts in checks/amounts.py.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from checks import money, states
from checks.amounts import judged, payment_url
from checks.facts import Facts
from checks.links import Dashboard
from checks.model import Evidence, Outcome, Status
from checks.trail import (
    TRACKING_DELAY,
    Payment,
    fmt_age,
    fmt_time,
    found_referral,
    is_trial_invoice,
    match_commissions,
    ok_items,
    other_mode_payments,
    payments,
    predates_referral,
    read_limits,
    session_paid,
    trialing_subscriptions,
)

MONEY_FACTS = ("stripe.customers", "stripe.invoices", "stripe.charges", "stripe.checkout_sessions", "stripe.guest_charges")


def ceil_minute(t: datetime) -> datetime:
    """Round up to the next whole minute, so "run again at HH:MM" is never a little too early."""
    base = t.replace(second=0, microsecond=0)
    return base if base == t else base + timedelta(minutes=1)


def _count(n: int, noun: str) -> str:
    return f"{n or 'no'} {noun}{'' if n == 1 else 's'}"


def limits_evidence(facts: Facts) -> tuple[Evidence, ...]:
    """What bounded the reads of the person's money: never to be read as "there is none"."""
    notes = read_limits(facts, *MONEY_FACTS)
    sessions = facts.stripe.checkout_sessions
    if sessions.error:
        notes.append(f"Checkout Sessions could not be read ({sessions.error}), so guest payments were not examined")
    return tuple(Evidence(label="Not examined", value=text) for text in notes)


def attempts_note(facts: Facts) -> tuple[Evidence, ...]:
    """Payment attempts hold no payment, only why one failed: not read, the rest still decides."""
    attempts = facts.stripe.payment_intents
    if not attempts.error:
        return ()
    return (Evidence(label="Not examined", value=f"payment attempts (PaymentIntents) could not be read "
                     f"({attempts.error}), so why a payment did not go through is not shown"),)


def _no_customer(facts: Facts) -> Outcome | None:
    """Skip when there is neither a Stripe customer nor a guest payment."""
    if not facts.stripe.customers.value and not any(p.guest for p in payments(facts)):
        reason = "no Stripe customer carries the email or id, and no guest Checkout payment does"
        return Outcome(status=Status.SKIP, summary=f"No Stripe customer to look for payments on ({reason}; see lead.email).")
    return None


# ---------------------------------------------------------------- payment.exists


def _story(facts: Facts, dash: Dashboard) -> tuple[list[str], list[Evidence], list[str], list[str]]:
    """What there is instead of a payment, judged by the state table (checks/states.py): phrases,
    evidence, advice, and the states fpcheck does not know (never taken for fine)."""
    phrases: list[str] = []
    ev: list[Evidence] = []
    advice: list[str] = []
    unknown: list[str] = []

    def judged(obj: str, field: str, value: object) -> states.State:
        row = states.judge(obj, field, value, "payment.exists")
        if row.effect is states.Effect.UNKNOWN:
            unknown.append(row.says)
        return row

    trialing = trialing_subscriptions(facts)
    for inv in sorted(ok_items(facts.stripe.invoices), key=lambda i: i.created):
        url = dash.invoice(inv.id, live=inv.livemode)
        for field, value in (("billing_reason", inv.billing_reason), ("collection_method", inv.collection_method)):
            if value is not None:
                judged("invoice", field, value)  # an undocumented value is named, never taken for fine
        row = judged("invoice", "status", inv.status)
        if inv.billing_reason == "upcoming":
            row = judged("invoice", "billing_reason", "upcoming")
        if row.effect is states.Effect.COUNTS and is_trial_invoice(inv, trialing):
            phrases.append(f"{money.fmt(0, inv.currency)} trial invoice {inv.id}")
        elif row.effect is not states.Effect.COUNTS:
            amount = money.fmt(inv.amount_due if inv.status in ("open", "draft") else inv.total, inv.currency)
            phrases.append(f"invoice {inv.id} for {amount} is {row.says}")
            if row.fix:
                advice.append(f"Invoice {inv.id}: {row.fix}")
        ev.append(Evidence(label=f"Invoice ({inv.status})", value=f"{inv.id} {money.fmt(inv.total, inv.currency)}", url=url))
    for sub in sorted(ok_items(facts.stripe.subscriptions), key=lambda s: s.created):
        url = dash.subscription(sub.id, live=sub.livemode)
        row = judged("subscription", "status", sub.status)
        if sub.status == "trialing":
            until = f" until {sub.trial_end.strftime('%Y-%m-%d')}" if sub.trial_end else ""
            phrases.append(f"subscription {sub.id} trialing{until}")
            advice.append(
                f"The subscription is in its trial{until}: the lead converts on the first paid invoice after it; "
                "nothing to fix now."
            )
        else:
            phrases.append(f"subscription {sub.id} {row.says if row.effect is not states.Effect.UNKNOWN else sub.status}")
            if row.effect is states.Effect.BLOCKS and row.fix:
                advice.append(f"Subscription {sub.id}: {row.fix}")
        ev.append(Evidence(label=f"Subscription ({sub.status})", value=sub.id, url=url))
    for ch in sorted(ok_items(facts.stripe.charges), key=lambda c: c.created):
        row = judged("charge", "status", ch.status)
        if row.effect is states.Effect.COUNTS:
            if ch.captured is not False and ch.amount_captured:
                continue
            row = judged("charge", "captured", False)
        why = f" ({ch.failure_message})" if ch.failure_message and ch.status == "failed" else ""
        phrases.append(f"charge {ch.id} for {money.fmt(ch.amount, ch.currency)} {row.says}{why}")
        ev.append(Evidence(label=f"Charge ({ch.status})", value=ch.id, url=dash.payment(ch.id, live=ch.livemode)))
        if row.fix:
            advice.append(f"Charge {ch.id}: {row.fix}")
    for pi in sorted(ok_items(facts.stripe.payment_intents), key=lambda i: i.created):
        row = judged("payment_intent", "status", pi.status)
        if row.effect is states.Effect.COUNTS:
            continue
        detail = ""
        if pi.error_message:
            detail = f": {pi.error_message}" + (f" ({pi.error_code})" if pi.error_code else "")
        elif pi.next_action:
            detail = f" (next action: {pi.next_action})"
        phrases.append(f"payment attempt {pi.id} for {money.fmt(pi.amount, pi.currency)} {row.says}{detail}")
        ev.append(Evidence(label=f"PaymentIntent ({pi.status})", value=pi.id + detail,
                           url=dash.payment(pi.id, live=pi.livemode)))
        if row.fix:
            advice.append(f"Payment attempt {pi.id}: {row.fix}")
    for cs in sorted(ok_items(facts.stripe.checkout_sessions), key=lambda c: c.created):
        status = judged("checkout_session", "status", cs.status)
        paid = judged("checkout_session", "payment_status", cs.payment_status)
        mode = judged("checkout_session", "mode", cs.mode)
        if session_paid(cs):
            continue
        row = next((r for r in (mode, status, paid) if r.effect is not states.Effect.COUNTS
                    and r.effect is not states.Effect.NEUTRAL), status)
        phrases.append(f"Checkout Session {cs.id} {row.says}")
        ev.append(Evidence(label=f"Checkout Session ({cs.status}, {cs.payment_status})", value=cs.id))
        if row.fix:
            advice.append(f"Checkout Session {cs.id}: {row.fix}")
    return phrases, ev, advice, list(dict.fromkeys(unknown))


def check_exists(facts: Facts) -> Outcome:
    skip = _no_customer(facts)
    if skip:
        return skip
    dash = Dashboard.of(facts)
    found = payments(facts)
    limits = limits_evidence(facts)
    who = ", ".join(c.id for c in facts.stripe.customers.value or ()) or f"{facts.query.raw} (no Stripe customer)"
    if found:
        # name the latest payment that collected money (a $0 one only when there is nothing else)
        latest = next((p for p in reversed(found) if p.paid > 0), found[-1])
        amount = money.fmt(latest.paid, latest.currency)
        zero = ", collecting nothing (see payment.amount)" if latest.paid == 0 else ""
        kinds = [
            _count(sum(1 for p in found if p.kind == "invoice"), "paid invoice"),
            _count(sum(1 for p in found if p.kind == "charge" and not p.guest), "one-time charge"),
        ]
        guests = [p for p in found if p.guest]
        if guests:
            kinds.append(_count(len(guests), "guest Checkout payment") + " with no Stripe customer (see lead.email)")
        unknown = _story(facts, dash)[3]
        odd = f" But {'; '.join(unknown)}: check them in Stripe." if unknown else ""
        return Outcome(
            status=Status.WARN if unknown else Status.PASS,
            summary=(
                f"A payment happened: {latest.label} paid {amount} on {fmt_time(latest.when)}{zero}; "
                f"{', '.join(kinds[:-1])} and {kinds[-1]} for {who}.{odd}"
            ),
            remediation="fpcheck cannot tell whether these objects count; look at them in the Stripe dashboard."
            if unknown else None,
            evidence=tuple(
                Evidence(
                    label=f"Paid {'guest payment' if p.guest else p.kind}",
                    value=f"{p.id} {money.fmt(p.paid, p.currency)} on {fmt_time(p.when)}",
                    url=payment_url(dash, p),
                )
                for p in reversed(found[-5:])
            )
            + limits,
        )
    phrases, ev, advice, unknown = _story(facts, dash)
    ev += attempts_note(facts)
    found_text = "; ".join(phrases) if phrases else "no invoices, charges or subscriptions at all"
    elsewhere = other_mode_payments(facts)
    if elsewhere:
        other = "live" if facts.stripe.key_mode == "test" else "test"
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"No real payment in {facts.stripe.key_mode} mode for {who} ({found_text}); the person paid in "
                f"{other} mode instead ({'; '.join(elsewhere[:3])}): see stripe.mode."
            ),
            evidence=tuple(ev) + limits,
            remediation="See stripe.mode: FirstPromoter tracks one mode at a time.",
            cause="stripe.mode",
        )
    if limits:
        # what was not read may hold the payment: never report "none" for it
        return Outcome(
            status=Status.WARN,
            summary=f"No payment among what was read for {who} ({found_text}); not everything was read: {limits[0].value}.",
            evidence=tuple(ev) + limits,
            remediation="Open the customer in Stripe and look at the older payments that fpcheck did not read.",
        )
    if unknown:
        return Outcome(
            status=Status.WARN,
            summary=f"No payment FirstPromoter would count for {who} ({found_text}), and {'; '.join(unknown)}.",
            evidence=tuple(ev),
            remediation="Look at these objects in the Stripe dashboard: fpcheck cannot tell whether they count. "
            + " ".join(dict.fromkeys(advice)),
        )
    if not advice:
        advice.append(
            "Check that the person actually paid, and as which Stripe customer (they may have paid under "
            "another email: see lead.email). Draft, open and upcoming invoices do not count."
        )
    return Outcome(
        status=Status.FAIL,
        summary=f"No real payment yet for {who}: {found_text}.",
        evidence=tuple(ev),
        remediation=" ".join(dict.fromkeys(advice)),
    )


# ---------------------------------------------------------------- payment.amount


def check_amount(facts: Facts) -> Outcome:
    skip = _no_customer(facts)
    if skip:
        return skip
    picked = judged(facts)
    if picked is None:
        return Outcome(status=Status.SKIP, summary="No payment to judge the amount of (see payment.exists).")
    p, verdict, found = picked
    dash = Dashboard.of(facts)
    more = f" ({len(found)} payments in all)" if len(found) > 1 else ""
    evidence = (
        Evidence(
            label=f"Judged {p.kind}",
            value=f"{p.id} {money.fmt(p.gross, p.currency)} billed, {money.fmt(p.paid, p.currency)} collected",
            url=payment_url(dash, p),
        ),
    )
    if p.settlement is not None:
        evidence += (Evidence(label="Settled", value=money.fmt(p.settlement.amount, p.settlement.currency)),)
    if p.refunded:
        evidence += (Evidence(label="Refunded", value=money.fmt(p.refunded, p.currency)),)
    credited = match_commissions(facts).get(p.id)
    if credited is not None and verdict.status is Status.WARN:
        # FirstPromoter did count it: the doubt about the amount is settled by the commission
        return Outcome(
            status=Status.PASS,
            summary=f"{verdict.summary} FirstPromoter did credit it (commission #{credited.commission.id}).",
            evidence=evidence + verdict.evidence,
        )
    return Outcome(
        status=verdict.status,
        summary=verdict.summary + (more if verdict.status is Status.PASS else ""),
        evidence=evidence + verdict.evidence,
        remediation=verdict.remediation if verdict.status in (Status.FAIL, Status.WARN) else None,
    )


# ---------------------------------------------------------------- payment.timing


def _before_referral(facts: Facts, p: Payment, evidence: tuple[Evidence, ...]) -> Outcome:
    ref = found_referral(facts)
    assert ref is not None and ref.created_at is not None
    cus = p.customer or "the Stripe customer id (cus_…)"
    by = f" ({ref.entry_source})" if ref.entry_source else ""
    if p.guest:
        fix = (
            "Import Stripe Events needs a Stripe customer, and this guest payment has none: add the commission "
            "for it by hand in FirstPromoter."
        )
    else:
        fix = (
            f"In FirstPromoter set the referral's uid to {cus} first, then use \"Import Stripe Events\" on it: that "
            "brings in payments made before the referral existed."
        )
    return Outcome(
        status=Status.FAIL,
        summary=(
            f"{p.opening} was paid on {fmt_time(p.when)}, before the FirstPromoter referral was created on "
            f"{fmt_time(ref.created_at)}{by}: FirstPromoter credits only payments made after the referral was "
            "tracked, so this sale was never going to convert on its own."
        ),
        evidence=evidence + (Evidence(label="Referral created", value=fmt_time(ref.created_at)),),
        remediation=fix,
    )


def check_timing(facts: Facts) -> Outcome:
    skip = _no_customer(facts)
    if skip:
        return skip
    picked = judged(facts)
    if picked is None:
        return Outcome(status=Status.SKIP, summary="No payment yet, so nothing to time (see payment.exists).")
    p, verdict, found = picked
    if verdict.status is Status.FAIL:
        return Outcome(
            status=Status.SKIP,
            summary="No payment FirstPromoter would count, so nothing to time (see payment.amount).",
        )
    dash = Dashboard.of(facts)
    age = facts.now - p.when
    evidence = (
        Evidence(label=f"Paid {p.kind}", value=f"{p.id} at {fmt_time(p.when)}", url=payment_url(dash, p)),
        Evidence(label="Checked at", value=fmt_time(facts.now)),
    )
    ref = found_referral(facts)
    credited = match_commissions(facts)
    if predates_referral(p, ref) and p.id not in credited:
        return _before_referral(facts, p, evidence)
    if age < TRACKING_DELAY and p.id not in credited:
        again = ceil_minute(p.when + TRACKING_DELAY)
        return Outcome(
            status=Status.WARN,
            summary=(
                f"Too early: {p.label} was paid {fmt_age(age)} ({p.when.strftime('%H:%M:%S')} UTC); FirstPromoter "
                f"needs about {math.ceil(TRACKING_DELAY.total_seconds() / 60)} minutes. Run again at "
                f"{again.strftime('%H:%M')} UTC."
            ),
            evidence=evidence,
            remediation=f"Wait, then run fpcheck again at {again.strftime('%H:%M')} UTC or later.",
        )
    earlier = [q for q in found if q is not p and predates_referral(q, ref) and q.id not in credited]
    if earlier:
        evidence += (
            Evidence(
                label="Paid before the referral existed",
                value=", ".join(f"{q.id} ({fmt_time(q.when)})" for q in earlier[-5:])
                + ": FirstPromoter does not credit these unless their Stripe events are imported",
            ),
        )
    after = f", after the referral was created ({fmt_time(ref.created_at)})" if ref and ref.created_at else ""
    return Outcome(
        status=Status.PASS,
        summary=(
            f"{p.opening} was paid on {fmt_time(p.when)}, {fmt_age(age)}{after}: more than the ~2 minutes "
            "FirstPromoter needs."
        ),
        evidence=evidence,
    )
