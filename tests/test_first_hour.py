"""A new user's first hour: every command can be tried with no accounts, as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_"))}
    return {**base, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}


def fpcheck(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=_env(), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def test_bare_fpcheck_prints_help_and_version_is_known() -> None:
    p = fpcheck()
    assert p.returncode == 0 and "usage: fpcheck" in p.stdout and "sandbox" in p.stdout and "fpcheck demo" in p.stdout
    v = fpcheck("--version")
    assert v.returncode == 0 and v.stdout.startswith("fpcheck ") and v.stdout.split()[1][0].isdigit()


def test_the_sandbox_runs_until_stopped_and_every_command_works_against_it(tmp_path: Path) -> None:
    sandbox = subprocess.Popen([sys.executable, "-m", "bot.cli", "sandbox", "--env-file", ".env", "--for", "120"],
                               env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        env_file = tmp_path / ".env"
        for _ in range(100):  # bounded: the stand-ins start in well under a second
            if env_file.exists() and "FPCHECK_EXPECTED_STRIPE_MODE" in env_file.read_text():
                break
            time.sleep(0.1)
        assert "STRIPE_API_BASE=http://127.0.0.1:" in env_file.read_text()
        healthy = fpcheck("check", "healthy@example.com", cwd=tmp_path)
        assert healthy.returncode == 0 and "Every check passed" in healthy.stdout, healthy.stdout + healthy.stderr
        trial = fpcheck("check", "trial@example.com", "--json", cwd=tmp_path)
        assert trial.returncode == 1 and json.loads(trial.stdout)["verdict"]["check"] == "payment.exists"
        index = fpcheck("index", cwd=tmp_path)
        assert index.returncode == 0 and "134 promoter campaigns" in index.stdout, index.stdout + index.stderr
        sweep = fpcheck("sweep", "--since", "7d", "--json", cwd=tmp_path)
        assert sweep.returncode in (0, 1) and "lost" in json.loads(sweep.stdout), sweep.stderr
    finally:
        sandbox.send_signal(signal.SIGINT)
        out, err = sandbox.communicate(timeout=10)
    assert sandbox.returncode == 0
    assert "wrote the settings to .env" in out and "Ctrl-C stops the sandbox" in err


def test_a_repair_can_be_tried_in_the_sandbox_with_fixes(tmp_path: Path) -> None:
    sandbox = subprocess.Popen([sys.executable, "-m", "bot.cli", "sandbox", "--fixes", "--env-file", ".env",
                                "--for", "120"], env=_env(), cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        env_file = tmp_path / ".env"
        for _ in range(100):  # bounded: the stand-ins start in well under a second
            if env_file.exists() and "FPCHECK_ALLOW_FIXES=true" in env_file.read_text():
                break
            time.sleep(0.1)
        before = fpcheck("check", "uid-mismatch@example.com", cwd=tmp_path)
        assert before.returncode == 1
        plan = fpcheck("fix", "uid-mismatch@example.com", cwd=tmp_path)
        assert plan.returncode == 0 and "PUT /referrals/5009" in plan.stdout, plan.stdout + plan.stderr
        applied = fpcheck("fix", "uid-mismatch@example.com", "--apply", "--yes", cwd=tmp_path)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        after = fpcheck("check", "uid-mismatch@example.com", "--json", cwd=tmp_path)
        assert json.loads(after.stdout)["verdict"]["status"] == "pass", after.stdout
    finally:
        sandbox.send_signal(signal.SIGINT)
        sandbox.communicate(timeout=10)
    assert sandbox.returncode == 0


def test_a_v1_sandbox_says_what_it_cannot_do() -> None:
    p = fpcheck("sandbox", "--fp", "v1", "--fixes")
    assert p.returncode == 2 and p.stderr.strip().endswith("no import API)") and len(p.stderr.splitlines()) == 1


def test_the_sandbox_prints_export_lines_a_shell_can_source() -> None:
    p = fpcheck("sandbox", "--for", "0.5")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert all(line.startswith("export ") for line in lines) and any("FIRSTPROMOTER_API_BASE=" in x for x in lines)


def test_demo_sweep_takes_the_sweeps_options() -> None:
    p = fpcheck("demo", "sweep", "--since", "7d", "--json", timeout=120)
    assert p.returncode in (0, 1), p.stderr
    window = json.loads(p.stdout)["window"]
    start, end = (datetime.fromisoformat(window[k].replace("Z", "+00:00")) for k in ("from", "to"))
    assert round((end - start).total_seconds() / 86400) == 7
    bad = fpcheck("demo", "sweep", "--since", "forever")
    assert bad.returncode == 2 and "--since" in bad.stderr and "Traceback" not in bad.stderr


def _with(env: dict[str, str], **changes: str) -> dict[str, str]:
    return {**_env(), **env, **changes}


def run_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_setup_mistakes_are_one_line_and_exit_2(clean_sandbox) -> None:
    env = clean_sandbox.env()
    mistakes = {
        "FIRSTPROMOTER_API_KEY": ({"FIRSTPROMOTER_API_KEY": "fp_wrong_key_000000"}, "rejected the API key (401)"),
        "FIRSTPROMOTER_ACCOUNT_ID": ({"FIRSTPROMOTER_ACCOUNT_ID": "acc_someone_else"}, "FIRSTPROMOTER_ACCOUNT_ID"),
        "STRIPE_API_KEY": ({"STRIPE_API_KEY": "sk_test_revokedOrWrong000"}, "Stripe rejected the API key (401)"),
        "STRIPE_API_BASE": ({"STRIPE_API_BASE": "http://127.0.0.1:9"}, "connection refused"),
        "FIRSTPROMOTER_API_BASE": ({"FIRSTPROMOTER_API_BASE": "http://127.0.0.1:9/api/v2/company"},
                                   "connection refused"),
    }
    for name, (changes, words) in mistakes.items():
        for json_flag in ((), ("--json",)):
            p = run_with(_with(env, **changes), "check", "healthy@example.com", *json_flag)
            assert p.returncode == 2, (name, p.stdout, p.stderr)
            assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, (name, p.stderr)
            assert words in p.stderr and "Traceback" not in p.stderr, (name, p.stderr)
            assert "wrong_key" not in p.stderr and "revokedOrWrong" not in p.stderr  # never the secret itself
    # a customer fpcheck cannot find is a diagnosis, not a setup mistake
    assert run_with(_with(env), "check", "nobody-at-all@example.com").returncode == 1


def test_the_sweep_and_demo_list_fit_80_columns() -> None:
    from rich.cells import cell_len

    env = {**_env(), "COLUMNS": "80"}
    for args in (("demo", "sweep", "--since", "31d"), ("demo", "--list")):
        p = subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode in (0, 1), p.stderr
        wide = [line for line in p.stdout.splitlines() if cell_len(line) > 80]
        assert wide == [], (args, wide)
