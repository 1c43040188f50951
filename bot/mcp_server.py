"""`fpcheck mcp`: the checks as Model Context Protocol tools, for an AI assistant (stdio, or
streamable HTTP on 127.0.0.1 with `--http`).

A face like Slack's: a check goes through bot/service.py (the same deadline counted from when the
call arrived, the same audit line, `"via": "mcp"`, the same reference id when it fails) with no
allow-list, as in the terminal: whoever can start this process already holds the keys.  Every tool
only reads.  Over stdio, stdout is the protocol's: every log line, the audit line included, goes to
stderr.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from bot import audit, logs
from bot.service import DELIVERED, Asker, Delivery, Denied, Request, Service, new_ref, read
from checks.catalog import CHECKS
from checks.engine import Engine
from checks.model import Report
from checks.query import QueryError
from checks.settings import ConfigError, Settings, load_settings, v1_cannot_sweep
from checks.sweep.run import Sweeper, SweepResult
from checks.sweep.window import Window, parse_window, zone

log = logging.getLogger("fpcheck.mcp")

HOST = "127.0.0.1"  # --http never listens beyond this machine: the tools answer with customer data
PATH = "/mcp"
# the audit line's entry point
VIA: audit.Via = "mcp"
PROGRESS_EVERY = 0.25  # seconds between two progress notifications of a sweep, at most

# Reads only, the same answer when asked again; Stripe and FirstPromoter are the open world
READS_UPSTREAMS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                  open_world_hint=True)
READS_CATALOG = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                open_world_hint=False)
# the sweep's errors name the terminal's flags; the tool's arguments are named otherwise
_ARGUMENTS = {"--since": "since", "--from": "from_date", "--to": "to_date"}


class Answer:
    """The MCP face for bot/service.py: the service returns the report it delivered; what it says
    instead (no query, too late, failed) is kept for the tool to raise as a one-line tool error."""

    def __init__(self) -> None:
        self.problem = "the check did not run"

    def unreadable(self, problem: str | None) -> None:
        self.problem = problem or "give one customer email or Stripe customer id (cus_...)"

    def denied(self, denied: Denied) -> None:  # no allow-list here: kept for the Gate protocol
        self.problem = "not allowed to run fpcheck here"

    def deliver(self, request: Request, report: Report) -> Delivery:
        return DELIVERED  # the tool returns it

    def too_late(self, request: Request, waited: float) -> None:
        self.problem = f"fpcheck was too busy to start this check before FPCHECK_DEADLINE (it waited {waited:.1f} s); ask again"

    def failed(self, request: Request) -> None:
        self.problem = f"the check failed unexpectedly (reference {request.ref}, in the fpcheck mcp log)"

    def reason(self, exc: Exception) -> str:
        return type(exc).__name__


class SweepProgress:
    """The Sweeper's progress callback, called from its reading and diagnosing threads; the tool's
    event loop reads it every PROGRESS_EVERY seconds and notifies the client when it moved (a month's
    sweep ticks hundreds of times)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows = 0  # listing rows read from Stripe and FirstPromoter
        self.checked = 0  # candidates diagnosed
        self.candidates: int | None = None  # known once every listing is read
        self._sent: tuple[float, float | None] | None = None

    def tick(self, step: str, n: int, total: int | None) -> None:
        with self._lock:
            if step == "read":
                self.rows += n
            else:
                self.checked += n
                if total is not None:
                    self.candidates = total

    def now(self) -> tuple[float, float | None, str]:
        """(progress, total, message); progress only grows, as MCP requires: rows, then rows + diagnoses."""
        with self._lock:
            rows, checked, candidates = self.rows, self.checked, self.candidates
        if candidates is None:
            return float(rows), None, f"read {rows:,} rows from Stripe and FirstPromoter"
        return float(rows + checked), float(rows + candidates), f"diagnosed {checked} of {candidates} candidates"

    async def send(self, ctx: Context) -> None:
        progress, total, message = self.now()
        if self._sent != (progress, total):
            self._sent = (progress, total)
            await ctx.report_progress(progress, total, message)

    async def forward(self, ctx: Context) -> None:
        """Until cancelled; progress is a courtesy, so a client that cannot take it stops only this."""
        try:
            while True:
                await self.send(ctx)
                await anyio.sleep(PROGRESS_EVERY)
        except Exception as exc:
            log.debug("progress notifications stopped (%s)", type(exc).__name__)


def known_checks(ids: list[str] | None) -> list[str] | None:
    if not ids:
        return None
    known = {c.id for c in CHECKS}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ToolError(f"unknown check id(s): {', '.join(u[:40] for u in unknown[:10])} (see list_checks)")
    return list(ids)


def sweep_window(settings: Settings, since: str | None, start: str | None, end: str | None) -> Window:
    try:
        return parse_window(since, start, end, now=datetime.now(UTC), tz=zone(settings.fpcheck_tz))
    except QueryError as exc:
        message = str(exc)
        for flag, name in _ARGUMENTS.items():
            message = message.replace(flag, name)
        raise ToolError(message) from None


def build_server(service: Service, settings: Settings) -> MCPServer:
    """The tools over `service` (its engine is the process's one)."""
    engine: Engine = cast(Engine, service.engine)
    server: MCPServer = MCPServer(
        "fpcheck",
        title="fpcheck",
        instructions=(
            "fpcheck explains why a FirstPromoter referral earned no commission for a Stripe payment. "
            "check_customer diagnoses one person (email or cus_ id): the verdict names the most likely cause. "
            "sweep_payments finds the payments of a period whose commission looks lost. Everything is read-only."
        ),
    )

    @server.tool(title="Check a customer", annotations=READS_UPSTREAMS)
    async def check_customer(
        query: Annotated[str, Field(description="the customer's email, or a Stripe customer id (cus_...)")],
        checks: Annotated[list[str] | None, Field(
            description="run only these check ids (see list_checks); default: every check")] = None,
    ) -> dict[str, Any]:
        """Why did this person's referral earn no commission? Reads Stripe and FirstPromoter and walks
        every step of FirstPromoter's Stripe troubleshooting guide: the report of `fpcheck check --json`
        (verdict: the most likely cause; checks: pass/fail/warn/skip/error with evidence and the fix)."""
        started = time.monotonic()  # the deadline counts from here, as Slack's from its request's arrival
        only = known_checks(checks)
        answer = Answer()
        report = await anyio.to_thread.run_sync(
            lambda: service.ask(VIA, Asker(), read(query), started, answer, only=only))
        if report is None:
            raise ToolError(answer.problem)
        return report.to_json_dict()

    @server.tool(title="Sweep for lost commissions", annotations=READS_UPSTREAMS)
    async def sweep_payments(
        ctx: Context,
        since: Annotated[str | None, Field(description="how far back: 24h, 7d, 2w (default 7d)")] = None,
        from_date: Annotated[str | None, Field(
            description="start date (YYYY-MM-DD, or a date and time), in FPCHECK_TZ; instead of since")] = None,
        to_date: Annotated[str | None, Field(description="end date, inclusive (default: now)")] = None,
        limit: Annotated[int | None, Field(description="diagnose at most this many candidates, newest first")] = None,
    ) -> dict[str, Any]:
        """The payments of a period whose commission looks lost, grouped by cause: the JSON of
        `fpcheck sweep --json`. It reads every payment, referral and commission of the period, so it
        takes a while on a busy account (progress is reported)."""
        if settings.firstpromoter_v1:  # no commission search by Stripe id in v1
            raise ToolError(v1_cannot_sweep("A sweep"))
        window = sweep_window(settings, since, from_date, to_date)
        if limit is not None and limit < 1:
            raise ToolError("limit must be 1 or more")
        ref = new_ref()
        progress = SweepProgress()

        def sweep() -> SweepResult | None:
            try:
                result = Sweeper(engine.settings, engine=engine, limit=limit).run(window, progress=progress.tick)
            except Exception:
                log.exception("sweep ref %s via mcp failed", ref)
                return None
            log.info("sweep ref %s via mcp: %d lost of %d payments", ref, len(result.lost), result.scanned["payments"])
            return result

        async with anyio.create_task_group() as tg:
            tg.start_soon(progress.forward, ctx)
            result = await anyio.to_thread.run_sync(sweep)
            tg.cancel_scope.cancel()
        await progress.send(ctx)  # the last count
        if result is None:
            raise ToolError(f"the sweep failed unexpectedly (reference {ref}, in the fpcheck mcp log)")
        return result.to_json_dict()

    @server.tool(title="List the checks", annotations=READS_CATALOG)
    def list_checks() -> list[dict[str, str]]:
        """The checks' ids and titles, in the guide's causal order (as `fpcheck checks --json`)."""
        return [{"id": c.id, "title": c.title} for c in CHECKS]

    return server


def _audit_to_stderr() -> None:
    """One JSON audit line per check, on stderr: over stdio, stdout carries the protocol."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    if not logs.debug_requested():
        handler.addFilter(logs.PRIVACY)
    trail = logging.getLogger("fpcheck.audit")
    trail.addHandler(handler)
    trail.setLevel(logging.INFO)
    trail.propagate = False
    log.setLevel(logs.level(logging.INFO))


def _bind(port: int) -> socket.socket:
    try:
        return socket.create_server((HOST, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {HOST}:{port} ({exc.strerror or exc}); choose another --port") from None


async def _serve_http(server: MCPServer, sock: socket.socket) -> None:
    import uvicorn

    # log_config=None: uvicorn's records go through the root handler and its privacy filter
    config = uvicorn.Config(server.streamable_http_app(host=HOST), log_config=None, access_log=False)
    await uvicorn.Server(config).serve(sockets=[sock])


def serve(*, http: bool = False, port: int = 8000) -> int:
    """`fpcheck mcp`: until stdin closes (stdio) or the process is stopped (--http).  A bad setting
    is a ConfigError before anything is served."""
    settings = load_settings()
    logs.hide(*settings.secret_values())
    _audit_to_stderr()
    server = build_server(Service(Engine(settings)), settings)
    if not http:
        log.info("serving MCP over stdio, until stdin closes")
        server.run("stdio")
        return 0
    sock = _bind(port)
    log.info("serving MCP (streamable HTTP) at http://%s:%d%s", HOST, sock.getsockname()[1], PATH)
    anyio.run(_serve_http, server, sock)
    return 0
