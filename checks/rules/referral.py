"""Guide premise "the referral is tracking correctly and appears as a lead": the person exists as a
FirstPromoter referral, in a state that can still convert, under a promoter and campaign.

No referral at all means the click/cookie (or coupon) tracking never created one: the Stripe
integration cannot convert a lead that does not exist.
"""

from __future__ import annotations

from checks.facts import Facts, Referral
from checks.model import Evidence, Outcome, Status
from checks.registry import rule

# States in which FirstPromoter credits no sales (HC 8975249); "disabled" in case it shows up as such.
BLOCKING = {
    "pending": "is waiting for an admin's approval (state pending); sales are not credited until it is approved",
    "denied": "was denied (state denied); no sales are tracked for it",
    "moved": "was moved to another promoter or campaign (state moved); this record no longer collects sales",
    "disabled": "is disabled; no further sales are tracked and no rewards assigned",
}
_BLOCKING_FIX = {
    "pending": "In FirstPromoter open Referrals, find {who} and approve it.",
    "denied": "If the denial was a mistake, enable the referral again in FirstPromoter (Referrals → select it → Enable).",
    "moved": "Look for the referral's new record under the promoter or campaign it was moved to, and check that one.",
    "disabled": "If it should earn commissions again, enable the referral in FirstPromoter (Referrals → select it → Enable).",
}
LEAD_STATES = {"signup", "active"}


def import_events_hint(customer_id: str | None) -> str:
    """The guide's fix for a sale FirstPromoter missed.  A suggestion only: fpcheck never writes."""
    cus = customer_id or "the Stripe customer id (cus_…)"
    return f'set the referral\'s uid to {cus} in FirstPromoter and use "Import Stripe Events" on it to bring in the missed sales'


def found_referral(facts: Facts) -> Referral | None:
    """The referral, when the lookup worked and found one."""
    fetched = facts.fp.referral
    return fetched.value.referral if fetched.ok and fetched.value else None


def only_customer_id(facts: Facts) -> str | None:
    """The Stripe customer id when exactly one customer was found (for concrete advice)."""
    customers = facts.stripe.customers.value if facts.stripe.customers.ok else None
    return customers[0].id if customers and len(customers) == 1 else None


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


@rule(
    "fp.referral",
    title="FirstPromoter referral",
    order=30,
    needs=("fp.referral",),
)
def check(facts: Facts) -> Outcome:
    fetched = facts.fp.referral
    if fetched.value is None:
        return Outcome(status=Status.SKIP, summary=f"The referral was not looked up: {fetched.skipped or 'unknown'}.")
    lookup = fetched.value
    ref = lookup.referral
    asked = facts.query.email or facts.query.customer_id or facts.query.raw
    if ref is None:
        tried = ", ".join(lookup.tried) if lookup.tried else "email"
        cus = only_customer_id(facts)
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"FirstPromoter has no referral for {asked} (looked up by {tried}): the signup was never "
                "tracked. Click/cookie tracking failed, not the Stripe integration."
            ),
            evidence=(Evidence(label="Looked up by", value=tried),),
            remediation=(
                "Check how this visitor should have been tracked: the FirstPromoter tracking script on your "
                "site (the referral call must run after the main script, with the signup's email), the fp_tid "
                "reaching Stripe (Checkout Session metadata.fp_tid, or client_reference_id on Payment Links), "
                "or, with coupon tracking, the promoter's coupon at checkout. To credit this sale now, add the "
                "referral by hand in FirstPromoter under the right promoter, then "
                + import_events_hint(cus)
                + "."
            ),
        )

    evidence = tuple(referral_evidence(ref))
    who = ref.email or f"referral #{ref.id}"
    state = (ref.state or "").lower()
    if state in BLOCKING:
        return Outcome(
            status=Status.FAIL,
            summary=f"The FirstPromoter referral {who}{_by_whom(ref)} {BLOCKING[state]}.",
            evidence=evidence,
            remediation=(
                _BLOCKING_FIX[state].format(who=who)
                + " For sales made meanwhile, "
                + import_events_hint(only_customer_id(facts))
                + "."
            ),
        )
    if ref.is_customer:
        since = ref.customer_since.strftime("%Y-%m-%d") if ref.customer_since else ""
        return Outcome(
            status=Status.PASS,
            summary=(
                f"{who} is already a FirstPromoter customer (since {since}, state {ref.state or 'unknown'})"
                f"{_by_whom(ref)}: the conversion worked, nothing to fix here."
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
    return Outcome(
        status=Status.WARN,
        summary=(
            f"The FirstPromoter referral {who}{_by_whom(ref)} is in state {ref.state or 'unknown'} and not a "
            "customer; FirstPromoter does not document whether it converts from this state."
        ),
        evidence=evidence,
        remediation=(
            f"Open the referral {who} in FirstPromoter and check its state; a lead should read Signup/Lead. "
            "If a sale was missed, " + import_events_hint(only_customer_id(facts)) + "."
        ),
    )
