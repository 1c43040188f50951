"""`fpcheck` as a user runs it: a real process, real stand-ins over loopback, exit codes and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sandbox import scenarios as sc

CHECK_IDS = [
    "stripe.account", "stripe.mode", "fp.referral", "lead.email", "lead.uid", "payment.exists",
    "payment.amount", "payment.timing", "coupon.id", "coupon.unique", "fp.commission",
]


def fpcheck(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_")) or k == "FPCHECK_CACHE_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**base, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )


@pytest.fixture
def env(clean_sandbox) -> dict[str, str]:
    return clean_sandbox.env()


def test_json_report_keeps_the_contract(env) -> None:
    p = fpcheck("check", "coupon100@example.com", "--json", env=env)
    assert p.returncode == 1, p.stderr
    out = json.loads(p.stdout)
    assert out["schema_version"] == 1
    assert out["query"] == "coupon100@example.com"
    assert set(out["verdict"]) >= {"status", "check", "summary"}
    assert out["verdict"] == {**out["verdict"], "status": "fail", "check": "payment.amount"}
    assert [c["id"] for c in out["checks"] if c["id"] in CHECK_IDS] == CHECK_IDS  # the contract, in order
    for c in out["checks"]:
        assert set(c) >= {"id", "title", "status", "summary", "evidence", "remediation"}
        assert c["status"] in {"pass", "fail", "warn", "skip", "error"}
    amount = next(c for c in out["checks"] if c["id"] == "payment.amount")
    assert "FREE100" in json.dumps(amount)


def test_healthy_customer_exits_zero_and_reads_well(env) -> None:
    p = fpcheck("check", "healthy@example.com", env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Every check passed" in p.stdout
    for check_id in CHECK_IDS:
        assert check_id in p.stdout


def test_only_runs_the_named_checks(env) -> None:
    p = fpcheck("check", "tiny@example.com", "--json", "--only", "payment.amount", "fp.referral", env=env)
    out = json.loads(p.stdout)
    assert [c["id"] for c in out["checks"]] == ["fp.referral", "payment.amount"]
    assert out["verdict"]["check"] == "payment.amount"


def test_a_partial_run_never_says_every_check_passed(env) -> None:
    p = fpcheck("check", "healthy@example.com", "--only", "payment.amount", "payment.timing", env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Every check passed" not in p.stdout
    said = " ".join(p.stdout.split())  # the report wraps to 80 columns
    assert "only 2 of the 11 checks ran (payment.amount, payment.timing); the other 9 were not run" in said
    out = json.loads(fpcheck("check", "healthy@example.com", "--json", "--only", "fp.commission", env=env).stdout)
    assert out["verdict"]["status"] == "pass" and "only 1 of the 11 checks ran" in out["verdict"]["summary"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["check", "not-an-email"], "not an email"),
        (["check", "two words"], "exactly one"),
        (["check", "a@b.com", "--only", "payment.nope"], "unknown check"),
        (["check"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(env, args: list[str], words: str) -> None:
    p = fpcheck(*args, env=env)
    assert p.returncode == 2
    assert words in p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_missing_configuration_is_exit_2_without_secrets(env) -> None:
    partial = {k: v for k, v in env.items() if k != "FIRSTPROMOTER_API_KEY"}
    p = fpcheck("check", "healthy@example.com", env=partial)
    assert p.returncode == 2
    assert "FIRSTPROMOTER_API_KEY" in p.stderr and "Traceback" not in p.stderr
    assert sc.STRIPE_TEST_KEY not in p.stderr


def test_publishable_key_is_refused_by_name_not_value(env) -> None:
    p = fpcheck("check", "healthy@example.com", env={**env, "STRIPE_API_KEY": "pk_test_secretish123"})
    assert p.returncode == 2 and "STRIPE_API_KEY" in p.stderr and "secretish" not in p.stderr


def test_checks_lists_every_rule_in_order() -> None:
    p = fpcheck("checks", "--json")
    assert p.returncode == 0
    assert [c["id"] for c in json.loads(p.stdout) if c["id"] in CHECK_IDS] == CHECK_IDS


def test_demo_needs_no_accounts_and_shows_every_scenario() -> None:
    p = fpcheck("demo", "--json", env={}, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [d["scenario"] for d in lines] == [s.name for s in sc.SCENARIOS]
    for d in lines:
        if d["breaks"] and d["verdict"]["check"]:
            assert d["verdict"]["check"] == d["breaks"]


def test_settings_come_from_a_dot_env_file_in_the_working_directory(env, tmp_path) -> None:
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    p = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "healthy@example.com", "--json"],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_"))},
            "PYTHONPATH": os.path.dirname(os.path.dirname(__file__)),
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["verdict"]["status"] == "pass"
