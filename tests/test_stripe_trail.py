"""The person's trail in Stripe, over loopback HTTP with the real SDK: Checkout Sessions (guest
payments), charges by PaymentIntent, settlement amounts, restricted keys that may not expand
coupons or balance transactions, and the notes that say what bounded a read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from checks.sources import Listed, SourceError
from checks.sources.stripe import StripeReader
from sandbox import scenarios as sc
from sandbox.stripe_server import DAY, StripeStandIn

T = 1_780_000_000  # a fixed "now" for this module's objects
GUEST = "guest.buyer@example.com"
NO_BALANCE_KEY = "rk_test_trailNoBalance000000001"
NO_COUPON_KEY = "rk_test_trailNoCoupon0000000001"
NO_SEARCH_KEY = "rk_test_trailNoSearch0000000001"


@pytest.fixture(scope="module")
def trail() -> Iterator[StripeStandIn]:
    s = StripeStandIn()
    # a guest: Checkout in payment mode, no Customer; the charge carries only billing_details.email
    s.add_checkout_session("cs_test_Guest01", email=GUEST, created=T - 2 * DAY, amount_total=4900,
                           payment_intent="pi_Guest01")
    s.add_payment_intent("pi_Guest01", None, 4900, created=T - 2 * DAY, latest_charge="ch_Guest01")
    s.add_charge("ch_Guest01", None, 4900, created=T - 2 * DAY, payment_intent="pi_Guest01", billing_email=GUEST)
    # the same buyer abandoned a session in another letter case, and one expired
    s.add_checkout_session("cs_test_Guest02", email=GUEST.upper(), created=T - 3 * DAY, amount_total=4900,
                           status="open", payment_status="unpaid")
    s.add_checkout_session("cs_test_Guest03", email=GUEST, created=T - 4 * DAY, amount_total=4900,
                           status="expired", payment_status="unpaid")
    # a subscription checkout with FirstPromoter's tid and a Payment Link reference
    s.add_customer("cus_TrailSub01", "sub.buyer@example.com", created=T - DAY - 60)
    s.add_checkout_session("cs_test_Sub01", email="sub.buyer@example.com", created=T - DAY, amount_total=2900,
                           checkout_mode="subscription", customer="cus_TrailSub01", customer_creation=None,
                           metadata={"fp_tid": "tid_trail_1"}, client_reference_id="tid_trail_ref",
                           subscription="sub_TrailSub01", invoice="in_TrailSub01", payment_link="plink_Trail01")
    # ¥60 settled as 40 US cents; a euro charge settled in dollars
    s.add_customer("cus_TrailYen01", "yen@example.com", created=T - 3 * DAY)
    s.add_charge("ch_TrailYen01", "cus_TrailYen01", 60, currency="jpy", created=T - 2 * DAY,
                 settlement=(40, "usd", 0.0067))
    s.add_charge("ch_TrailEur01", "cus_TrailYen01", 1000, currency="eur", created=T - DAY,
                 settlement=(1234, "usd", 1.234))
    s.add_charge("ch_TrailFail01", "cus_TrailYen01", 1000, created=T - DAY + 5, status="failed")
    # an invoice with a promotion code (coupon Z4OV52SU behind code PARTNER20)
    s.add_coupon("Z4OV52SU", created=T - 90 * DAY, percent_off=20, name="Partner 20% off")
    s.add_promotion_code("promo_TrailPartner20", "PARTNER20", "Z4OV52SU", created=T - 90 * DAY)
    s.add_customer("cus_TrailPromo01", "promo@example.com", created=T - 2 * DAY)
    s.add_invoice("in_TrailPromo01", "cus_TrailPromo01", created=T - DAY, subtotal=2900,
                  discounts=(("Z4OV52SU", "promo_TrailPartner20", 580),))
    s.add_customer("cus_TrailUid01", "uid@example.com", created=T - DAY, metadata={"fp_uid": "user_trail"})
    for key in (NO_BALANCE_KEY, NO_COUPON_KEY, NO_SEARCH_KEY):
        s.add_key(key)
    s.restrict(NO_BALANCE_KEY, "rak_balance_read")
    s.restrict(NO_COUPON_KEY, "rak_coupon_read")
    s.deny(NO_SEARCH_KEY, r"^/v1/customers/search", "rak_customer_read")
    with s:
        yield s


@pytest.fixture
def api(trail: StripeStandIn) -> Iterator[StripeStandIn]:
    trail.clear_faults()
    trail.reset_log()
    yield trail


def reader(api: StripeStandIn, key: str = sc.STRIPE_TEST_KEY, **kw: Any) -> StripeReader:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("backoff", 0.01)
    return StripeReader(key, api.url, **kw)


def get(api: StripeStandIn, path: str, key: str = sc.STRIPE_TEST_KEY, **params: Any) -> requests.Response:
    return requests.get(api.url + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=5)


# ---------------------------------------------------------------- guest payments


def test_checkout_sessions_by_email_find_the_guest_payment(api: StripeStandIn) -> None:
    found = reader(api).checkout_sessions(GUEST.upper())
    # the typed (upper-case) email and its lower-cased form: every session of the buyer, newest first
    assert [c.id for c in found] == ["cs_test_Guest01", "cs_test_Guest02", "cs_test_Guest03"]
    assert isinstance(found, Listed) and found.limits == ()
    paid = found[0]
    assert (paid.guest, paid.customer, paid.customer_email, paid.customer_creation) == (
        True, None, GUEST, "if_required")
    assert (paid.mode, paid.status, paid.payment_status, paid.amount_total, paid.currency) == (
        "payment", "complete", "paid", 4900, "usd")
    assert paid.payment_intent == "pi_Guest01" and paid.created.timestamp() == T - 2 * DAY
    assert [(c.status, c.payment_status) for c in found[1:]] == [("open", "unpaid"), ("expired", "unpaid")]
    emails = [q.param("customer_details[email]") for q in api.calls(path="^/v1/checkout/sessions$")]
    assert emails == [GUEST.upper(), GUEST]
    assert reader(api).checkout_sessions("nobody@example.com") == ()


def test_checkout_session_carries_fp_tid_and_payment_link_reference(api: StripeStandIn) -> None:
    [cs] = reader(api).checkout_sessions("sub.buyer@example.com")
    assert (cs.guest, cs.customer, cs.mode, cs.fp_tid, cs.client_reference_id) == (
        False, "cus_TrailSub01", "subscription", "tid_trail_1", "tid_trail_ref")
    assert (cs.subscription, cs.invoice, cs.payment_link) == ("sub_TrailSub01", "in_TrailSub01", "plink_Trail01")


def test_charges_of_a_guest_payment_intent(api: StripeStandIn) -> None:
    [ch] = reader(api).charges_for_payment_intent("pi_Guest01")
    assert (ch.id, ch.customer, ch.billing_email, ch.amount, ch.status) == (
        "ch_Guest01", None, GUEST, 4900, "succeeded")
    assert ch.settlement is not None and (ch.settlement.amount, ch.settlement.currency) == (4900, "usd")
    assert api.calls(path="^/v1/charges$")[-1].param("payment_intent") == "pi_Guest01"
    assert reader(api).charges_for_payment_intent("pi_Nothing") == ()


# ---------------------------------------------------------------- money in the account's currency


def test_charges_carry_their_settlement_in_the_account_currency(api: StripeStandIn) -> None:
    charges = {c.id: c for c in reader(api).charges("cus_TrailYen01")}
    yen, eur, failed = charges["ch_TrailYen01"], charges["ch_TrailEur01"], charges["ch_TrailFail01"]
    assert (yen.amount, yen.currency) == (60, "jpy")
    assert yen.settlement is not None and (yen.settlement.amount, yen.settlement.currency) == (40, "usd")
    assert yen.settlement.exchange_rate == pytest.approx(0.0067)
    assert eur.settlement is not None and (eur.settlement.amount, eur.settlement.exchange_rate) == (1234, 1.234)
    assert failed.settlement is None and failed.settlement_unread is None  # never settled
    assert api.calls(path="^/v1/charges$")[-1].prefixed("expand") == ["data.balance_transaction"]


def test_a_key_that_may_not_read_balance_transactions_still_reads_the_charges(api: StripeStandIn) -> None:
    r = reader(api, NO_BALANCE_KEY)
    charges = r.charges("cus_TrailYen01")
    assert {c.id for c in charges} == {"ch_TrailYen01", "ch_TrailEur01", "ch_TrailFail01"}
    for c in charges:
        assert c.settlement is None
        assert c.settlement_unread and "'rak_balance_read'" in c.settlement_unread
        assert "balance transaction" in c.settlement_unread and "rk_" not in c.settlement_unread
    # refused once, read again without the expansion; the reader remembers for the rest of the run
    assert [q.prefixed("expand") for q in api.calls(path="^/v1/charges$")] == [["data.balance_transaction"], []]
    [guest] = r.charges_for_payment_intent("pi_Guest01")
    assert guest.settlement_unread and len(api.calls(path="^/v1/charges$")) == 3


def test_a_key_that_may_not_read_charges_is_still_an_error(api: StripeStandIn) -> None:
    key = "rk_test_trailNoCharges00000001"
    api.add_key(key)
    api.deny(key, r"^/v1/charges", "rak_charge_read")
    with pytest.raises(SourceError, match="rak_charge_read"):
        reader(api, key).charges("cus_TrailYen01")
    assert len(api.calls(path="^/v1/charges$")) == 1


# ---------------------------------------------------------------- restricted keys and coupons


def test_invoices_without_the_coupon_permission_keep_the_promotion_code(api: StripeStandIn) -> None:
    r = reader(api, NO_COUPON_KEY)
    [inv] = r.invoices("cus_TrailPromo01")
    [d] = inv.discounts
    assert d.coupon is not None and (d.coupon.id, d.coupon.percent_off, d.coupon.name) == ("Z4OV52SU", None, None)
    assert d.promotion_code is not None and d.promotion_code.code == "PARTNER20"
    listed = r.invoices("cus_TrailPromo01")
    assert listed.limits == (
        "the Stripe key lacks 'rak_coupon_read': coupon details on invoices were not read (only coupon ids)",)
    assert inv.payment_intent_ids == ("pi_TrailPromo01",)
    # the first read was refused, the second dropped the coupon expansion; the third remembered
    expands = [q.prefixed("expand") for q in api.calls(path="^/v1/invoices$")]
    assert expands[0] == ["data.discounts", "data.discounts.source.coupon", "data.discounts.promotion_code",
                          "data.payments"]
    assert expands[1] == expands[2] == ["data.discounts", "data.discounts.promotion_code", "data.payments"]


def test_invoices_without_coupon_and_promotion_code_permissions(api: StripeStandIn) -> None:
    r = reader(api, sc.STRIPE_NOCOUPON_KEY)
    listed = r.invoices("cus_TrailPromo01")
    [d] = listed[0].discounts
    assert d.coupon is not None and d.coupon.id == "Z4OV52SU"
    assert d.promotion_code is None and d.promotion_code_id == "promo_TrailPartner20"
    assert [note.split(":")[0] for note in listed.limits] == [
        "the Stripe key lacks 'rak_coupon_read'", "the Stripe key lacks 'rak_promotion_code_read'"]
    assert [q.prefixed("expand") for q in api.calls(path="^/v1/invoices$")][-1] == ["data.discounts", "data.payments"]
    assert len(api.calls(path="^/v1/invoices$")) == 3
    # a healthy key reads the same invoice with every detail and no note
    full = reader(api).invoices("cus_TrailPromo01")
    assert full.limits == () and full[0].discounts[0].coupon.percent_off == 20.0  # type: ignore[union-attr]


def test_the_stand_in_refuses_an_expansion_like_stripe(api: StripeStandIn) -> None:
    r = get(api, "/v1/invoices", sc.STRIPE_NOCOUPON_KEY, customer="cus_TrailPromo01",
            **{"expand[]": ["data.discounts", "data.discounts.promotion_code"]})
    assert r.status_code == 403
    msg = r.json()["error"]["message"]
    assert "Having the 'rak_promotion_code_read' permission" in msg and "acct_" in msg
    assert get(api, "/v1/invoices", sc.STRIPE_NOCOUPON_KEY, customer="cus_TrailPromo01",
               **{"expand[]": ["data.discounts"]}).status_code == 200
    assert get(api, "/v1/coupons/Z4OV52SU", sc.STRIPE_NOCOUPON_KEY).status_code == 403
    # retrieve (no data. prefix) is refused the same way
    r = get(api, "/v1/charges/ch_TrailYen01", NO_BALANCE_KEY, **{"expand[]": ["balance_transaction"]})
    assert r.status_code == 403 and "rak_balance_read" in r.text


# ---------------------------------------------------------------- fp_uid search and bounds


def test_fp_uid_search_and_a_refused_search(api: StripeStandIn) -> None:
    [c] = reader(api).customers_by_fp_uid("user_trail")
    assert (c.id, c.match, c.fp_uid) == ("cus_TrailUid01", "fp_uid", "user_trail")
    assert api.calls(path="search")[-1].param("query") == "metadata['fp_uid']:'user_trail'"
    with pytest.raises(SourceError) as exc:
        reader(api, NO_SEARCH_KEY).customers_by_fp_uid("user_trail")
    reason = str(exc.value)
    assert "rak_customer_read" in reason and "fp_uid" in reason and NO_SEARCH_KEY[8:] not in reason


def test_reading_a_customer_because_the_uid_names_it(api: StripeStandIn) -> None:
    c = reader(api).customer("cus_TrailSub01", match="uid")
    assert c is not None and (c.match, c.email) == ("uid", "sub.buyer@example.com")


def test_bounded_reads_say_what_was_not_examined() -> None:
    s = StripeStandIn()
    for n in range(305):
        s.add_customer(f"cus_Many{n:04d}", "many@example.com", created=T - 400 * DAY + n * DAY)
    s.add_customer("cus_Busy01", "busy@example.com", created=T - 400 * DAY)
    for n in range(301):
        s.add_invoice(f"in_Busy{n:04d}", "cus_Busy01", created=T - 301 * DAY + n * DAY, subtotal=100, pay=False)
    for n in range(2):
        s.add_customer(f"cus_Few{n}", "few@example.com", created=T - n)
    with s:
        r = StripeReader(sc.STRIPE_TEST_KEY, s.url, timeout=3)
        many = r.customers_by_email("many@example.com")
        assert len(many) == 300 and many == tuple(many)
        assert "read the newest 300 customers with that email; older ones were not examined" in many.limits
        assert any("search found" in note and "more were not examined" in note for note in many.limits)
        invoices = r.invoices("cus_Busy01")
        assert len(invoices) == 300 and invoices[0].id == "in_Busy0300"
        assert invoices.limits == ("read the newest 300 invoices of cus_Busy01; older ones were not examined",)
        few = r.customers_by_email("few@example.com")
        assert [c.id for c in few] == ["cus_Few0", "cus_Few1"] and few.limits == ()


# ---------------------------------------------------------------- the stand-in's Checkout Sessions


def test_stand_in_checkout_session_filters_and_shape(api: StripeStandIn) -> None:
    def ids(**params: Any) -> list[str]:
        r = get(api, "/v1/checkout/sessions", **params)
        assert r.status_code == 200, r.text
        return [o["id"] for o in r.json()["data"]]

    assert ids(**{"customer_details[email]": GUEST}) == ["cs_test_Guest01", "cs_test_Guest03"]
    assert ids(**{"customer_details[email]": GUEST, "status": "complete"}) == ["cs_test_Guest01"]
    assert ids(payment_intent="pi_Guest01") == ["cs_test_Guest01"]
    assert ids(customer="cus_TrailSub01") == ["cs_test_Sub01"]
    assert ids(subscription="sub_TrailSub01") == ["cs_test_Sub01"]
    assert ids(**{"created[gte]": str(T - 2 * DAY), "created[lt]": str(T)}) == ["cs_test_Sub01", "cs_test_Guest01"]
    assert ids(limit="1", starting_after="cs_test_Sub01") == ["cs_test_Guest01"]
    assert get(api, "/v1/checkout/sessions", status="paid").status_code == 400
    one = get(api, "/v1/checkout/sessions/cs_test_Guest01").json()
    from sandbox.stripe_server import template

    assert set(template("checkout.session")) <= set(one)
    assert (one["object"], one["customer"], one["customer_details"]["email"], one["livemode"]) == (
        "checkout.session", None, GUEST, False)
    missing = get(api, "/v1/checkout/sessions/cs_test_Nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
    # a live key sees the live data set, which has none
    assert get(api, "/v1/checkout/sessions", sc.STRIPE_LIVE_KEY).json()["data"] == []


def test_stand_in_balance_transaction_shape(api: StripeStandIn) -> None:
    from sandbox.stripe_server import template

    ch = get(api, "/v1/charges/ch_TrailYen01", **{"expand[]": ["balance_transaction"]}).json()
    txn = ch["balance_transaction"]
    assert set(template("balance_transaction")) <= set(txn)
    assert (txn["object"], txn["source"], txn["amount"], txn["currency"], txn["exchange_rate"]) == (
        "balance_transaction", "ch_TrailYen01", 40, "usd", 0.0067)
    assert get(api, f"/v1/balance_transactions/{txn['id']}").json()["id"] == txn["id"]
    plain = get(api, "/v1/charges/ch_TrailYen01").json()
    assert plain["balance_transaction"] == txn["id"]
    assert get(api, "/v1/charges/ch_TrailFail01").json()["balance_transaction"] is None
