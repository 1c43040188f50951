"""The Stripe stand-in over loopback HTTP: current object shapes, filters, paging, expand, keys,
and the seeded scenarios.  Shapes are checked against Stripe's example objects (fixtures3) and
against the field lists of stripe-python 16.1's types, which describe API 2026-10-28.endive."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests
import stripe

from sandbox import scenarios as sc
from sandbox.stripe_server import FIXTURES, StripeStandIn

NOW = time.time()


@pytest.fixture(scope="module")
def stripe_seed_now() -> float:
    return NOW  # the seeded timestamps are asserted against NOW below


def get(s: StripeStandIn, path: str, key: str = sc.STRIPE_TEST_KEY, **params: Any) -> requests.Response:
    return requests.get(s.url + path, params=params, headers={"Authorization": f"Bearer {key}"}, timeout=5)


def ok(s: StripeStandIn, path: str, key: str = sc.STRIPE_TEST_KEY, **params: Any) -> dict[str, Any]:
    r = get(s, path, key, **params)
    assert r.status_code == 200, r.text
    return r.json()


def fixture(kind: str) -> dict[str, Any]:
    return json.loads(FIXTURES.read_text())["resources"][kind]


# ---------------------------------------------------------------- shapes

REMOVED = {
    "invoice": {"discount", "subscription", "charge", "payment_intent", "paid", "paid_out_of_band"},
    "charge": {"invoice"},
    "promotion_code": {"coupon"},
    "discount": {"coupon"},
    "customer": set(),
}
RELIED_ON = {
    "invoice": {"id", "customer", "status", "currency", "amount_due", "amount_paid", "subtotal", "total",
                "total_discount_amounts", "billing_reason", "livemode", "created", "status_transitions",
                "customer_email", "parent", "discounts"},
    "customer": {"id", "email", "name", "livemode", "created", "metadata"},
    "charge": {"id", "customer", "amount", "amount_captured", "amount_refunded", "currency", "status", "paid",
               "refunded", "livemode", "created", "billing_details", "receipt_email", "payment_intent"},
    "promotion_code": {"id", "code", "promotion", "active"},
    "discount": {"id", "source", "promotion_code"},
}
SDK_TYPES = {
    "invoice": stripe.Invoice, "customer": stripe.Customer, "charge": stripe.Charge,
    "promotion_code": stripe.PromotionCode, "discount": stripe.Discount, "coupon": stripe.Coupon,
    "subscription": stripe.Subscription, "invoice_payment": stripe.InvoicePayment, "account": stripe.Account,
    "payment_intent": stripe.PaymentIntent,
}


def served(api: StripeStandIn) -> dict[str, dict[str, Any]]:
    inv = ok(api, "/v1/invoices/in_DemoPromoCode1", **{"expand[]": ["discounts", "payments"]})
    return {
        "invoice": inv,
        "discount": inv["discounts"][0],
        "invoice_payment": inv["payments"]["data"][0],
        "customer": ok(api, "/v1/customers/cus_DemoHealthy01"),
        "charge": ok(api, "/v1/charges/ch_DemoHealthy01"),
        "promotion_code": ok(api, "/v1/promotion_codes/promo_DemoPartner20"),
        "coupon": ok(api, "/v1/coupons/ANA20"),
        "subscription": ok(api, "/v1/subscriptions/sub_DemoHealthy01"),
        "payment_intent": ok(api, "/v1/payment_intents/pi_DemoHealthy01"),
        "account": ok(api, "/v1/account"),
    }


@pytest.mark.parametrize("kind", sorted(RELIED_ON))
def test_shape_matches_stripes_example_without_removed_fields(api: StripeStandIn, kind: str) -> None:
    obj = served(api)[kind]
    example = fixture(kind)
    assert obj["object"] == kind
    assert RELIED_ON[kind] <= set(obj), RELIED_ON[kind] - set(obj)
    assert not REMOVED[kind] & set(obj), REMOVED[kind] & set(obj)
    # every field of Stripe's example is served, except those removed from the current API
    assert set(example) - REMOVED[kind] <= set(obj) | {"payments"}


@pytest.mark.parametrize("kind", sorted(SDK_TYPES))
def test_every_served_field_is_declared_by_the_sdk_type(api: StripeStandIn, kind: str) -> None:
    obj = served(api)[kind]
    declared = set(SDK_TYPES[kind].__annotations__)
    assert set(obj) <= declared, set(obj) - declared


def test_current_discount_and_promotion_shapes(api: StripeStandIn) -> None:
    s = served(api)
    assert s["discount"]["source"] == {"type": "coupon", "coupon": "Z4OV52SU"}
    assert s["discount"]["promotion_code"] == "promo_DemoPartner20"
    assert s["promotion_code"]["promotion"] == {"type": "coupon", "coupon": "Z4OV52SU"}
    assert s["invoice"]["parent"]["type"] == "subscription_details"
    assert s["invoice"]["parent"]["subscription_details"]["subscription"] == "sub_DemoPromoCode1"
    assert s["invoice_payment"]["payment"] == {"type": "payment_intent", "payment_intent": "pi_DemoPromoCode1"}
    assert "livemode" not in s["account"]


# ---------------------------------------------------------------- lists, filters, search


def test_email_filter_is_case_sensitive_and_exact(api: StripeStandIn) -> None:
    assert ok(api, "/v1/customers", email="case@example.com")["data"] == []
    got = ok(api, "/v1/customers", email="Case@Example.com")["data"]
    assert [c["id"] for c in got] == ["cus_DemoCaseVar001"]
    dupes = ok(api, "/v1/customers", email="dupe@example.com")["data"]
    assert [c["id"] for c in dupes] == ["cus_DemoDupePaid01", "cus_DemoDupeUid01"]  # newest first


def test_paging_with_starting_after(api: StripeStandIn) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 5}
    for _ in range(10):
        page = ok(api, "/v1/customers", **params)
        seen += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        params["starting_after"] = page["data"][-1]["id"]
    assert len(seen) == len(set(seen)) == len(api.data["test"].customers)
    assert get(api, "/v1/customers", limit=101).status_code == 400
    bad = get(api, "/v1/customers", starting_after="cus_nope")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "starting_after"


def test_search_by_email_ignores_case_and_by_metadata(api: StripeStandIn) -> None:
    got = ok(api, "/v1/customers/search", query="email:'case@example.com'")
    assert got["object"] == "search_result" and [c["id"] for c in got["data"]] == ["cus_DemoCaseVar001"]
    got = ok(api, "/v1/customers/search", query="metadata['fp_uid']:'user_7731'")
    assert [c["id"] for c in got["data"]] == ["cus_DemoDupeUid01"]
    got = ok(api, "/v1/customers/search", query="email:'dupe@example.com' AND metadata['fp_uid']:'user_7731'")
    assert [c["id"] for c in got["data"]] == ["cus_DemoDupeUid01"]
    first = ok(api, "/v1/customers/search", query="email:'dupe@example.com'", limit=1)
    assert first["has_more"] and first["next_page"]
    second = ok(api, "/v1/customers/search", query="email:'dupe@example.com'", limit=1, page=first["next_page"])
    assert second["has_more"] is False and second["next_page"] is None
    assert {first["data"][0]["id"], second["data"][0]["id"]} == {"cus_DemoDupePaid01", "cus_DemoDupeUid01"}
    assert get(api, "/v1/customers/search", query="email = x").status_code == 400


def test_missing_objects_are_resource_missing(api: StripeStandIn) -> None:
    r = get(api, "/v1/customers/cus_nope")
    assert r.status_code == 404
    assert r.json()["error"] == {
        "type": "invalid_request_error", "code": "resource_missing", "param": "id",
        "message": "No such customer: 'cus_nope'",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
    }
    assert get(api, "/v1/coupons/PARTNER20").status_code == 404


def test_invoice_discounts_and_payments_need_expand(api: StripeStandIn) -> None:
    plain = ok(api, "/v1/invoices", customer="cus_DemoFree100001")["data"][0]
    assert plain["discounts"] == ["di_DemoFree10000101"] and "payments" not in plain
    expanded = ok(
        api, "/v1/invoices", customer="cus_DemoFree100001",
        **{"expand[0]": "data.discounts.source.coupon", "expand[1]": "data.discounts.promotion_code",
           "expand[2]": "data.payments"},
    )["data"][0]
    coupon = expanded["discounts"][0]["source"]["coupon"]
    assert coupon["id"] == "FREE100" and coupon["percent_off"] == 100.0 and coupon["name"] == "Free first month"
    assert expanded["discounts"][0]["promotion_code"] is None
    assert expanded["payments"]["object"] == "list" and expanded["payments"]["data"] == []  # nothing charged
    assert (expanded["subtotal"], expanded["total"], expanded["amount_paid"]) == (2900, 0, 0)
    assert expanded["total_discount_amounts"] == [{"amount": 2900, "discount": "di_DemoFree10000101"}]


def test_expand_limits_and_errors(api: StripeStandIn) -> None:
    too_deep = get(api, "/v1/invoices", **{"expand[]": "data.discounts.source.coupon.applies_to"})
    assert too_deep.status_code == 400 and "more than 4 levels" in too_deep.json()["error"]["message"]
    assert get(api, "/v1/invoices", **{"expand[]": "discounts"}).status_code == 400  # lists need data.
    assert get(api, "/v1/invoices/in_DemoHealthy01", **{"expand[]": "customer_email"}).status_code == 400
    promo = ok(api, "/v1/promotion_codes", code="partner20", **{"expand[]": "data.promotion.coupon"})["data"]
    assert [p["id"] for p in promo] == ["promo_DemoPartner20"]
    assert promo[0]["promotion"]["coupon"]["id"] == "Z4OV52SU"


def test_list_filters(api: StripeStandIn) -> None:
    assert [i["id"] for i in ok(api, "/v1/invoices", customer="cus_DemoNoPay0001", status="paid")["data"]] == []
    assert [i["status"] for i in ok(api, "/v1/invoices", customer="cus_DemoNoPay0001", status="open")["data"]] == ["open"]
    assert get(api, "/v1/invoices", status="bogus").status_code == 400
    pays = ok(api, "/v1/invoice_payments", invoice="in_DemoHealthy01")["data"]
    assert [p["payment"]["payment_intent"] for p in pays] == ["pi_DemoHealthy01"]
    assert ok(api, "/v1/promotion_codes", coupon="Z4OV52SU", active="true")["data"]
    assert ok(api, "/v1/promotion_codes", coupon="Z4OV52SU", active="false")["data"] == []
    charges = ok(api, "/v1/charges", customer="cus_DemoOneTime01")["data"]
    assert [(c["id"], c["amount"], c["status"]) for c in charges] == [("ch_DemoOneTime01", 9900, "succeeded")]


def test_canceled_subscriptions_only_with_status_all() -> None:
    s = StripeStandIn()
    s.add_customer("cus_A", "a@example.com", created=100)
    s.add_subscription("sub_Old", "cus_A", created=100, status="canceled", canceled_at=150)
    s.add_subscription("sub_New", "cus_A", created=200, status="active")
    with s:
        assert [x["id"] for x in ok(s, "/v1/subscriptions", customer="cus_A")["data"]] == ["sub_New"]
        assert [x["id"] for x in ok(s, "/v1/subscriptions", customer="cus_A", status="all")["data"]] == [
            "sub_New", "sub_Old"]
        assert [x["id"] for x in ok(s, "/v1/subscriptions", status="canceled")["data"]] == ["sub_Old"]


# ---------------------------------------------------------------- keys, modes, errors, writes


def test_keys_modes_and_masking(api: StripeStandIn) -> None:
    live = ok(api, "/v1/customers", sc.STRIPE_LIVE_KEY)["data"]
    assert [c["id"] for c in live] == ["cus_DemoOtherModeL", "cus_DemoLiveOnly01"]
    assert all(c["livemode"] is True for c in live)
    assert all(c["livemode"] is False for c in ok(api, "/v1/customers", limit=100)["data"])
    assert ok(api, "/v1/customers", email="live-only@example.com")["data"] == []

    unknown = get(api, "/v1/customers", "sk_test_notAKnownKey98765abcd")
    assert unknown.status_code == 401
    assert unknown.json()["error"] == {"type": "invalid_request_error",
                                       "message": "Invalid API Key provided: sk_test_****abcd"}
    assert "notAKnownKey" not in unknown.text
    assert get(api, "/v1/customers", "").status_code == 401

    api.add_key("sk_test_revokeMe0000000000001")
    assert get(api, "/v1/customers", "sk_test_revokeMe0000000000001").status_code == 200
    api.revoke("sk_test_revokeMe0000000000001")
    assert get(api, "/v1/customers", "sk_test_revokeMe0000000000001").status_code == 401

    basic = base64.b64encode(f"{sc.STRIPE_TEST_KEY}:".encode()).decode()
    r = requests.get(api.url + "/v1/account", headers={"Authorization": f"Basic {basic}"}, timeout=5)
    assert r.status_code == 200 and r.json()["id"] == sc.STRIPE_ACCOUNT_ID


def test_restricted_key_gets_403_on_account_naming_it(api: StripeStandIn) -> None:
    r = get(api, "/v1/account", sc.STRIPE_RESTRICTED_KEY)
    assert r.status_code == 403
    msg = r.json()["error"]["message"]
    assert msg == (
        "The provided key 'rk_test_****0000' does not have the required permissions for this endpoint on "
        f"account '{sc.STRIPE_ACCOUNT_ID}'. Having the 'rak_connected_account_read' permission would allow "
        "this request to continue."
    )
    assert get(api, "/v1/customers", sc.STRIPE_RESTRICTED_KEY).status_code == 200


def test_every_answer_has_a_request_id(api: StripeStandIn) -> None:
    api.inject(r"/v1/charges", status=500, body={"error": {"type": "api_error", "message": "x"}}, times=1)
    api.inject(r"/v1/coupons", malformed=True, times=1)
    answers = [
        get(api, "/v1/account"), get(api, "/v1/customers/cus_nope"), get(api, "/v1/nothing-here"),
        get(api, "/v1/account", "sk_test_wrong0000000000000000"), get(api, "/v1/charges"), get(api, "/v1/coupons"),
    ]
    ids = [a.headers.get("Request-Id") for a in answers]
    assert all(i and i.startswith("req_") for i in ids) and len(set(ids)) == len(ids)
    assert answers[2].status_code == 404 and "Unrecognized request URL" in answers[2].json()["error"]["message"]


def test_writes_are_refused_and_recorded(api: StripeStandIn) -> None:
    r = requests.post(api.url + "/v1/customers", data={"email": "x@example.com"},
                      headers={"Authorization": f"Bearer {sc.STRIPE_TEST_KEY}"}, timeout=5)
    assert r.status_code == 403 and "rak_customer_write" in r.json()["error"]["message"]
    assert [(w.method, w.path, w.form) for w in api.writes()] == [("POST", "/v1/customers", [("email", "x@example.com")])]
    assert "x@example.com" not in [c["email"] for c in api.data["test"].customers.values()]


def test_the_sdk_reads_it_unchanged(api: StripeStandIn) -> None:
    client = stripe.StripeClient(sc.STRIPE_TEST_KEY, base_addresses={"api": api.url})
    inv = client.v1.invoices.retrieve(
        "in_DemoPromoCode1", params={"expand": ["discounts.source.coupon", "discounts.promotion_code", "payments"]}
    )
    d = inv.discounts[0]
    assert isinstance(d, stripe.Discount) and isinstance(d.promotion_code, stripe.PromotionCode)
    assert d.source.coupon.id == "Z4OV52SU" and d.promotion_code.code == "PARTNER20"
    assert inv.payments.data[0].payment.payment_intent == "pi_DemoPromoCode1"
    ids = [c.id for c in client.v1.customers.list(params={"limit": 3}).auto_paging_iter()]
    assert len(ids) == len(api.data["test"].customers)
    assert api.calls(path=r"^/v1/invoices/")[0].headers["stripe-version"] == "2026-10-28.endive"


# ---------------------------------------------------------------- the seeded scenarios


def test_every_scenario_has_its_customer_in_the_right_mode(api: StripeStandIn) -> None:
    for s in sc.SCENARIOS:
        if s.stripe_customer_id is None:
            hits = ok(api, "/v1/customers/search", query=f"email:'{s.email}'")["data"]
            assert hits == [], s.name
            continue
        mode = "live" if s.live_only else "test"
        other = "test" if s.live_only else "live"
        assert s.stripe_customer_id in api.data[mode].customers, s.name
        assert s.stripe_customer_id not in api.data[other].customers, s.name
        assert api.data[mode].customers[s.stripe_customer_id]["email"] == (s.stripe_email or s.email)


def test_seeded_payments_tell_each_story(api: StripeStandIn) -> None:
    def invoices(cus: str, key: str = sc.STRIPE_TEST_KEY) -> list[dict[str, Any]]:
        return ok(api, "/v1/invoices", key, customer=cus, **{"expand[]": "data.payments"})["data"]

    day = 86_400
    healthy = invoices("cus_DemoHealthy01")
    assert [(i["id"], i["status"], i["amount_paid"], i["currency"]) for i in healthy] == [
        ("in_DemoHealthy01", "paid", 2900, "usd")]
    assert abs(healthy[0]["status_transitions"]["paid_at"] - (NOW - 3 * day)) < 60
    assert invoices("cus_DemoOneTime01") == []
    [early] = invoices("cus_DemoTooEarly01")
    assert NOW - early["status_transitions"]["paid_at"] == pytest.approx(30, abs=2)
    [miss] = invoices("cus_DemoMissComm01")
    assert NOW - miss["status_transitions"]["paid_at"] == pytest.approx(day, abs=60)
    [open_] = invoices("cus_DemoNoPay0001")
    assert (open_["status"], open_["amount_due"], open_["amount_paid"]) == ("open", 2900, 0)
    assert open_["status_transitions"]["finalized_at"] and not open_["status_transitions"]["paid_at"]
    [trial] = invoices("cus_DemoTrial0001")
    assert (trial["status"], trial["subtotal"], trial["total"], trial["billing_reason"]) == (
        "paid", 0, 0, "subscription_create")
    assert ok(api, "/v1/subscriptions", customer="cus_DemoTrial0001")["data"][0]["status"] == "trialing"
    [tiny] = invoices("cus_DemoTiny00001")
    assert (tiny["status"], tiny["subtotal"], tiny["total"], tiny["amount_due"], tiny["amount_paid"]) == (
        "paid", 40, 40, 40, 0)
    assert tiny["payments"]["data"] == []
    [live] = invoices("cus_DemoLiveOnly01", sc.STRIPE_LIVE_KEY)
    assert live["livemode"] is True and live["status"] == "paid"
    mismatch = ok(api, "/v1/customers", email="em.mismatch@work.example")["data"]
    assert len(mismatch) == 1 and invoices(mismatch[0]["id"])[0]["status"] == "paid"
    assert invoices("cus_DemoDupeUid01") == [] and invoices("cus_DemoDupePaid01")[0]["status"] == "paid"
    uid = ok(api, "/v1/customers/cus_DemoUidMism001")
    assert "fp_uid" not in uid["metadata"]

    # every invoice that moved money on Stripe was paid through a PaymentIntent whose charge is listed
    for ds_key in (sc.STRIPE_TEST_KEY, sc.STRIPE_LIVE_KEY):
        for inv in ok(api, "/v1/invoices", ds_key, limit=100, **{"expand[]": "data.payments"})["data"]:
            assert isinstance(inv["amount_paid_off_stripe"], int), inv["id"]
            if inv["status"] != "paid" or inv["amount_paid"] - inv["amount_paid_off_stripe"] == 0:
                continue
            [pay] = inv["payments"]["data"]
            pi = pay["payment"]["payment_intent"]
            charges = ok(api, "/v1/charges", ds_key, payment_intent=pi)["data"]
            assert [c["amount"] for c in charges] == [inv["amount_paid"]], inv["id"]
            assert charges[0]["customer"] == inv["customer"]


def test_seeded_coupons_and_promotion_code(api: StripeStandIn) -> None:
    coupons = {c: ok(api, f"/v1/coupons/{c}") for c in ("ANA20", "SHARED10", "FREE100", "Z4OV52SU")}
    assert {c: v["percent_off"] for c, v in coupons.items()} == {
        "ANA20": 20.0, "SHARED10": 10.0, "FREE100": 100.0, "Z4OV52SU": 20.0}
    assert coupons["FREE100"]["name"] == "Free first month"
    [promo] = ok(api, "/v1/promotion_codes", code="PARTNER20")["data"]
    assert (promo["id"], promo["promotion"]["coupon"]) == ("promo_DemoPartner20", "Z4OV52SU")
    shared = ok(api, "/v1/invoices", customer="cus_DemoShared0001",
                **{"expand[]": "data.discounts.source.coupon"})["data"][0]
    assert shared["discounts"][0]["source"]["coupon"]["id"] == "SHARED10" and shared["total"] == 2610
    acct = ok(api, "/v1/account")
    assert (acct["id"], acct["settings"]["dashboard"]["display_name"]) == (sc.STRIPE_ACCOUNT_ID, sc.STRIPE_ACCOUNT_NAME)


# ---------------------------------------------------------------- PaymentIntents


def sdk(api: StripeStandIn, key: str = sc.STRIPE_TEST_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": api.url})


def test_payment_intents_list_by_customer_newest_first_and_paged() -> None:
    s = StripeStandIn()
    s.add_customer("cus_A", "a@example.com", created=100)
    s.add_payment_intent("pi_Old", "cus_A", 2900, created=100, status="canceled")
    s.add_payment_intent("pi_Mid", "cus_A", 2900, created=200, status="processing")
    s.add_payment_intent("pi_New", "cus_A", 2900, created=300, status="requires_capture")
    s.add_payment_intent("pi_Other", None, 500, created=400)
    with pytest.raises(ValueError):
        s.add_payment_intent("pi_Bad", "cus_A", 1, created=1, status="paid")
    with s:
        client = sdk(s)
        page = client.v1.payment_intents.list(params={"customer": "cus_A", "limit": 2})
        assert [p.id for p in page.data] == ["pi_New", "pi_Mid"] and page.has_more
        every = [p.id for p in client.v1.payment_intents.list(params={"customer": "cus_A", "limit": 1})
                 .auto_paging_iter()]
        assert every == ["pi_New", "pi_Mid", "pi_Old"]
        assert [p["id"] for p in ok(s, "/v1/payment_intents")["data"]] == ["pi_Other", "pi_New", "pi_Mid", "pi_Old"]
        new, mid, old = (client.v1.payment_intents.retrieve(i) for i in ("pi_New", "pi_Mid", "pi_Old"))
        assert (new.status, new.amount_capturable, new.amount_received) == ("requires_capture", 2900, 0)
        assert mid.status == "processing" and old.canceled_at == 100 and old.cancellation_reason == "abandoned"
        assert ok(s, "/v1/payment_intents", customer="cus_Nobody")["data"] == []
        assert get(s, "/v1/payment_intents", starting_after="pi_nope").status_code == 400


def test_seeded_payment_intents_list_for_every_customer_that_paid(api: StripeStandIn) -> None:
    client = sdk(api)
    everything = list(client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter())
    assert len(everything) == len(api.data["test"].payment_intents)
    assert [p.created for p in everything] == sorted((p.created for p in everything), reverse=True)
    for pi in everything:  # the payments seeded before PaymentIntents were listable: succeeded, charged
        if pi.status == "succeeded":
            assert pi.amount_received == pi.amount and pi.latest_charge and pi.last_payment_error is None
            assert pi.next_action is None
    [healthy] = client.v1.payment_intents.list(params={"customer": "cus_DemoHealthy01"}).data
    assert (healthy.id, healthy.amount, healthy.currency, healthy.livemode) == ("pi_DemoHealthy01", 2900, "usd", False)
    [live] = client.v1.payment_intents.list(params={"customer": "cus_DemoOtherModeL"},
                                             options={"api_key": sc.STRIPE_LIVE_KEY}).data
    assert live.livemode is True and live.status == "succeeded"


def test_a_failed_or_waiting_payment_intent_says_why(api: StripeStandIn) -> None:
    client = sdk(api)
    [declined] = client.v1.payment_intents.list(params={"customer": "cus_DemoDeclined001"}).data
    assert declined.status == "requires_payment_method" and declined.payment_method is None
    err = declined.last_payment_error
    assert err is not None
    assert (err.code, err.decline_code, err.message, err.type) == (
        "card_declined", "insufficient_funds", "Your card has insufficient funds.", "card_error")
    [charge] = client.v1.charges.list(params={"payment_intent": declined.id}).data
    assert (charge.id, charge.status, charge.paid, charge.failure_code) == (declined.latest_charge, "failed", False,
                                                                           "card_declined")
    assert charge.outcome.reason == "insufficient_funds" and charge.balance_transaction is None

    [waiting] = client.v1.payment_intents.list(params={"customer": "cus_DemoIncomplete1"}).data
    assert waiting.status == "requires_action" and waiting.latest_charge is None
    assert waiting.next_action is not None and waiting.next_action.type == "use_stripe_sdk"
    assert client.v1.charges.list(params={"customer": "cus_DemoIncomplete1"}).data == []

    declared = set(stripe.PaymentIntent.__annotations__)
    for raw in (ok(api, f"/v1/payment_intents/{i}") for i in (declined.id, waiting.id)):
        assert set(raw) <= declared, set(raw) - declared
    assert set(ok(api, f"/v1/payment_intents/{declined.id}")["last_payment_error"]) <= set(
        stripe.PaymentIntent.LastPaymentError.__annotations__)


# ---------------------------------------------------------------- deleted customers


def test_a_deleted_customer_is_a_stub_but_its_invoices_and_charges_stay() -> None:
    s = StripeStandIn()
    s.add_customer("cus_Gone", "gone@example.com", created=100)
    s.add_customer("cus_Kept", "gone@example.com", created=200)
    s.add_subscription("sub_Gone", "cus_Gone", created=100)
    s.add_invoice("in_Gone", "cus_Gone", created=100, paid_at=110, subtotal=2900, subscription="sub_Gone")
    s.delete_customer("cus_Gone", at=300)
    with s:
        client = sdk(s)
        gone = client.v1.customers.retrieve("cus_Gone")
        assert gone.deleted is True and gone.id == "cus_Gone"
        assert ok(s, "/v1/customers/cus_Gone") == {"id": "cus_Gone", "object": "customer", "deleted": True}
        assert [c.id for c in client.v1.customers.list(params={"email": "gone@example.com"}).data] == ["cus_Kept"]
        hits = client.v1.customers.search(params={"query": "email:'gone@example.com'"}).data
        assert [c.id for c in hits] == ["cus_Kept"]
        assert [c["id"] for c in ok(s, "/v1/customers")["data"]] == ["cus_Kept"]
        [inv] = client.v1.invoices.list(params={"customer": "cus_Gone", "expand": ["data.customer"]}).data
        assert inv.id == "in_Gone" and inv.customer.deleted is True and inv.customer_email == "gone@example.com"
        [ch] = client.v1.charges.list(params={"customer": "cus_Gone"}).data
        assert (ch.id, ch.status, ch.customer) == ("ch_Gone", "succeeded", "cus_Gone")
        [sub] = client.v1.subscriptions.list(params={"customer": "cus_Gone", "status": "all"}).data
        assert (sub.status, sub.canceled_at) == ("canceled", 300)  # Stripe cancels them on deletion
        assert get(s, "/v1/customers/cus_Never").status_code == 404


def test_the_deleted_uid_customer_scenario(api: StripeStandIn) -> None:
    s = sc.by_name("deleted-uid-customer")
    assert s.referral_uid == "cus_DemoDeleted0001"
    assert ok(api, "/v1/customers/cus_DemoDeleted0001") == {
        "id": "cus_DemoDeleted0001", "object": "customer", "deleted": True}
    [now] = ok(api, "/v1/customers", email=s.email)["data"]
    assert now["id"] == s.stripe_customer_id == "cus_DemoDelNew00001"
    [old] = ok(api, "/v1/invoices", customer="cus_DemoDeleted0001")["data"]
    assert (old["status"], old["amount_paid"], old["customer_email"]) == ("paid", 0, s.email)  # the $0 trial
    [paid] = ok(api, "/v1/invoices", customer=s.stripe_customer_id)["data"]
    assert (paid["status"], paid["amount_paid"]) == ("paid", 2900)
    assert NOW - paid["status_transitions"]["paid_at"] == pytest.approx(86_400, abs=60)


# ---------------------------------------------------------------- invoices paid outside Stripe


def test_every_invoice_has_the_off_stripe_amount_collection_method_and_starting_balance(api: StripeStandIn) -> None:
    for key in (sc.STRIPE_TEST_KEY, sc.STRIPE_LIVE_KEY):
        for inv in sdk(api, key).v1.invoices.list(params={"limit": 100}).auto_paging_iter():
            assert inv.collection_method in ("charge_automatically", "send_invoice"), inv.id
            assert isinstance(inv.amount_paid_off_stripe, int) and isinstance(inv.starting_balance, int), inv.id
            if inv.id != "in_DemoOutOfBand1":
                assert (inv.amount_paid_off_stripe, inv.collection_method) == (0, "charge_automatically"), inv.id


def test_an_invoice_paid_outside_stripe_has_only_a_payment_record(api: StripeStandIn) -> None:
    client = sdk(api)
    inv = client.v1.invoices.retrieve("in_DemoOutOfBand1", params={"expand": ["payments"]})
    assert (inv.status, inv.amount_paid, inv.amount_paid_off_stripe, inv.collection_method) == (
        "paid", 2900, 2900, "send_invoice")
    assert inv.due_date is not None and inv.attempt_count == 0
    assert NOW - inv.status_transitions.paid_at == pytest.approx(86_400, abs=60)
    [pay] = inv.payments.data
    assert (pay.payment.type, pay.payment.payment_record, pay.status, pay.amount_paid) == (
        "payment_record", "prec_DemoOutOfBand1", "paid", 2900)
    listed = ok(api, "/v1/invoices", customer="cus_DemoOutOfBand1", **{"expand[]": "data.payments"})["data"]
    assert listed[0]["payments"]["data"][0]["payment"] == {"type": "payment_record",
                                                           "payment_record": "prec_DemoOutOfBand1"}
    assert client.v1.charges.list(params={"customer": "cus_DemoOutOfBand1"}).data == []
    assert client.v1.payment_intents.list(params={"customer": "cus_DemoOutOfBand1"}).data == []
    # Stripe moved no money: invoice.paid, but no invoice.payment_succeeded
    types = [e["type"] for e in api.data["test"].events.values() if e["data"]["object"].get("id") == inv.id]
    assert types == ["invoice.paid"]


def test_starting_balance_and_a_partly_off_stripe_payment() -> None:
    s = StripeStandIn()
    s.add_customer("cus_B", "b@example.com", created=100)
    credit = s.add_invoice("in_Credit", "cus_B", created=100, subtotal=2900, starting_balance=-5000)
    assert (credit["amount_due"], credit["amount_paid"], credit["ending_balance"]) == (0, 0, -2100)
    owed = s.add_invoice("in_Owed", "cus_B", created=200, status="open", subtotal=2900, starting_balance=100)
    assert (owed["amount_due"], owed["amount_remaining"], owed["ending_balance"]) == (3000, 3000, 0)
    s.add_invoice("in_Split", "cus_B", created=300, subtotal=2900, amount_paid_off_stripe=900, payment_record="prec_B")
    with pytest.raises(ValueError):
        s.add_invoice("in_Bad", "cus_B", created=1, subtotal=1, collection_method="by_post")
    with s:
        inv = sdk(s).v1.invoices.retrieve("in_Split", params={"expand": ["payments"]})
        assert [(p.payment.type, p.amount_paid, p.is_default) for p in inv.payments.data] == [
            ("payment_intent", 2000, True), ("payment_record", 900, False)]
        assert [c["amount"] for c in ok(s, "/v1/charges", customer="cus_B")["data"]] == [2000]


# ---------------------------------------------------------------- the scenarios past the charge


def test_seeded_unpaid_first_invoices_and_expired_checkout(api: StripeStandIn) -> None:
    client = sdk(api)
    for cus, pi_status in (("cus_DemoIncomplete1", "requires_action"), ("cus_DemoDeclined001", "requires_payment_method")):
        [sub] = client.v1.subscriptions.list(params={"customer": cus}).data
        inv = client.v1.invoices.retrieve(sub.latest_invoice, params={"expand": ["payments"]})
        assert (sub.status, inv.status, inv.amount_due, inv.amount_paid, inv.billing_reason) == (
            "incomplete", "open", 2900, 0, "subscription_create"), cus
        [attempt] = inv.payments.data
        assert (attempt.status, attempt.amount_paid) == ("open", None)
        pi = client.v1.payment_intents.retrieve(attempt.payment.payment_intent)
        assert (pi.customer, pi.status, pi.amount) == (cus, pi_status, 2900)
        assert not [c for c in client.v1.charges.list(params={"customer": cus}).data if c.status == "succeeded"]
    [sub] = client.v1.subscriptions.list(params={"customer": "cus_DemoIncomplete1"}).data
    assert NOW - sub.created == pytest.approx(3600, abs=60)

    s = sc.by_name("checkout-expired")
    [cs] = client.v1.checkout.sessions.list(params={"customer": s.stripe_customer_id}).data
    assert (cs.mode, cs.status, cs.payment_status, cs.customer_details.email, cs.url) == (
        "subscription", "expired", "unpaid", s.email, None)
    assert NOW - cs.created == pytest.approx(2 * 86_400, abs=60)
    assert client.v1.invoices.list(params={"customer": s.stripe_customer_id}).data == []
    assert client.v1.charges.list(params={"customer": s.stripe_customer_id}).data == []
    assert ok(api, "/v1/customers/cus_DemoCoExpired01")["created"] < cs.created


def test_seeded_other_mode_and_other_promoters_coupon(api: StripeStandIn) -> None:
    email = sc.by_name("paid-other-mode").email
    [test] = ok(api, "/v1/customers", email=email)["data"]
    assert test["id"] == "cus_DemoOtherMode1" and ok(api, "/v1/invoices", customer=test["id"])["data"] == []
    [live] = ok(api, "/v1/customers", sc.STRIPE_LIVE_KEY, email=email)["data"]
    [inv] = ok(api, "/v1/invoices", sc.STRIPE_LIVE_KEY, customer=live["id"])["data"]
    assert (live["id"], inv["livemode"], inv["status"], inv["amount_paid"]) == ("cus_DemoOtherModeL", True, "paid", 2900)
    assert NOW - inv["status_transitions"]["paid_at"] == pytest.approx(86_400, abs=60)

    assert ok(api, "/v1/coupons/EVE15")["percent_off"] == 15.0
    assert sc.PROMOTER_CAMPAIGN_COUPONS[sc.PC_EVE] == "EVE15"
    [eve] = ok(api, "/v1/invoices", customer="cus_DemoEveCoupon1", **{"expand[]": "data.discounts.source.coupon"})["data"]
    assert eve["discounts"][0]["source"]["coupon"]["id"] == "EVE15"
    assert (eve["subtotal"], eve["total"], eve["amount_paid"]) == (2900, 2465, 2465)
