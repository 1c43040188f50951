"""fpcheck in Slack under load: acknowledgement latency, time to the threaded report, upstream calls
per check, and a burst of commands at once.  A script run by hand that prints figures; not a test.

Everything runs on 127.0.0.1: the seeded Stripe and FirstPromoter stand-ins (sandbox) and
the Slack Web API stand-in (tests/stand_ins/slack_api.py), each adding LATENCY seconds to every
call.  Commands are signed like Slack signs them and sent over HTTP to the real Bolt app.

  1. ack latency: a fresh bot process (`fpcheck serve`: gunicorn on 127.0.0.1), COMMANDS signed
     /fpcheck commands one after another, distinct channels, rotating over the seeded emails.
  2. command -> threaded report (the Slack stand-in has recorded the threaded chat.postMessage),
     in this process, cold cache (a fresh app and engine per run) and warm cache, beside the floor
     (the longest chain of dependent calls x LATENCY) and the calls done one by one.
  3. upstream calls per check, by API, for every scenario, cold and again within the cache lifetime.
  4. a burst of BURST commands at once into another fresh bot process: share acknowledged within
     3 s, reports delivered, time to report, the bot's peak RSS, each stand-in's peak request rate.

Usage: .venv/bin/python bench/slack_load.py [--latency 0.15] [--commands 200] [--burst 50] [--runs 7]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the Slack Web API stand-in lives with the tests

from stand_ins.slack_api import TEAM_ID, SlackStandIn  # noqa: E402

from bot.slack.app import build_app  # noqa: E402
from bot.slack.serve import wsgi_app  # noqa: E402
from bot.slack.settings import load_slack_settings  # noqa: E402
from checks.cache import MemoryCache  # noqa: E402
from checks.engine import Engine  # noqa: E402
from checks.ratelimit import stripe_bucket  # noqa: E402
from sandbox.runner import Sandbox  # noqa: E402
from sandbox.scenarios import SCENARIOS, STRIPE_LIVE_KEY, Scenario, by_name  # noqa: E402

BOT_TOKEN = "xoxb-1111-2222-fpcheckBenchBotToken0b1d"
SIGNING_SECRET = "fpcheck-bench-signing-secret-4e9a11c3"
ACK_LIMIT = 3.0  # seconds: Slack shows the user an error when a command is not acknowledged in time
ACK_TARGET = 0.100  # what we want for p99
HTTP_TIMEOUT = 10.0  # seconds for one command's HTTP round trip
ACK_BUDGET = 60.0  # seconds: section 1 stops sending after this, whatever the count
BURST_TIMEOUT = 120.0  # seconds to wait for the burst's reports

# Longest chains of calls that cannot start before the previous one answered (bench/engine_latency.py):
# cold cache, email query: referral lookup -> promoter campaigns page 2 (after page 1) -> the
# campaign's tracking coupon in Stripe = 3.  Warm cache (account, campaigns and coupon cached):
# customers -> their invoices = 2.  Then Slack: the parent message, and the threaded report, which
# needs the parent's ts = 2 more.
COLD_CHAIN, WARM_CHAIN, SLACK_CHAIN = 3, 2, 2
# scenarios whose chain is exactly that (referral found by email, campaign coupon is a Coupon id)
CHAIN_SCENARIOS = ("healthy", "one-time", "too-early", "missing-commission", "no-payment", "trial")


# ---------------------------------------------------------------------------------------- helpers


def pct(values: Iterable[float], p: float) -> float:
    """The p-th percentile (nearest rank), so p99 of 200 values is the 198th smallest."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def peak(times: Iterable[float], window: float) -> int:
    """Most events in any `window` seconds (as StandIn.peak_rate, for a filtered list)."""
    ts, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(ts):
        while t - ts[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def clean_environment() -> None:
    # loopback traffic must not go through a proxy; OAuth settings would switch Bolt's mode
    for var in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "SLACK_APP_TOKEN",
        "FPCHECK_REDIS_URL",
    ):
        os.environ.pop(var, None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    os.environ.setdefault("STRIPE_SUPPRESS_NOTICES", "true")


@dataclass
class Ack:
    channel: str
    sent_at: float  # time.monotonic() just before the request
    seconds: float  # until the whole HTTP answer was read
    status: int | None
    ok: bool  # 200 and the "Checking ..." acknowledgement


def send_command(port: int, text: str, channel: str, response_url: str, user: str = "U0BENCH01") -> Ack:
    """A signed /fpcheck, as Slack sends it (form-encoded, v0 HMAC signature)."""
    body = urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fpcheck-bench",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": "bench",
            "command": "/fpcheck",
            "text": text,
            "api_app_id": "A0FPCHECK",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )
    ts = str(int(time.time()))
    sig = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={sig}",
    }
    sent = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    status, data = None, b""
    try:
        conn.request("POST", "/slack/events", body, headers)
        resp = conn.getresponse()
        status, data = resp.status, resp.read()
    except OSError:
        pass  # counted as not acknowledged
    finally:
        conn.close()
    seconds = time.monotonic() - sent
    return Ack(channel, sent, seconds, status, status == 200 and b"Checking" in data)


def threaded_reports(slack: SlackStandIn, sent: dict[str, float], timeout: float) -> dict[str, float]:
    """channel -> seconds from its command to the threaded report being recorded, waiting at most
    `timeout` for all of them.  Measured with the stand-in's own timestamps, not the polling."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, float] = {}
        for c in slack.of("chat.postMessage"):
            ch = c.params.get("channel")
            if ch in sent and c.params.get("thread_ts") and ch not in found:
                found[ch] = c.at - sent[ch]
        if len(found) == len(sent) or time.monotonic() >= deadline:
            return found
        time.sleep(0.02)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def bot_in_process(slack: SlackStandIn, engine: Engine) -> Iterator[int]:
    """build_app(...) behind a threaded WSGI server on 127.0.0.1 (as tests/bot/slack_harness.py);
    yields its port.  Closing waits for the app's running checks (each bounded by its deadline)."""
    settings = load_slack_settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_base_url=slack.api_url,
    )
    app = build_app(settings, engine, limits=None)  # capacity, not the per-person limit
    server = make_server(
        "127.0.0.1", 0, wsgi_app(app), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        app.listener_runner.listener_executor.shutdown(wait=True)  # type: ignore[attr-defined]


class BotProcess:
    """`fpcheck serve` (gunicorn, HTTP) in its own process group, on 127.0.0.1, port chosen by the OS."""

    START_TIMEOUT = 30.0

    def __init__(self, env: dict[str, str], workdir: Path, name: str) -> None:
        self.out = open(workdir / f"{name}.audit.log", "wb")  # noqa: SIM115 - closed in stop()
        self.err_path = workdir / f"{name}.log"
        self.err = open(self.err_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            cwd=workdir,  # no developer .env is read
            stdout=self.out,
            stderr=self.err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends gunicorn and its worker
        )
        self.port = self._wait_ready()

    def _wait_ready(self) -> int:
        deadline = time.monotonic() + self.START_TIMEOUT
        port: int | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the bot exited ({self.proc.returncode}): {self.log_tail()}")
            if port is None:
                m = re.search(
                    r"HTTP on http://127\.0\.0\.1:(\d+)", self.err_path.read_text("utf-8", "replace")
                )
                port = int(m.group(1)) if m else None
            if port is not None and self.worker_pid() is not None:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        conn.close()
                        return port
                    conn.close()
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"the bot did not answer /healthz within {self.START_TIMEOUT:.0f} s: {self.log_tail()}"
        )

    def log_tail(self) -> str:
        return self.err_path.read_text("utf-8", "replace")[-1500:]

    def worker_pid(self) -> int | None:
        """gunicorn's one worker process (where the app and its checks run)."""
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return None
        return int(kids[0]) if kids else None

    @staticmethod
    def status_kib(pid: int, field: str) -> int | None:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    @staticmethod
    def cpu_seconds(pid: int) -> float | None:
        """User + system CPU time the process has used so far."""
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def stop(self) -> None:
        """SIGTERM to the bot's own process group, SIGKILL if it still runs after 3 s (queued
        checks would otherwise hold the worker until gunicorn's graceful timeout)."""
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.out.close()
        self.err.close()


def quiet_disconnects(standin: Any) -> None:
    """Stopping a busy bot process cuts its in-flight calls; a stand-in's server would print a
    traceback for each connection the bot dropped.  Only those are silenced."""
    server = getattr(standin, "_server", None)
    if server is None:
        return
    default = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            default(request, client_address)

    server.handle_error = handle_error


def bot_env(sb: Sandbox, slack: SlackStandIn) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "STRIPE_", "FIRSTPROMOTER_", "FPCHECK_"))
    }
    env.update(sb.env())
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_BASE_URL=slack.api_url,
        PORT="0",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        STRIPE_SUPPRESS_NOTICES="true",
        PYTHONUNBUFFERED="1",
        # capacity, not the per-person limit (bench/slack_abuse.py measures that): every command
        # here comes from one user
        FPCHECK_USER_LIMIT="0",
        FPCHECK_CHANNEL_LIMIT="0",
    )
    return env


def emails() -> Iterator[str]:
    while True:
        for s in SCENARIOS:
            yield s.email


# ---------------------------------------------------------------------------------------- 1. acks


@dataclass
class AckFigures:
    sent: int
    acked: int
    p50: float
    p99: float
    worst: float
    within_limit: int
    seconds: float


def bench_acks(sb: Sandbox, slack: SlackStandIn, workdir: Path, commands: int) -> AckFigures:
    bot = BotProcess(bot_env(sb, slack), workdir, "acks")
    acks: list[Ack] = []
    started = time.monotonic()
    try:
        queries = emails()
        for i in range(commands):
            if time.monotonic() - started > ACK_BUDGET:
                break
            channel = f"C0ACK{i:05d}"
            acks.append(send_command(bot.port, next(queries), channel, slack.response_url(channel)))
    finally:
        elapsed = time.monotonic() - started
        bot.stop()  # its queued checks are not this section's subject
    times = [a.seconds for a in acks if a.ok]
    return AckFigures(
        sent=len(acks),
        acked=sum(a.ok for a in acks),
        p50=pct(times, 50),
        p99=pct(times, 99),
        worst=max(times, default=float("nan")),
        within_limit=sum(a.ok and a.seconds <= ACK_LIMIT for a in acks),
        seconds=elapsed,
    )


# ---------------------------------------------------------------------------------------- 2 and 3


@dataclass
class Run:
    scenario: str
    ack: float
    report: float | None  # seconds from command to threaded report; None: not delivered in time
    stripe: int
    fp: int
    slack: int  # Slack Web API calls and response_url posts made for this command


class InProcess:
    """Runs one command at a time against a bot in this process and counts what it caused."""

    def __init__(self, sb: Sandbox, slack: SlackStandIn) -> None:
        self.sb, self.slack = sb, slack
        self.n = 0

    def engine(self, scenario: Scenario) -> Engine:
        return Engine(self.sb.scenario_settings(scenario), cache=MemoryCache())

    def run(self, port: int, scenario: Scenario, timeout: float = 30.0) -> Run:
        self.n += 1
        channel = f"C0RUN{self.n:05d}"
        self.sb.stripe.reset_log()
        self.sb.fp.reset_log()
        mark = len(self.slack.calls)
        ack = send_command(port, scenario.email, channel, self.slack.response_url(channel))
        got = threaded_reports(self.slack, {channel: ack.sent_at}, timeout)
        time.sleep(0.05)  # let any call the run made after its report land in the logs
        return Run(
            scenario=scenario.name,
            ack=ack.seconds,
            report=got.get(channel),
            stripe=len(self.sb.stripe.requests),
            fp=len(self.sb.fp.requests),
            slack=len(self.slack.calls) - mark,
        )

    def cold(self, scenario: Scenario) -> Run:
        with bot_in_process(self.slack, self.engine(scenario)) as port:
            return self.run(port, scenario)

    def cold_then_warm(self, scenario: Scenario) -> tuple[Run, Run]:
        with bot_in_process(self.slack, self.engine(scenario)) as port:
            return self.run(port, scenario), self.run(port, scenario)

    def warm(self, scenarios: list[Scenario]) -> list[Run]:
        with bot_in_process(self.slack, self.engine(scenarios[0])) as port:
            self.run(port, scenarios[0])  # fills the cache
            return [self.run(port, s) for s in scenarios]


# ---------------------------------------------------------------------------------------- 4. burst


@dataclass
class BurstFigures:
    sent: int
    acked_in_time: int
    ack_p99: float
    delivered: int
    report_p50: float
    report_p95: float
    report_max: float
    idle_rss_kib: int | None
    peak_rss_kib: int | None
    stripe_peak_1s: int
    stripe_test_peak_1s: int
    stripe_live_peak_1s: int
    fp_peak_60s: int
    slack_peak_1s: int
    stripe_calls: int
    stripe_test_calls: int
    stripe_pacing: float  # seconds the client-side test-mode bucket needs for that many requests
    fp_calls: int
    cpu_seconds: float | None  # the bot worker's CPU time during the burst
    seconds: float


def bench_burst(sb: Sandbox, slack: SlackStandIn, workdir: Path, burst: int, timeout: float) -> BurstFigures:
    bot = BotProcess(bot_env(sb, slack), workdir, "burst")
    try:
        worker = bot.worker_pid()
        idle_rss = bot.status_kib(worker, "VmRSS") if worker else None
        cpu_before = bot.cpu_seconds(worker) if worker else None
        sb.stripe.reset_log()
        sb.fp.reset_log()
        mark = len(slack.calls)
        go = threading.Barrier(burst + 1, timeout=30)
        acks: list[Ack | None] = [None] * burst
        queries = emails()
        texts = [next(queries) for _ in range(burst)]

        def one(i: int) -> None:
            channel = f"C0BURST{i:04d}"
            go.wait()
            acks[i] = send_command(bot.port, texts[i], channel, slack.response_url(channel))

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(burst)]
        for t in threads:
            t.start()
        started = time.monotonic()
        go.wait()
        for t in threads:
            t.join(timeout=HTTP_TIMEOUT + 5)
        done = [a for a in acks if a is not None]
        reports = threaded_reports(slack, {a.channel: a.sent_at for a in done}, timeout)
        elapsed = time.monotonic() - started
        peak_rss = bot.status_kib(worker, "VmHWM") if worker else None
        cpu_after = bot.cpu_seconds(worker) if worker else None
    finally:
        bot.stop()
    stripe_reqs = sb.stripe.calls()
    live = [r.at for r in stripe_reqs if STRIPE_LIVE_KEY in r.headers.get("authorization", "")]
    test = [r.at for r in stripe_reqs if STRIPE_LIVE_KEY not in r.headers.get("authorization", "")]
    slack_times = [c.at for c in slack.calls[mark:]]
    in_time = [a for a in done if a.ok and a.seconds <= ACK_LIMIT]
    to_report = list(reports.values())
    bucket = stripe_bucket("test")
    return BurstFigures(
        sent=burst,
        acked_in_time=len(in_time),
        ack_p99=pct([a.seconds for a in done if a.ok], 99),
        delivered=len(reports),
        report_p50=pct(to_report, 50),
        report_p95=pct(to_report, 95),
        report_max=max(to_report, default=float("nan")),
        idle_rss_kib=idle_rss,
        peak_rss_kib=peak_rss,
        stripe_peak_1s=round(sb.stripe.peak_rate(1.0)),
        stripe_test_peak_1s=peak(test, 1.0),
        stripe_live_peak_1s=peak(live, 1.0),
        fp_peak_60s=round(sb.fp.peak_rate(60.0) * 60),
        slack_peak_1s=peak(slack_times, 1.0),
        stripe_calls=len(stripe_reqs),
        stripe_test_calls=len(test),
        stripe_pacing=max(0.0, len(test) - bucket.burst) / bucket.rate,
        fp_calls=len(sb.fp.calls()),
        cpu_seconds=cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None,
        seconds=elapsed,
    )


# ---------------------------------------------------------------------------------------- report


def median_of(values: Iterable[float | None]) -> float:
    xs = [v for v in values if v is not None]
    return statistics.median(xs) if xs else float("nan")


def mib(kib: int | None) -> str:
    return f"{kib / 1024:.0f} MiB" if kib else "n/a"


def section_acks(a: AckFigures, wanted: int) -> list[str]:
    print("1. Acknowledgement of a signed /fpcheck over HTTP (bot process: fpcheck serve, gunicorn)")
    print(
        f"   {a.sent} commands one after another in {a.seconds:.1f} s, distinct channels, the "
        f"{len(SCENARIOS)} seeded emails in turn; each starts a real check in the background"
    )
    print(
        f"   acknowledged {a.acked}/{a.sent}: p50 {ms(a.p50)}, p99 {ms(a.p99)}, worst {ms(a.worst)} "
        f"(target p99 < {ms(ACK_TARGET)}); within Slack's {ACK_LIMIT:g} s: {a.within_limit}/{a.sent}"
    )
    if a.sent < wanted:
        print(f"   !! stopped at the {ACK_BUDGET:.0f} s budget: only {a.sent} of {wanted} sent")
    return [
        f"- `/fpcheck` is acknowledged in {ms(a.p50)} (p50) / {ms(a.p99)} (p99) over {a.sent} signed commands "
        f"sent one after another while their checks run ({a.acked}/{a.sent} acknowledged; Slack allows 3 s)"
    ]


def section_report(cold: list[Run], warm: list[Run], lat: float) -> list[str]:
    print(
        "2. Command -> threaded report (bot in this process; until the Slack stand-in has recorded the "
        "threaded chat.postMessage)"
    )
    print(
        f"   {'cache':6} {'runs':>5} {'median':>8} {'p90':>8} {'floor':>17} {'x floor':>8} "
        f"{'calls':>6} {'one by one':>11} {'x one by one':>13}"
    )
    lines = []
    for label, runs, depth in (
        ("cold", cold, COLD_CHAIN + SLACK_CHAIN),
        ("warm", warm, WARM_CHAIN + SLACK_CHAIN),
    ):
        floor = depth * lat
        times = [r.report for r in runs if r.report is not None]
        calls = median_of(r.stripe + r.fp + r.slack for r in runs)
        vs_serial = median_of(
            r.report / ((r.stripe + r.fp + r.slack) * lat) for r in runs if r.report is not None
        )
        med = median_of(times)
        print(
            f"   {label:6} {len(times):>2}/{len(runs):<2} {ms(med):>8} {ms(pct(times, 90)):>8} "
            f"{f'{depth} x {lat * 1000:.0f} = {ms(floor)}':>17} {med / floor:>7.2f}x {calls:>6.0f} "
            f"{ms(calls * lat):>11} {vs_serial:>12.2f}x"
        )
        lines.append(
            f"- command to threaded report, {label} cache: {ms(med)} (median of {len(times)}) = {med / floor:.2f}x "
            f"the floor of {depth} dependent calls x {lat * 1000:.0f} ms = {ms(floor)}; its {calls:.0f} calls one "
            f"by one would take {ms(calls * lat)}"
        )
    print(
        "   floor = the longest chain of dependent calls x latency.  Cold: FP referral -> FP campaigns page 2 -> "
        "Stripe coupon; warm: Stripe customers -> invoices; then Slack: parent message -> threaded report."
    )
    print(
        "   one by one = the calls that run made (Stripe + FirstPromoter + Slack) x latency.  Target: < 1.3x the floor."
    )
    return lines


def section_calls(pairs: list[tuple[Scenario, Run, Run]]) -> list[str]:
    print(
        "3. Upstream calls per check, by API: first run (cold cache), then the same query again within the "
        "cache lifetime"
    )
    print(f"   {'':22} {'first run':^27} | {'again':^27}")
    print(
        f"   {'scenario':22} {'Stripe':>7} {'FP':>4} {'Slack':>6} {'ms':>6}   | {'Stripe':>7} {'FP':>4} "
        f"{'Slack':>6} {'ms':>6}   fewer"
    )
    for s, c, w in pairs:
        fewer = (c.stripe + c.fp + c.slack) - (w.stripe + w.fp + w.slack)
        print(
            f"   {s.name:22} {c.stripe:>7} {c.fp:>4} {c.slack:>6} {(c.report or float('nan')) * 1000:>6.0f}   | "
            f"{w.stripe:>7} {w.fp:>4} {w.slack:>6} {(w.report or float('nan')) * 1000:>6.0f}   {fewer:>5}"
        )
    mc = [median_of(getattr(c, k) for _, c, _ in pairs) for k in ("stripe", "fp", "slack")]
    mw = [median_of(getattr(w, k) for _, _, w in pairs) for k in ("stripe", "fp", "slack")]
    print(
        f"   {'median':22} {mc[0]:>7.0f} {mc[1]:>4.0f} {mc[2]:>6.0f} {'':>6}   | {mw[0]:>7.0f} {mw[1]:>4.0f} "
        f"{mw[2]:>6.0f}"
    )
    print(
        "   Stripe counts both keys (STRIPE_OTHER_MODE_API_KEY looks the email up in the other mode).  The cache "
        "keeps the Stripe account, the promoter campaigns (2 pages) and the tracking coupon."
    )
    return [
        f"- upstream calls per check (median of the {len(SCENARIOS)} sandbox scenarios): Stripe {mc[0]:.0f}, "
        f"FirstPromoter {mc[1]:.0f}, Slack {mc[2]:.0f} with a cold cache; Stripe {mw[0]:.0f}, FirstPromoter "
        f"{mw[1]:.0f}, Slack {mw[2]:.0f} for the same query again within the cache lifetime"
    ]


def section_burst(b: BurstFigures) -> list[str]:
    share = 100 * b.acked_in_time / b.sent
    print(
        f"4. Burst: {b.sent} commands at once (threads) into a fresh bot process (fpcheck serve, cold cache)"
    )
    print(
        f"   acknowledged within {ACK_LIMIT:g} s: {b.acked_in_time}/{b.sent} ({share:.0f}%; must be 100%); "
        f"ack p99 {ms(b.ack_p99)}"
    )
    print(
        f"   reports delivered: {b.delivered}/{b.sent}; command -> report p50 {b.report_p50:.1f} s, "
        f"p95 {b.report_p95:.1f} s, max {b.report_max:.1f} s"
    )
    print(f"   bot worker RSS: idle {mib(b.idle_rss_kib)}, peak (VmHWM) {mib(b.peak_rss_kib)}")
    if b.cpu_seconds is not None:
        print(
            f"   bot worker CPU: {b.cpu_seconds:.1f} s for the burst = {ms(b.cpu_seconds / b.sent)} per command"
        )
    print(
        f"   Stripe: {b.stripe_calls} requests; most in any 1 s: {b.stripe_test_peak_1s} test mode (limit 25/s), "
        f"{b.stripe_live_peak_1s} live mode (limit 100/s), {b.stripe_peak_1s} both keys together"
    )
    print(f"   FirstPromoter: {b.fp_calls} requests; most in any 60 s: {b.fp_peak_60s} (limit 400/min)")
    print(f"   Slack Web API: most in any 1 s: {b.slack_peak_1s} calls (all channels together)")
    bucket = stripe_bucket("test")
    print(
        f"   Stripe's test-mode limit paces the burst: the client-side bucket ({bucket.rate:g}/s after "
        f"{bucket.burst:g} at once) needs {b.stripe_pacing:.1f} s for its {b.stripe_test_calls} test-mode "
        f"requests; the last report came {b.report_max:.1f} s after its command"
    )
    return [
        f"- a burst of {b.sent} commands at once: {share:.0f}% acknowledged within 3 s (p99 {ms(b.ack_p99)}), "
        f"{b.delivered}/{b.sent} reports, p95 command to report {b.report_p95:.1f} s, paced by the client-side "
        f"limits: Stripe peaked at {b.stripe_test_peak_1s} requests/s in test mode (limit 25), FirstPromoter at "
        f"{b.fp_peak_60s}/min (limit 400); bot peak RSS {mib(b.peak_rss_kib)}"
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.15, help="seconds added to every upstream call")
    ap.add_argument("--commands", type=int, default=200, help="commands for the ack latency")
    ap.add_argument("--burst", type=int, default=50, help="commands sent at once")
    ap.add_argument("--runs", type=int, default=7, help="runs per cache state for command -> report")
    args = ap.parse_args()
    lat = args.latency
    clean_environment()
    started = time.monotonic()
    headline: list[str] = []

    with (
        Sandbox(latency=lat) as sb,
        SlackStandIn(BOT_TOKEN) as slack,
        tempfile.TemporaryDirectory(prefix="fpcheck-bench-") as tmp,
    ):
        slack.latency = lat
        for standin in (slack, sb.stripe, sb.fp):
            quiet_disconnects(standin)
        workdir = Path(tmp)
        print(
            f"fpcheck Slack load bench: {lat * 1000:.0f} ms added to every Stripe, FirstPromoter and Slack "
            f"call; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}\n"
        )

        t0 = time.monotonic()
        headline += section_acks(bench_acks(sb, slack, workdir, args.commands), args.commands)
        print(f"   ({time.monotonic() - t0:.0f} s)\n")

        t0 = time.monotonic()
        runner = InProcess(sb, slack)
        chain = [by_name(n) for n in CHAIN_SCENARIOS]
        picks = [chain[i % len(chain)] for i in range(args.runs)]
        cold = [runner.cold(s) for s in picks]
        headline += section_report(cold, runner.warm(picks), lat)
        print(f"   ({time.monotonic() - t0:.0f} s)\n")

        t0 = time.monotonic()
        headline += section_calls([(s, *runner.cold_then_warm(s)) for s in SCENARIOS])
        print(f"   ({time.monotonic() - t0:.0f} s)\n")

        t0 = time.monotonic()
        headline += section_burst(bench_burst(sb, slack, workdir, args.burst, timeout=BURST_TIMEOUT))
        print(f"   ({time.monotonic() - t0:.0f} s)\n")

    print(f"Summary for README (Performance); whole bench {time.monotonic() - started:.0f} s.\n")
    print(
        f"Measured with `.venv/bin/python bench/slack_load.py --latency {lat:g} --commands {args.commands} "
        f"--burst {args.burst} --runs {args.runs}` on {os.cpu_count()} CPUs: the bot against local stand-ins "
        f"of Stripe, FirstPromoter and Slack, every call to them {lat * 1000:.0f} ms slower.\n"
    )
    print("\n".join(headline))


if __name__ == "__main__":
    main()
