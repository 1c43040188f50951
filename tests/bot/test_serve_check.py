"""`fpcheck serve --check` asks every dependency: one line each, ok or the exact problem."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_slack_serve import env, serve  # noqa: F401  (env is a fixture)


def test_every_dependency_gets_an_ok_line(env, capsys, monkeypatch, redis_url) -> None:  # noqa: F811
    monkeypatch.setenv("FPCHECK_REDIS_URL", redis_url)
    code, out, err = serve(capsys, "--check")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(" ok")[0] for line in lines[:5]] == [
        "fpcheck serve: Slack", "fpcheck serve: Stripe", "fpcheck serve: Stripe (other mode)",
        "fpcheck serve: FirstPromoter", "fpcheck serve: Redis",
    ]
    assert "configuration ok" in lines[-1]


def test_a_revoked_stripe_key_is_not_configuration_ok(env, capsys, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_revokedLongAgo0000000000")  # a key the stand-in refuses
    code, out, err = serve(capsys, "--check")
    assert code == 2 and "configuration ok" not in out
    assert "Slack ok" in out and "FirstPromoter ok" in out
    (line,) = err.splitlines()
    assert line.startswith("fpcheck serve: Stripe: ") and "rejected the API key (401)" in line
    assert "revokedLongAgo" not in err


def test_a_wrong_firstpromoter_account_is_named(env, capsys, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("FIRSTPROMOTER_ACCOUNT_ID", "no-such-account")
    code, out, err = serve(capsys, "--check")
    assert code == 2
    assert len(err.splitlines()) == 1, err
    (line,) = err.splitlines()
    assert line.startswith("fpcheck serve: FirstPromoter: ") and "FIRSTPROMOTER_ACCOUNT_ID" in line


def test_slack_answering_html_is_not_a_rejected_token_and_libraries_stay_quiet(env, slack, tmp_path) -> None:  # noqa: F811
    slack.inject("auth.test", malformed=True)  # a 200 with an HTML page, as a captive proxy sends
    p = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--check"], cwd=tmp_path, env={**os.environ, **env},
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 2
    assert p.stderr.splitlines() == [
        f"fpcheck serve: the Slack API at {env['SLACK_API_BASE_URL']} answered HTTP 200 with something that is "
        "not Slack's JSON (an HTML page?): check SLACK_API_BASE_URL and any proxy in between"
    ]
    assert "rejected" not in p.stderr
    assert [line.split(" ok")[0] for line in p.stdout.splitlines()] == [
        "fpcheck serve: Stripe", "fpcheck serve: Stripe (other mode)", "fpcheck serve: FirstPromoter"
    ]


@pytest.mark.parametrize("status", [401, 404])
def test_firstpromoter_problems_are_one_line(env, capsys, clean_sandbox, status) -> None:  # noqa: F811
    clean_sandbox.fp.inject(status=status, body={"message": "nope"})
    code, _, err = serve(capsys, "--check")
    assert code == 2 and err.startswith("fpcheck serve: FirstPromoter: ") and err.count("\n") == 1
