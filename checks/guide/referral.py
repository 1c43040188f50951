"""Guide premise "the referral is tracking correctly and appears as a lead": the person exists as a
FirstPromoter referral, in a state that can still convert, under a promoter and campaign.

No referral at all means nothing created one: not the tracking script (click/cookie), and not
FirstPromoter's Stripe integration either, which also creates referrals from what a payment carries
(a promoter's tracking coupon, `fp_tid` in Checkout Session or customer metadata, a Payment Link's
`client_reference_id`).  When a payment carried one of those, the cause is on that side (wrong
account or mode, a promotion code in the Coupon Code field); only when nothing points elsewhere is
the signup probably never tracked, and that is said as a likelihood.
"""

from __future__ import annotations

from checks import states
from checks.advice import ADD_BY_HAND, import_events_hint
from checks.campaigns import campaign_by_id
from checks.facts import Facts, Referral
from checks.model import Evidence, Outcome, Status
from checks.trail import Signal, blocking_state, customers, only_customer_id, payments, signals

LEAD_STATES = {"signup", "active"}


def referral_concerns(facts: Facts, ref: Referral) -> list[states.State]:
    """What may stop this referral from earning although its state can: a fraud flag, expiry, the
    promoter campaign's state; undocumented values are concerns too."""
    out = []
    judged = [("fraud_check", ref.fraud_check or "no_suspicion"), ("is_expired", bool(ref.is_expired))]
    if ref.entry_source:
        judged.append(("entry_source", ref.entry_source))
    for field, value in judged:
        row = states.judge("referral", field, value, "fp.referral")
        if row.effect in (states.Effect.OPEN, states.Effect.UNKNOWN, states.Effect.BLOCKS):
            out.append(row)
    pc = campaign_by_id(facts, ref.promoter_campaign.id) if ref.promoter_campaign is not None else None
    if pc is not None and pc.state:
        row = states.judge("promoter_campaign", "state", pc.state, "fp.referral")
        if row.effect is not states.Effect.COUNTS:
            out.append(row)
    return out



def referral_evidence(ref: Referral) -> list[Evidence]:
    ev = [Evidence(label="FirstPromoter referral", value=f"#{ref.id} {ref.email or '(no email)'}")]
    ev.append(Evidence(label="State", value=ref.state or "unknown"))
    link = ref.promoter_campaign
    if link is not None:
        promoter = link.promoter
        if promoter is not None:
            who = promoter.name or promoter.email or f"#{promoter.id}"
            if promoter.name and promoter.email:
                who = f"{promoter.name} <{promoter.email}>"
            ev.append(Evidence(label="Promoter", value=who))
        if link.campaign is not None:
            ev.append(Evidence(label="Campaign", value=link.campaign.name or f"#{link.campaign.id}"))
        ev.append(Evidence(label="Promoter campaign", value=f"#{link.id}"))
    if ref.uid:
        ev.append(Evidence(label="uid", value=ref.uid))
    if ref.entry_source:
        ev.append(Evidence(label="Came in by", value=ref.entry_source))
    if ref.created_at:
        ev.append(Evidence(label="Referral created", value=ref.created_at.strftime("%Y-%m-%d %H:%M UTC")))
    if ref.customer_since:
        ev.append(Evidence(label="Customer since", value=ref.customer_since.strftime("%Y-%m-%d %H:%M UTC")))
    if ref.fraud_check and ref.fraud_check != "no_suspicion":
        ev.append(Evidence(label="Fraud check", value=ref.fraud_check))
    if ref.is_expired:
        ev.append(Evidence(label="Expired", value="yes (FirstPromoter marks this referral as expired)"))
    return ev


def _by_whom(ref: Referral) -> str:
    link = ref.promoter_campaign
    if link is None:
        return ""
    parts = []
    if link.promoter and (link.promoter.name or link.promoter.email):
        parts.append(f"referred by {link.promoter.name or link.promoter.email}")
    if link.campaign and link.campaign.name:
        parts.append(f"in {link.campaign.name}")
    return (" " + " ".join(parts)) if parts else ""


def check_referral(facts: Facts) -> Outcome:
    lookup = facts.fp.referral.value
    assert lookup is not None  # the registry answers for a referral that was not looked up (needs)
    ref = lookup.referral
    asked = facts.query.email or facts.query.customer_id or facts.query.raw
    if ref is None:
        return _no_referral(facts, asked, lookup.tried)

    evidence = tuple(referral_evidence(ref))
    who = ref.email or f"referral #{ref.id}"
    state = (ref.state or "").lower()
    blocked = blocking_state(ref)
    if blocked is not None:
        return Outcome(
            status=Status.FAIL,
            summary=f"The FirstPromoter referral {who}{_by_whom(ref)} {blocked.says}; no sales are credited in this state.",
            evidence=evidence,
            remediation=(
                blocked.fix + " For sales made meanwhile, " + import_events_hint(only_customer_id(facts)) + "."
            ),
        )
    concerns = referral_concerns(facts, ref)
    promoter_blocked = next((c for c in concerns if c.obj == "promoter_campaign" and c.effect is states.Effect.BLOCKS), None)
    if promoter_blocked is not None:
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"The referral {who}{_by_whom(ref)} belongs to a promoter campaign that is {promoter_blocked.says} in "
                "FirstPromoter: it credits no sales to a blocked promoter."
            ),
            evidence=evidence,
            remediation=promoter_blocked.fix,
        )
    if concerns:
        def said(c: states.State) -> str:
            if c.effect is states.Effect.UNKNOWN:
                return f"{c.says} ({c.fix})"
            return f"{'its promoter campaign' if c.obj == 'promoter_campaign' else 'it'} is {c.says} ({c.fix})"

        words = "; ".join(said(c) for c in concerns)
        kind = "customer" if ref.is_customer else f"lead (state {ref.state or 'unknown'})"
        return Outcome(
            status=Status.WARN,
            summary=f"{who} is a FirstPromoter {kind}{_by_whom(ref)}, but {words}.",
            evidence=evidence,
            remediation="Review the referral in FirstPromoter (Referrals → select it). If a sale was missed, "
            + import_events_hint(only_customer_id(facts)) + ".",
        )
    if ref.is_customer:
        since = ref.customer_since.strftime("%Y-%m-%d") if ref.customer_since else ""
        return Outcome(
            status=Status.PASS,
            summary=(
                f"{who} is a FirstPromoter customer (since {since}, state {ref.state or 'unknown'})"
                f"{_by_whom(ref)}: an earlier payment converted the referral (fp.commission checks the latest one)."
            ),
            evidence=evidence,
        )
    if state in LEAD_STATES:
        return Outcome(
            status=Status.PASS,
            summary=f"{who} is a FirstPromoter lead (state {ref.state}){_by_whom(ref)}, waiting for a payment to convert.",
            evidence=evidence,
        )
    # cancelled without customer_since, subscribed, refunded, or a state we do not know
    row = states.judge("referral", "state", state, "fp.referral")
    why = (
        f"{row.says}, so it cannot tell whether it converts" if row.effect is states.Effect.UNKNOWN
        else "FirstPromoter does not document whether it converts from this state"
    )
    return Outcome(
        status=Status.WARN,
        summary=(
            f"The FirstPromoter referral {who}{_by_whom(ref)} is in state {ref.state or 'unknown'} and not a "
            f"customer; {why}."
        ),
        evidence=evidence,
        remediation=(
            f"Open the referral {who} in FirstPromoter and check its state; a lead should read Signup/Lead. "
            "If a sale was missed, " + import_events_hint(only_customer_id(facts)) + "."
        ),
    )


# ---------------------------------------------------------------- no referral



def _signal_text(s: Signal) -> str:
    what = {
        "coupon": f"coupon {s.value}",
        "promotion_code": f"promotion code {s.value}",
        "fp_tid": f"fp_tid {s.value}",
        "client_reference_id": f"client_reference_id {s.value}",
    }[s.kind]
    return f"{what} on {s.where}"


def _no_referral(facts: Facts, asked: str, tried_by: tuple[str, ...]) -> Outcome:
    tried = ", ".join(tried_by) if tried_by else "email"
    evidence = [Evidence(label="Looked up by", value=tried)]
    cus = only_customer_id(facts)
    deleted = [c for c in customers(facts) if c.deleted and c.id == facts.query.customer_id]
    if deleted and not payments(facts):
        row = states.judge("customer", "deleted", True, "lead.uid")
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"Stripe customer {deleted[0].id} {row.says} (Stripe keeps only its id), and no FirstPromoter "
                f"referral has it as its uid (looked up by {tried}): there is nothing left to match a payment to."
            ),
            evidence=tuple(evidence),
            remediation=(
                "Ask for the email the person signed up and pays with, and run fpcheck with it: a deleted "
                "customer makes no new payments, and FirstPromoter may know the person by email."
            ),
        )
    if not customers(facts) and not payments(facts):
        mode = f" in {facts.stripe.key_mode} mode" if facts.stripe.key_mode else ""
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"Nothing matches {asked}: no Stripe customer{mode} and no FirstPromoter referral (looked up by "
                f"{tried}). Most likely a typo, a customer of another Stripe account, or one in the other mode."
            ),
            evidence=tuple(evidence),
            remediation=(
                f"Check the spelling of {asked}; search for the person in the Stripe dashboard of the account "
                "FirstPromoter is connected to, in both live and test mode, and in FirstPromoter's Referrals list."
            ),
        )
    found = signals(facts)
    evidence += [Evidence(label="Payment carried", value=_signal_text(s)) for s in found]
    misfiled = [s for s in found if s.kind == "promotion_code" and s.campaigns]
    if misfiled:
        s = misfiled[0]
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"FirstPromoter has no referral for {asked}. The payment used promotion code {s.value}, which is "
                "the Coupon Code of a promoter campaign: FirstPromoter matches the Coupon id behind a code, not "
                "the code, so the coupon never created a referral (see coupon.id)."
            ),
            evidence=tuple(evidence),
            remediation="Fix the campaign's Coupon Code first (see coupon.id), then " + ADD_BY_HAND.lower()
            + import_events_hint(cus) + ".",
            cause="coupon.id",
        )
    tracked = [s for s in found if (s.kind == "coupon" and s.campaigns) or s.kind in ("fp_tid", "client_reference_id")]
    if tracked:
        s = tracked[0]
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"FirstPromoter has no referral for {asked}, although the payment carried {_signal_text(s)}, which "
                "FirstPromoter's Stripe integration creates referrals from. Most likely the integration does not "
                "see this Stripe account's events: connected to another account, in the other mode, or "
                "disconnected (see stripe.account and stripe.mode)"
                + (", or the fp_tid is not a click FirstPromoter knows" if s.kind == "fp_tid" else "")
                + "."
            ),
            evidence=tuple(evidence),
            remediation=(
                "In FirstPromoter open Settings → Integrations → Stripe and check the connected account and "
                "mode against the payment's. " + ADD_BY_HAND + import_events_hint(cus) + "."
            ),
        )
    email = facts.query.email
    spelled = (
        f" Check the spelling of {email}: FirstPromoter may know the person under another email." if email else ""
    )
    return Outcome(
        status=Status.FAIL,
        summary=(
            f"FirstPromoter has no referral for {asked} (looked up by {tried}), and the payments carry nothing "
            "FirstPromoter's Stripe integration tracks by (no promoter coupon, fp_tid or client_reference_id): "
            "the signup was probably never tracked." + spelled
        ),
        evidence=tuple(evidence),
        remediation=(
            "Check how this visitor should have been tracked: the FirstPromoter tracking script on your "
            "site (the referral call must run after the main script, with the signup's email), the fp_tid "
            "reaching Stripe (Checkout Session metadata.fp_tid, or client_reference_id on Payment Links), "
            "or, with coupon tracking, the promoter's coupon at checkout. " + ADD_BY_HAND + import_events_hint(cus) + "."
        ),
    )
