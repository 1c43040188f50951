"""The promoter-campaign index on a large account: no 5,000 cliff, pages read in parallel, a cold
report on time that says honestly how far the index got, later runs sharing it on disk, failures
cached briefly, a background refresh before expiry, and `fpcheck index` for operators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from checks.engine import Engine
from checks.model import Status
from checks.query import parse_query
from sandbox.runner import Sandbox
from sandbox.scenarios import PC_ANA

EXTRA = 6_000  # more than the old 50-page limit of 5,000


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        sb.fp.add_many_promoter_campaigns(EXTRA)
        yield sb


@pytest.fixture
def quiet_big(big: Sandbox) -> Iterator[Sandbox]:
    big.fp.clear_faults()
    big.stripe.clear_faults()
    big.fp.reset_log()
    if time.time() - big.seeded_at > 45:
        big.refresh_stripe()
    yield big
    big.fp.clear_faults()
    big.stripe.clear_faults()


def campaign_pages(sb: Sandbox) -> list[str]:
    return [r.param("page") or "" for r in sb.fp.calls(path="/promoter_campaigns")]


def test_more_than_five_thousand_campaigns_are_all_indexed(quiet_big: Sandbox) -> None:
    report = Engine(quiet_big.settings()).check(parse_query("healthy@example.com"))
    unique = report.result("coupon.unique")
    assert unique.status == Status.PASS, unique.summary
    assert f"among {EXTRA + 134} promoter campaigns" in unique.summary
    pages = campaign_pages(quiet_big)
    last = (EXTRA + 134) // 100 + 1  # 62: the short page
    assert {str(p) for p in range(1, last + 1)} <= set(pages)
    assert len(pages) <= last + 6  # at most the pages in flight when the short one came back


def test_cold_huge_account_reports_on_time_and_says_the_index_is_still_being_built(quiet_big: Sandbox) -> None:
    quiet_big.fp.list_on_page(PC_ANA, 55)
    quiet_big.fp.latency = 0.3
    engine = Engine(quiet_big.settings(fpcheck_deadline=4.0, fpcheck_timeout=3.0))
    report = engine.check(parse_query("healthy@example.com"))
    assert report.duration_ms < 4_000
    unique = report.result("coupon.unique")
    assert unique.status == Status.SKIP
    assert "still being built" in unique.summary and "read so far; run again in about" in unique.summary, unique.summary
    assert report.result("coupon.id").status == Status.SKIP  # a cookie referral, no discount: no index needed
    others = [r for r in report.checks if not r.id.startswith("coupon.")]
    assert all(r.status in (Status.PASS, Status.WARN) for r in others), [(r.id, r.status, r.summary) for r in others]
    assert report.verdict.check is None  # nothing failed: the healthy customer stays healthy

    assert engine.campaigns.join(timeout=60)  # the build goes on after the report
    quiet_big.fp.reset_log()
    again = Engine(quiet_big.settings()).check(parse_query("healthy@example.com"))  # a new process's view: disk
    assert campaign_pages(quiet_big) == []  # the index is shared, not re-read
    assert again.result("coupon.unique").status == Status.PASS


def test_a_failed_listing_is_cached_briefly_not_reread_by_every_run(quiet_big: Sandbox) -> None:
    quiet_big.fp.inject("/promoter_campaigns", status=403, body={"message": "no rights", "code": "forbidden"})
    settings = quiet_big.settings(fpcheck_cache_dir=str(quiet_big_dir()))
    first = Engine(settings).check(parse_query("healthy@example.com"))
    assert first.result("coupon.unique").status == Status.ERROR
    assert "403" in first.result("coupon.unique").summary
    read = len(campaign_pages(quiet_big))
    second = Engine(settings).check(parse_query("healthy@example.com"))
    assert len(campaign_pages(quiet_big)) == read  # the cached failure answered
    assert second.result("coupon.unique").summary == first.result("coupon.unique").summary


def quiet_big_dir() -> str:
    return os.path.join(os.environ["FPCHECK_CACHE_DIR"], "failure")


def test_an_old_index_is_used_while_a_background_refresh_reads_a_new_one(clean_sandbox) -> None:
    engine = Engine(clean_sandbox.settings(fpcheck_cache_ttl=1.0))
    engine.check(parse_query("healthy@example.com"))
    assert engine.campaigns.join(timeout=10)
    read = len(clean_sandbox.fp.calls(path="/promoter_campaigns"))
    time.sleep(0.9)  # past 80% of the lifetime
    started = time.monotonic()
    report = engine.check(parse_query("healthy@example.com"))
    assert time.monotonic() - started < 1.0 and report.result("coupon.unique").status == Status.PASS
    assert engine.campaigns.join(timeout=10)
    assert len(clean_sandbox.fp.calls(path="/promoter_campaigns")) > read  # refreshed off the report's path


def fpcheck_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_")) or k == "FPCHECK_CACHE_DIR"}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def test_fpcheck_index_status_and_refresh(clean_sandbox) -> None:
    env = clean_sandbox.env()
    before = fpcheck_cli("index", "status", env=env)
    assert before.returncode == 0 and "not built yet" in before.stdout
    refreshed = fpcheck_cli("index", "refresh", "--json", env=env)
    assert refreshed.returncode == 0, refreshed.stderr
    got = json.loads(refreshed.stdout)
    assert got["campaigns"] == 134 and got["pages"] == 2 and got["age_s"] < 30 and got["last_error"] is None
    status = fpcheck_cli("index", env=env)
    assert "134 promoter campaigns in 2 page(s)" in status.stdout and "fresh" in status.stdout
    assert env["FIRSTPROMOTER_API_KEY"] not in status.stdout + status.stderr


def test_cold_coupon_referral_says_coupon_id_is_not_decided_yet(quiet_big: Sandbox) -> None:
    from sandbox.scenarios import PC_BEN, by_name

    scenario = by_name("promo-code-coupon")
    assert scenario.promoter_campaign_id == PC_BEN and scenario.entry_source == "coupon"
    quiet_big.fp.list_on_page(PC_BEN, 60)
    quiet_big.fp.latency = 0.3
    settings = quiet_big.scenario_settings(scenario, fpcheck_deadline=4.0, fpcheck_timeout=3.0,
                                           fpcheck_cache_dir=os.path.join(os.environ["FPCHECK_CACHE_DIR"], "cold"))
    engine = Engine(settings)
    report = engine.check(parse_query(scenario.email))
    coupon_id = report.result("coupon.id")
    assert coupon_id.status == Status.SKIP
    assert coupon_id.summary.startswith("Not decided yet: the promoter-campaign index is still being built"), coupon_id.summary
    assert report.duration_ms < 4_000
    assert engine.campaigns.join(timeout=60)


def test_a_failed_refresh_keeps_the_old_index_and_is_not_retried_by_every_run(clean_sandbox) -> None:
    engine = Engine(clean_sandbox.settings(fpcheck_cache_ttl=1.0))
    engine.check(parse_query("healthy@example.com"))
    assert engine.campaigns.join(timeout=10)
    clean_sandbox.fp.inject("/promoter_campaigns", status=403, body={"message": "no rights", "code": "forbidden"})
    time.sleep(0.9)  # past 80% of the lifetime: this run starts a refresh, which fails
    first = engine.check(parse_query("healthy@example.com"))
    assert engine.campaigns.join(timeout=10)
    tried = len(clean_sandbox.fp.calls(path="/promoter_campaigns"))
    again = engine.check(parse_query("healthy@example.com"))
    assert engine.campaigns.join(timeout=10)
    assert len(clean_sandbox.fp.calls(path="/promoter_campaigns")) == tried  # the failure is remembered
    for report in (first, again):  # the last good index still answers
        assert report.result("coupon.unique").status == Status.PASS
    assert "403" in (engine.campaigns.status().last_error or "")


def test_terminal_runs_share_the_index_through_the_cache_dir(clean_sandbox) -> None:
    env = clean_sandbox.env()
    first = json.loads(fpcheck_cli("check", "healthy@example.com", "--json", env=env).stdout)
    second = json.loads(fpcheck_cli("check", "healthy@example.com", "--json", env=env).stdout)
    assert second["calls"]["firstpromoter"] <= first["calls"]["firstpromoter"] - 2  # two listing pages not re-read
    assert [c["status"] for c in second["checks"]] == [c["status"] for c in first["checks"]]
