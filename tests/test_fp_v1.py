"""FirstPromoter v1 ("legacy") accounts: the v1 reader against the v1 stand-in over loopback HTTP,
which kind a key is, the scenarios through the real engine (the same verdict as v2 wherever v1
reports what decides it), what v1 cannot answer (skip or warn with words, never pass), and the
upstream's failures (401, 429, 500, timeouts)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from checks.engine import Engine
from checks.fp_kind import detect_v1_key, rejected_v2_hint
from checks.fp_version import GUIDE_URL_V1
from checks.model import GUIDE_URL, Status
from checks.query import parse_query
from checks.sources import SetupError, SourceError
from checks.sources.firstpromoter_v1 import FirstPromoterV1Reader
from checks.sources.upstream import ReadOnlyViolation
from sandbox.fp_v1_seed import seed_firstpromoter_v1
from sandbox.fp_v1_server import FirstPromoterV1StandIn
from sandbox.runner import Sandbox
from sandbox.scenarios import FP_API_KEY, FP_V1_API_KEY, SCENARIOS, by_name
from tests.test_scenarios import EXPECTED

KEY = "fpv1_test_SECRET_key_77a1"
BASE = "/api/v1"

# Scenarios whose deciding fact v1 does not report: what v1 says instead, and why.
# scenario -> (check, its v1 status, the v1 verdict's check)
V1_DIFFERS = {
    # the referral came in by coupon (entry_source): v1 does not say so, so the promotion code in the
    # Coupon Code field is a warning there, not the failure that decides this sale
    "promo-code-coupon": ("coupon.id", Status.WARN, "coupon.id"),
    # the reward's fraud check (same_ip_suspicion) is not in v1: a pending reward is a warning
    "commission-fraud": ("fp.commission", Status.WARN, None),
}


@pytest.fixture
def fp() -> Iterator[FirstPromoterV1StandIn]:
    standin = FirstPromoterV1StandIn(api_keys=(KEY,))
    seed_firstpromoter_v1(standin)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def make_reader(fp: FirstPromoterV1StandIn) -> Iterator[Callable[..., FirstPromoterV1Reader]]:
    made: list[FirstPromoterV1Reader] = []

    def make(**kw: Any) -> FirstPromoterV1Reader:
        args: dict[str, Any] = {"api_key": KEY, "api_base": fp.url + BASE, "timeout": 2.0,
                                "backoff_base": 0.01, "backoff_cap": 0.05}
        args.update(kw)
        reader = FirstPromoterV1Reader(**args)
        made.append(reader)
        return reader

    yield make
    for r in made:
        r.close()


@pytest.fixture(scope="module")
def v1_sandbox() -> Iterator[Sandbox]:
    with Sandbox(fp="v1") as sb:
        yield sb


@pytest.fixture
def v1(v1_sandbox: Sandbox) -> Iterator[Sandbox]:
    if time.time() - v1_sandbox.seeded_at > 45:  # the too-early payment must still be too early
        v1_sandbox.refresh_stripe()
    v1_sandbox.fp.clear_faults()
    v1_sandbox.fp.reset_log()
    yield v1_sandbox
    v1_sandbox.fp.clear_faults()


def failure(call: Callable[[], Any]) -> SourceError:
    with pytest.raises(SourceError) as info:
        call()
    assert KEY not in str(info.value) and "Traceback" not in str(info.value)
    return info.value


# ---------------------------------------------------------------------- the reader


def test_finds_the_lead_by_email_with_its_promotion_and_promoter(make_reader, fp) -> None:
    found = make_reader().find_referral("healthy@example.com", ["cus_DemoHealthy01"])
    r = found.referral
    assert r is not None and found.found_by == "email" and found.tried == ("email",)
    assert (r.id, r.email, r.uid, r.state, r.fraud_check) == (5001, "healthy@example.com", "cus_DemoHealthy01",
                                                            "active", "no_suspicion")
    assert r.customer_since is not None and r.entry_source is None and r.is_expired is None
    assert r.promoter_campaign is not None and r.promoter_campaign.id == 1001
    assert r.promoter_campaign.promoter is not None and r.promoter_campaign.promoter.email == "ana@promoters.example"
    call = fp.calls("GET", r"/leads/show")[0]
    assert call.headers["x-api-key"] == KEY and "authorization" not in call.headers
    assert call.query == [("email", "healthy@example.com")]


def test_falls_back_to_lower_case_email_then_uid(make_reader) -> None:
    reader = make_reader()
    assert reader.find_referral("Healthy@Example.com").tried == ("email", "email:lower-case")
    assert reader.find_referral("Healthy@Example.com").referral is not None
    by_uid = reader.find_referral("nobody@example.com", ["cus_DemoHealthy01"])
    assert by_uid.found_by == "customer_id" and by_uid.referral is not None and by_uid.referral.id == 5001
    missing = reader.find_referral("nobody@example.com", ["cus_Nope"])
    assert missing.referral is None and missing.tried == ("email", "uid:cus_Nope")


def test_promotions_are_promoter_campaigns_with_the_tracking_coupon(make_reader, fp) -> None:
    campaigns = make_reader().promoter_campaigns()
    assert len(campaigns) == 134
    ben = next(pc for pc in campaigns if pc.id == 1002)
    assert (ben.coupon, ben.display_coupon, ben.promoter_id, ben.campaign_id) == ("PARTNER20", "PARTNER20", 2002, 301)
    assert ben.state is None  # v1 has no promoter-campaign state: not examined, not "accepted"
    assert all(c.query[-1] == ("per_page", "100") for c in fp.calls("GET", r"/promoters/list"))
    assert sum(1 for pc in campaigns if pc.coupon is None) == 64  # "" and null are "no coupon"


@pytest.mark.parametrize("pagination", ["link", "total", "none"])
def test_pages_by_link_by_total_or_by_a_short_page(fp, make_reader, pagination: str) -> None:
    fp.pagination = pagination
    fp.max_per_page = 25  # the server pages by fewer than asked for
    reader = make_reader()
    campaigns = reader.promoter_campaigns()
    pages = len(fp.calls("GET", r"/promoters/list"))
    if pagination == "none":  # no header: a page shorter than asked for looks like the last one
        assert pages == 1 and len(campaigns) < 134
    else:
        assert len(campaigns) == 134 and pages == 6  # 134 promoters / 25
    first, last = make_reader().promoter_campaign_page(1)
    assert len(first) == 25 and last is (pagination == "none")


def test_a_listing_longer_than_the_bound_is_an_error_not_a_partial_list(make_reader) -> None:
    reason = str(failure(lambda: make_reader(per_page=10, max_pages=3).promoter_campaigns()))
    assert "stopped after 3 page(s) rather than use a partial list" in reason


def test_rewards_are_the_leads_commissions(make_reader, fp) -> None:
    found = make_reader().commissions("commission-denied@example.com")
    assert [(c.id, c.status, c.event_id, c.amount, c.sale_amount, c.referral_id) for c in found] == [
        (7003, "denied", "in_DemoComDenied1", 580, 2900, 5018)]
    assert found[0].fraud_check is None and found[0].is_paid is None and found[0].commission_type is None
    assert fp.calls("GET", r"/rewards/list")[0].query[0] == ("promotion_id", "1001")
    assert make_reader().commissions("nobody@example.com") == ()
    assert "cannot search rewards" in str(failure(lambda: make_reader().commissions("in_DemoHealthy01")))


def test_the_reader_sends_only_get(make_reader) -> None:
    reader = make_reader()
    with pytest.raises(ReadOnlyViolation):
        reader._session.post(reader.api_base + "/leads/delete", data={"id": 5001})


def test_rejected_key_is_a_setup_error_that_names_the_setting(make_reader) -> None:
    exc = failure(lambda: make_reader(api_key="fpv1_wrong").find_referral("healthy@example.com"))
    assert isinstance(exc, SetupError)
    assert "FIRSTPROMOTER_V1_API_KEY" in str(exc) and "(401)" in str(exc)


def test_429_is_retried_with_retry_after(make_reader, fp) -> None:
    fp.inject(r"/leads/show", status=429, headers={"Retry-After": "0.05"}, times=1)
    assert make_reader().find_referral("healthy@example.com").referral is not None
    assert len(fp.calls("GET", r"/leads/show")) == 2


def test_429_asking_longer_than_the_budget_gives_up_at_once(make_reader, fp) -> None:
    fp.inject(r"/leads/show", status=429, headers={"Retry-After": "30"})
    reason = str(failure(lambda: make_reader().find_referral("healthy@example.com")))
    assert "429" in reason and "asked to wait 30 s" in reason
    assert len(fp.calls("GET", r"/leads/show")) == 1


def test_500_is_retried_then_reported(make_reader, fp) -> None:
    fp.inject(r"/rewards/list", status=500, body={"error": "boom"})
    reason = str(failure(lambda: make_reader(retries=2).commissions("healthy@example.com")))
    assert "500 (server error)" in reason and "gave up after 3 attempts" in reason
    assert len(fp.calls("GET", r"/rewards/list")) == 3


def test_timeout_is_retried_then_reported(make_reader, fp) -> None:
    fp.inject(r"/leads/show", delay=0.5)
    reason = str(failure(lambda: make_reader(timeout=0.1, retries=1).find_referral("healthy@example.com")))
    assert "did not answer within 0.1 s" in reason and "gave up after 2 attempts" in reason


def test_a_body_that_is_not_json_is_said(make_reader, fp) -> None:
    fp.inject(r"/leads/show", malformed=True)
    assert "not JSON" in str(failure(lambda: make_reader().find_referral("healthy@example.com")))


# ---------------------------------------------------------------------- which kind of key


def test_detection_v1_key_works(v1) -> None:
    found = detect_v1_key(v1.settings())
    assert (found.kind, found.ok) == ("v1", True)
    assert "V1 (legacy) key" in found.text


def test_detection_a_v2_key_given_as_v1(v1, sandbox) -> None:
    settings = v1.settings(firstpromoter_v1_api_key=FP_API_KEY, firstpromoter_account_id="acc_sandbox01",
                           firstpromoter_api_base=f"{sandbox.fp.url}/api/v2/company")
    found = detect_v1_key(settings)
    assert (found.kind, found.ok) == ("v2", False)
    assert "is a V2 key" in found.text and "FIRSTPROMOTER_API_KEY" in found.text


def test_detection_a_key_neither_api_accepts(v1, sandbox) -> None:
    settings = v1.settings(firstpromoter_v1_api_key="fp_nobody_knows_this_key", firstpromoter_account_id="acc_sandbox01",
                           firstpromoter_api_base=f"{sandbox.fp.url}/api/v2/company")
    found = detect_v1_key(settings)
    assert (found.kind, found.ok) == (None, False)
    assert "neither as a V1 (legacy) key" in found.text and "nor as a V2 key" in found.text
    assert "fp_nobody_knows_this_key" not in found.text
    no_account = detect_v1_key(v1.settings(firstpromoter_v1_api_key="fp_nobody_knows_this_key"))
    assert "could not be tried as a V2 key (no FIRSTPROMOTER_ACCOUNT_ID)" in no_account.text


def test_a_v1_key_in_the_v2_setting_is_named(v1, sandbox) -> None:
    settings = sandbox.settings(firstpromoter_api_key=FP_V1_API_KEY,
                                firstpromoter_v1_api_base=f"{v1.fp.url}/api/v1")
    assert "put it in FIRSTPROMOTER_V1_API_KEY" in rejected_v2_hint(settings)
    assert "not a V1 (legacy) key either" in rejected_v2_hint(sandbox.settings())


def test_v1_settings_need_no_account_id_and_refuse_a_stripe_key(v1) -> None:
    from checks.settings import ConfigError

    s = v1.settings()
    assert s.firstpromoter_v1 and s.firstpromoter_account_id is None
    s.require_upstreams()
    with pytest.raises(ConfigError, match="FIRSTPROMOTER_V1_API_KEY is a Stripe key"):
        v1.settings(firstpromoter_v1_api_key="sk_test_abc")
    assert FP_V1_API_KEY in s.secret_values()


# ---------------------------------------------------------------------- the scenarios, through the engine


def _report(sb: Sandbox, name: str) -> Any:
    scenario = by_name(name)
    return Engine(sb.scenario_settings(scenario)).check(parse_query(scenario.email))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_scenario_gives_the_v2_verdict(v1, name: str) -> None:
    check, status, verdict_check = V1_DIFFERS.get(name, EXPECTED[name])
    report = _report(v1, name)
    assert report.fp_api_version == "v1" and report.guide_url == GUIDE_URL_V1
    result = report.result(check)
    assert result is not None
    assert result.status is status, f"{check}: {result.status} {result.summary}"
    assert report.verdict.check == verdict_check, report.verdict
    assert not [r for r in report.checks if r.status is Status.ERROR], [r.summary for r in report.checks]
    assert not v1.fp.calls("POST") and not v1.fp.calls("PUT") and not v1.fp.calls("DELETE")


def test_every_scenario_is_judged_the_same_way_as_v2_or_says_why_not() -> None:
    assert set(V1_DIFFERS) <= set(EXPECTED)
    assert {s.name for s in SCENARIOS if s.breaks} == set(EXPECTED)


@pytest.mark.parametrize("name", ["healthy", "one-time", "uid-customer", "restricted-key"])
def test_healthy_scenarios_pass_in_v1(v1, name: str) -> None:
    report = _report(v1, name)
    assert report.verdict.status is Status.PASS, report.verdict
    assert report.result("fp.commission").status is Status.PASS


def test_what_v1_does_not_report_is_said_never_taken_for_none(v1) -> None:
    report = _report(v1, "promo-code-coupon")
    coupon = report.result("coupon.id")
    assert coupon.status is Status.WARN
    assert "v1 API does not report how a lead came in" in coupon.summary
    assert "came in by another way" not in coupon.summary
    notes = [e.value for r in report.checks for e in r.evidence if e.label == "Not examined"]
    assert any("how a lead came in" in n for n in notes) and any("a reward's fraud check" in n for n in notes)

    fraud = _report(v1, "commission-fraud").result("fp.commission")
    assert fraud.status is Status.WARN  # never a pass: the fraud check was not examined
    assert "does not report a reward's fraud check" in fraud.summary and "pending" in fraud.summary


def test_the_v2_report_is_unchanged(clean_sandbox) -> None:
    scenario = by_name("healthy")
    report = Engine(clean_sandbox.scenario_settings(scenario)).check(parse_query(scenario.email))
    assert report.fp_api_version == "v2" and report.guide_url == GUIDE_URL
    assert not [e for r in report.checks for e in r.evidence if e.label == "Not examined"]


def test_a_v1_account_whose_key_is_revoked_is_one_setup_line(v1) -> None:
    v1.fp.revoke(FP_V1_API_KEY)
    try:
        report = Engine(v1.settings()).check(parse_query("healthy@example.com"))
    finally:
        v1.fp.api_keys.add(FP_V1_API_KEY)
    assert report.setup_error and "FIRSTPROMOTER_V1_API_KEY" in report.setup_error and "(401)" in report.setup_error


# ---------------------------------------------------------------- sweeps need v2


def v1_env(sb: Sandbox, **extra: str) -> dict[str, str]:
    return {**sb.env(), **extra}


def test_a_sweep_of_a_v1_account_says_it_needs_v2_in_one_line(v1) -> None:
    from tests.test_cli import fpcheck

    p = fpcheck("sweep", "--since", "7d", env=v1_env(v1))
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("fpcheck: fpcheck sweep needs a FirstPromoter v2 account (FIRSTPROMOTER_API_KEY")
    assert "fpcheck check EMAIL" in p.stderr and len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("setting, named", [("FPCHECK_SWEEP_CHANNEL", "the digest"),
                                            ("FPCHECK_WATCH_CHANNEL", "the payment watch")])
def test_serve_with_the_digest_or_watch_on_a_v1_account_is_refused_at_start(v1, setting: str, named: str) -> None:
    from tests.test_cli import fpcheck

    env = v1_env(v1, SLACK_BOT_TOKEN="xoxb-1111-2222-fpcheckTestBotToken9f3a", SLACK_SIGNING_SECRET="s3cret-signing",
                 SLACK_API_BASE_URL="http://127.0.0.1:9/api/", **{setting: "C0DIGEST"})
    p = fpcheck("serve", "--check", env=env)
    assert p.returncode == 2
    assert f"{named} ({setting}) needs a FirstPromoter v2 account" in p.stderr
