"""The Stripe side of every sandbox scenario (sandbox/scenarios.py), relative to `now`.

Each scenario's customer gets the objects its story needs; scenarios whose story is about
FirstPromoter only get a normal paid subscription invoice a day or more ago.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sandbox import scenarios as sc
from sandbox.stripe_server import DAY, Mode, StripeStandIn

HOUR = 3600

# The tracking coupons promoters use (scenarios.PROMOTER_CAMPAIGN_COUPONS) and the coupons behind them.
PROMO_PARTNER20 = "promo_DemoPartner20"  # code PARTNER20 -> coupon Z4OV52SU


def _suffix(customer_id: str) -> str:
    return customer_id.removeprefix("cus_")


def _paid_subscription(
    s: StripeStandIn, customer_id: str, *, paid_at: int, amount: int = 2900,
    discounts: tuple[tuple[str, str | None, int], ...] = (), mode: Mode = "test", **invoice: int,
) -> None:
    """A subscription whose first invoice was paid at `paid_at` (through a PaymentIntent when money moved)."""
    sfx = _suffix(customer_id)
    created = paid_at - 20
    s.add_subscription(f"sub_{sfx}", customer_id, created=created, amount=amount, mode=mode)
    s.add_invoice(
        f"in_{sfx}", customer_id, created=created, paid_at=paid_at, subtotal=amount, discounts=discounts,
        subscription=f"sub_{sfx}", mode=mode, **invoice,
    )


def _coupons(s: StripeStandIn, now: int, mode: Mode) -> None:
    created = now - 90 * DAY
    s.add_coupon("ANA20", created=created, percent_off=20, name="Ana Promoter 20% off", duration="once", mode=mode)
    s.add_coupon("SHARED10", created=created, percent_off=10, name="10% off", duration="once", mode=mode)
    s.add_coupon("FREE100", created=created, percent_off=100, name="Free first month", duration="once", mode=mode)
    s.add_coupon("Z4OV52SU", created=created, percent_off=20, name="Partner 20% off", duration="once", mode=mode)
    s.add_coupon("EVE15", created=created, percent_off=15, name="Eve Promoter 15% off", duration="once", mode=mode)
    s.add_promotion_code(PROMO_PARTNER20, "PARTNER20", "Z4OV52SU", created=created, mode=mode)


def seed_stripe(standin: StripeStandIn, now: float | None = None) -> None:
    s = standin
    t = int(now if now is not None else time.time())
    s.set_account(sc.STRIPE_ACCOUNT_ID, sc.STRIPE_ACCOUNT_NAME)
    for mode in ("test", "live"):
        _coupons(s, t, mode)

    def customer(name: str, *, created: int, mode: Mode = "test", balance: int = 0) -> str:
        scn = sc.by_name(name)
        assert scn.stripe_customer_id is not None
        email = scn.stripe_email or scn.email
        s.add_customer(scn.stripe_customer_id, email, created=created, name=_person(email), mode=mode,
                       balance=balance)
        return scn.stripe_customer_id

    # -- healthy: paid invoice in_DemoHealthy01 ($29.00) 3 days ago
    cid = customer("healthy", created=t - 3 * DAY - 300)
    _paid_subscription(s, cid, paid_at=t - 3 * DAY)

    # -- one-time: a succeeded $99.00 charge (PaymentIntent), no invoice
    cid = customer("one-time", created=t - 2 * DAY - 120)
    s.add_payment_intent("pi_DemoOneTime01", cid, 9900, created=t - 2 * DAY, latest_charge="ch_DemoOneTime01")
    s.add_charge("ch_DemoOneTime01", cid, 9900, created=t - 2 * DAY, payment_intent="pi_DemoOneTime01",
                 billing_email=sc.by_name("one-time").email)

    # -- live-only: the customer and its payment exist only in live mode
    cid = customer("live-only", created=t - 2 * DAY - 600, mode="live")
    _paid_subscription(s, cid, paid_at=t - 2 * DAY, amount=3900, mode="live")

    # -- email-mismatch: nobody carries the referral's email; the payer used a work address
    s.add_customer("cus_DemoEmMismatch1", "em.mismatch@work.example", created=t - 2 * DAY - 400,
                   name="Em Mismatch")
    _paid_subscription(s, "cus_DemoEmMismatch1", paid_at=t - 2 * DAY)

    # -- duplicate-customers: signup made one (with fp_uid), checkout made another that paid
    dupe = sc.by_name("duplicate-customers")
    s.add_customer("cus_DemoDupeUid01", dupe.email, created=t - 4 * DAY, name="Dupe Customer",
                   metadata={"fp_uid": "user_7731"})
    customer("duplicate-customers", created=t - 3 * DAY - 200)
    _paid_subscription(s, "cus_DemoDupePaid01", paid_at=t - 3 * DAY)

    # -- no-payment: the first invoice is finalized and open, nothing paid
    cid = customer("no-payment", created=t - 2 * DAY - 60)
    s.add_subscription("sub_DemoNoPay0001", cid, created=t - 2 * DAY, status="incomplete")
    s.add_invoice("in_DemoNoPay0001", cid, created=t - 2 * DAY, status="open", subtotal=2900,
                  subscription="sub_DemoNoPay0001")

    # -- trial: trialing subscription with a paid $0 trial invoice
    cid = customer("trial", created=t - DAY - 60)
    s.add_subscription("sub_DemoTrial0001", cid, created=t - DAY, status="trialing", trial_end=t + 13 * DAY)
    s.add_invoice("in_DemoTrial0001", cid, created=t - DAY, subtotal=0, subscription="sub_DemoTrial0001")

    # -- full-coupon: FREE100 took the whole $29.00, paid with nothing charged
    cid = customer("full-coupon", created=t - 2 * DAY - 60)
    _paid_subscription(s, cid, paid_at=t - 2 * DAY, discounts=(("FREE100", None, 2900),))

    # -- below-minimum: $0.40 is under Stripe's minimum charge: marked paid, added to the balance
    cid = customer("below-minimum", created=t - 2 * DAY - 60, balance=40)
    _paid_subscription(s, cid, paid_at=t - 2 * DAY, amount=40, amount_due=40, amount_paid=0)

    # -- too-early: paid 30 seconds ago
    cid = customer("too-early", created=t - 60)
    _paid_subscription(s, cid, paid_at=t - 30)

    # -- promo-code-coupon: the customer typed PARTNER20, which applies coupon Z4OV52SU
    cid = customer("promo-code-coupon", created=t - 2 * DAY - 60)
    _paid_subscription(s, cid, paid_at=t - 2 * DAY, discounts=(("Z4OV52SU", PROMO_PARTNER20, 580),))

    # -- shared-coupon: SHARED10 applied
    cid = customer("shared-coupon", created=t - 2 * DAY - 60)
    _paid_subscription(s, cid, paid_at=t - 2 * DAY, discounts=(("SHARED10", None, 290),))

    # -- missing-commission: paid a day ago
    cid = customer("missing-commission", created=t - DAY - HOUR)
    _paid_subscription(s, cid, paid_at=t - DAY)

    # -- the person's whole trail: one small function per scenario (below)
    for seed in TRAIL.values():
        seed(s, t)

    # -- everyone else with a Stripe customer: a normal paid invoice, $29-$49, a day or more ago
    done = {
        "healthy", "one-time", "live-only", "email-mismatch", "duplicate-customers", "no-payment", "trial",
        "full-coupon", "below-minimum", "too-early", "promo-code-coupon", "shared-coupon", "missing-commission",
        *TRAIL,
    }
    amounts = (2900, 3900, 4900)
    for n, scn in enumerate(x for x in sc.SCENARIOS if x.name not in done):
        if scn.stripe_customer_id is None:
            continue
        paid_at = t - (n + 1) * DAY - 2 * HOUR
        cid = customer(scn.name, created=paid_at - 300, mode="live" if scn.live_only else "test")
        _paid_subscription(s, cid, paid_at=paid_at, amount=amounts[n % len(amounts)],
                           mode="live" if scn.live_only else "test")


def _person(email: str) -> str:
    """A display name from the email's local part: "case@example.com" -> "Case"."""
    local = email.split("@", 1)[0].replace(".", " ").replace("-", " ")
    return " ".join(w.capitalize() for w in local.split()) or email


# ---------------------------------------------------------------------- the person's whole trail


def _customer(s: StripeStandIn, name: str, *, created: int, email: str | None = None) -> str:
    """The scenario's own Stripe customer (stripe_customer_id), with the scenario's email."""
    scn = sc.by_name(name)
    assert scn.stripe_customer_id is not None
    email = email or scn.stripe_email or scn.email
    s.add_customer(scn.stripe_customer_id, email, created=created, name=_person(email))
    return scn.stripe_customer_id


def _one_time(
    s: StripeStandIn, customer_id: str | None, amount: int, *, at: int, currency: str = "usd",
    settlement: tuple[int, str, float | None] | None = None, email: str | None = None, ref: str | None = None,
) -> None:
    """A one-time payment: a PaymentIntent and its succeeded charge (pi_/ch_ + the customer's suffix)."""
    sfx = ref or _suffix(customer_id or "")
    s.add_payment_intent(f"pi_{sfx}", customer_id, amount, created=at, currency=currency, latest_charge=f"ch_{sfx}")
    s.add_charge(f"ch_{sfx}", customer_id, amount, created=at, currency=currency, payment_intent=f"pi_{sfx}",
                 billing_email=email, settlement=settlement)


def _uid_customer(s: StripeStandIn, t: int) -> None:
    # signed up with the referral's email (never paid); paid as another customer, the one the uid names
    _customer(s, "uid-customer", created=t - 5 * DAY)
    s.add_customer("cus_DemoUidOther01", "jo.work@corp.example", created=t - 2 * DAY - 600, name="Jo Work")
    _paid_subscription(s, "cus_DemoUidOther01", paid_at=t - 2 * DAY - 120)


def _many_customers(s: StripeStandIn, t: int) -> None:
    # the oldest of seven customers paid; the six newer ones (listed first) never did
    cid = _customer(s, "many-customers", created=t - 30 * DAY)
    _paid_subscription(s, cid, paid_at=t - DAY)
    email = sc.by_name("many-customers").email
    for n in range(2, 8):
        s.add_customer(f"cus_DemoMany{n:06d}", email, created=t - (30 - 4 * (n - 1)) * DAY, name=_person(email))


def _guest_checkout(s: StripeStandIn, t: int) -> None:
    # Checkout in payment mode with customer_creation if_required: no Customer, only customer_details
    email = sc.by_name("guest-checkout").email
    at = t - 2 * DAY
    s.add_checkout_session("cs_test_DemoGuest01", email=email, created=at - 90, amount_total=4900,
                           payment_intent="pi_DemoGuest01", customer=None, customer_creation="if_required")
    _one_time(s, None, 4900, at=at, email=email, settlement=(4900, "usd", None), ref="DemoGuest01")


def _paid_before_referral(s: StripeStandIn, t: int) -> None:
    cid = _customer(s, "paid-before-referral", created=t - 5 * DAY - 300)
    _paid_subscription(s, cid, paid_at=t - 5 * DAY)


def _coupon_no_referral(s: StripeStandIn, t: int) -> None:
    # PARTNER20 typed at checkout: the promotion code of coupon Z4OV52SU, Ben's tracking "coupon"
    cid = _customer(s, "coupon-no-referral", created=t - DAY - 600)
    _paid_subscription(s, cid, paid_at=t - DAY, discounts=(("Z4OV52SU", PROMO_PARTNER20, 580),))


def _fp_tid_no_referral(s: StripeStandIn, t: int) -> None:
    # a subscription Checkout Session carrying FirstPromoter's tracking id in its metadata
    cid = _customer(s, "fp-tid-no-referral", created=t - DAY - 300)
    _paid_subscription(s, cid, paid_at=t - DAY)
    sfx = _suffix(cid)
    s.add_checkout_session(
        "cs_test_DemoFpTid01", email=sc.by_name("fp-tid-no-referral").email, created=t - DAY - 60,
        amount_total=2900, checkout_mode="subscription", customer=cid, customer_creation=None,
        metadata={"fp_tid": "tid_demo_8f2a"}, subscription=f"sub_{sfx}", invoice=f"in_{sfx}",
    )


def _yen_small(s: StripeStandIn, t: int) -> None:
    # ¥60 is above Stripe's JPY minimum, but settles as $0.40 (JPY is zero-decimal: 60 means ¥60)
    cid = _customer(s, "yen-small", created=t - 2 * DAY - 300)
    _one_time(s, cid, 60, at=t - 2 * DAY, currency="jpy", settlement=(40, "usd", 0.0067),
              email=sc.by_name("yen-small").email)


def _exact_minimum(s: StripeStandIn, t: int) -> None:
    cid = _customer(s, "exact-minimum", created=t - DAY - 300)
    _one_time(s, cid, 50, at=t - DAY, settlement=(50, "usd", None), email=sc.by_name("exact-minimum").email)


def _renewal_missed(s: StripeStandIn, t: int) -> None:
    # the first invoice (35 days ago) earned a commission; yesterday's renewal did not
    cid = _customer(s, "renewal-missed", created=t - 40 * DAY)
    sfx = _suffix(cid)
    s.add_subscription(f"sub_{sfx}", cid, created=t - 35 * DAY - 20)
    s.add_invoice("in_DemoRenewal001", cid, created=t - 35 * DAY - 20, paid_at=t - 35 * DAY, subtotal=2900,
                  subscription=f"sub_{sfx}")
    s.add_invoice("in_DemoRenewal002", cid, created=t - DAY - 3600, paid_at=t - DAY, subtotal=2900,
                  subscription=f"sub_{sfx}", billing_reason="subscription_cycle")


def _restricted_key(s: StripeStandIn, t: int) -> None:
    # healthy; the scenario's key (STRIPE_NOCOUPON_KEY) may not read coupons or promotion codes
    cid = _customer(s, "restricted-key", created=t - 2 * DAY - 300)
    _paid_subscription(s, cid, paid_at=t - 2 * DAY, discounts=(("ANA20", None, 580),))


# ---------------------------------------------------------------------- failures past the charge


def _commission_denied(s: StripeStandIn, t: int) -> None:
    # a normal $29.00 payment a day ago; FirstPromoter's side carries the denied commission
    cid = _customer(s, "commission-denied", created=t - 3 * DAY - 300)
    _paid_subscription(s, cid, paid_at=t - DAY)


def _commission_fraud(s: StripeStandIn, t: int) -> None:
    cid = _customer(s, "commission-fraud", created=t - 3 * DAY - 300)
    _paid_subscription(s, cid, paid_at=t - DAY)


def _paid_out_of_band(s: StripeStandIn, t: int) -> None:
    # invoiced (send_invoice) and marked paid by hand: its only payment is a payment record, no charge
    cid = _customer(s, "paid-out-of-band", created=t - 3 * DAY)
    sfx = _suffix(cid)
    created = t - 2 * DAY
    s.add_subscription(f"sub_{sfx}", cid, created=created, collection_method="send_invoice")
    s.add_invoice(f"in_{sfx}", cid, created=created, paid_at=t - DAY, subtotal=2900, subscription=f"sub_{sfx}",
                  collection_method="send_invoice", amount_paid_off_stripe=2900, payment_record=f"prec_{sfx}")


def _deleted_uid_customer(s: StripeStandIn, t: int) -> None:
    # signed up for a trial as cus_DemoDeleted0001 (the referral's uid), which was later deleted;
    # paid yesterday as a new customer with the same email
    scn = sc.by_name("deleted-uid-customer")
    old = scn.referral_uid
    assert old is not None
    s.add_customer(old, scn.email, created=t - 10 * DAY, name=_person(scn.email))
    s.add_subscription("sub_DemoDeleted0001", old, created=t - 10 * DAY, status="trialing", trial_end=t + 4 * DAY)
    s.add_invoice("in_DemoDeleted0001", old, created=t - 10 * DAY, subtotal=0, subscription="sub_DemoDeleted0001")
    s.delete_customer(old, at=t - 5 * DAY)
    cid = _customer(s, "deleted-uid-customer", created=t - DAY - 300)
    _paid_subscription(s, cid, paid_at=t - DAY)


def _paid_other_mode(s: StripeStandIn, t: int) -> None:
    # the same email in both modes: never paid in test, paid yesterday in live
    scn = sc.by_name("paid-other-mode")
    _customer(s, "paid-other-mode", created=t - 4 * DAY)
    live = "cus_DemoOtherModeL"
    s.add_customer(live, scn.email, created=t - DAY - 300, name=_person(scn.email), mode="live")
    _paid_subscription(s, live, paid_at=t - DAY, mode="live")


def _other_promoter_coupon(s: StripeStandIn, t: int) -> None:
    # Ana's referral; EVE15 (Eve's tracking coupon, 15% off $29.00) applied at checkout
    cid = _customer(s, "other-promoter-coupon", created=t - DAY - 600)
    _paid_subscription(s, cid, paid_at=t - DAY, discounts=(("EVE15", None, 435),))


def _first_invoice_unpaid(s: StripeStandIn, name: str, *, at: int) -> tuple[str, str]:
    """A subscription left incomplete by its first payment: (its invoice id, the ids' suffix)."""
    cid = _customer(s, name, created=at - 300)
    sfx = _suffix(cid)
    s.add_subscription(f"sub_{sfx}", cid, created=at, status="incomplete")
    s.add_invoice(f"in_{sfx}", cid, created=at, status="open", subtotal=2900, subscription=f"sub_{sfx}")
    return f"in_{sfx}", sfx


def _incomplete_subscription(s: StripeStandIn, t: int) -> None:
    # the bank asked for 3D Secure and the customer never completed it: no charge yet
    at = t - HOUR
    inv, sfx = _first_invoice_unpaid(s, "incomplete-subscription", at=at)
    s.add_payment_intent(
        f"pi_{sfx}", f"cus_{sfx}", 2900, created=at, status="requires_action",
        next_action={"type": "use_stripe_sdk", "use_stripe_sdk": {
            "type": "three_d_secure_redirect", "source": f"payatt_{sfx}",
            "stripe_js": f"https://hooks.stripe.com/redirect/authenticate/payatt_{sfx}"}},
    )
    s.add_invoice_payment(inv, {"type": "payment_intent", "payment_intent": f"pi_{sfx}"}, amount_paid=None,
                          status="open")


def _declined_payment(s: StripeStandIn, t: int) -> None:
    # the card was declined for insufficient funds: a failed charge, the PaymentIntent wants a new card
    at = t - 2 * HOUR
    inv, sfx = _first_invoice_unpaid(s, "declined-payment", at=at)
    cid, pi, ch = f"cus_{sfx}", f"pi_{sfx}", f"ch_{sfx}"
    message = "Your card has insufficient funds."
    s.add_charge(ch, cid, 2900, created=at, status="failed", payment_intent=pi, decline_code="insufficient_funds",
                 failure_message=message, billing_email=sc.by_name("declined-payment").email)
    s.add_payment_intent(
        pi, cid, 2900, created=at, status="requires_payment_method", latest_charge=ch,
        last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds", "message": message,
                            "type": "card_error", "charge": ch,
                            "doc_url": "https://stripe.com/docs/error-codes/card-declined"},
    )
    s.add_invoice_payment(inv, {"type": "payment_intent", "payment_intent": pi}, amount_paid=None, status="open")


def _checkout_expired(s: StripeStandIn, t: int) -> None:
    # the app made the customer at signup; the subscription Checkout was opened and left to expire
    cid = _customer(s, "checkout-expired", created=t - 3 * DAY)
    s.add_checkout_session(
        "cs_test_DemoCoExpired01", email=sc.by_name("checkout-expired").email, created=t - 2 * DAY,
        amount_total=2900, checkout_mode="subscription", status="expired", payment_status="unpaid",
        customer=cid, customer_creation=None,
    )


TRAIL: dict[str, Callable[[StripeStandIn, int], None]] = {
    "commission-denied": _commission_denied,
    "commission-fraud": _commission_fraud,
    "paid-out-of-band": _paid_out_of_band,
    "deleted-uid-customer": _deleted_uid_customer,
    "paid-other-mode": _paid_other_mode,
    "other-promoter-coupon": _other_promoter_coupon,
    "incomplete-subscription": _incomplete_subscription,
    "declined-payment": _declined_payment,
    "checkout-expired": _checkout_expired,
    "uid-customer": _uid_customer,
    "many-customers": _many_customers,
    "guest-checkout": _guest_checkout,
    "paid-before-referral": _paid_before_referral,
    "coupon-no-referral": _coupon_no_referral,
    "fp-tid-no-referral": _fp_tid_no_referral,
    "yen-small": _yen_small,
    "exact-minimum": _exact_minimum,
    "renewal-missed": _renewal_missed,
    "restricted-key": _restricted_key,
}
