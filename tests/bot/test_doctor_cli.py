"""`fpcheck doctor`, as a user runs it: everything configured, one line each, with and without Slack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from slack_harness import APP_TOKEN, BOT_TOKEN

ROOT = Path(__file__).resolve().parents[2]


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_", "SLACK_"))}
    return subprocess.run([sys.executable, "-m", "bot.cli", "doctor"], env={**base, "PYTHONPATH": str(ROOT), **env},
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_without_slack_every_upstream_is_one_line(clean_sandbox) -> None:
    p = doctor(clean_sandbox.env())
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert [line[:1] for line in lines] == ["✓"] * 4
    assert "Stripe ok: test key of account acct_1FpcheckSandbox01" in lines[0]
    assert "Stripe (other mode) ok: live key" in lines[1] and "FirstPromoter ok" in lines[2]
    assert "Slack: not configured" in lines[3]


def test_with_slack_both_tokens_are_checked_and_a_bad_one_is_named(clean_sandbox, slack) -> None:
    env = {**clean_sandbox.env(), "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN,
           "SLACK_API_BASE_URL": slack.api_url}
    refused = doctor(env)  # the stand-in accepts no app token until told to
    assert refused.returncode == 2
    assert "✗ Slack Socket Mode: SLACK_APP_TOKEN was refused" in refused.stdout
    assert any(line.startswith("✓ Slack ok: bot") for line in refused.stdout.splitlines()), refused.stdout
    slack.socket_mode(APP_TOKEN, lambda: "ws://127.0.0.1:9/socket")
    ok = doctor(env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "✓ Slack Socket Mode ok" in ok.stdout
    assert BOT_TOKEN not in ok.stdout + refused.stdout and APP_TOKEN not in ok.stdout + refused.stdout


def test_missing_and_wrong_settings_are_lines_not_tracebacks(clean_sandbox) -> None:
    env = {k: v for k, v in clean_sandbox.env().items() if k != "FIRSTPROMOTER_ACCOUNT_ID"}
    p = doctor({**env, "STRIPE_API_KEY": "sk_test_wrongWrongWrong00"})
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "✗ Stripe: Stripe rejected the API key (401)" in p.stdout
    assert "✗ FirstPromoter: FIRSTPROMOTER_ACCOUNT_ID not set" in p.stdout
    placeholder = doctor({**clean_sandbox.env(), "STRIPE_API_KEY": "rk_live_..."})
    assert placeholder.returncode == 2
    assert placeholder.stderr.strip() == ("fpcheck: STRIPE_API_KEY is still the placeholder from .env.example: put "
                                          "the real value there, or remove the line")
