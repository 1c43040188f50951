"""FirstPromoterReader against the seeded FirstPromoter stand-in, over loopback HTTP."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from checks.facts import ReferralLookup
from checks.sources import SourceError
from checks.sources.firstpromoter import FirstPromoterReader, ReadOnlyViolation
from sandbox.fp_seed import seed_firstpromoter
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.scenarios import FP_ACCOUNT_ID, PC_ANA, PC_BEN, SCENARIOS, by_name

# A distinctive key, so a test can prove it never leaks into a reason or a log line.
KEY = "fp_test_SECRET_key_5f3a9c"
BASE = "/api/v2/company"

MakeReader = Callable[..., FirstPromoterReader]


@pytest.fixture
def fp() -> Iterator[FirstPromoterStandIn]:
    standin = FirstPromoterStandIn(api_keys=(KEY,))
    seed_firstpromoter(standin)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def make_reader(fp: FirstPromoterStandIn) -> Iterator[MakeReader]:
    made: list[FirstPromoterReader] = []

    def make(**kw: Any) -> FirstPromoterReader:
        args: dict[str, Any] = {"api_key": KEY, "account_id": FP_ACCOUNT_ID, "api_base": fp.url + BASE,
                                "timeout": 2.0, "backoff_base": 0.01, "backoff_cap": 0.05}
        args.update(kw)
        reader = FirstPromoterReader(**args)
        made.append(reader)
        return reader

    yield make
    for r in made:
        r.close()


@pytest.fixture
def reader(make_reader: MakeReader) -> FirstPromoterReader:
    return make_reader()


def failure(call: Callable[[], Any]) -> str:
    with pytest.raises(SourceError) as info:
        call()
    reason = str(info.value)
    assert KEY not in reason
    assert "Traceback" not in reason
    return reason


# ---------------------------------------------------------------------- finding the referral


def test_finds_by_email_with_everything_the_rules_need(reader, fp):
    found = reader.find_referral("healthy@example.com", ["cus_DemoHealthy01"])
    assert found.found_by == "email" and found.tried == ("email",)
    r = found.referral
    assert r is not None
    assert (r.id, r.email, r.uid, r.state, r.entry_source) == (
        5001, "healthy@example.com", "cus_DemoHealthy01", "active", "cookie")
    assert r.is_customer and r.customer_since is not None and r.customer_since.tzinfo is not None
    assert r.promoter_campaign is not None and r.promoter_campaign.id == PC_ANA
    assert r.promoter_campaign.promoter is not None and r.promoter_campaign.promoter.name == "Ana Promoter"
    assert r.promoter_campaign.campaign is not None and r.promoter_campaign.campaign.name == "Main Campaign"
    assert [(c.method, c.path, c.param("find_by")) for c in fp.calls()] == [
        ("GET", f"{BASE}/referrals/healthy%40example.com", "email")]


def test_sends_both_auth_headers_and_accepts_json(reader, fp):
    reader.find_referral("healthy@example.com", [])
    (req,) = fp.calls()
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["account-id"] == FP_ACCOUNT_ID
    assert req.headers["accept"] == "application/json"


def test_url_encodes_the_email(reader, fp):
    rid = fp.add_referral("jane+promo@example.com", promoter_campaign_id=PC_ANA)
    found = reader.find_referral("jane+promo@example.com", [])
    assert found.referral is not None and found.referral.id == rid
    assert fp.calls()[0].path == f"{BASE}/referrals/jane%2Bpromo%40example.com"


def test_search_encodes_a_plus_in_the_query(reader, fp):
    rid = fp.add_referral("Jane+Promo@example.com", promoter_campaign_id=PC_ANA)
    found = reader.find_referral("jane+promo@example.com", [])  # find_by misses on letter case
    assert found.found_by == "search" and found.referral is not None and found.referral.id == rid
    # a '+' sent unencoded would arrive as a space and the search would miss
    assert fp.calls(path=r"/referrals$")[0].param("q") == "jane+promo@example.com"


def test_falls_back_to_the_uid_when_the_email_misses(reader, fp):
    # The customer paid under another email; the caller passes the Stripe customer id it found.
    found = reader.find_referral("paid-as-someone-else@example.com", ["cus_Nope", "cus_DemoMissComm01"])
    assert found.found_by == "customer_id"
    assert found.tried == ("email", "uid:cus_Nope", "uid:cus_DemoMissComm01")
    assert found.referral is not None and found.referral.email == "missing-commission@example.com"

    found = reader.find_referral(None, ["user_7731"])
    assert found.found_by == "uid" and found.tried == ("uid:user_7731",)
    assert found.referral is not None and found.referral.email == "dupe@example.com"


def test_falls_back_to_search_with_an_exact_case_insensitive_match(reader, fp):
    # find_by=email is exact in the stand-in; `q` also returns showcase@example.com.
    found = reader.find_referral("CASE@Example.com", [])
    assert found.found_by == "search" and found.tried == ("email", "search:CASE@Example.com")
    assert found.referral is not None and found.referral.email == "case@example.com"
    search = fp.calls(path=r"/referrals$")[0]
    assert search.param("q") == "CASE@Example.com" and search.param("per_page") == "100"


def test_search_never_settles_for_a_partial_match(reader, fp):
    # q=healthy@example.com also matches xhealthy@example.com; with the real one gone, nothing matches.
    del fp.referrals[5001]
    found = reader.find_referral("healthy@example.com", [])
    assert found.referral is None and found.found_by is None


def test_not_in_firstpromoter(reader):
    s = by_name("no-referral")
    found = reader.find_referral(s.email, [s.stripe_customer_id])
    assert found == ReferralLookup(referral=None, tried=("email", f"uid:{s.stripe_customer_id}", f"search:{s.email}"))


def test_a_422_find_by_miss_also_means_not_found():
    standin = FirstPromoterStandIn(api_keys=(KEY,), find_by_miss_status=422)
    seed_firstpromoter(standin)
    with standin, FirstPromoterReader(KEY, FP_ACCOUNT_ID, standin.url + BASE, timeout=2) as reader:
        found = reader.find_referral("other@example.com", ["cus_DemoHealthy01"])
        assert found.found_by == "customer_id" and found.referral is not None
        assert reader.find_referral("nobody@example.com", []).referral is None
        assert [c.path for c in standin.calls()][-2:] == [f"{BASE}/referrals/nobody%40example.com",
                                                          f"{BASE}/referrals"]


def test_every_scenario_is_found_as_seeded(reader):
    for s in SCENARIOS:
        found = reader.find_referral(s.email, [s.stripe_customer_id] if s.stripe_customer_id else [])
        if not s.referral:
            assert found.referral is None, s.name
            continue
        r = found.referral
        assert r is not None and found.found_by == "email", s.name
        assert (r.state, r.uid, r.entry_source) == (s.referral_state, s.referral_uid, s.entry_source), s.name
        assert r.promoter_campaign is not None and r.promoter_campaign.id == s.promoter_campaign_id
        assert r.is_customer == (s.referral_state == "active"), s.name


# ---------------------------------------------------------------------- lists


def test_promoter_campaigns_across_two_pages(reader, fp):
    campaigns = reader.promoter_campaigns()
    assert len(campaigns) == 134 and len({pc.id for pc in campaigns}) == 134
    pages = fp.calls(path="/promoter_campaigns")
    assert [(r.param("page"), r.param("per_page")) for r in pages] == [("1", "100"), ("2", "100")]
    by_id = {pc.id: pc for pc in campaigns}
    ana, ben = by_id[PC_ANA], by_id[PC_BEN]
    assert (ana.coupon, ana.display_coupon, ana.state) == ("ANA20", "ANA20OFF", "accepted")
    assert ana.promoter is not None and ana.promoter.email == "ana@promoters.example"
    assert (ben.coupon, ben.display_coupon) == ("PARTNER20", "PARTNER20")
    assert any(pc.coupon is None for pc in campaigns)  # promoters without a tracking coupon


def test_an_exact_multiple_of_per_page_ends_on_the_empty_page(make_reader, fp):
    reader = make_reader(per_page=67)  # 134 = 2 x 67
    assert len(reader.promoter_campaigns()) == 134
    assert [r.param("page") for r in fp.calls(path="/promoter_campaigns")] == ["1", "2", "3"]


def test_a_page_that_repeats_the_previous_one_ends_the_listing(make_reader, fp):
    reader = make_reader(per_page=2)
    same_page = [fp.promoter_campaign_json(fp.promoter_campaigns[pcid]) for pcid in (PC_ANA, PC_BEN)]
    fp.inject("/promoter_campaigns", status=200, body=same_page)  # a server that ignores `page`
    assert [pc.id for pc in reader.promoter_campaigns()] == [PC_ANA, PC_BEN]
    assert len(fp.calls(path="/promoter_campaigns")) == 2


def test_a_listing_longer_than_max_pages_is_an_error_not_a_partial_list(make_reader, fp):
    reader = make_reader(max_pages=1)
    reason = failure(reader.promoter_campaigns)
    assert "more than 100" in reason and "stopped after 1 page(s)" in reason
    assert len(fp.calls()) == 1


def test_a_data_envelope_is_accepted_too(reader, fp):
    row = fp.commission_json(fp.commissions[7001])
    fp.inject("/commissions", status=200, body={"data": [row], "meta": {}}, times=1)
    (c,) = reader.commissions("in_DemoHealthy01")
    assert c.event_id == "in_DemoHealthy01"


def test_commissions_by_event_id(reader, fp):
    (c,) = reader.commissions("in_DemoHealthy01")
    assert (c.event_id, c.status, c.amount, c.sale_amount, c.unit) == (
        "in_DemoHealthy01", "approved", 580, 2900, "cash")
    assert c.referral_email == "healthy@example.com" and c.created_at is not None
    assert reader.commissions("in_DemoMissComm01") == ()
    (one_time,) = reader.commissions("ch_DemoOneTime01")
    assert one_time.referral_email == "one-time@example.com"
    assert fp.calls(path="/commissions")[0].param("q") == "in_DemoHealthy01"


def test_commissions_page_until_a_short_page(make_reader, fp):
    for i in range(5):
        fp.add_commission(f"in_Bulk{i:04d}", referral_id=5001)
    reader = make_reader(per_page=2)
    assert len(reader.commissions("in_Bulk")) == 5
    assert [r.param("page") for r in fp.calls(path="/commissions")] == ["1", "2", "3"]


def test_an_unexpected_shape_is_a_clear_error(reader, fp):
    fp.inject("/commissions", status=200, body={"unexpected": True})
    assert "unexpected shape for /commissions" in failure(lambda: reader.commissions("x"))
    fp.clear_faults()
    fp.inject("/commissions", status=200, body=[{"id": "not-a-number", "event_id": "in_1"}])
    reason = failure(lambda: reader.commissions("x"))
    assert reason.startswith("FirstPromoter sent a commission this reader does not understand: id")


# ---------------------------------------------------------------------- failures


def test_wrong_key_is_401_with_a_clear_reason(make_reader, fp):
    reader = make_reader(api_key="fp_some_OTHER_key_777")
    reason = failure(lambda: reader.find_referral("healthy@example.com", []))
    assert reason == ("FirstPromoter rejected the API key (401): check FIRSTPROMOTER_API_KEY "
                      "(a V2 key from Settings → Integrations → Manage API Keys)")
    assert "fp_some_OTHER_key_777" not in reason
    assert len(fp.calls()) == 1  # 401 is not retried


def test_revoked_key(reader, fp):
    fp.revoke(KEY)
    assert "(401)" in failure(reader.promoter_campaigns)


def test_wrong_account_id_is_found_out_even_though_find_by_misses_look_alike(make_reader, fp):
    reader = make_reader(account_id="acc_someone_else")
    reason = failure(lambda: reader.find_referral("healthy@example.com", ["cus_DemoHealthy01"]))
    assert reason.startswith("FirstPromoter answered 404: check FIRSTPROMOTER_ACCOUNT_ID")
    assert [c.param("find_by") for c in fp.calls()] == ["email", "uid", None]
    assert failure(reader.promoter_campaigns).startswith("FirstPromoter answered 404: check FIRSTPROMOTER_ACCOUNT_ID")


def test_403_gives_firstpromoters_message(reader, fp):
    fp.forbid("/referrals")
    reason = failure(lambda: reader.find_referral("healthy@example.com", []))
    assert reason == ("FirstPromoter refused GET /referrals/{email}?find_by=email (403): "
                      "You don't have enough rights to perform this action")


def test_422_on_a_list_call(reader, fp):
    fp.inject("/commissions", status=422, body={"message": "param is invalid: q", "code": "invalid_params"})
    reason = failure(lambda: reader.commissions("x"))
    assert reason == "FirstPromoter rejected GET /commissions as invalid (422): param is invalid: q"


def test_429_forever_gives_up_after_the_bounded_attempts(make_reader, fp, caplog):
    reader = make_reader(retries=2)
    fp.inject("/commissions", status=429)  # no Retry-After, as documented
    with caplog.at_level(logging.DEBUG, logger="checks.sources.firstpromoter"):
        reason = failure(lambda: reader.commissions("in_DemoHealthy01"))
    assert reason.startswith("FirstPromoter answered 429 (rate limited) on GET /commissions; "
                             "gave up after 3 attempts in ")
    assert len(fp.calls()) == 3 and reader.calls == 3
    assert "retrying" in caplog.text and KEY not in caplog.text


def test_429_with_retry_after_is_honoured(make_reader, fp):
    reader = make_reader(retries=2)
    fp.inject("/commissions", status=429, headers={"Retry-After": "1"}, times=1)
    started = time.monotonic()
    (c,) = reader.commissions("in_DemoHealthy01")
    assert c.event_id == "in_DemoHealthy01"
    assert time.monotonic() - started >= 1.0  # backoff_base is 0.01 s: only Retry-After waits this long
    assert len(fp.calls()) == 2


def test_a_retry_after_longer_than_the_wait_budget_gives_up_at_once(make_reader, fp):
    reader = make_reader(retries=5, max_total_wait=3)
    fp.inject("/commissions", status=429, headers={"Retry-After": "120"})
    started = time.monotonic()
    reason = failure(lambda: reader.commissions("x"))
    assert time.monotonic() - started < 1.0
    assert "asked to wait 120 s" in reason and len(fp.calls()) == 1


def test_the_total_wait_is_capped(make_reader, fp):
    reader = make_reader(retries=10, backoff_base=0.2, backoff_cap=0.2, max_total_wait=0.3)
    fp.inject("/commissions", status=503)
    started = time.monotonic()
    failure(lambda: reader.commissions("x"))
    assert time.monotonic() - started < 1.5
    assert len(fp.calls()) < 11


def test_500_then_success(reader, fp):
    fp.inject("/promoter_campaigns", status=500, body={"error": "oops"}, times=1)
    assert len(reader.promoter_campaigns()) == 134
    assert len(fp.calls()) == 3  # the failed try, then two pages


def test_500_forever(make_reader, fp):
    reader = make_reader(retries=1)
    fp.inject("/promoter_campaigns", status=502)
    reason = failure(reader.promoter_campaigns)
    assert reason.startswith("FirstPromoter answered 502 (server error) on GET /promoter_campaigns; "
                             "gave up after 2 attempts in ")
    assert len(fp.calls()) == 2


def test_timeout(make_reader, fp):
    reader = make_reader(timeout=0.2, retries=1)
    fp.inject("/referrals", delay=0.6)
    reason = failure(lambda: reader.find_referral("healthy@example.com", []))
    assert reason.startswith("FirstPromoter did not answer within 0.2 s on GET /referrals/{email}?find_by=email")
    assert "gave up after 2 attempts" in reason


def test_defaults_and_no_retries(fp):
    reader = FirstPromoterReader(KEY, FP_ACCOUNT_ID, fp.url + BASE, retries=0)
    assert (reader.timeout, reader.retries, reader.per_page) == (8.0, 0, 100)
    fp.inject("/commissions", drop=True)
    reason = failure(lambda: reader.commissions("x"))
    assert reason.startswith("FirstPromoter closed the connection without answering")
    assert "gave up after 1 attempt in" in reason and len(fp.calls()) == 1


def test_dropped_connection(make_reader, fp):
    reader = make_reader(retries=2)
    fp.inject("/commissions", drop=True, times=1)
    assert len(reader.commissions("in_DemoHealthy01")) == 1  # retried
    fp.inject("/commissions", drop=True)
    reason = failure(lambda: reader.commissions("in_DemoHealthy01"))
    assert reason.startswith("FirstPromoter closed the connection without answering on GET /commissions")


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    reader = FirstPromoterReader(KEY, FP_ACCOUNT_ID, f"http://127.0.0.1:{port}{BASE}", timeout=1,
                                 retries=1, backoff_base=0.01)
    reason = failure(reader.promoter_campaigns)
    assert reason.startswith(f"Could not connect to FirstPromoter at 127.0.0.1:{port} (connection refused)")
    assert reader.calls == 2


def test_malformed_json(reader, fp):
    fp.inject("/referrals", malformed=True)
    reason = failure(lambda: reader.find_referral("healthy@example.com", []))
    assert reason == ("FirstPromoter sent a response that is not JSON for GET /referrals/{email}?find_by=email "
                      "(HTTP 200, application/json)")
    assert len(fp.calls()) == 1


def test_rate_limited_stand_in(fp):
    fp.rate_limit_per_minute = 2
    reader = FirstPromoterReader(KEY, FP_ACCOUNT_ID, fp.url + BASE, timeout=2, retries=1, backoff_base=0.01)
    reader.commissions("a")
    reader.commissions("b")
    assert "429 (rate limited)" in failure(lambda: reader.commissions("c"))


def test_missing_settings_are_clear():
    assert failure(lambda: FirstPromoterReader("", FP_ACCOUNT_ID)) == "FIRSTPROMOTER_API_KEY is not set"
    assert failure(lambda: FirstPromoterReader(KEY, "")) == "FIRSTPROMOTER_ACCOUNT_ID is not set"
    assert KEY not in repr(FirstPromoterReader(KEY, FP_ACCOUNT_ID))


# ---------------------------------------------------------------------- read-only, counting


def test_a_full_set_of_reads_sends_only_get(reader, fp):
    for s in SCENARIOS:
        reader.find_referral(s.email, [s.stripe_customer_id] if s.stripe_customer_id else [])
        if s.commission_event_id:
            assert len(reader.commissions(s.commission_event_id)) == 1
    reader.promoter_campaigns()
    reader.commissions("")
    requests_seen = fp.calls()
    assert len(requests_seen) == reader.calls > len(SCENARIOS)
    assert {r.method for r in requests_seen} == {"GET"}
    assert all(r.form == [] for r in requests_seen)


def test_the_session_cannot_send_anything_but_get(reader, fp):
    session = reader._session  # the only way out of the reader
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(ReadOnlyViolation):
            session.request(method, fp.url + BASE + "/referrals", timeout=1)
    with pytest.raises(ReadOnlyViolation):
        session.post(fp.url + BASE + "/referrals/5001/import_events", timeout=1)
    prepared = requests.Request("PUT", fp.url + BASE + "/referrals/5001").prepare()
    with pytest.raises(ReadOnlyViolation):
        session.send(prepared, timeout=1)
    assert fp.calls() == []


def test_the_call_counter_is_thread_safe(reader, fp):
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                reader.find_referral("healthy@example.com", [])
                reader.commissions("in_DemoHealthy01")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors and not any(t.is_alive() for t in threads)
    assert reader.calls == len(fp.calls()) == 6 * 5 * 2


def test_a_body_that_echoes_the_key_is_scrubbed(reader, fp):
    fp.inject("/commissions", status=403, body={"message": f"token {KEY} lacks rights", "code": "forbidden"})
    reason = failure(lambda: reader.commissions("x"))
    assert reason == "FirstPromoter refused GET /commissions (403): token [redacted] lacks rights"
