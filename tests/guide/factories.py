"""Small builders for a Facts snapshot by hand, and one snapshot per sandbox scenario.

Every builder takes only what a test cares about; the rest gets plausible defaults.  Times are
relative to NOW so a test reads "paid a day ago", not a timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from checks.facts import (
    CheckConfig,
    Commission,
    Facts,
    Fetch,
    FPCampaign,
    FPFacts,
    FPPerson,
    PromoterCampaign,
    Query,
    Referral,
    ReferralCampaignLink,
    ReferralLookup,
    Settlement,
    StripeAccount,
    StripeCharge,
    StripeCheckoutSession,
    StripeCoupon,
    StripeCustomer,
    StripeDiscount,
    StripeFacts,
    StripeInvoice,
    StripePromotionCode,
    StripeSubscription,
    TrackingCoupon,
)
from checks.model import Result
from checks.registry import run
from sandbox import scenarios as sc

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ACCOUNT = sc.STRIPE_ACCOUNT_ID

PROMOTERS = {  # promoter campaign id -> (promoter id, name, email)
    sc.PC_ANA: (2001, "Ana Promoter", "ana@promoters.example"),
    sc.PC_BEN: (2002, "Ben Promoter", "ben@promoters.example"),
    sc.PC_CLEO: (2003, "Cleo Promoter", "cleo@promoters.example"),
    sc.PC_DAN: (2004, "Dan Promoter", "dan@promoters.example"),
}
MAIN_CAMPAIGN = FPCampaign(id=301, name="Main Campaign")


# ---------------------------------------------------------------- Stripe objects


def customer(id: str = "cus_A", email: str | None = "a@example.com", *, live: bool = False,
             fp_uid: str | None = None, match: str = "exact", **kw: Any) -> StripeCustomer:
    metadata = {"fp_uid": fp_uid} if fp_uid else {}
    return StripeCustomer(id=id, email=email, livemode=live, created=NOW - 10 * DAY, metadata=metadata,
                          match=match, **kw)  # type: ignore[arg-type]


def coupon(id: str = "ANA20", *, name: str | None = None, percent_off: float | None = 20.0,
           amount_off: int | None = None, currency: str | None = None) -> StripeCoupon:
    return StripeCoupon(id=id, name=name, percent_off=percent_off, amount_off=amount_off, currency=currency, valid=True)


def promo(code: str, coupon_id: str, id: str | None = None) -> StripePromotionCode:
    return StripePromotionCode(id=id or f"promo_{code}", code=code, coupon_id=coupon_id)


def discount(c: StripeCoupon, promotion_code: StripePromotionCode | None = None) -> StripeDiscount:
    return StripeDiscount(id=f"di_{c.id}", coupon=c, promotion_code=promotion_code)


def invoice(id: str = "in_A", customer: str = "cus_A", *, status: str = "paid", total: int = 2900,
            subtotal: int | None = None, amount_paid: int | None = None, amount_due: int | None = None,
            currency: str = "usd", paid_ago: timedelta | None = DAY, billing_reason: str = "subscription_create",
            discounts: tuple[StripeDiscount, ...] = (), live: bool = False, subscription: str | None = None,
            charge_ids: tuple[str, ...] = (), payment_intent_ids: tuple[str, ...] = (), **extra: Any) -> StripeInvoice:
    """A paid $29.00 invoice from a day ago unless told otherwise."""
    paid = status == "paid"
    created = NOW - (paid_ago or DAY) - timedelta(minutes=1)
    return StripeInvoice(
        id=id, customer=customer, status=status, currency=currency,
        amount_due=total if amount_due is None else amount_due,
        amount_paid=(total if paid else 0) if amount_paid is None else amount_paid,
        subtotal=total if subtotal is None else subtotal, total=total,
        total_discount_amount=((subtotal or total) - total) if subtotal else 0,
        billing_reason=billing_reason, livemode=live, created=created,
        paid_at=NOW - paid_ago if paid and paid_ago is not None else None,
        subscription_id=subscription, discounts=discounts, charge_ids=charge_ids,
        payment_intent_ids=payment_intent_ids, **extra,
    )


def charge(id: str = "ch_A", customer: str = "cus_A", *, amount: int = 2900, currency: str = "usd",
           status: str = "succeeded", refunded: int = 0, ago: timedelta = DAY, live: bool = False,
           payment_intent: str | None = None, settled: tuple[int, str] | None = None,
           settlement_unread: str | None = None, **extra: Any) -> StripeCharge:
    """`extra`: any other charge field (captured, disputed, failure_message)."""
    ok = status == "succeeded"
    return StripeCharge(
        settlement=Settlement(amount=settled[0], currency=settled[1]) if settled else None,
        settlement_unread=settlement_unread,
        id=id, customer=customer, amount=amount, amount_captured=amount if ok else 0, amount_refunded=refunded,
        currency=currency, status=status, paid=ok, refunded=refunded >= amount and refunded > 0, livemode=live,
        created=NOW - ago, payment_intent=payment_intent, **extra,
    )


def session(id: str = "cs_A", *, customer: str | None = None, email: str = "a@example.com",
            amount: int = 4900, currency: str = "usd", ago: timedelta = 2 * DAY, payment_intent: str | None = "pi_G",
            metadata: dict[str, str] | None = None, client_reference_id: str | None = None,
            mode: str = "payment", payment_link: str | None = None, invoice: str | None = None) -> StripeCheckoutSession:
    """A complete, paid Checkout Session; a guest one (no customer) unless `customer` is given."""
    return StripeCheckoutSession(
        id=id, customer=customer, customer_email=email, mode=mode, status="complete", payment_status="paid",
        amount_total=amount, currency=currency, client_reference_id=client_reference_id, metadata=metadata or {},
        customer_creation="if_required", payment_intent=payment_intent, invoice=invoice, payment_link=payment_link,
        created=NOW - ago,
    )


def subscription(id: str = "sub_A", customer: str = "cus_A", *, status: str = "active",
                 trial_end: datetime | None = None, live: bool = False) -> StripeSubscription:
    return StripeSubscription(id=id, customer=customer, status=status, livemode=live, created=NOW - 2 * DAY,
                              trial_end=trial_end)


# ---------------------------------------------------------------- FirstPromoter objects


def link(pc_id: int = sc.PC_ANA) -> ReferralCampaignLink:
    pid, name, email = PROMOTERS.get(pc_id, (9000 + pc_id, f"Promoter {pc_id}", None))
    return ReferralCampaignLink(id=pc_id, campaign_id=MAIN_CAMPAIGN.id, promoter_id=pid,
                                promoter=FPPerson(id=pid, email=email, name=name), campaign=MAIN_CAMPAIGN)


def referral(email: str | None = "a@example.com", *, state: str = "signup", uid: str | None = None,
             pc: int = sc.PC_ANA, entry_source: str = "cookie", customer_since: datetime | None = None,
             id: int = 5001, created_ago: timedelta = 10 * DAY, **extra: Any) -> Referral:
    if state == "active" and customer_since is None:
        customer_since = NOW - 3 * DAY
    return Referral(id=id, email=email, uid=uid, state=state, entry_source=entry_source,
                    created_at=NOW - created_ago, customer_since=customer_since,
                    **{"fraud_check": "no_suspicion", "is_expired": False, **extra}, promoter_campaign=link(pc))


def promoter_campaign(pc_id: int, coupon: str | None) -> PromoterCampaign:
    pid, name, email = PROMOTERS.get(pc_id, (9000 + pc_id, f"Promoter {pc_id}", None))
    return PromoterCampaign(id=pc_id, campaign_id=MAIN_CAMPAIGN.id, promoter_id=pid, state="accepted",
                            coupon=coupon, promoter=FPPerson(id=pid, email=email, name=name), campaign=MAIN_CAMPAIGN)


def sandbox_campaigns() -> tuple[PromoterCampaign, ...]:
    return tuple(promoter_campaign(pc, c) for pc, c in sc.PROMOTER_CAMPAIGN_COUPONS.items())


def commission(event_id: str | None, *, id: int = 7001, status: str = "approved", amount: int = 580,
               sale_amount: int = 2900, created_ago: timedelta = DAY, referral_id: int | None = None,
               **extra: Any) -> Commission:
    return Commission(id=id, status=status, event_id=event_id, amount=amount, sale_amount=sale_amount, unit="cash",
                      created_at=NOW - created_ago, referral_id=referral_id, **extra)


# ---------------------------------------------------------------- the snapshot


_UNSET: Any = object()


def facts(
    email: str | None = "a@example.com",
    *,
    customer_id: str | None = None,
    customers: tuple[StripeCustomer, ...] | Fetch = (),
    invoices: tuple[StripeInvoice, ...] | Fetch | None = None,
    charges: tuple[StripeCharge, ...] | Fetch | None = None,
    subscriptions: tuple[StripeSubscription, ...] | Fetch | None = None,
    other_mode: tuple[StripeCustomer, ...] | Fetch | None = None,
    tracking: TrackingCoupon | Fetch | None = None,
    referral_: Referral | None | Fetch = _UNSET,
    found_by: str = "email",
    campaigns: tuple[PromoterCampaign, ...] | Fetch | None = None,
    commissions: tuple[Commission, ...] | Fetch = (),
    sessions: tuple[StripeCheckoutSession, ...] | Fetch = (),
    guest_charges: tuple[StripeCharge, ...] | Fetch = (),
    account: StripeAccount | Fetch | None = None,
    key_mode: str | None = "test",
    expected_account: str | None = ACCOUNT,
    expected_mode: str | None = "test",
    now: datetime = NOW,
) -> Facts:
    """A snapshot; by default a healthy-looking setup around `email` (expected account and mode set)."""

    def f(v: Any) -> Fetch:
        return v if isinstance(v, Fetch) else Fetch.of(v)

    def money(v: Any) -> Fetch:
        # as the gatherer does: no customer, no invoices, charges or subscriptions of theirs
        if v is None:
            return Fetch.of(())
        return f(v)

    if referral_ is _UNSET:
        referral_ = referral(email)
    if isinstance(referral_, Fetch):
        ref_fetch = referral_
    else:
        tried = ("email",) if referral_ is not None else ("email", "search")
        ref_fetch = Fetch.of(ReferralLookup(referral=referral_, found_by=found_by if referral_ else None, tried=tried))
    stripe = StripeFacts(
        key_mode=key_mode,  # type: ignore[arg-type]
        account=f(account if account is not None else StripeAccount(id=ACCOUNT, name=sc.STRIPE_ACCOUNT_NAME)),
        customers=f(customers),
        invoices=money(invoices),
        charges=money(charges),
        subscriptions=money(subscriptions),
        other_mode_customers=f(other_mode) if other_mode is not None else StripeFacts().other_mode_customers,
        tracking_coupon=f(tracking) if tracking is not None else StripeFacts().tracking_coupon,
        checkout_sessions=f(sessions),
        guest_charges=f(guest_charges),
    )
    fp = FPFacts(
        referral=ref_fetch,
        promoter_campaigns=f(campaigns if campaigns is not None else sandbox_campaigns()),
        commissions=f(commissions),
    )
    config = CheckConfig(expected_stripe_account=expected_account, expected_stripe_mode=expected_mode,  # type: ignore[arg-type]
                         other_mode_configured=other_mode is not None)
    return Facts(query=Query(raw=email or customer_id or "", email=email, customer_id=customer_id), now=now,
                 config=config, stripe=stripe, fp=fp)


def results(f: Facts) -> dict[str, Result]:
    return {r.id: r for r in run(f)}


def paid_customer(email: str = "a@example.com", cus: str = "cus_A", **kw: Any) -> dict[str, Any]:
    """Keyword arguments for `facts`: one customer with one paid $29.00 invoice a day ago."""
    return {"customers": (customer(cus, email),), "invoices": (invoice(f"in_{cus[4:]}", cus),), **kw}


# ---------------------------------------------------------------- one snapshot per sandbox scenario


def scenario_facts(name: str) -> Facts:
    """The facts the readers would gather for a sandbox scenario (sandbox/scenarios.py)."""
    if name in TRAIL_FACTS:
        return TRAIL_FACTS[name]()
    s = sc.by_name(name)
    cus_id = s.stripe_customer_id
    cus_email = s.stripe_email or s.email
    customers: tuple[StripeCustomer, ...] = ()
    invoices: tuple[StripeInvoice, ...] | None = None
    charges: tuple[StripeCharge, ...] | None = None
    subs: tuple[StripeSubscription, ...] | None = None
    other: tuple[StripeCustomer, ...] | None = ()
    tracking: TrackingCoupon | Fetch | None = None
    pc_coupon = sc.PROMOTER_CAMPAIGN_COUPONS.get(s.promoter_campaign_id)
    inv_id = f"in_{cus_id[4:]}" if cus_id else "in_none"
    ch_id = f"ch_{cus_id[4:]}" if cus_id else "ch_none"
    sub_id = f"sub_{cus_id[4:]}" if cus_id else "sub_none"

    if cus_id and s.live_only:
        other = (customer(cus_id, cus_email, live=True),)
    elif cus_id:
        match = "case_variant" if s.stripe_email else "exact"
        customers = (customer(cus_id, cus_email, match=match),)
        invoices = (invoice(inv_id, cus_id, subscription=sub_id, charge_ids=(ch_id,)),)
        charges = (charge(ch_id, cus_id, payment_intent=f"pi_{cus_id[4:]}"),)
        subs = (subscription(sub_id, cus_id),)

    if name == "one-time":
        invoices, subs = (), ()
        charges = (charge("ch_DemoOneTime01", cus_id or ""),)
    elif name == "duplicate-customers":
        customers += (customer("cus_DemoDupeUid001", s.email, fp_uid="user_7731"),)
    elif name == "no-payment":
        invoices = (invoice(inv_id, cus_id or "", status="open", subscription=sub_id),)
        charges = ()
        subs = (subscription(sub_id, cus_id or "", status="past_due"),)
    elif name == "trial":
        invoices = (invoice(inv_id, cus_id or "", total=0, subscription=sub_id),)
        charges = ()
        subs = (subscription(sub_id, cus_id or "", status="trialing", trial_end=NOW + 14 * DAY),)
    elif name == "full-coupon":
        free = coupon("FREE100", name="Free forever", percent_off=100.0)
        invoices = (invoice(inv_id, cus_id or "", total=0, subtotal=2900, discounts=(discount(free),)),)
        charges = ()
    elif name == "below-minimum":
        invoices = (invoice(inv_id, cus_id or "", total=40, amount_paid=0),)
        charges = ()
    elif name == "too-early":
        invoices = (invoice(inv_id, cus_id or "", paid_ago=timedelta(seconds=20), charge_ids=(ch_id,)),)
        charges = (charge(ch_id, cus_id or "", ago=timedelta(seconds=25)),)
    elif name == "promo-code-coupon":
        z = coupon("Z4OV52SU", name="Partner 20% off")
        p = promo("PARTNER20", "Z4OV52SU", id="promo_1Partner20")
        invoices = (invoice(inv_id, cus_id or "", total=2320, subtotal=2900, discounts=(discount(z, p),),
                            charge_ids=(ch_id,)),)
        tracking = TrackingCoupon(value="PARTNER20", coupon=None, promotion_codes=(p,))
    elif name == "shared-coupon":
        shared = coupon("SHARED10", name="Shared 10%", percent_off=10.0)
        invoices = (invoice(inv_id, cus_id or "", total=2610, subtotal=2900, discounts=(discount(shared),),
                            charge_ids=(ch_id,)),)
        tracking = TrackingCoupon(value="SHARED10", coupon=shared)
    if tracking is None and pc_coupon and s.referral:
        tracking = TrackingCoupon(value=pc_coupon, coupon=coupon(pc_coupon))
    if tracking is None:
        tracking = Fetch.not_read("the referral's promoter campaign has no tracking coupon")

    ref: Referral | None = None
    if s.referral:
        ref = referral(s.email, state=s.referral_state, uid=s.referral_uid, pc=s.promoter_campaign_id,
                       entry_source=s.entry_source)
    commissions = (commission(s.commission_event_id),) if s.commission_event_id else ()
    expected_account = s.env.get("FPCHECK_EXPECTED_STRIPE_ACCOUNT", ACCOUNT)
    return facts(
        s.email, customers=customers, invoices=invoices, charges=charges, subscriptions=subs, other_mode=other,
        tracking=tracking, referral_=ref, commissions=commissions, expected_account=expected_account,
    )


# ---------------------------------------------------------------- the scenarios shaped like real accounts
# One builder per scenario, mirroring sandbox/stripe_seed.py (TRAIL) and fp_seed.py.


def _ana() -> TrackingCoupon:
    return TrackingCoupon(value="ANA20", coupon=coupon("ANA20", name="Ana Promoter 20% off"))


def _paid(cus: str, *, ago: timedelta = DAY, **kw: Any) -> tuple[StripeInvoice, StripeCharge]:
    """A paid $29.00 subscription invoice and its charge (ids from the customer's suffix)."""
    sfx = kw.pop("sfx", cus[4:])
    inv = invoice(f"in_{sfx}", cus, paid_ago=ago, subscription=f"sub_{cus[4:]}", charge_ids=(f"ch_{sfx}",),
                  payment_intent_ids=(f"pi_{sfx}",), **kw)
    return inv, charge(f"ch_{sfx}", cus, amount=inv.amount_paid, ago=ago, payment_intent=f"pi_{sfx}",
                       settled=(inv.amount_paid, "usd"))


def _unknown_id() -> Facts:
    return facts(None, customer_id="cus_DoesNotExist123", referral_=None, tracking=Fetch.not_read("no referral"))


def _uid_customer() -> Facts:
    s = sc.by_name("uid-customer")
    own = customer("cus_DemoUidEmail01", s.email)
    other = customer("cus_DemoUidOther01", "jo.work@corp.example", match="uid")
    inv, ch = _paid(other.id, ago=2 * DAY)
    return facts(
        s.email, customers=(own, other), invoices=(inv,), charges=(ch,), subscriptions=(subscription(
            "sub_DemoUidOther01", other.id),), other_mode=(), tracking=_ana(),
        referral_=referral(s.email, state="active", uid=other.id, customer_since=NOW - 2 * DAY + timedelta(minutes=2)),
        commissions=(commission(inv.id, created_ago=2 * DAY),),
    )


def _many_customers() -> Facts:
    s = sc.by_name("many-customers")
    payer = StripeCustomer(id="cus_DemoMany000001", email=s.email, created=NOW - 30 * DAY)
    newer = tuple(StripeCustomer(id=f"cus_DemoMany{n:06d}", email=s.email, created=NOW - (30 - 4 * (n - 1)) * DAY)
                  for n in range(7, 1, -1))
    inv, ch = _paid(payer.id)
    return facts(s.email, customers=(*newer, payer), invoices=(inv,), charges=(ch,),
                 subscriptions=(subscription("sub_DemoMany000001", payer.id),), other_mode=(), tracking=_ana(),
                 referral_=referral(s.email))


def _guest_checkout() -> Facts:
    s = sc.by_name("guest-checkout")
    cs = session("cs_test_DemoGuest01", email=s.email, payment_intent="pi_DemoGuest01")
    ch = charge("ch_DemoGuest01", None, amount=4900, ago=2 * DAY, payment_intent="pi_DemoGuest01",  # type: ignore[arg-type]
                settled=(4900, "usd"))
    return facts(s.email, sessions=(cs,), guest_charges=(ch,), other_mode=(), tracking=_ana(),
                 referral_=referral(s.email))


def _paid_before_referral() -> Facts:
    s = sc.by_name("paid-before-referral")
    cid = s.stripe_customer_id or ""
    inv, ch = _paid(cid, ago=5 * DAY)
    return facts(s.email, customers=(customer(cid, s.email),), invoices=(inv,), charges=(ch,),
                 subscriptions=(subscription(f"sub_{cid[4:]}", cid),), other_mode=(), tracking=_ana(),
                 referral_=referral(s.email, entry_source="manual_admin", created_ago=2 * DAY))


def _coupon_no_referral() -> Facts:
    s = sc.by_name("coupon-no-referral")
    cid = s.stripe_customer_id or ""
    p = promo("PARTNER20", "Z4OV52SU", id="promo_DemoPartner20")
    inv, ch = _paid(cid, total=2320, subtotal=2900, discounts=(discount(coupon("Z4OV52SU", name="Partner 20% off"), p),))
    return facts(s.email, customers=(customer(cid, s.email),), invoices=(inv,), charges=(ch,),
                 subscriptions=(subscription(f"sub_{cid[4:]}", cid),), other_mode=(), referral_=None,
                 tracking=TrackingCoupon(value="PARTNER20", coupon=None, promotion_codes=(p,)))


def _fp_tid_no_referral() -> Facts:
    s = sc.by_name("fp-tid-no-referral")
    cid = s.stripe_customer_id or ""
    inv, ch = _paid(cid)
    cs = session("cs_test_DemoFpTid01", customer=cid, email=s.email, amount=2900, ago=DAY, payment_intent=None,
                 metadata={"fp_tid": "tid_demo_8f2a"}, mode="subscription", invoice=inv.id)
    return facts(s.email, customers=(customer(cid, s.email),), invoices=(inv,), charges=(ch,),
                 subscriptions=(subscription(f"sub_{cid[4:]}", cid),), sessions=(cs,), other_mode=(),
                 referral_=None, tracking=Fetch.not_read("no referral"))


def _one_time(name: str, amount: int, currency: str, settled: tuple[int, str], ago: timedelta) -> Facts:
    s = sc.by_name(name)
    cid = s.stripe_customer_id or ""
    ch = charge(f"ch_{cid[4:]}", cid, amount=amount, currency=currency, ago=ago, payment_intent=f"pi_{cid[4:]}",
                settled=settled)
    return facts(s.email, customers=(customer(cid, s.email),), invoices=(), charges=(ch,), subscriptions=(),
                 other_mode=(), tracking=_ana(), referral_=referral(s.email))


def _renewal_missed() -> Facts:
    s = sc.by_name("renewal-missed")
    cid = s.stripe_customer_id or ""
    first, ch1 = _paid(cid, ago=35 * DAY, sfx="DemoRenewal001")
    renewal, ch2 = _paid(cid, sfx="DemoRenewal002", billing_reason="subscription_cycle")
    return facts(
        s.email, customers=(customer(cid, s.email),), invoices=(renewal, first), charges=(ch2, ch1),
        subscriptions=(subscription(f"sub_{cid[4:]}", cid),), other_mode=(), tracking=_ana(),
        referral_=referral(s.email, state="active", uid=cid, customer_since=NOW - 40 * DAY, created_ago=41 * DAY),
        commissions=(commission(first.id, created_ago=35 * DAY),),
    )


def _restricted_key() -> Facts:
    s = sc.by_name("restricted-key")
    cid = s.stripe_customer_id or ""
    note = "the Stripe key lacks 'rak_coupon_read': coupon details on invoices were not read (only coupon ids)"
    inv, ch = _paid(cid, ago=2 * DAY, total=2320, subtotal=2900,
                    discounts=(StripeDiscount(id="di_DemoRestrict0101", coupon=StripeCoupon(id="ANA20")),))
    return facts(
        s.email, customers=(customer(cid, s.email),), invoices=Fetch.of((inv,), limits=(note,)), charges=(ch,),
        subscriptions=(subscription(f"sub_{cid[4:]}", cid),), other_mode=(),
        account=StripeAccount(id=ACCOUNT, source="permission_error"),
        tracking=Fetch.failed("the Stripe key lacks the 'rak_coupon_read' permission (403) — add it to the "
                              "restricted key in STRIPE_API_KEY (while looking up coupon 'ANA20')"),
        referral_=referral(s.email, state="active", uid=cid, entry_source="coupon"),
        commissions=(commission(inv.id, created_ago=2 * DAY),),
    )


# The scenarios of the state table's classes run through the stand-ins only (tests/test_scenarios.py);
# the property tests (test_state_properties.py) build those states from a healthy account here.
HTTP_ONLY = {
    "commission-denied", "commission-fraud", "paid-out-of-band", "deleted-uid-customer", "paid-other-mode",
    "other-promoter-coupon", "incomplete-subscription", "declined-payment", "checkout-expired",
}

TRAIL_FACTS: dict[str, Any] = {
    "unknown-id": _unknown_id,
    "uid-customer": _uid_customer,
    "many-customers": _many_customers,
    "guest-checkout": _guest_checkout,
    "paid-before-referral": _paid_before_referral,
    "coupon-no-referral": _coupon_no_referral,
    "fp-tid-no-referral": _fp_tid_no_referral,
    "yen-small": lambda: _one_time("yen-small", 60, "jpy", (40, "usd"), 2 * DAY),
    "exact-minimum": lambda: _one_time("exact-minimum", 50, "usd", (50, "usd"), DAY),
    "renewal-missed": _renewal_missed,
    "restricted-key": _restricted_key,
}
