"""Report -> Block Kit: what a support person reads in Slack, within Slack's limits."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.slack.blocks import (
    MAX_BLOCKS,
    MAX_SECTION_CHARS,
    RERUN_ACTION_ID,
    Rerun,
    escape,
    fallback_text,
    parent_text,
    report_blocks,
    total_chars,
)
from checks.model import Evidence, Report, Result, Status, verdict_for

DASHBOARD = "https://dashboard.stripe.com/test/customers/cus_DemoHealthy01"


def result(check_id: str, status: Status, **kw) -> Result:
    return Result(
        id=check_id,
        title=kw.pop("title", f"Title of {check_id}"),
        status=status,
        summary=kw.pop("summary", f"{check_id} says {status.value}"),
        **kw,
    )


def report(*results: Result, query: str = "jane@example.com", duration_ms: int = 1234) -> Report:
    return Report(query=query, verdict=verdict_for(results), checks=results, duration_ms=duration_ms)


SAMPLE = report(
    result(
        "stripe.account",
        Status.PASS,
        title="Stripe account",
        evidence=(
            Evidence(label="Account", value="acct_1Fpcheck", url="https://dashboard.stripe.com/settings"),
        ),
    ),
    result(
        "fp.referral",
        Status.FAIL,
        title="FirstPromoter referral",
        summary="No referral for jane@example.com in FirstPromoter.",
        evidence=(
            Evidence(label="Stripe customer", value="cus_DemoHealthy01", url=DASHBOARD),
            Evidence(label="Referrals found", value="0"),
        ),
        remediation="Add the referral by hand in FirstPromoter.",
    ),
    result(
        "payment.timing", Status.WARN, title="Payment timing", remediation="Wait two minutes, then Run again."
    ),
    result("coupon.id", Status.SKIP, title="Coupon", remediation="never shown for skip"),
    result(
        "fp.commission", Status.ERROR, title="Commission", summary="FirstPromoter answered 500 three times."
    ),
)


def texts(blocks: list[dict]) -> str:
    return json.dumps(blocks)


def check_sections(blocks: list[dict]) -> list[str]:
    return [
        b["text"]["text"]
        for b in blocks
        if b["type"] == "section"
        and b["text"]["text"].startswith(
            (":white_check_mark:", ":x:", ":warning:", ":heavy_minus_sign:", ":exclamation:")
        )
    ][1:]  # the first is the verdict line


def test_one_section_per_check_with_status_emoji_in_order() -> None:
    blocks = report_blocks(SAMPLE, asked_by="U0ALICE")
    assert blocks[0]["type"] == "header" and blocks[0]["text"]["text"] == "fpcheck: jane@example.com"
    sections = check_sections(blocks)
    assert [s.split(" ", 1)[0] for s in sections] == [
        ":white_check_mark:",
        ":x:",
        ":warning:",
        ":heavy_minus_sign:",
        ":exclamation:",
    ]
    assert "*FirstPromoter referral*" in sections[1]


def test_verdict_names_the_most_likely_cause() -> None:
    blocks = report_blocks(SAMPLE)
    verdict = blocks[1]["text"]["text"]
    assert verdict.startswith(":x: Most likely cause: *FirstPromoter referral*")
    assert "No referral for jane@example.com" in verdict


def test_remediation_only_under_fail_and_warn() -> None:
    sections = check_sections(report_blocks(SAMPLE))
    assert "*Fix:* Add the referral by hand" in sections[1]
    assert "*Fix:* Wait two minutes" in sections[2]
    assert "never shown for skip" not in texts(report_blocks(SAMPLE))
    assert "Fix:" not in sections[0] and "Fix:" not in sections[4]


def test_evidence_links_to_the_dashboard() -> None:
    sections = check_sections(report_blocks(SAMPLE))
    assert f"• Stripe customer: <{DASHBOARD}|cus_DemoHealthy01>" in sections[1]
    assert "• Referrals found: 0" in sections[1]
    # a passing check keeps its links (one click to verify) and nothing else
    assert "<https://dashboard.stripe.com/settings|acct_1Fpcheck>" in sections[0]


def test_context_has_guide_link_timing_and_who_asked() -> None:
    blocks = report_blocks(SAMPLE, asked_by="U0ALICE")
    context = blocks[-1]
    assert context["type"] == "context"
    line = context["elements"][0]["text"]
    assert "Asked by <@U0ALICE>" in line
    assert "took 1.2 s" in line
    assert f"<{SAMPLE.guide_url}|" in line
    assert "5 checks: 1 fail, 1 warn, 1 error, 1 pass, 1 skip" in line


def test_run_again_button_carries_query_parent_and_asker() -> None:
    blocks = report_blocks(
        SAMPLE, asked_by="U0ALICE", rerun=Rerun("jane@example.com", "1700000001.000100", "U0ALICE")
    )
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == 1
    button = actions[0]["elements"][0]
    assert button["action_id"] == RERUN_ACTION_ID and button["text"]["text"] == "Run again"
    assert Rerun.from_value(button["value"]) == Rerun("jane@example.com", "1700000001.000100", "U0ALICE")
    assert not [b for b in report_blocks(SAMPLE) if b["type"] == "actions"]


def test_rerun_value_that_is_not_ours_is_refused() -> None:
    for value in (None, "", "jane@example.com", "[1]", '{"q": 3}'):
        assert Rerun.from_value(value) is None


def test_note_comes_first() -> None:
    blocks = report_blocks(SAMPLE, note="Only you can see this.")
    assert blocks[0]["type"] == "section" and blocks[0]["text"]["text"] == "Only you can see this."
    assert blocks[1]["type"] == "header"


def test_fallback_and_parent_text() -> None:
    fb = fallback_text(SAMPLE)
    assert fb.startswith("fpcheck jane@example.com: FAIL (FirstPromoter referral): No referral")
    assert "5 checks" in fb
    parent = parent_text(SAMPLE, "U0ALICE")
    assert parent.startswith(
        "<@U0ALICE> checked *jane@example.com*: :x: Most likely cause: *FirstPromoter referral*"
    )
    assert parent.endswith("_Full report in the thread._")


def test_passing_report_verdict() -> None:
    ok = report(result("stripe.account", Status.PASS), result("fp.referral", Status.PASS))
    assert report_blocks(ok)[1]["text"]["text"] == ":white_check_mark: Every check passed."


def test_outside_text_cannot_ping_or_link() -> None:
    evil = report(
        result(
            "fp.referral",
            Status.FAIL,
            summary="Customer <!channel> & <@U0BOSS> <https://evil.example|click>",
            evidence=(Evidence(label="Name", value="<!here>", url="javascript:alert(1)"),),
            remediation="<!everyone>",
        ),
        query="a<b>@example.com",
    )
    # mrkdwn parts only: the header is plain_text, which Slack never turns into mentions or links
    mrkdwn = [b for b in report_blocks(evil) if b["type"] != "header"]
    dumped = texts(mrkdwn) + fallback_text(evil) + parent_text(evil, "U0ALICE")
    for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U0BOSS>", "<https://evil", "javascript:", "a<b>"):
        assert raw not in dumped, raw
    assert escape("<!channel> & x") == "&lt;!channel&gt; &amp; x"


def test_big_report_is_cut_with_a_note_and_stays_valid() -> None:
    many = tuple(
        result(
            f"check.{i}",
            Status.FAIL if i % 3 == 0 else Status.WARN,
            summary="s" * 900,
            evidence=tuple(Evidence(label=f"e{j}", value="v" * 400, url=DASHBOARD) for j in range(12)),
            remediation="r" * 900,
        )
        for i in range(80)
    )
    blocks = report_blocks(report(*many), asked_by="U0ALICE", rerun=Rerun("jane@example.com"), note="note")
    assert len(blocks) <= MAX_BLOCKS
    assert total_chars(blocks) <= 12_000
    assert all(len(b["text"]["text"]) <= MAX_SECTION_CHARS for b in blocks if b["type"] == "section")
    assert any("more checks not shown" in json.dumps(b) for b in blocks)
    assert blocks[-1]["type"] == "context" and "took" in blocks[-1]["elements"][0]["text"]
    assert [b["type"] for b in blocks].count("actions") == 1  # the button survives the cut
    for b in blocks:
        Block.parse(b).to_dict()  # slack_sdk's own limit checks raise on any breach


def test_long_query_is_cut_in_the_header() -> None:
    long_query = "x" * 300 + "@example.com"
    blocks = report_blocks(report(result("a.b", Status.PASS), query=long_query))
    assert len(blocks[0]["text"]["text"]) <= 150
    Block.parse(blocks[0]).to_dict()


statuses = st.sampled_from(list(Status))
words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)
evidence = st.builds(Evidence, label=words, value=words, url=st.one_of(st.none(), st.just(DASHBOARD), words))
results = st.builds(
    Result,
    id=st.from_regex(r"[a-z]{1,8}\.[a-z]{1,8}", fullmatch=True),
    title=words,
    status=statuses,
    summary=words,
    evidence=st.lists(evidence, max_size=12).map(tuple),
    remediation=st.one_of(st.none(), words),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(results, min_size=1, max_size=70), words)
def test_any_report_fits_slack(rs: list[Result], query: str) -> None:
    r = report(*rs, query=query or "q")
    blocks = report_blocks(r, asked_by="U0ALICE", rerun=Rerun("q"), note="n")
    assert len(blocks) <= MAX_BLOCKS
    assert total_chars(blocks) <= 12_000
    for b in blocks:
        Block.parse(b).to_dict()
    assert 0 < len(fallback_text(r)) <= 1500
