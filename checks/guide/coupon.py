"""Guide step "Coupon Code Tracking": the promoter campaign's tracking coupon is a Stripe Coupon id
(not a promotion code's customer-facing code), it is the coupon on the invoice, and no other
promoter campaign uses it.

Coupon tracking decides a referral that came in by coupon (`entry_source == "coupon"`); for one
that came in by cookie a coupon problem is a configuration issue worth fixing, not the reason this
sale was missed, so it is a warning there.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.advice import import_events_hint
from checks.amounts import describe_discount
from checks.campaigns import campaign_by_id, coupon_owners, still_building
from checks.facts import Facts, PromoterCampaign, Referral, StripeInvoice
from checks.fp_version import unreported
from checks.links import Dashboard
from checks.model import Evidence, Outcome, Status, decide
from checks.trail import found_referral, only_customer_id, payments, signals


def promoter_campaign(facts: Facts, ref: Referral | None) -> PromoterCampaign | None:
    if ref is None or ref.promoter_campaign is None:
        return None
    return campaign_by_id(facts, ref.promoter_campaign.id)


def campaign_name(pc: PromoterCampaign, ref: Referral | None = None) -> str:
    """"Ana Promoter's Main Campaign (promoter campaign #1001)"."""
    promoter = pc.promoter
    campaign = pc.campaign
    if ref is not None and ref.promoter_campaign is not None and ref.promoter_campaign.id == pc.id:
        promoter = promoter or ref.promoter_campaign.promoter
        campaign = campaign or ref.promoter_campaign.campaign
    who = (promoter.name or promoter.email) if promoter else None
    what = campaign.name if campaign and campaign.name else None
    if who and what:
        text = f"{who}'s {what}"
    elif who:
        text = f"{who}'s campaign"
    elif what:
        text = what
    else:
        text = "promoter campaign"
    return f"{text} (promoter campaign #{pc.id})"


def discounted_invoice(facts: Facts) -> StripeInvoice | None:
    """The latest paid invoice with a discount, else the latest invoice of any status with one."""
    paid = [p.invoice for p in reversed(payments(facts)) if p.invoice is not None and p.invoice.discounts]
    if paid:
        return paid[0]
    invoices = (facts.stripe.invoices.value or ()) if facts.stripe.invoices.ok else ()
    with_discount = sorted((i for i in invoices if i.discounts), key=lambda i: i.created, reverse=True)
    return with_discount[0] if with_discount else None


def _invoice_coupons(inv: StripeInvoice | None) -> list[str]:
    return [d.coupon.id for d in inv.discounts if d.coupon is not None] if inv else []


def _owners(facts: Facts, coupon_ids: list[str], exclude: int | None) -> list[PromoterCampaign]:
    """Other promoter campaigns whose tracking coupon is one of `coupon_ids`."""
    return coupon_owners(facts, coupon_ids, exclude)


@dataclass
class _Seen:
    """What coupon.id judges, read once: the referral, the discounted invoice, the campaign's coupon."""

    facts: Facts
    ref: Referral | None
    by_coupon: bool  # the referral came in by coupon: a coupon problem decides this sale
    inv: StripeInvoice | None
    dash: Dashboard
    evidence: list[Evidence]
    used: list[str]  # coupon ids on the invoice
    used_text: str
    pc: PromoterCampaign | None
    name: str
    tracking: str  # the campaign's tracking coupon ("" when none)

    def out(self, status: Status, summary: str, remediation: str | None = None, *more: Evidence) -> Outcome:
        return Outcome(status=status, summary=summary, evidence=(*self.evidence, *more), remediation=remediation)


def _seen(facts: Facts) -> _Seen:
    ref = found_referral(facts)
    inv = discounted_invoice(facts)
    dash = Dashboard.of(facts)
    evidence: list[Evidence] = []
    if inv is not None:
        evidence.append(Evidence(label="Invoice with a discount", value=inv.id, url=dash.invoice(inv.id, live=inv.livemode)))
        evidence += [
            Evidence(label="Invoice discount", value=describe_discount(d), url=dash.coupon(d.coupon.id, live=inv.livemode) if d.coupon else None)
            for d in inv.discounts
        ]
    # a key that may not read coupons leaves their details out: say so where coupons are judged
    evidence += [Evidence(label="Not examined", value=t) for t in facts.stripe.invoices.limits]
    pc = promoter_campaign(facts, ref)
    tracking = (pc.coupon or "").strip() if pc else ""
    name = campaign_name(pc, ref) if pc else ""
    if tracking:
        evidence.append(Evidence(label="Tracking coupon (FirstPromoter)", value=f"{tracking} on {name}"))
    return _Seen(facts, ref, ref is not None and ref.entry_source == "coupon", inv, dash, evidence,
                 _invoice_coupons(inv), ", ".join(describe_discount(d) for d in inv.discounts) if inv else "",
                 pc, name, tracking)


def _not_in_use(s: _Seen) -> Outcome | None:
    if s.by_coupon or s.inv is not None:
        return None
    how = f"the referral came in by {s.ref.entry_source}" if s.ref and s.ref.entry_source else (
        unreported(s.facts, "entry_source") or "no referral came in by coupon")
    return Outcome(status=Status.SKIP, summary=f"Coupon tracking not in use here: {how} and no invoice carries a discount.")


def _no_referral_here(s: _Seen) -> Outcome | None:
    return _without_referral(s.facts, s.evidence, s.used_text) if s.ref is None else None


def _campaign_unknown(s: _Seen) -> Outcome | None:
    if s.pc is not None:
        return None
    building = still_building(s.facts)
    if building is not None:
        return s.out(Status.SKIP, f"Not decided yet: {building.progress()}.")
    return s.out(Status.SKIP, "The referral's promoter campaign was not found in FirstPromoter, so its tracking coupon is unknown.")


def _no_tracking_coupon(s: _Seen) -> Outcome | None:
    if s.tracking or s.pc is None:
        return None
    others = _owners(s.facts, s.used, s.pc.id)
    if others:
        return s.out(
            Status.WARN,
            f"The invoice used {s.used_text}, the tracking coupon of {campaign_name(others[0])}, not of this "
            f"referral's {s.name}: FirstPromoter may credit that promoter.",
            OTHER_PROMOTER_FIX,
        )
    if s.by_coupon:
        return s.out(Status.WARN, f"The referral came in by coupon, but {s.name} has no tracking coupon set now.",
                     f"In FirstPromoter, set the Coupon Code field of {s.name} to the promoter's Stripe Coupon id.")
    return s.out(
        Status.SKIP,
        f"Coupon tracking not in use for this referral: {s.name} has no tracking coupon, and the invoice's "
        f"{s.used_text} is no promoter's tracking coupon.",
    )


def _coupon_unreadable(s: _Seen) -> Outcome | None:
    tc = s.facts.stripe.tracking_coupon
    if not tc.error:
        return None
    if tc.denied is None:
        return Outcome(status=Status.ERROR, summary=f"Could not read the tracking coupon in Stripe: {tc.error}")
    # a key without the Coupons permission: an invoice that used the coupon still proves it
    if any(u.casefold() == s.tracking.casefold() for u in s.used):
        return s.out(Status.PASS, f"Invoice {s.inv.id if s.inv else ''} used coupon {s.tracking}, the tracking coupon of "
                     f"{s.name}: a Stripe Coupon id.", None,
                     Evidence(label="Not examined", value=f"the coupon itself: {tc.error}"))
    return s.out(
        Status.WARN,
        f"Could not tell whether {s.tracking}, the tracking coupon of {s.name}, is a Stripe Coupon id: {tc.error}.",
        "Give the restricted key read access to Coupons and Promotion codes, or look the coupon up in Stripe yourself.",
    )


def _not_looked_up(s: _Seen) -> Outcome | None:
    tc = s.facts.stripe.tracking_coupon
    if tc.ok and tc.value is not None and tc.value.value == s.tracking:
        return None
    return s.out(Status.SKIP, f"The tracking coupon {s.tracking} was not looked up in Stripe ({tc.skipped or 'it was not looked up'}).")


def _not_a_coupon_id(s: _Seen) -> Outcome | None:
    found = s.facts.stripe.tracking_coupon.value
    if found is None or found.coupon is not None:
        return None
    # a coupon problem decides this sale only when coupon tracking brought the referral in
    severity = Status.FAIL if s.by_coupon else Status.WARN
    came_by = (s.ref.entry_source if s.ref else None) or "another way"
    aside = "" if s.by_coupon else f" This referral came in by {came_by}, so it is not why this sale was missed."
    if not s.by_coupon and (v1 := unreported(s.facts, "entry_source")):  # not examined: never "another way"
        aside = f" {v1}, so fpcheck cannot tell whether this is why this sale was missed."
    if not found.promotion_codes:
        return s.out(
            severity,
            f"{s.tracking}, the tracking coupon of {s.name}, is neither a Coupon id nor a promotion code in this "
            f"Stripe account ({s.facts.stripe.key_mode or 'unknown'} mode).{aside}",
            f"In Stripe, open Product catalog → Coupons and copy the id of the promoter's coupon; set it as the "
            f"Coupon Code of {s.name} in FirstPromoter.",
        )
    promo = found.promotion_codes[0]
    coupon_id = promo.coupon_id or "(unknown)"
    return s.out(
        severity,
        f"{s.tracking} is a promotion code; its Coupon id is {coupon_id} — put that in the Coupon Code "
        f"field of {s.name}. FirstPromoter matches the Coupon id, not the code customers type.{aside}",
        f"In FirstPromoter, edit {s.name} and set its Coupon Code (tracking coupon) field to {coupon_id}; "
        f"keep {promo.code} as the code the promoter shares. Then, for the sales already made, "
        + import_events_hint(only_customer_id(s.facts)) + ".",
        Evidence(label="Promotion code in Stripe", value=f"{promo.code} ({promo.id}) → coupon {coupon_id}",
                 url=s.dash.promotion_code(promo.id)),
    )


def _against_the_invoice(s: _Seen) -> Outcome | None:
    """The tracking coupon is a Coupon id: is it the one the invoice used?"""
    found = s.facts.stripe.tracking_coupon.value
    if found is None or found.coupon is None or s.pc is None:
        return None
    coupon = found.coupon
    s.evidence.append(Evidence(label="Stripe Coupon", value=f"{coupon.id}" + (f' "{coupon.name}"' if coupon.name else ""),
                               url=s.dash.coupon(coupon.id)))
    described = f"{coupon.id}" + (f' ("{coupon.name}")' if coupon.name else "")
    inv = s.inv
    if inv is None:
        return s.out(Status.PASS, f"The tracking coupon {described} of {s.name} is a Stripe Coupon id; no invoice carries "
                     "a discount to compare it with.")
    if coupon.id in s.used:
        return s.out(Status.PASS, f"Invoice {inv.id} used coupon {described}, the tracking coupon of {s.name} (a Stripe "
                     "Coupon id).")
    if s.by_coupon:
        return s.out(
            Status.FAIL,
            f"Invoice {inv.id} used {s.used_text}, but the tracking coupon of {s.name} is {described}: "
            "FirstPromoter cannot tie this sale to the promoter's coupon.",
            f"Make the promoter's checkout apply coupon {coupon.id} (through its promotion code), or set the "
            f"Coupon Code of {s.name} in FirstPromoter to the coupon the customer actually got. Then "
            + import_events_hint(only_customer_id(s.facts)) + ".",
        )
    others = _owners(s.facts, s.used, s.pc.id)
    if others:
        return s.out(
            Status.WARN,
            f"Invoice {inv.id} used {s.used_text}, the tracking coupon of {campaign_name(others[0])}, while this "
            f"referral belongs to {s.name}: FirstPromoter may credit the other promoter.",
            OTHER_PROMOTER_FIX,
        )
    if v1 := unreported(s.facts, "entry_source"):  # whether coupon tracking decides this sale is not known
        return s.out(
            Status.WARN,
            f"The tracking coupon {described} of {s.name} is a Stripe Coupon id, but invoice {inv.id} used "
            f"{s.used_text}. {v1}: if the referral came in by coupon, FirstPromoter cannot tie this sale to it.",
            f"Check in FirstPromoter whether the referral came in by coupon; if so, make the promoter's checkout "
            f"apply coupon {coupon.id}.",
        )
    return s.out(
        Status.PASS,
        f"The tracking coupon {described} of {s.name} is a Stripe Coupon id. The invoice's {s.used_text} is no "
        f"promoter's tracking coupon, and the referral came in by {(s.ref.entry_source if s.ref else None) or 'another way'}, "
        "so coupon tracking does not decide this sale.",
    )


OTHER_PROMOTER_FIX = (
    "Check with the customer which promoter sent them; move the referral or the commission in FirstPromoter if needed."
)
# coupon.id: the first case that decides, in this order
_ID_CASES = (_not_in_use, _no_referral_here, _campaign_unknown, _no_tracking_coupon, _coupon_unreadable,
             _not_looked_up, _not_a_coupon_id, _against_the_invoice)


def check_id(facts: Facts) -> Outcome:
    return decide(_ID_CASES, _seen(facts))


def check_unique(facts: Facts) -> Outcome:
    ref = found_referral(facts)
    pc = promoter_campaign(facts, ref)
    building = still_building(facts)
    if pc is None and ref is not None and building is not None:
        return Outcome(status=Status.SKIP, summary=f"Not decided yet: {building.progress()}.")
    if pc is None or not (pc.coupon or "").strip():
        why = "no referral" if ref is None else "the referral's promoter campaign has no tracking coupon"
        return Outcome(status=Status.SKIP, summary=f"No tracking coupon to check ({why}).")
    tracking = pc.coupon.strip()
    name = campaign_name(pc, ref)
    total = len(facts.fp.promoter_campaigns.value.campaigns) if facts.fp.promoter_campaigns.value else 0
    others = _owners(facts, [tracking], pc.id)
    evidence = [Evidence(label="Tracking coupon", value=f"{tracking} on {name}")]
    if not others and building is not None:  # no other owner among what was read: not proof yet
        return Outcome(
            status=Status.SKIP,
            summary=f"No other promoter campaign among the {total:,} read so far uses {tracking}, but {building.progress()}.",
            evidence=tuple(evidence),
        )
    if not others:
        return Outcome(
            status=Status.PASS,
            summary=f"The tracking coupon {tracking} belongs to {name} only (among {total} promoter campaigns).",
            evidence=tuple(evidence),
        )
    evidence += [Evidence(label="Also set on", value=f"{campaign_name(o)}: {o.coupon}") for o in others]
    inv = discounted_invoice(facts)
    decisive = (ref is not None and ref.entry_source == "coupon") or any(
        c.casefold() == tracking.casefold() for c in _invoice_coupons(inv)
    )
    listed = "; ".join(campaign_name(o) for o in others)
    v1 = None if decisive else unreported(facts, "entry_source")
    return Outcome(
        status=Status.FAIL if decisive else Status.WARN,
        summary=(
            f"The tracking coupon {tracking} is set on {len(others) + 1} promoter campaigns: {name} and {listed}. "
            "FirstPromoter cannot tell which promoter a sale with it belongs to."
            + ("" if decisive else f" {v1}, so fpcheck cannot tell whether it is why this sale was missed." if v1
               else " This referral did not come in by that coupon, so it is not why this sale was missed.")
        ),
        evidence=tuple(evidence),
        remediation=(
            "Give every promoter campaign its own Stripe coupon: create one coupon per promoter in Stripe and "
            f"set each one as the Coupon Code of one promoter campaign in FirstPromoter (change {listed}). "
            "Campaign-wide coupons cannot be used for tracking."
        ),
    )


def _without_referral(facts: Facts, evidence: list[Evidence], used_text: str) -> Outcome:
    """No referral: did the payment's coupon or promotion code belong to a promoter campaign?  That is
    how coupon tracking creates a referral, so a mismatch there is why there is none."""
    found = [s for s in signals(facts) if s.kind in ("coupon", "promotion_code")]
    codes = [s for s in found if s.kind == "promotion_code" and s.campaigns]
    if codes:
        s = codes[0]
        inv = discounted_invoice(facts)
        coupon_id = next(
            (d.coupon.id for d in (inv.discounts if inv else ()) if d.promotion_code and d.promotion_code.code == s.value and d.coupon),
            None,
        )
        names = "; ".join(campaign_name(pc) for pc in s.campaigns)
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"The payment used promotion code {s.value}, which is what the Coupon Code field of {names} holds: "
                "FirstPromoter matches the Coupon id behind a code"
                + (f" ({coupon_id})" if coupon_id else "")
                + ", not the code customers type, so coupon tracking never created a referral for this sale."
            ),
            evidence=tuple(evidence),
            remediation=(
                f"In FirstPromoter set the Coupon Code field of {names} to {coupon_id or 'the Coupon id behind the code'} "
                f"and keep {s.value} as the code the promoter shares. Then add this referral by hand under that "
                "promoter and " + import_events_hint(only_customer_id(facts)) + "."
            ),
        )
    owned = [s for s in found if s.kind == "coupon" and s.campaigns]
    if owned:
        s = owned[0]
        return Outcome(
            status=Status.PASS,
            summary=(
                f"The payment used coupon {s.value}, the tracking coupon of {campaign_name(s.campaigns[0])} (a Stripe "
                "Coupon id): coupon tracking should have created a referral (see fp.referral)."
            ),
            evidence=tuple(evidence),
        )
    building = still_building(facts)
    if found and building is not None:  # not among the campaigns read so far: not proof yet
        return Outcome(status=Status.SKIP, summary=f"Not decided yet: {building.progress()}.", evidence=tuple(evidence))
    if found:
        return Outcome(
            status=Status.SKIP,
            summary=f"No FirstPromoter referral, and the payment's {used_text or 'coupon'} is no promoter campaign's tracking coupon.",
            evidence=tuple(evidence),
        )
    return Outcome(
        status=Status.SKIP,
        summary="No FirstPromoter referral, and no payment carries a coupon: coupon tracking is not in play.",
        evidence=tuple(evidence),
    )
