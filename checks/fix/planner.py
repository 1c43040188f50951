"""Report + facts → a FixPlan, or NoFix with the reason.  Pure: reads nothing, writes nothing.

The plan answers the cause the verdict names, and only when the report states a failure:
- a referral FirstPromoter cannot link to the paying customer (uid or email mismatch, letter case,
  several customers, a payment before the referral) and a missed event for the customer it already
  follows: the uid set to the payer's `cus_` id, then "Import Stripe Events";
- a guest Checkout payment (no customer to import from): a sale commission for it;
- a promotion code in the campaign's Coupon Code field: the Coupon id there instead (future sales).
Everything else stays manual (MANUAL says why), as the report's own steps describe.
"""

from __future__ import annotations

from checks import money
from checks.amounts import counting_payments
from checks.campaigns import PromoterCampaign
from checks.facts import Facts, Referral
from checks.fix.plan import Call, Candidate, Change, Expect, FixKind, FixPlan, NoFix, set_uid_plan
from checks.guide.coupon import campaign_name, promoter_campaign
from checks.model import Report, Status
from checks.trail import (
    Payment,
    blocking_state,
    campaigns_with_coupon,
    customers,
    fmt_time,
    found_referral,
    match_commissions,
    ok_items,
    old_enough,
    payments,
)

# Causes no API call should repair, and why (the report's own steps still say what to do).
MANUAL: dict[str, str] = {
    "stripe.account": "FirstPromoter is connected to another Stripe account: only reconnecting the integration "
                      "in FirstPromoter (Settings → Integrations → Stripe) fixes that; its API cannot.",
    "stripe.mode": "Live and test disagree: connecting FirstPromoter in the right mode is done in its settings, "
                   "not through its API.",
    "fp.referral": "There is no referral that can earn (none, or pending, moved or denied): creating or "
                   "approving a referral is a decision for a person in FirstPromoter.",
    "payment.exists": "There is no real payment yet (a trial, an open or unpaid invoice): nothing to credit.",
    "payment.amount": "The amount paid is one FirstPromoter does not credit (zero, $0.50 or less, paid outside "
                      "Stripe): writing a commission for it would go against its rules.",
    "coupon.unique": "The tracking coupon is on several promoters' campaigns: which promoter should own it is a "
                     "decision for a person.",
}
UID_CAUSES = ("lead.email", "lead.uid", "payment.timing", "fp.commission")


def describe(p: Payment) -> str:
    """"invoice in_… $29.00 paid 2026-11-28 10:42 UTC"."""
    return f"{p.label} {money.fmt(p.net, p.currency)} paid {fmt_time(p.when)}"


def missing_payments(facts: Facts) -> list[Payment]:
    """Payments FirstPromoter should have credited by now (they count, are past its ~2 minutes)
    and no commission names, oldest first."""
    matched = match_commissions(facts)
    return [p for p, verdict in counting_payments(facts)
            if verdict.status is Status.PASS and old_enough(facts, p) and p.id not in matched]


def plan_fix(report: Report, facts: Facts, *, customer: str | None = None, actor: str | None = None,
             settle_s: float = 120.0) -> FixPlan | NoFix:
    """The repair for `report`'s cause.  `customer`: the payer a person picked (ValueError when it is
    not one that could be); `actor`: who will apply it (named in a commission's internal note)."""
    verdict = report.verdict
    cause = verdict.check
    steps = _steps(report, cause)
    if verdict.status is not Status.FAIL or cause is None:
        return NoFix(query=report.query, cause=cause, steps=steps,
                     reason="Nothing failed: fpcheck repairs only a cause the report states as a failure.")
    if cause in MANUAL:
        return NoFix(query=report.query, cause=cause, reason=MANUAL[cause], steps=steps)
    if report.fp_api_version == "v1":
        return NoFix(query=report.query, cause=cause, steps=steps,
                     reason="This is a FirstPromoter v1 account: its API has no import_events or batch "
                            "processes, so fpcheck cannot repair it; follow the report's steps in FirstPromoter.")
    base = FixPlan(kind=FixKind.SET_UID, query=report.query, cause=cause, title="", settle_s=settle_s)
    if cause == "coupon.id":
        return _coupon(report, facts, base, steps)
    ref = found_referral(facts)
    if ref is None:
        return NoFix(query=report.query, cause=cause, steps=steps,
                     reason="There is no FirstPromoter referral to repair.")
    if (blocked := blocking_state(ref)) is not None:
        return NoFix(query=report.query, cause=cause, steps=steps,
                     reason=f"The referral is {ref.state} ({blocked.says}): FirstPromoter credits nothing in that "
                            "state, so a person decides in FirstPromoter first.")
    base = base.model_copy(update={"referral_id": ref.id, "referral_email": ref.email})
    missing = missing_payments(facts)
    guests = [p for p in missing if p.guest]
    if guests and cause in UID_CAUSES:
        return _commission(report, facts, base, ref, guests, actor, steps)
    return _uid(report, facts, base, ref, [p for p in missing if not p.guest], customer, steps)


def _steps(report: Report, cause: str | None) -> str | None:
    result = report.result(cause) if cause else None
    return result.remediation if result is not None else None


def _uid(report: Report, facts: Facts, base: FixPlan, ref: Referral, missing: list[Payment],
         customer: str | None, steps: str | None) -> FixPlan | NoFix:
    if not missing:
        why = ("FirstPromoter already recorded a commission for every payment that counts (see fp.commission: "
               "its status is decided in FirstPromoter)" if report.result("fp.commission") is not None else
               "no payment FirstPromoter should have credited is without a commission")
        if not customers(facts) and not payments(facts):
            why = ("no Stripe customer carries the referral's email, so fpcheck cannot tell who paid; find the payer "
                   "in Stripe and set the referral's uid to their cus_ id in FirstPromoter")
        return NoFix(query=report.query, cause=base.cause, steps=steps, reason=why[0].upper() + why[1:] + ".")
    deleted = {c.id for c in customers(facts) if c.deleted}
    by_payer: dict[str, list[Payment]] = {}
    for p in missing:
        if p.customer and p.customer not in deleted:
            by_payer.setdefault(p.customer, []).append(p)
    if not by_payer:
        return NoFix(query=report.query, cause=base.cause, steps=steps,
                     reason="The payments without a commission belong to no Stripe customer fpcheck can point the "
                            "referral at.")
    emails = {c.id: c.email for c in customers(facts)}
    notes: list[str] = []
    if ref.uid and not ref.uid.startswith("cus_"):
        notes.append(f"The uid {ref.uid} is replaced: anything that finds this referral by that uid (your app's "
                     "calls to FirstPromoter) will no longer find it by it.")
    base = base.model_copy(update={"notes": tuple(notes)})
    if len(by_payer) == 1:
        payer, paid = next(iter(by_payer.items()))
        if customer is not None and customer != payer:
            raise ValueError(f"{customer} is not the customer whose payments lack a commission ({payer})")
        return set_uid_plan(base, ref.id, ref.uid, payer, tuple(describe(p) for p in paid))
    candidates = tuple(Candidate(customer_id=cid, email=emails.get(cid), paid="; ".join(describe(p) for p in paid))
                       for cid, paid in by_payer.items())
    unchosen = base.model_copy(update={
        "candidates": candidates,
        "title": f"Set referral #{ref.id}'s uid to the customer who paid (pick one of {len(candidates)}), then "
                 "import its Stripe sales",
        "expect": (Expect(kind="referral_uid", id=ref.id, value=ref.uid),),
        "notes": (*notes, f"{len(candidates)} Stripe customers paid without a commission: FirstPromoter follows one "
                          "customer per referral, so a person picks which one is the referral's."),
    })
    return unchosen.choose(customer) if customer is not None else unchosen


def _commission(report: Report, facts: Facts, base: FixPlan, ref: Referral, guests: list[Payment],
                actor: str | None, steps: str | None) -> FixPlan | NoFix:
    calls: list[Call] = []
    changes: list[Change] = []
    expect: list[Expect] = []
    for p in guests:
        event = p.charge.id if p.charge is not None else (p.session.invoice if p.session else None)
        if not event:
            return NoFix(query=report.query, cause=base.cause, steps=steps,
                         reason=f"The charge behind {p.label} was not read, so fpcheck cannot name the payment a "
                                "commission would be for.")
        note = (f"Added by fpcheck for {actor or 'support'}: {p.label} ({money.fmt(p.net, p.currency)}, "
                f"{fmt_time(p.when)}) was a guest Checkout payment with no Stripe customer, so FirstPromoter "
                f"could not match it to referral #{ref.id}.")
        body = {"commission_type": "sale", "referral_id": ref.id, "sale_amount": p.net, "event_id": event,
                "event_date": p.when.date().isoformat(), "internal_note": note}
        calls.append(Call(method="POST", path="/commissions", body=body))
        changes.append(Change(what=f"sale commission for referral #{ref.id}", before=None,
                              after=f"{event} {money.fmt(p.net, p.currency)} on {p.when.date().isoformat()}"))
        expect.append(Expect(kind="no_commission", id=ref.id, event_ids=tuple(sorted(p.ids | {event}))))
    notes = ["FirstPromoter documents no duplicate check on a commission's event_id: fpcheck reads the commissions "
             "again just before adding it, and adds none if one names the payment."]
    if any(p.currency != "usd" for p in guests):
        notes.append("The sale amount is in the payment's currency's minor units; check FirstPromoter's currency.")
    return base.model_copy(update={
        "kind": FixKind.COMMISSION,
        "title": f"Add {'a sale commission' if len(guests) == 1 else f'{len(guests)} sale commissions'} for "
                 f"referral #{ref.id}'s guest Checkout payment{'s' if len(guests) > 1 else ''}",
        "changes": tuple(changes), "calls": tuple(calls), "expect": tuple(expect),
        "sales": tuple(describe(p) for p in guests), "notes": tuple(notes),
    })


def _coupon(report: Report, facts: Facts, base: FixPlan, steps: str | None) -> FixPlan | NoFix:
    tracking = facts.stripe.tracking_coupon
    seen = tracking.value if tracking.ok else None

    def none(reason: str) -> NoFix:
        return NoFix(query=report.query, cause="coupon.id", reason=reason, steps=steps)

    # (code, Coupon id) of promotion codes sitting in a Coupon Code field: the one the referral's
    # campaign holds, or one a payment used that some campaign holds (no referral came of it)
    pairs: dict[str, set[str]] = {}
    if seen is not None and seen.coupon is None:
        for promo in seen.promotion_codes:
            if promo.coupon_id:
                pairs.setdefault(seen.value, set()).add(promo.coupon_id)
    for inv in ok_items(facts.stripe.invoices):
        for d in inv.discounts:
            promo = d.promotion_code
            if promo is not None and promo.coupon_id and campaigns_with_coupon(facts, promo.code):
                pairs.setdefault(promo.code, set()).add(promo.coupon_id)
    if len(pairs) != 1:
        return none("The tracking coupon is not a promotion code in a Coupon Code field (it is another promoter's "
                    "coupon, or was not read): which coupon belongs where is a decision for a person."
                    if not pairs else "Several promotion codes are involved: a person decides which campaign gets "
                    "which Coupon id.")
    code, coupon_ids = next(iter(pairs.items()))
    if len(coupon_ids) != 1:
        return none(f"{code} is the code of promotion codes with different Coupon ids: a person picks the right one.")
    coupon_id = coupon_ids.pop()
    ref = found_referral(facts)
    pc: PromoterCampaign | None = promoter_campaign(facts, ref)
    if pc is None or (pc.coupon or "").strip() != code:
        owners = campaigns_with_coupon(facts, code)
        if len(owners) != 1:
            return none(f"{len(owners)} promoter campaigns have {code} as their Coupon Code: a person decides "
                        "which one gets the Coupon id.")
        pc = owners[0]
    name = campaign_name(pc, ref)
    lost = tuple(describe(p) for p in missing_payments(facts) if p.invoice is not None and any(
        (d.promotion_code and d.promotion_code.code == code) or (d.coupon and d.coupon.id == coupon_id)
        for d in p.invoice.discounts))
    notes = [f"This fixes future sales only: FirstPromoter does not go back over sales made with {code}."]
    if lost:
        notes.append(f"Already lost ({len(lost)}): " + "; ".join(lost) + ". Credit them by hand in FirstPromoter "
                     "if they should earn.")
    changes = [Change(what=f"Coupon Code of {name}", before=pc.coupon, after=coupon_id)]
    body: dict[str, str] = {"coupon": coupon_id}
    if not pc.display_coupon:  # the code customers type belongs in the display field
        changes.append(Change(what=f"display coupon of {name}", before=None, after=code))
        body["display_coupon"] = code
    return base.model_copy(update={
        "kind": FixKind.COUPON,
        "referral_id": ref.id if ref else None, "referral_email": ref.email if ref else None,
        "title": f"Put the Coupon id {coupon_id} in the Coupon Code field of {name} (it holds the promotion "
                 f"code {code})",
        "changes": tuple(changes),
        "calls": (Call(method="PUT", path=f"/promoter_campaigns/{pc.id}", body=body),),
        "expect": (Expect(kind="campaign_coupon", id=pc.id, value=pc.coupon),),
        "sales": lost, "notes": tuple(notes),
    })
