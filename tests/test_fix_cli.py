"""`fpcheck fix` as a person runs it: a process against the sandbox with write routes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.runner import Sandbox

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(writes=True) as box:
        yield box


def fpcheck(sb: Sandbox, *args: str, allow: bool = True, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    mine = {k: v for k, v in os.environ.items()  # nothing of the session's sandbox or the developer's
            if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_")) or k == "FPCHECK_CACHE_DIR"}
    env = {**mine, **sb.env(), "FPCHECK_ALLOW_FIXES": "true" if allow else "false",
           "FPCHECK_LOG_LEVEL": "info"}
    return subprocess.run([sys.executable, "-m", "bot.cli", "fix", *args], env={**env, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, cwd=cwd, timeout=60, input=stdin)


def fp_writes(sb: Sandbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in sb.fp.calls() if r.method != "GET"]


def test_the_plan_is_printed_and_nothing_written(sb: Sandbox, tmp_path: Path) -> None:
    out = fpcheck(sb, "uid-mismatch@example.com", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "user_4821 → cus_DemoUidMism001" in out.stdout and "PUT /referrals/5009" in out.stdout
    assert "Nothing was changed" in out.stdout and fp_writes(sb) == []


def test_no_fix_is_exit_1_with_why(sb: Sandbox, tmp_path: Path) -> None:
    out = fpcheck(sb, "trial@example.com", cwd=tmp_path)
    assert out.returncode == 1 and "no real payment yet" in out.stdout.lower()


@pytest.mark.parametrize("args, allow, problem", [
    (("uid-mismatch@example.com", "--apply", "--yes"), False, "FPCHECK_ALLOW_FIXES"),
    (("uid-mismatch@example.com", "--apply"), True, "--yes"),  # no terminal: stdin is a pipe
    (("uid-mismatch@example.com", "--customer", "nope"), True, "--customer"),
    (("uid-mismatch@example.com", "--customer", "cus_SomeoneElse"), True, "cus_SomeoneElse"),
])
def test_bad_input_is_exit_2_in_one_line(sb: Sandbox, tmp_path: Path, args: tuple[str, ...], allow: bool,
                                         problem: str) -> None:
    out = fpcheck(sb, *args, allow=allow, cwd=tmp_path)
    assert out.returncode == 2 and problem in out.stderr and "Traceback" not in out.stderr
    assert fp_writes(sb) == []


def test_apply_writes_audits_and_json_says_what_was_applied(sb: Sandbox, tmp_path: Path) -> None:
    out = fpcheck(sb, "uid-mismatch@example.com", "--apply", "--yes", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data: dict[str, Any] = json.loads(out.stdout)
    assert data["plan"]["kind"] == "set_uid" and data["applied"]["outcome"] == "applied"
    assert [s["call"] for s in data["applied"]["steps"]][:2] == ["PUT /referrals/5009",
                                                                 "POST /referrals/5009/import_events"]
    assert sb.fp.referrals[5009].uid == "cus_DemoUidMism001"
    audit = [json.loads(line.split("fpcheck.audit: ", 1)[1]) for line in out.stderr.splitlines()
             if "fpcheck.audit" in line]
    assert audit and audit[0]["event"] == "fpcheck.fix" and audit[0]["query"] == "u***@example.com"
    again = fpcheck(sb, "uid-mismatch@example.com", cwd=tmp_path)  # repaired: nothing left to fix
    assert again.returncode == 1


def test_a_terminal_no_leaves_everything_as_it_was(sb: Sandbox, tmp_path: Path) -> None:
    # a pseudo-terminal (Python's pty, no outside tool) makes the process ask; answering no writes nothing
    import pty
    import select

    env = {**os.environ, **sb.env(), "FPCHECK_ALLOW_FIXES": "true", "PYTHONPATH": str(ROOT)}
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "fix", "uid-mismatch@example.com", "--apply"],
                            stdin=child, stdout=child, stderr=child, env=env, cwd=tmp_path)
    os.close(child)
    said, answered, deadline = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # bounded: the whole exchange takes a few seconds
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # the process ended and closed its side
                    break
                if not chunk:
                    break
                said += chunk
            if not answered and b"Apply this change in FirstPromoter?" in said:
                os.write(main, b"n\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        os.close(main)
    text = said.decode(errors="replace")
    assert answered and "Nothing was changed" in text, text
    assert fp_writes(sb) == []


def test_a_v1_account_gets_the_steps_not_a_fix(tmp_path: Path) -> None:
    with Sandbox(fp="v1") as v1:
        out = fpcheck(v1, "uid-mismatch@example.com", cwd=tmp_path)
        writes = fp_writes(v1)
    assert out.returncode == 1, out.stderr
    assert "FirstPromoter v1 account" in out.stdout and "import_events" in out.stdout
    assert writes == []
