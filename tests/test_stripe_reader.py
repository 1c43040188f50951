"""StripeReader against the seeded Stripe stand-in over loopback HTTP, with the real `stripe` SDK:
what it finds per scenario, and a clear, key-free reason for every kind of upstream failure."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import stripe

from checks.sources import SourceError
from checks.sources.stripe import StripeReader
from sandbox import scenarios as sc
from sandbox.stripe_server import API_ERROR, RATE_LIMIT_ERROR, StripeStandIn

KEYS = (sc.STRIPE_TEST_KEY, sc.STRIPE_LIVE_KEY, sc.STRIPE_RESTRICTED_KEY)




def reader(api: StripeStandIn, key: str = sc.STRIPE_TEST_KEY, **kw: Any) -> StripeReader:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("backoff", 0.01)
    return StripeReader(key, api.url, **kw)


def failure(fn: Any, *args: Any, keys: tuple[str, ...] = KEYS) -> str:
    """The SourceError's reason, checked to hold no key (nor a masked one)."""
    with pytest.raises(SourceError) as exc:
        fn(*args)
    reason = str(exc.value)
    for key in keys:
        assert key not in reason and key[8:] not in reason
    assert "sk_" not in reason and "rk_" not in reason and "****" not in reason
    assert "Traceback" not in reason and "\n" not in reason
    return reason


# ---------------------------------------------------------------- what it finds


def test_key_mode_from_prefix(api: StripeStandIn) -> None:
    assert reader(api).key_mode == "test"
    assert reader(api, sc.STRIPE_LIVE_KEY).key_mode == "live"
    assert reader(api, sc.STRIPE_RESTRICTED_KEY).key_mode == "test"
    assert reader(api, "rk_live_x").key_mode == "live"
    assert reader(api, "pk_test_x").key_mode is None
    with pytest.raises(SourceError, match="STRIPE_API_KEY"):
        StripeReader("  ", api.url)


def test_account_and_restricted_key_fallback(api: StripeStandIn) -> None:
    acct = reader(api).account()
    assert (acct.id, acct.name, acct.source) == (sc.STRIPE_ACCOUNT_ID, sc.STRIPE_ACCOUNT_NAME, "api")
    restricted = reader(api, sc.STRIPE_RESTRICTED_KEY).account()
    assert (restricted.id, restricted.source) == (sc.STRIPE_ACCOUNT_ID, "permission_error")


def test_case_variant_is_found_and_tagged(api: StripeStandIn) -> None:
    r = reader(api)
    [c] = r.customers_by_email("case@example.com")
    assert (c.id, c.email, c.match) == ("cus_DemoCaseVar001", "Case@Example.com", "case_variant")
    assert r.search_warning is None
    [exact] = r.customers_by_email("Case@Example.com")
    assert exact.match == "exact"
    # lists: the exact and the lower-cased email; then one search
    paths = [(q.path, q.param("email") or q.param("query")) for q in api.calls()]
    assert ("/v1/customers/search", "email:'case@example.com'") in paths
    assert ("/v1/customers", "case@example.com") in paths


def test_duplicates_and_fp_uid(api: StripeStandIn) -> None:
    r = reader(api)
    found = r.customers_by_email("dupe@example.com")
    assert [(c.id, c.match, c.fp_uid) for c in found] == [
        ("cus_DemoDupePaid01", "exact", None), ("cus_DemoDupeUid01", "exact", "user_7731")]
    [by_uid] = r.customers_by_fp_uid("user_7731")
    assert (by_uid.id, by_uid.match) == ("cus_DemoDupeUid01", "fp_uid")
    assert r.customers_by_fp_uid("user_nobody") == ()
    assert r.customers_by_email("email-mismatch@example.com") == ()


def test_customer_by_id(api: StripeStandIn) -> None:
    r = reader(api)
    c = r.customer("cus_DemoHealthy01")
    assert c is not None and (c.email, c.match, c.livemode) == ("healthy@example.com", "id", False)
    assert r.customer("cus_DoesNotExist") is None


def test_search_refused_keeps_what_lists_found(api: StripeStandIn) -> None:
    api.inject(r"/v1/customers/search", status=403, body={"error": {
        "type": "invalid_request_error",
        "message": "The provided key 'rk_test_****0000' does not have the required permissions for this "
                   "endpoint on account 'acct_1FpcheckSandbox01'. Having the 'rak_customer_read' permission "
                   "would allow this request to continue."}})
    r = reader(api)
    found = r.customers_by_email("dupe@example.com")
    assert {c.id for c in found} == {"cus_DemoDupePaid01", "cus_DemoDupeUid01"}
    assert r.search_warning and "rak_customer_read" in r.search_warning and "****" not in r.search_warning
    assert r.customers_by_email("case@example.com") == ()  # only search finds that one
    # without search, the lower-cased list still finds what was typed in capitals
    upper = r.customers_by_email("DUPE@example.com")
    assert {(c.id, c.match) for c in upper} == {("cus_DemoDupePaid01", "case_variant"), ("cus_DemoDupeUid01", "case_variant")}


def test_invoices_with_expanded_coupon_and_promotion_code(api: StripeStandIn) -> None:
    r = reader(api)
    [promo] = r.invoices("cus_DemoPromoCode1")
    [d] = promo.discounts
    assert d.coupon is not None and (d.coupon.id, d.coupon.percent_off) == ("Z4OV52SU", 20.0)
    assert d.promotion_code is not None and (d.promotion_code.id, d.promotion_code.code) == (
        "promo_DemoPartner20", "PARTNER20")
    assert (promo.subtotal, promo.total_discount_amount, promo.total, promo.amount_paid) == (2900, 580, 2320, 2320)
    assert promo.payment_intent_ids == ("pi_DemoPromoCode1",) and promo.subscription_id == "sub_DemoPromoCode1"

    [free] = r.invoices("cus_DemoFree100001")
    assert free.discounts[0].coupon is not None and free.discounts[0].coupon.percent_off == 100.0
    assert free.discounts[0].promotion_code is None
    assert (free.status, free.total, free.amount_paid, free.payment_intent_ids) == ("paid", 0, 0, ())

    [healthy] = r.invoices("cus_DemoHealthy01")
    assert healthy.id == "in_DemoHealthy01" and healthy.paid_at is not None
    assert [i.status for i in r.invoices("cus_DemoNoPay0001")] == ["open"]
    assert r.invoices("cus_DemoOneTime01") == ()


def test_charges_and_subscriptions(api: StripeStandIn) -> None:
    r = reader(api)
    [ch] = r.charges("cus_DemoOneTime01")
    assert (ch.id, ch.amount, ch.status, ch.payment_intent) == ("ch_DemoOneTime01", 9900, "succeeded", "pi_DemoOneTime01")
    [sub] = r.subscriptions("cus_DemoTrial0001")
    assert sub.status == "trialing" and sub.trial_end is not None
    assert api.calls(path="/v1/subscriptions")[-1].param("status") == "all"


def test_tracking_coupon_id_vs_promotion_code(api: StripeStandIn) -> None:
    r = reader(api)
    ana = r.tracking_coupon("ANA20")
    assert ana.coupon is not None and ana.coupon.id == "ANA20" and ana.promotion_codes == ()
    partner = r.tracking_coupon("PARTNER20")
    assert partner.coupon is None
    assert [(p.id, p.code, p.coupon_id) for p in partner.promotion_codes] == [
        ("promo_DemoPartner20", "PARTNER20", "Z4OV52SU")]
    neither = r.tracking_coupon("NOSUCH")
    assert neither.coupon is None and neither.promotion_codes == ()


def test_live_key_sees_live_data_only(api: StripeStandIn) -> None:
    live = reader(api, sc.STRIPE_LIVE_KEY)
    [c] = live.customers_by_email("live-only@example.com")
    assert c.livemode is True
    [inv] = live.invoices(c.id)
    assert inv.livemode is True and inv.status == "paid"
    assert reader(api).customers_by_email("live-only@example.com") == ()
    assert live.customers_by_email("healthy@example.com") == ()


def test_paging_is_followed_and_bounded() -> None:
    s = StripeStandIn()
    for n in range(350):
        s.add_customer(f"cus_Many{n:04d}", "many@example.com", created=1000 + n)
    with s:
        r = StripeReader(sc.STRIPE_TEST_KEY, s.url, timeout=2)
        found = r.customers_by_email("many@example.com")
        # 3 pages of 100 from the list; search (3 pages more) adds nothing new within its bound
        assert len(found) == 300
        assert len(s.calls(path=r"^/v1/customers$")) == 3


# ---------------------------------------------------------------- failures


def test_revoked_key_401(api: StripeStandIn) -> None:
    key = "sk_test_revokedForReader000001"
    api.add_key(key)
    api.revoke(key)
    reason = failure(reader(api, key).account, keys=(*KEYS, key))
    assert "401" in reason and "STRIPE_API_KEY" in reason and "revoked" in reason
    assert len(api.calls()) == 1  # a bad key is not retried


def test_missing_permission_403_names_it(api: StripeStandIn) -> None:
    key = "rk_test_noInvoiceReads00000001"
    api.add_key(key)
    api.deny(key, r"^/v1/invoices", "rak_invoice_read")
    reason = failure(reader(api, key).invoices, "cus_DemoHealthy01", keys=(*KEYS, key))
    assert "rak_invoice_read" in reason and "403" in reason and "invoices" in reason


def test_429_without_retry_after_is_retried_a_bounded_number_of_times(api: StripeStandIn) -> None:
    api.inject(r"/v1/charges", status=429, body=RATE_LIMIT_ERROR)
    r = reader(api, retries=2)
    reason = failure(r.charges, "cus_DemoHealthy01")
    assert "rate-limited us (429) 3 times" in reason
    assert len(api.calls(path="/v1/charges")) == 3 == r.calls


def test_429_honours_retry_after(api: StripeStandIn) -> None:
    api.inject(r"/v1/charges", status=429, body=RATE_LIMIT_ERROR, headers={"Retry-After": "0.3"}, times=2)
    r = reader(api, retries=2)
    started = time.monotonic()
    [ch] = r.charges("cus_DemoHealthy01")
    assert ch.id == "ch_DemoHealthy01"
    assert time.monotonic() - started >= 0.6
    assert len(api.calls(path="/v1/charges")) == 3


def test_429_asking_too_long_a_wait_gives_up_at_once(api: StripeStandIn) -> None:
    api.inject(r"/v1/charges", status=429, body=RATE_LIMIT_ERROR, headers={"Retry-After": "120"})
    started = time.monotonic()
    reason = failure(reader(api, retries=2, max_wait=5).charges, "cus_DemoHealthy01")
    assert "429" in reason and "120 s" in reason
    assert time.monotonic() - started < 1 and len(api.calls(path="/v1/charges")) == 1


def test_429_with_an_empty_body_is_still_a_rate_limit(api: StripeStandIn) -> None:
    api.inject(r"/v1/charges", status=429)
    reason = failure(reader(api, retries=1).charges, "cus_DemoHealthy01")
    assert "429" in reason and len(api.calls(path="/v1/charges")) == 2


def test_500_is_retried_then_explained(api: StripeStandIn) -> None:
    api.inject(r"/v1/invoices", status=500, body=API_ERROR)
    reason = failure(reader(api, retries=2).invoices, "cus_DemoHealthy01")
    assert "500" in reason and "3 attempts" in reason and "req_" in reason
    assert len(api.calls(path="/v1/invoices")) == 3


def test_500_once_then_success(api: StripeStandIn) -> None:
    api.inject(r"/v1/invoices", status=500, body=API_ERROR, times=1)
    r = reader(api)
    assert [i.id for i in r.invoices("cus_DemoHealthy01")] == ["in_DemoHealthy01"]
    assert r.calls == 2


def test_stripe_should_retry_false_is_respected(api: StripeStandIn) -> None:
    api.inject(r"/v1/invoices", status=503, body=API_ERROR, headers={"Stripe-Should-Retry": "false"})
    reason = failure(reader(api, retries=2).invoices, "cus_DemoHealthy01")
    assert "503" in reason and len(api.calls(path="/v1/invoices")) == 1


def test_timeout_is_not_retried_and_says_how_long(api: StripeStandIn) -> None:
    api.inject(r"/v1/account", delay=1.5)
    started = time.monotonic()
    reason = failure(reader(api, timeout=0.3).account)
    assert "did not answer within 0.3 s" in reason
    assert time.monotonic() - started < 1.2
    assert len(api.calls(path="/v1/account")) == 1


def test_dropped_connection(api: StripeStandIn) -> None:
    api.inject(r"/v1/subscriptions", drop=True)
    reason = failure(reader(api, retries=2).subscriptions, "cus_DemoHealthy01")
    assert "closed the connection" in reason
    assert len(api.calls(path="/v1/subscriptions")) == 3


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    r = StripeReader(sc.STRIPE_TEST_KEY, f"http://127.0.0.1:{port}", timeout=1, retries=1, backoff=0.01)
    reason = failure(r.account)
    assert "connection refused" in reason and f"127.0.0.1:{port}" in reason
    assert r.calls == 2


def test_malformed_body(api: StripeStandIn) -> None:
    api.inject(r"/v1/coupons", malformed=True)
    reason = failure(reader(api).tracking_coupon, "ANA20")
    assert "not Stripe's JSON" in reason and len(api.calls(path="/v1/coupons")) == 1


def test_unexpected_shape_is_a_clear_error(api: StripeStandIn) -> None:
    api.inject(r"/v1/charges", status=200, body={"object": "list", "data": [{"id": "ch_x"}], "has_more": False})
    reason = failure(reader(api).charges, "cus_DemoHealthy01")
    assert "expected shape" in reason


# ---------------------------------------------------------------- read-only, counting


def test_a_full_set_of_reads_sends_only_gets(api: StripeStandIn) -> None:
    for key in (sc.STRIPE_TEST_KEY, sc.STRIPE_LIVE_KEY, sc.STRIPE_RESTRICTED_KEY):
        r = reader(api, key)
        r.account()
        for s in sc.SCENARIOS:
            for c in r.customers_by_email(s.email):
                r.customer(c.id)
                r.invoices(c.id)
                r.charges(c.id)
                r.subscriptions(c.id)
        r.customers_by_fp_uid("user_7731")
        for value in ("ANA20", "PARTNER20", "SHARED10", "FREE100"):
            r.tracking_coupon(value)
    assert len(api.calls()) > 100
    assert {q.method for q in api.calls()} == {"GET"} and api.writes() == []


def test_the_client_refuses_to_send_a_write(api: StripeStandIn) -> None:
    r = reader(api)
    with pytest.raises(stripe.APIConnectionError, match="read-only"):
        r._client.v1.customers.create(params={"email": "x@example.com"})
    assert api.calls() == [] and r.calls == 0


def test_calls_are_counted_across_threads(api: StripeStandIn) -> None:
    r = reader(api)
    ids = ["cus_DemoHealthy01", "cus_DemoShared0001", "cus_DemoPromoCode1", "cus_DemoTrial0001"] * 5
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(r.invoices, ids))
    assert r.calls == len(api.calls()) == len(ids)
