"""`fpcheck check` with hostile settings, inputs and upstreams: one line and the documented exit
code, never a traceback, never a secret echoed, and settings refused before any upstream call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.test_cli import fpcheck
from tests.test_deadline import Silent

FP_KEY = "fpv2SECRETkey1234567890"

BAD_SETTINGS = [
    ("FPCHECK_TIMEOUT", "0", "greater than 0"),
    ("FPCHECK_TIMEOUT", "nan", "finite"),
    ("FPCHECK_DEADLINE", "1e309", "finite"),
    ("FPCHECK_DEADLINE", "-1", "greater than 0"),
    ("FPCHECK_CACHE_TTL", "-1", "0 or more"),
    ("FPCHECK_CACHE_TTL", "inf", "finite"),
    ("FIRSTPROMOTER_API_BASE", "not a url", "http:// or https://"),
    ("FIRSTPROMOTER_API_BASE", "file:///etc/passwd", "http:// or https://"),
    ("STRIPE_API_BASE", "ftp://api.stripe.com", "http:// or https://"),
    ("FIRSTPROMOTER_API_KEY", FP_KEY[:8] + "\x1b[2J" + FP_KEY[8:], "control or non-ASCII"),
    ("FIRSTPROMOTER_API_KEY", FP_KEY + "é", "control or non-ASCII"),
    ("FIRSTPROMOTER_ACCOUNT_ID", "acc\x7fount", "control or non-ASCII"),
    ("STRIPE_API_KEY", FP_KEY, "is not a Stripe key (perhaps another service's"),
    ("STRIPE_API_KEY", "pk_test_" + FP_KEY, "publishable key"),
    ("STRIPE_API_KEY", "whsec_" + FP_KEY, "webhook signing secret"),
    ("FIRSTPROMOTER_API_KEY", "sk_test_" + FP_KEY, "is a Stripe key"),
]


@pytest.mark.parametrize("name, value, says", BAD_SETTINGS, ids=[f"{n}={v!r}"[:40] for n, v, _ in BAD_SETTINGS])
def test_a_bad_setting_is_one_line_naming_it_before_any_call(clean_sandbox, name, value, says) -> None:
    env = {**clean_sandbox.env(), "FIRSTPROMOTER_API_KEY": FP_KEY, name: value}
    p = fpcheck("check", "jane@example.com", env=env)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stdout == "" and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert name in p.stderr and says in p.stderr
    assert FP_KEY not in p.stderr  # the value is never shown
    assert clean_sandbox.stripe.calls() == [] and clean_sandbox.fp.calls() == []


def test_whitespace_around_keys_and_ids_is_ignored(clean_sandbox) -> None:
    env = clean_sandbox.env()
    env = {k: (f"  {v}\n" if k in ("STRIPE_API_KEY", "FIRSTPROMOTER_API_KEY", "FIRSTPROMOTER_ACCOUNT_ID") else v)
           for k, v in env.items()}
    p = fpcheck("check", "healthy@example.com", env=env)
    assert p.returncode == 0, p.stdout + p.stderr


HOSTILE_QUERIES = [
    "", " ", "a" * 400, "cus_abc!def", "\x1b[2J\x1b[31mjane@example.com", "jane@@example.com",
    "<@U123>", "jane@münchen.de", "jürgen@example.com", "--json", "cus_" + "9" * 80, "jane@exa mple.com",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_no_traceback_for_hostile_input(clean_sandbox, query) -> None:
    p = fpcheck("check", query, env=clean_sandbox.env())
    assert p.returncode in (0, 1, 2)
    assert "Traceback" not in p.stdout + p.stderr
    if p.returncode == 2:
        assert p.stderr.count("\n") == 1


@pytest.mark.parametrize("where", ["stripe", "fp"])
@pytest.mark.parametrize(
    "fault",
    [{"malformed": True}, {"drop": True}, {"status": 200, "body": {"unexpected": [1, 2]}},
     {"status": 200, "body": ["not", "an", "object"]}, {"status": 302, "headers": {"Location": "file:///x"}},
     {"status": 500, "body": "\x00\xff"}],
    ids=["html", "dropped", "wrong-shape", "array", "redirect", "binary-500"],
)
def test_no_traceback_for_upstream_garbage(clean_sandbox, where, fault) -> None:
    getattr(clean_sandbox, where).inject(**fault)
    p = fpcheck("check", "healthy@example.com", "--json", env={**clean_sandbox.env(), "FPCHECK_DEADLINE": "5"})
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stdout + p.stderr


def test_a_closed_pipe_is_not_a_traceback(clean_sandbox) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_"))}
    cmd = f"{sys.executable} -m bot.cli check healthy@example.com --json | head -c 100"
    p = subprocess.run(["bash", "-c", cmd], env={**base, **clean_sandbox.env()}, capture_output=True, text=True,
                       timeout=60, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert p.stdout.startswith('{"schema_version": 1') and len(p.stdout) == 100
    assert p.stderr == "", p.stderr


@pytest.mark.parametrize("redis", ["refused", "silent", "bad-url"])
def test_redis_away_is_one_line_and_the_check_carries_on(clean_sandbox, redis) -> None:
    silent = Silent()
    try:
        url = {"refused": "redis://127.0.0.1:1/0", "silent": silent.url.replace("http", "redis") + "/0",
               "bad-url": "redis://127.0.0.1:notaport/0"}[redis]
        env = {**clean_sandbox.env(), "FPCHECK_REDIS_URL": url, "FPCHECK_DEADLINE": "4"}
        t0 = time.monotonic()
        p = fpcheck("check", "healthy@example.com", env=env)
        wall = time.monotonic() - t0
    finally:
        silent.close()
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1 and "without the shared cache" in p.stderr
    assert "notaport" not in p.stderr
    assert wall < 5.0


def test_only_before_the_query_works(clean_sandbox) -> None:
    p = fpcheck("check", "--only", "payment.amount", "payment.timing", "healthy@example.com", "--json",
                env=clean_sandbox.env())
    assert p.returncode == 0, p.stderr
    assert [c["id"] for c in json.loads(p.stdout)["checks"]] == ["payment.amount", "payment.timing"]
    p = fpcheck("check", "--only", "payment.amount", env=clean_sandbox.env())
    assert p.returncode == 2 and "is required" in p.stderr


@pytest.mark.parametrize("email", ["jane@münchen.de", "jürgen@example.com"])
def test_internationalised_emails_are_looked_up(clean_sandbox, email) -> None:
    p = fpcheck("check", email, "--json", env=clean_sandbox.env())
    assert p.returncode == 1, p.stderr  # looked up (and not found), not refused as bad input
    report = json.loads(p.stdout)
    assert report["query"] == email
    assert any(("email", email) in r.query for r in clean_sandbox.stripe.calls("GET", "/v1/customers"))
    referral = next(c for c in report["checks"] if c["id"] == "fp.referral")
    assert referral["status"] == "fail" and "could not" not in referral["summary"].lower()


def test_a_refused_query_is_echoed_readably(clean_sandbox) -> None:
    p = fpcheck("check", "cus_abc!def", env=clean_sandbox.env())
    assert p.returncode == 2 and "“cus_abc!def”" in p.stderr
