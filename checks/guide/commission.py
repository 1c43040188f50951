"""The outcome the guide is about: did FirstPromoter record a commission for the person's latest payment?

A commission's `event_id` is the Stripe invoice id (subscriptions) or charge id (one-time sales);
a payment is matched by every id it has, then by the referral's commissions around its date
(checks/trail.py says how).  A payment FirstPromoter should count, older than its ~2 minutes, with no
commission is the symptom support is asked about: it always fails here, and the summary names the
likeliest cause the other checks found (the verdict then names that check).
"""

from __future__ import annotations

from dataclasses import dataclass

from checks import states
from checks.advice import FP_INTEGRATION, import_events_hint
from checks.amounts import counting_payments, payment_url
from checks.facts import Commission, Facts
from checks.fp_version import unreported
from checks.links import Dashboard
from checks.model import Evidence, Outcome, Status, decide
from checks.trail import (
    CommissionMatch,
    Payment,
    blocking_state,
    describe_commission,
    fmt_time,
    found_referral,
    lead_doubts,
    match_commissions,
    no_referral,
    ok_items,
    old_enough,
    payments,
    predates_referral,
)


def commission_doubt(c: Commission) -> tuple[Status, str, str] | None:
    """Why a recorded commission earns nothing, judged by its status, fraud flag and amount
    (checks/states.py): (status, words, fix), or None when it earns."""
    status = states.judge("commission", "status", c.status, "fp.commission")
    if status.effect is states.Effect.BLOCKS:
        return Status.FAIL, f"it was {status.says}: a {status.says} commission earns nothing", status.fix
    if status.effect is states.Effect.UNKNOWN:
        return Status.FAIL, f"{status.says}, so it cannot tell whether it earns", status.fix
    fraud = states.judge("commission", "fraud_check", c.fraud_check or "no_suspicion", "fp.commission")
    if fraud.effect in (states.Effect.OPEN, states.Effect.UNKNOWN) and c.status != "approved":
        what = fraud.says if fraud.effect is states.Effect.UNKNOWN else f"{fraud.says} ({c.fraud_check})"
        return (Status.FAIL, f"it is {c.status or 'not approved'} and {what}: a flagged commission is held for "
                "review and may be denied, and FirstPromoter does not document what happens to it", fraud.fix)
    if c.amount == 0:
        row = states.judge("commission", "amount", "0", "fp.commission")
        return Status.FAIL, f"it has {row.says}: the promoter earns nothing for this sale", row.fix
    return None


@dataclass
class _Missing:
    """The latest payment FirstPromoter should have credited and did not, with what explains it."""

    facts: Facts
    latest: Payment
    amount: Outcome  # payment.amount's judgement of it
    paid: list[Payment]
    matches: dict[str, CommissionMatch]
    evidence: tuple[Evidence, ...]

    @property
    def customer(self) -> str | None:
        return self.latest.customer

    def fail(self, why: str, fix: str, cause: str | None = None, fallback: bool = False) -> Outcome:
        missing = f"FirstPromoter recorded no commission for {self.latest.label} (paid {fmt_time(self.latest.when)})"
        return Outcome(status=Status.FAIL, summary=f"{missing}, {why}", evidence=self.evidence, remediation=fix,
                       cause=cause, symptom=missing, fallback=fallback)


def _referral_blocked(m: _Missing) -> Outcome | None:
    blocked = blocking_state(found_referral(m.facts))
    if blocked is None:
        return None
    return m.fail(f"as expected while the referral {blocked.says} (see fp.referral).",
                  "Fix the referral's state first (see fp.referral), then " + import_events_hint(m.customer) + ".",
                  "fp.referral")


def _before_the_referral(m: _Missing) -> Outcome | None:
    if not predates_referral(m.latest, found_referral(m.facts)):
        return None
    return m.fail("as expected: it was paid before the referral existed (see payment.timing).",
                  "See payment.timing: import the Stripe events once the referral's uid is the customer id.",
                  "payment.timing")


def _a_guest(m: _Missing) -> Outcome | None:
    if not m.latest.guest:
        return None
    return m.fail("because it was a guest payment with no Stripe customer to match to the lead (see lead.email).",
                  "See lead.email: add the commission by hand, and make checkout create customers.", "lead.email")


def _its_amount(m: _Missing) -> Outcome | None:
    if m.amount.status is not Status.WARN:
        return None
    return m.fail(f"possibly because of its amount (see payment.amount): {m.amount.summary}",
                  (m.amount.remediation or "See payment.amount.") + " If the amount is not the reason, "
                  + import_events_hint(m.customer) + ".", "payment.amount")


def _the_lead(m: _Missing) -> Outcome | None:
    doubts = lead_doubts(m.facts, m.customer)
    if not doubts:
        return None
    return m.fail(f"most likely because {' and '.join(doubts)} (see lead.email).",
                  "Resolve the lead.email warning first, then " + import_events_hint(m.customer) + ".", "lead.email")


def _earlier_ones_credited(m: _Missing) -> Outcome | None:
    credited = [p for p in m.paid if p.id in m.matches and p.when < m.latest.when]
    if not credited:
        return None
    followed = {p.customer for p in credited if p.customer}
    if m.customer and followed and m.customer not in followed:
        return m.fail(
            f"while it credited earlier payments of {', '.join(sorted(followed))}: after the first payment "
            f"FirstPromoter follows that customer id, and this payment came from {m.customer}.",
            f"Make {m.customer} part of the referral: put the referral's uid in its metadata as fp_uid, or "
            + import_events_hint(m.customer) + ".",
        )
    return m.fail(
        f"although it credited earlier payments of the same customer ({', '.join(p.id for p in credited[-3:])}) "
        "and this one counts: most likely the Stripe event for it never reached FirstPromoter (the integration "
        "was disconnected or reconnected to another account or mode since, or a webhook failed).",
        f"{FP_INTEGRATION}: check that Stripe is still connected, to the right account and mode. Then "
        + import_events_hint(m.customer) + ".",
        fallback=True,
    )


def _not_received(m: _Missing) -> Outcome | None:
    """Nothing else explains it; checks/reconcile.py replaces this when another check failed or warned."""
    return m.fail(
        "although the payment counts and is older than 2 minutes: most likely FirstPromoter's Stripe integration "
        "did not receive it (not connected, connected to another account or mode, or its webhooks fail).",
        f"{FP_INTEGRATION}: check that Stripe is still connected (to the right account and mode) and that its "
        "webhooks reach FirstPromoter. Then " + import_events_hint(m.customer) + ".",
        fallback=True,
    )


# why a commission is missing: the first case that explains it, in this order
_MISSING_CASES = (_referral_blocked, _before_the_referral, _a_guest, _its_amount, _the_lead, _earlier_ones_credited,
                  _not_received)


def _recorded(latest: Payment, m: CommissionMatch, missed: list[Payment], evidence: tuple[Evidence, ...],
              fraud_unreported: str | None = None) -> Outcome:
    older = f" ({len(missed)} earlier payment(s) have none: see the evidence)" if missed else ""
    recorded = (
        f"FirstPromoter recorded commission {describe_commission(m.commission, event=False)} for the latest "
        f"payment, {latest.label} ({m.how})"
    )
    doubt = commission_doubt(m.commission)
    if doubt is not None:
        status, why, fix = doubt
        return Outcome(status=status, summary=f"{recorded}, but {why}{older}.", evidence=evidence,
                       remediation=fix, cause="fp.commission" if status is Status.FAIL else None)
    if fraud_unreported and m.commission.fraud_check is None and m.commission.status != "approved":
        return Outcome(status=Status.WARN, evidence=evidence, summary=(
            f"{recorded}, but it is {m.commission.status or 'not approved'}: {fraud_unreported}, so fpcheck cannot "
            f"tell whether it is held for review{older}."),
            remediation="Open the reward in FirstPromoter to see whether it is flagged; approve or deny it there.")
    flag = states.judge("commission", "fraud_check", m.commission.fraud_check or "no_suspicion", "fp.commission")
    flagged = f"; it was {flag.says} ({m.commission.fraud_check}) and approved since" if flag.effect is states.Effect.OPEN else ""
    return Outcome(status=Status.PASS, summary=f"{recorded}{flagged}{older}.", evidence=evidence)


def check_commission(facts: Facts) -> Outcome:
    dash = Dashboard.of(facts)
    paid = payments(facts)
    matches = match_commissions(facts)
    evidence = [
        Evidence(label="Commission", value=f"{describe_commission(m.commission)}: {m.how}", url=payment_url(dash, p))
        for p in reversed(paid) if (m := matches.get(p.id)) is not None
    ][:5]
    counting = counting_payments(facts)
    if not counting:
        why = "no payment yet" if not paid else "no payment FirstPromoter would count"
        return Outcome(status=Status.SKIP, evidence=tuple(evidence),
                       summary=f"No commission is expected: {why} (see payment.exists and payment.amount).")
    old = [(p, v) for p, v in counting if old_enough(facts, p)]
    if not old:
        return Outcome(status=Status.SKIP, summary="No commission yet, but the payment is under 2 minutes old (see payment.timing).")
    latest, amount = old[-1]
    missed = [p for p, _ in old if p.id not in matches]
    evidence += [
        Evidence(label=f"Paid {p.kind} without commission", value=f"{p.id} on {fmt_time(p.when)}", url=payment_url(dash, p))
        for p in reversed(missed[-5:])
    ]
    used = {m.commission.id for m in matches.values()}
    evidence += [
        Evidence(label="Other commission of this person", value=describe_commission(c))
        for c in ok_items(facts.fp.commissions) if c.id not in used
    ][:5]
    if latest.id in matches:
        return _recorded(latest, matches[latest.id], missed, tuple(evidence),
                         unreported(facts, "commission.fraud_check"))
    if no_referral(facts):
        return Outcome(status=Status.SKIP, evidence=tuple(evidence),
                       summary="No commission, and none can be recorded: there is no FirstPromoter referral (see fp.referral).")
    missing = _Missing(facts, latest, amount, paid, matches, tuple(evidence))
    return decide(_MISSING_CASES, missing)
