"""The terminal report as people see it: sandbox scenarios rendered at 80 and 120 columns, with and
without colour, by the real engine against the stand-ins."""

from __future__ import annotations

import re
import unicodedata

import pytest
from rich.cells import cell_len

from bot.terminal import count_line, render
from checks.engine import Engine
from checks.model import Report
from checks.query import parse_query
from sandbox import scenarios as sc

SGR = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\")  # colours, and OSC 8 hyperlinks fpcheck makes
SCENARIOS = {s.name: s for s in sc.SCENARIOS}
MARK = {"pass": "✓", "fail": "✗", "warn": "!", "skip": "-", "error": "?"}


@pytest.fixture
def report_for(clean_sandbox):  # type: ignore[no-untyped-def]
    def run(name: str) -> Report:
        s = SCENARIOS[name]
        return Engine(clean_sandbox.scenario_settings(s)).check(parse_query(s.email))

    return run


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize(
    "name, failing, evidence",
    [
        ("trial", "payment.exists", ["Invoice (paid): in_DemoTrial0001", "Fix: The subscription is in its trial"]),
        ("full-coupon", "payment.amount", ["Judged invoice: in_DemoFree100001", 'Coupon: coupon FREE100']),
        ("shared-coupon", "coupon.unique", ["Fix:"]),
        ("healthy", None, []),
    ],
)
def test_report_fits_the_width_and_shows_what_failed(
    report_for, width: int, color: bool, name: str, failing: str | None, evidence: list[str]
) -> None:
    report = report_for(name)
    out = render(report, width=width, color=color)
    assert ("\x1b[" in out) is color  # colour codes only when asked for
    lines = SGR.sub("", out).splitlines()
    # a URL is never broken: it may be longer than the line, alone on it
    too_wide = [line for line in lines if cell_len(line) > width
                and not line.strip().removeprefix("Guide: ").startswith("http")]
    assert not too_wide
    assert not [line for line in lines if "https://" in line
                and not line.strip().removeprefix("Guide: ").startswith("https://")]
    assert all(line == line.rstrip() for line in lines), "no trailing spaces"
    text = "\n".join(lines)
    # the verdict comes first, then one line per check with its mark and id
    if failing:
        title = report.result(failing).title
        assert lines[0].startswith(f"✗ Most likely cause: {title}:")
        # said once: the failing check points up at the verdict instead of repeating it
        assert f"✗ {failing}" in text and "the most likely cause, above" in text
        assert text.count(report.result(failing).summary[:40]) <= 1
    else:
        assert lines[0] == "✓ Every check passed."
    for r in report.checks:
        assert any(line.startswith(f"{MARK[r.status]} {r.id} ") for line in lines), r.id
        if r.status.value in ("pass", "skip"):  # one line each
            i = next(i for i, line in enumerate(lines) if line.startswith(f"{MARK[r.status]} {r.id} "))
            assert lines[i + 1][:1] in ("✓", "✗", "!", "-", "?", ""), lines[i + 1]
    for words in evidence:
        assert words in text
    # passing checks keep their evidence for -v
    assert "Stripe account behind fpcheck's key" not in text
    closing = next(i for i, line in enumerate(lines) if line.startswith(count_line(report.checks)))
    assert lines[closing - 1] == ""
    guide = lines[-1]
    assert guide == f"Guide: {report.guide_url}" or (color and guide == "Guide: Possible Stripe integration issues ↗")
    if name == "healthy" and width == 80:
        assert len(lines) <= 16, lines


def test_verbose_shows_every_checks_evidence(report_for) -> None:
    report = report_for("healthy")
    short, full = render(report, width=120), render(report, width=120, verbose=True)
    assert "Stripe account behind fpcheck's key" in full
    assert len(short.splitlines()) <= 25 < len(full.splitlines())


def test_the_closing_count_names_each_status() -> None:
    from checks.model import Result, Status

    statuses = ["pass"] * 8 + ["fail", "warn", "skip"]
    results = [Result(id=f"c.{i}", title="t", status=Status(s), summary="s") for i, s in enumerate(statuses)]
    assert count_line(results) == "11 checks: 8 passed, 1 failed, 1 warning, 1 skipped"
    two = [Result(id="a", title="t", status=Status.WARN, summary="s")] * 2 + [
        Result(id="b", title="t", status=Status.ERROR, summary="s")
    ]
    assert count_line(two) == "3 checks: 2 warnings, 1 could not run"


@pytest.mark.parametrize("color", [False, True])
def test_no_control_character_from_any_field_reaches_the_terminal(color: bool) -> None:
    from checks.model import Evidence, Result, Status, Verdict

    evil = "x\x1b]0;owned\x07\x1b[2K\r\x1b[32mPASS\x1b[0m\x9b1A\u202e\u2067\u200b\ufeff\n\tend"
    bad = Result(
        id="payment.amount", title=f"Amount {evil}", status=Status.FAIL, summary=f"Paid {evil}",
        evidence=(Evidence(label=f"Coupon {evil}", value=f"name {evil}", url=f"https://x.test/{evil}"),),
        remediation=f"Fix {evil}",
    )
    report = Report(
        query=f"jane{evil}@example.com", checks=(bad,),
        verdict=Verdict(status=Status.FAIL, check="payment.amount", summary=bad.summary),
    )
    raw = render(report, width=80, color=color, verbose=True)
    assert "x.test" not in "".join(re.findall(r"\x1b\]8;[^\x1b]*", raw)), "an odd URL from upstream is never a link"
    out = SGR.sub("", raw)
    assert [c for c in out if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")] == []
    assert out.startswith("✗ Most likely cause: Amount x\\x1b]0;owned\\x07\\x1b[2K")
    # the verdict (title and summary), the summary, label, value, url, fix, and the query
    # (the failing check's own summary is not repeated under it: it points at the verdict)
    assert out.count("\\u202e") == 7
