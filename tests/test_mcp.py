"""`fpcheck mcp` as a real process, driven by the MCP SDK's own client over stdio and streamable HTTP,
against the sandbox's stand-ins on 127.0.0.1: the tools, their read-only annotations, the report of
`fpcheck check --json`, tool errors for bad input, a month's sweep with progress, the audit line."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import requests
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, TextContent

from bot.mcp_server import build_server
from bot.service import Service
from checks.catalog import CHECKS
from checks.settings import load_settings
from sandbox import scenarios as sc
from sandbox.month_seed import LOST_CAUSES
from sandbox.runner import Sandbox

ROOT = Path(__file__).resolve().parents[1]
SECRETS = (sc.STRIPE_TEST_KEY, sc.STRIPE_LIVE_KEY, sc.FP_API_KEY)
CALL_TIMEOUT = 60.0  # seconds for one tool call (a month's sweep included)
SESSION_TIMEOUT = 120.0  # seconds for a whole client session, start and shutdown included

Session = Callable[[Client], Awaitable[None]]


def server_env(sandbox: Sandbox) -> dict[str, str]:
    """The sandbox's settings, and nothing of the developer's (the SDK passes only a safe few of
    this process's variables, and the server runs in an empty directory: no .env)."""
    return {**sandbox.env(), "FPCHECK_CACHE_DIR": os.environ["FPCHECK_CACHE_DIR"], "PYTHONPATH": str(ROOT),
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def over_stdio(sandbox: Sandbox, workdir: Path, session: Session, **env: str) -> str:
    """Run `fpcheck mcp` over stdio for one client session (`env`: more settings); its stderr."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "bot.cli", "mcp"],
                                   env={**server_env(sandbox), **env}, cwd=workdir)
    log = workdir / "stderr.log"

    async def main() -> None:
        with anyio.fail_after(SESSION_TIMEOUT), log.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=CALL_TIMEOUT) as client:
                await session(client)

    anyio.run(main)
    return log.read_text()


def text(result: CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, TextContent))


def audit_lines(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith('{"event":"fpcheck.run"')]


def assert_private(stderr: str) -> None:
    assert not any(secret in stderr for secret in SECRETS)
    assert "healthy@example.com" not in stderr and "trial@example.com" not in stderr  # masked: h***@example.com


def check_json(sandbox: Sandbox, workdir: Path, query: str) -> dict[str, Any]:
    """What `fpcheck check QUERY --json` prints, for the same settings."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_"))},
           **server_env(sandbox)}
    p = subprocess.run([sys.executable, "-m", "bot.cli", "check", query, "--json"], env=env, cwd=workdir,
                       capture_output=True, text=True, timeout=60)
    return json.loads(p.stdout)


def outline(report: dict[str, Any]) -> tuple[Any, ...]:
    """A report without what differs between two runs (durations, calls the cache saved)."""
    return (report["schema_version"], report["query"], report["verdict"]["status"], report["verdict"]["check"],
            [(c["id"], c["status"]) for c in report["checks"]])


def test_the_tools_over_stdio_answer_as_fpcheck_check_does(clean_sandbox, tmp_path: Path) -> None:
    got: dict[str, Any] = {}

    async def session(client: Client) -> None:
        got["tools"] = (await client.list_tools()).tools
        for query in ("healthy@example.com", "trial@example.com"):
            got[query] = await client.call_tool("check_customer", {"query": query})
        got["only"] = await client.call_tool("check_customer", {"query": "trial@example.com",
                                                                 "checks": ["payment.exists"]})
        got["bad query"] = await client.call_tool("check_customer", {"query": "jane.example.com"})
        got["bad id"] = await client.call_tool("check_customer", {"query": "trial@example.com",
                                                                   "checks": ["payment.nope"]})
        got["bad since"] = await client.call_tool("sweep_payments", {"since": "a fortnight"})
        got["bad dates"] = await client.call_tool("sweep_payments", {"from_date": "2026-11-30",
                                                                      "to_date": "2026-11-01"})
        got["bad limit"] = await client.call_tool("sweep_payments", {"since": "7d", "limit": 0})
        got["checks"] = await client.call_tool("list_checks", {})

    stderr = over_stdio(clean_sandbox, tmp_path, session)

    tools = {t.name: t for t in got["tools"]}
    assert set(tools) == {"check_customer", "sweep_payments", "list_checks"}  # no fix tools: there is no fix flow
    for tool in tools.values():
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False
        assert tool.annotations.idempotent_hint is True
    assert tools["check_customer"].annotations.open_world_hint is True  # type: ignore[union-attr]
    assert tools["check_customer"].input_schema["required"] == ["query"]

    healthy, trial = got["healthy@example.com"], got["trial@example.com"]
    assert not healthy.is_error and healthy.structured_content["verdict"]["status"] == "pass"
    assert not trial.is_error and trial.structured_content["verdict"] == {
        **trial.structured_content["verdict"], "status": "fail", "check": "payment.exists"}
    assert json.loads(text(trial)) == trial.structured_content  # the same JSON for a client that reads text
    assert outline(trial.structured_content) == outline(check_json(clean_sandbox, tmp_path, "trial@example.com"))
    assert [c["id"] for c in got["only"].structured_content["checks"]] == ["payment.exists"]

    # bad input: a tool error, one line saying what is wrong
    errors = {k: got[k] for k in ("bad query", "bad id", "bad since", "bad dates", "bad limit")}
    assert all(r.is_error and "\n" not in text(r) for r in errors.values())
    assert "not an email address or a Stripe customer id" in text(errors["bad query"])
    assert "unknown check id(s): payment.nope (see list_checks)" in text(errors["bad id"])
    assert "since takes a length such as 24h, 7d or 2w" in text(errors["bad since"])
    assert "from_date must be before to_date" in text(errors["bad dates"])
    assert "limit must be 1 or more" in text(errors["bad limit"])

    assert got["checks"].structured_content == {"result": [{"id": c.id, "title": c.title} for c in CHECKS]}

    # one audit line per check run (bad input asks nothing), via mcp, the email masked, no secret
    lines = audit_lines(stderr)
    assert [(line["via"], line["query"], line["outcome"], line["verdict"]) for line in lines] == [
        ("mcp", "h***@example.com", "delivered", "pass"), ("mcp", "t***@example.com", "delivered", "fail"),
        ("mcp", "t***@example.com", "delivered", "fail")]
    assert len({line["ref"] for line in lines}) == 3
    assert_private(stderr)
    # read-only, as every face
    assert clean_sandbox.stripe.writes() == [] and all(r.method == "GET" for r in clean_sandbox.fp.calls())


def test_an_upstream_failure_is_reported_inside_the_report(clean_sandbox, tmp_path: Path) -> None:
    clean_sandbox.fp.inject(r"/referrals", status=500, body={"message": "Internal error"})
    got: dict[str, Any] = {}

    async def session(client: Client) -> None:
        got["report"] = await client.call_tool("check_customer", {"query": "healthy@example.com"})

    stderr = over_stdio(clean_sandbox, tmp_path, session)
    report = got["report"]
    assert not report.is_error  # the report says what could not be read, as `fpcheck check` does
    statuses = {c["id"]: c["status"] for c in report.structured_content["checks"]}
    assert statuses["fp.referral"] == "error"
    (line,) = audit_lines(stderr)
    assert line["via"] == "mcp" and line["outcome"] == "delivered"
    assert_private(stderr)


def test_fpcheck_deadline_bounds_a_check(clean_sandbox, tmp_path: Path) -> None:
    clean_sandbox.stripe.inject(r"/v1/customers", delay=6.0)
    got: dict[str, Any] = {}

    async def session(client: Client) -> None:
        started = time.monotonic()
        got["report"] = await client.call_tool("check_customer", {"query": "healthy@example.com"})
        got["seconds"] = time.monotonic() - started

    stderr = over_stdio(clean_sandbox, tmp_path, session, FPCHECK_DEADLINE="2")
    assert got["seconds"] < 4.0
    report = got["report"]
    assert not report.is_error and report.structured_content["verdict"]["status"] != "pass"
    assert "deadline" in text(report)
    (line,) = audit_lines(stderr)
    assert line["via"] == "mcp" and line["outcome"] == "delivered"


@pytest.fixture(scope="module")
def month() -> Iterator[Sandbox]:
    """The data of `fpcheck sandbox --month`: a month of payments, 12 of them lost."""
    with Sandbox(month=True) as sb:
        yield sb


def test_a_month_sweep_finds_the_lost_payments_and_reports_progress(month: Sandbox, tmp_path: Path) -> None:
    got: dict[str, Any] = {}
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def session(client: Client) -> None:
        got["sweep"] = await client.call_tool("sweep_payments", {"since": "31d"}, progress_callback=on_progress)

    stderr = over_stdio(month, tmp_path, session)
    sweep = got["sweep"]
    assert not sweep.is_error, text(sweep)
    body = sweep.structured_content
    assert body["schema_version"] == 1 and not body["partial"]
    assert len(body["lost"]) == 12 and body["scanned"]["payments"] == 400
    assert set(body["by_cause"]) == {check for _kind, check, _story in LOST_CAUSES}
    # progress: reading, then diagnosing, never going back, ending whole
    assert len(progress) >= 3, progress
    assert [p for p, _t, _m in progress] == sorted(p for p, _t, _m in progress)
    assert progress[-1][0] == progress[-1][1] and progress[-1][2] == "diagnosed 12 of 12 candidates"
    assert any(m and m.startswith("read ") for _p, _t, m in progress)
    assert "via mcp: 12 lost of 400 payments" in stderr
    assert not any(secret in stderr for secret in SECRETS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamable_http_on_127_0_0_1(clean_sandbox, tmp_path: Path) -> None:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_"))},
           **server_env(clean_sandbox)}
    errlog = (tmp_path / "stderr.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "mcp", "--http", "--port", str(port)], env=env,
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errlog)
    got: dict[str, Any] = {}

    async def main() -> None:
        with anyio.fail_after(SESSION_TIMEOUT):
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=CALL_TIMEOUT) as client:
                got["tools"] = (await client.list_tools()).tools
                got["trial"] = await client.call_tool("check_customer", {"query": "trial@example.com"})
                got["bad"] = await client.call_tool("check_customer", {"query": "cus_"})

    try:
        deadline = time.monotonic() + 30
        while True:  # listening once the log says so
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr.log").read_text()
            if f"http://127.0.0.1:{port}/mcp" in (tmp_path / "stderr.log").read_text():
                break
            time.sleep(0.05)
        anyio.run(main)
        # a page of another site the browser sends here (DNS rebinding) is refused
        foreign = requests.post(f"http://127.0.0.1:{port}/mcp", json={}, timeout=10,
                                headers={"Host": "evil.example", "Accept": "application/json, text/event-stream"})
        assert foreign.status_code in (400, 403, 421)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        errlog.close()
    stderr = (tmp_path / "stderr.log").read_text()
    assert {t.name for t in got["tools"]} == {"check_customer", "sweep_payments", "list_checks"}
    assert all(t.annotations and t.annotations.read_only_hint for t in got["tools"])
    assert got["trial"].structured_content["verdict"]["check"] == "payment.exists"
    assert got["bad"].is_error and "not a valid Stripe customer id" in text(got["bad"])
    (line,) = audit_lines(stderr)
    assert line["via"] == "mcp" and line["query"] == "t***@example.com" and line["cause"] == "payment.exists"
    assert out == b""  # nothing on stdout: the log and the audit line are on stderr
    assert_private(stderr)


def test_bad_settings_are_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "FIRSTPROMOTER_", "FPCHECK_"))}
    p = subprocess.run([sys.executable, "-m", "bot.cli", "mcp"], env={**env, "PYTHONPATH": str(ROOT)}, cwd=tmp_path,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "STRIPE_API_KEY" in p.stderr


@pytest.mark.parametrize("args", [["--help"], ["mcp", "--help"]])
def test_help_does_not_import_the_mcp_sdk(args: list[str]) -> None:
    code = (
        "import sys\nfrom bot.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('heavy:', sorted({m.split('.')[0] for m in sys.modules} & {'mcp', 'mcp_types', 'uvicorn', "
        "'starlette', 'anyio'}), file=sys.stderr)"
    )
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert "heavy: []" in p.stderr, p.stderr


def test_a_crash_is_a_tool_error_quoting_the_reference_the_log_has(caplog: pytest.LogCaptureFixture) -> None:
    """In process, with an engine that breaks: the service audits the run as failed and the caller
    gets its reference id, never the exception's text."""
    class Broken:
        deadline = 20.0

        def check(self, query: object, only: object = None) -> None:
            raise RuntimeError("the engine broke")

    caplog.set_level(logging.INFO)
    server = build_server(Service(Broken()), load_settings(_env_file=None))  # type: ignore[arg-type]

    async def main() -> CallToolResult:
        with anyio.fail_after(30):
            async with Client(server) as client:
                return await client.call_tool("check_customer", {"query": "jane@example.com"})

    result = anyio.run(main)
    assert result.is_error and "the engine broke" not in text(result)
    ref = re.search(r"reference ([0-9a-f]{8})", text(result)).group(1)  # type: ignore[union-attr]
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "fpcheck.audit"]
    assert line["via"] == "mcp" and line["outcome"] == "failed" and line["ref"] == ref
    assert line["query"] == "j***@example.com"
    assert any(ref in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_a_v1_account_checks_and_its_sweep_says_it_needs_v2(tmp_path: Path) -> None:
    got: dict[str, Any] = {}

    async def session(client: Client) -> None:
        got["check"] = await client.call_tool("check_customer", {"query": "healthy@example.com"})
        got["sweep"] = await client.call_tool("sweep_payments", {"since": "7d"})

    with Sandbox(fp="v1") as v1:
        over_stdio(v1, tmp_path, session)
    assert not got["check"].is_error and got["check"].structured_content["fp_api_version"] == "v1"
    assert got["sweep"].is_error and "A sweep needs a FirstPromoter v2 account" in text(got["sweep"])
