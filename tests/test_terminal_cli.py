"""`fpcheck` in a terminal, as a process: colour rules, the demo's one-line summary, hostile strings
from FirstPromoter, and a start-up that does not import the engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator

import pytest

from checks.catalog import CHECKS
from sandbox import scenarios as sc
from sandbox.fp_seed import PROMOTERS
from sandbox.runner import Sandbox

ROOT = os.path.dirname(os.path.dirname(__file__))
SGR = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\")  # colours, and OSC 8 hyperlinks fpcheck makes
# Clears the line, returns to its start and paints a fake green pass over the real result,
# then reverses everything after it.
HOSTILE = "Ana\x1b[2K\r\x1b[32m✓ payment.exists  paid\x1b[0m\x9b2J\u202eevil\u2066\x07"


def colours(out: str) -> set[int]:
    """The colour parameters in `out`'s SGR codes (bold and dim are not colour: NO_COLOR keeps them)."""
    params = {int(n) for m in SGR.findall(out) if m.endswith("m") for n in m[2:-1].split(";") if n}
    return {n for n in params if 30 <= n <= 49 or 90 <= n <= 107}


def fpcheck(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_")) and k not in ("NO_COLOR", "FORCE_COLOR")
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**base, "COLUMNS": "100", **(env or {})},
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )


@pytest.fixture(scope="module")
def hostile_sandbox() -> Iterator[Sandbox]:
    """A sandbox of its own whose first promoter picked a name full of escape sequences."""
    with Sandbox() as sb:
        pid = PROMOTERS[0][0]
        sb.fp.promoters[pid].name = HOSTILE
        yield sb


def test_colour_only_on_request_and_never_under_no_color(env) -> None:
    piped = fpcheck("check", "trial@example.com", env=env)
    forced = fpcheck("check", "trial@example.com", env={**env, "FORCE_COLOR": "1"})
    refused = fpcheck("check", "trial@example.com", env={**env, "FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert piped.returncode == forced.returncode == refused.returncode == 1
    assert "\x1b" not in piped.stdout
    assert {31, 32} <= colours(forced.stdout)  # red for the fail, green for the passes
    assert colours(refused.stdout) == set()
    def words(out: str) -> list[str]:  # links are named on a terminal and spelled out when piped
        lines = re.sub(r", [0-9.]+ s\)", ")", SGR.sub("", out)).splitlines()
        return [line for line in lines if not re.match(r"^\s*(Guide: )?(https://|open in Stripe|Possible Stripe)", line)]

    timeless = [words(p.stdout) for p in (forced, refused, piped)]
    assert timeless[0] == timeless[1] == timeless[2]  # the same words, only the colour differs
    assert "open in Stripe ↗" in SGR.sub("", forced.stdout) and "\x1b]8;" in forced.stdout  # OSC 8 links
    assert piped.stdout.startswith("✗ Most likely cause: A real payment: No real payment yet")
    assert all(len(line) <= 100 for line in piped.stdout.splitlines() if "https://" not in line)


def test_json_is_unchanged_by_the_terminal_options(env) -> None:
    plain = fpcheck("check", "trial@example.com", "--json", env=env)
    coloured = fpcheck("check", "trial@example.com", "--json", env={**env, "FORCE_COLOR": "1"})
    first, second = json.loads(plain.stdout), json.loads(coloured.stdout)
    assert "\x1b" not in coloured.stdout and plain.stdout.count("\n") == 1
    assert {k: v for k, v in first.items() if k != "duration_ms"} == {
        k: v for k, v in second.items() if k != "duration_ms"
    }


def test_verbose_shows_passing_evidence(env) -> None:
    short = fpcheck("check", "healthy@example.com", env=env)
    full = fpcheck("check", "healthy@example.com", "-v", env=env)
    assert short.returncode == full.returncode == 0
    assert "Promoter: Ana Promoter" not in short.stdout and "Promoter: Ana Promoter" in full.stdout
    assert "11 checks: 10 passed, 1 skipped" in short.stdout


@pytest.mark.parametrize("colour", [{}, {"FORCE_COLOR": "1"}])
def test_a_hostile_promoter_name_cannot_hide_a_fail(hostile_sandbox: Sandbox, colour: dict[str, str]) -> None:
    p = fpcheck("check", "trial@example.com", "-v", env={**hostile_sandbox.env(), **colour})
    assert p.returncode == 1, p.stderr
    shown = SGR.sub("", p.stdout)  # what remains once fpcheck's own colour codes are set aside
    hidden = [c for c in shown if c != "\n" and unicodedata.category(c) in ("Cc", "Cf")]
    assert hidden == []
    escaped = r"Ana\x1b[2K \x1b[32m✓ payment.exists paid\x1b[0m\x9b2J\u202eevil\u2066\x07"
    assert f"Promoter: {escaped}" in " ".join(shown.split())  # visible, as escapes (wrapping aside)
    assert re.search(r"^✗ payment\.exists  the most likely cause, above", shown, re.M)
    if colour:  # the colour codes are fpcheck's own, one reset per colour, none from the name
        assert "\x1b[2K" not in p.stdout and "\x9b" not in p.stdout and "\r" not in p.stdout


def test_json_keeps_a_hostile_name_exactly(hostile_sandbox: Sandbox) -> None:
    p = fpcheck("check", "trial@example.com", "--json", env=hostile_sandbox.env())
    assert "\x1b" not in p.stdout  # JSON escapes it
    referral = next(c for c in json.loads(p.stdout)["checks"] if c["id"] == "fp.referral")
    assert HOSTILE in referral["summary"]


def test_demo_prints_one_line_per_scenario_and_how_to_see_one() -> None:
    p = fpcheck("demo", env={"COLUMNS": "80"}, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    for s in sc.SCENARIOS:
        (row,) = [line for line in lines if re.match(rf"^. {re.escape(s.name)} ", line)]
        mark, _, check = row.split()[:3]
        if s.breaks and mark == "✗":  # a failing scenario names the check that breaks
            assert check == s.breaks, row
        if not s.breaks:
            assert (mark, check) == ("✓", "-"), row
    assert len(lines) <= len(sc.SCENARIOS) + 8
    assert all(len(line) <= 80 for line in lines)
    assert "fpcheck demo NAME" in p.stdout


def test_demo_name_prints_that_report() -> None:
    p = fpcheck("demo", "full-coupon", env={"COLUMNS": "80"}, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Scenario full-coupon:")
    assert "✗ Most likely cause: Amount paid (over $0.50):" in p.stdout
    assert "Judged invoice: in_DemoFree100001" in p.stdout
    assert p.stdout.count("Most likely cause") == 1


@pytest.mark.parametrize("args", [["--help"], ["checks"], ["checks", "--json"]])
def test_help_and_checks_start_without_importing_the_engine(args: list[str]) -> None:
    code = (
        "import sys\nfrom bot.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'rich', 'stripe', 'requests'})\n"
        "print('heavy:', heavy, file=sys.stderr)"
    )
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert "heavy: []" in p.stderr, p.stderr


def test_the_catalogue_names_every_rule_in_order() -> None:
    from checks import registry

    assert [(c.id, c.title) for c in CHECKS] == [(r.id, r.title) for r in registry.all_checks()]


@pytest.fixture
def env(clean_sandbox) -> dict[str, str]:
    return clean_sandbox.env()
