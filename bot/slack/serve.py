"""`fpcheck serve`: run the Slack bot.

Socket Mode when SLACK_APP_TOKEN is set (no public URL needed), with a health check at /healthz on
FPCHECK_HEALTH_PORT when that is set; otherwise HTTP on PORT (default 3000) under gunicorn, with
Slack's requests at /slack/events and a health check at /healthz.
Before serving it checks the configuration and asks Slack (auth.test) whether the token works and
has every scope the code needs; any problem is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import logs
from bot.slack import intake
from bot.slack.app import build_app, make_client
from bot.slack.dedupe import MemorySeenStore, RedisSeenStore, SeenStore
from bot.slack.health import Health
from bot.slack.preflight import preflight
from bot.slack.settings import ServeSettings, SlackSettings, load_serve_settings
from checks.settings import ConfigError

if TYPE_CHECKING:  # the engine is imported when serve starts, not when this module is
    from checks.engine import Engine

log = logging.getLogger("fpcheck.serve")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


# ---------------------------------------------------------------- HTTP


def wsgi_app(app: App, health: Health | None = None) -> WSGIApp:
    """Slack's requests at /slack/events (signature-checked by Bolt), a health check at /healthz
    (bot/slack/health.py: Redis, when set)."""
    slack = SlackRequestHandler(app, path=EVENTS_PATH)
    health = health if health is not None else Health()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            status, kind, text = health.answer()
            start_response(f"{status} {'OK' if status == 200 else 'Service Unavailable'}",
                           [("Content-Type", kind), ("Content-Length", str(len(text)))])
            return [text] if environ.get("REQUEST_METHOD") == "GET" else []
        if path == EVENTS_PATH:
            return intake.slack_request(environ, start_response, slack)  # read within a time limit
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"not found\n"]

    return application


def bind(host: str, port: int, hint: str = "set PORT to a free port") -> socket.socket:
    try:
        return socket.create_server((host, port), backlog=128)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); {hint}") from None


def _ready(arbiter: Any) -> None:
    # read back from gunicorn's own configuration: what it runs, not what was asked
    log.info("gunicorn: %d worker process(es) x %d thread(s)", arbiter.cfg.workers, arbiter.cfg.threads)


def run_http(sock: socket.socket, make_wsgi: Callable[[], WSGIApp], *, workers: int, threads: int) -> int:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            # threads for concurrency, one worker process by default (FPCHECK_HTTP_WORKERS): without
            # FPCHECK_REDIS_URL the event dedupe is per process (bot/slack/dedupe.py)
            options = {
                "bind": [f"fd://{sock.fileno()}"],
                "workers": workers,
                "worker_class": "bot.slack.intake.BoundedThreadWorker",  # gthread, reads bounded in time
                "threads": threads,
                "when_ready": _ready,
                "timeout": 60,
                "graceful_timeout": 20,
                "errorlog": "-",
                "loglevel": "info",
                "proc_name": "fpcheck",
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApp:
            return make_wsgi()

    try:
        Server().run()
    except SystemExit as exc:  # gunicorn's arbiter exits through sys.exit
        return exc.code if isinstance(exc.code, int) else 0
    return 0


# ---------------------------------------------------------------- Socket Mode


class HealthServer(ThreadingHTTPServer):
    """GET /healthz on FPCHECK_HEALTH_PORT, since Socket Mode has no HTTP port of its own to ask:
    200 "ok" as in HTTP mode while the Socket Mode connection is up, else 503 with a JSON reason.
    It reports slack_sdk's own view: a connection Slack closes shows at once, one that dies silently
    only when slack_sdk's pings give up on it (measured: about a minute)."""

    daemon_threads = True  # a probe still being answered does not hold up the exit

    def __init__(self, sock: socket.socket, health: Health) -> None:
        # given a socket bind() made (a port in use is a start-up ConfigError, named as PORT's is),
        # so HTTPServer's own bind, and its DNS look-up of the host name, are skipped
        super().__init__(sock.getsockname()[:2], HealthHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.health = health


class HealthHandler(BaseHTTPRequestHandler):
    server: HealthServer
    timeout = 5  # a client that connects and sends nothing gives its thread back

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        if self.path.partition("?")[0] != HEALTH_PATH:
            status, kind, text = 404, "text/plain", b"not found\n"
        else:  # the Socket Mode connection (connecting, or reconnecting after a drop: 503), and Redis
            status, kind, text = self.server.health.answer()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        if body:
            self.wfile.write(text)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a probe every few seconds would bury the log lines that matter


def run_socket_mode(app: App, app_token: str, health_at: tuple[str, int] | None = None,
                    redis: Any | None = None) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    # bound before connecting, so a port in use stops the start; until connected it answers 503
    health_sock = None if health_at is None else bind(
        *health_at, hint="set FPCHECK_HEALTH_PORT to a free port (and FPCHECK_HEALTH_HOST to a local address)")
    handler = SocketModeHandler(app, app_token)
    health = None if health_sock is None else HealthServer(health_sock, Health(handler.client.is_connected, redis))
    if health is not None:
        threading.Thread(target=health.serve_forever, name="fpcheck-health", daemon=True).start()
        host, port = health.server_address[:2]
        log.info("fpcheck: health check on http://%s:%d%s", host, port, HEALTH_PATH)
    try:
        try:
            handler.connect()
        except SlackApiError as exc:
            raise ConfigError(
                f"Slack rejected SLACK_APP_TOKEN ({exc.response.get('error')}): generate an app-level token "
                "with the connections:write scope under Basic Information, and check Socket Mode is on"
            ) from None
        log.info("connected to Slack in Socket Mode; Ctrl-C to stop")
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        handler.close()
        if health is not None:
            health.shutdown()
            health.server_close()
    return 0


# ---------------------------------------------------------------- main


def setup_logging() -> None:
    """Logs on stderr; the audit trail (one JSON object per line) on stdout.

    Only when nobody configured logging yet (a test runner or an embedding program may have):
    then the audit lines simply go wherever the other log lines go.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    audit = logging.getLogger("fpcheck.audit")
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(logging.Formatter("%(message)s"))
    audit.addHandler(out)
    audit.setLevel(logging.INFO)
    audit.propagate = False
    # private unless FPCHECK_LOG_LEVEL=debug: emails masked, secrets hidden, chatty libraries quiet
    logs.configure([handler, out], default=logging.INFO)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fpcheck serve",
        description="Run the Slack bot: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on PORT.",
    )
    parser.add_argument("--host", default="0.0.0.0", help="HTTP mode: address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="HTTP mode: port (default: PORT, or 3000)")
    parser.add_argument(
        "--check", action="store_true", help="check the configuration, the token and its scopes, then exit"
    )
    return parser.parse_args(argv)


class Prepared(NamedTuple):
    slack: SlackSettings
    engine: Engine
    client: WebClient
    seen: SeenStore
    identity: dict[str, Any]
    settings: ServeSettings  # the one load of the process (`slack` is the same object, as the Slack part)


def prepare(settings: ServeSettings | None = None) -> Prepared:
    """Everything `serve` needs before it listens, each built once: the settings (loaded here
    unless given), the process's Redis client and stores (checks/wiring.py), the engine, the
    Slack client; then auth.test.  ConfigError names the first problem."""
    from checks.engine import Engine
    from checks.wiring import Wiring

    settings = settings if settings is not None else load_serve_settings()
    logs.hide(settings.bot_token_or_none(), settings.app_token(), settings.signing_secret(),
              *settings.secret_values())
    settings.require_transport()
    # the process's one Redis client (a ConfigError when it does not answer), then the missing
    # Stripe/FirstPromoter settings; replicas share the event dedupe as they share the engine's cache
    wiring = Wiring(settings, redis_required=True)
    seen: SeenStore = RedisSeenStore(wiring.redis) if wiring.redis is not None else MemorySeenStore()
    engine = Engine(settings, wiring=wiring)
    client = make_client(settings)
    identity = preflight(client)
    return Prepared(settings, engine, client, seen, identity, settings)


def start_jobs(prepared: Prepared) -> list[threading.Event]:
    """The scheduled digest and the payment watch, when their channels are set (their stop events).
    They share the process's engine, Redis client and settings."""
    from bot.digest import start as start_digest
    from bot.watch import start as start_watch

    prepared.settings.validate_watch()  # a bad FPCHECK_WATCH_* is named at start-up, as the others are
    jobs_need_v2(prepared.settings)
    started = (start_digest(prepared.engine, prepared.client, prepared.settings),
               start_watch(prepared.engine, prepared.client, prepared.settings))
    return [stop for stop in started if stop is not None]


def jobs_need_v2(settings: ServeSettings) -> None:
    """ConfigError when the digest or the watch is on for a FirstPromoter v1 account: both are sweeps."""
    for what, on in (("the digest (FPCHECK_SWEEP_CHANNEL)", settings.digest_channel),
                     ("the payment watch (FPCHECK_WATCH_CHANNEL)", settings.watch_channel)):
        if on:
            settings.require_sweepable(what)


def check(settings: ServeSettings | None = None) -> int:
    """`serve --check`: the settings, then one read to each dependency; one line per dependency,
    problems on stderr, exit 2 if any.  Libraries stay silent: the lines are the answer."""
    with logs.silenced(logs.CHATTY):
        return _check(settings if settings is not None else load_serve_settings())


def _check(settings: ServeSettings) -> int:
    from bot.slack.doctor import check_all

    logs.hide(settings.bot_token_or_none(), settings.app_token(), settings.signing_secret(),
              *settings.secret_values())
    settings.require_transport()
    settings.require_upstreams()
    settings.validate_watch()  # a bad FPCHECK_WATCH_* is named here too
    jobs_need_v2(settings)
    lines, identity = check_all(settings, settings, make_client(settings))
    for line in lines:
        print(f"fpcheck serve: {line.text}", file=sys.stdout if line.ok else sys.stderr)
    if not all(line.ok for line in lines):
        return 2
    print(
        f"fpcheck serve: configuration ok; bot {identity.get('user')} in workspace {identity.get('team')}, "
        f"{'Socket Mode' if settings.mode == 'socket' else 'HTTP'}"
    )
    return 0


def listen(prepared: Prepared, args: argparse.Namespace) -> int:
    """Answer Slack until stopped: Socket Mode, or HTTP under gunicorn."""
    slack, engine, client, seen = prepared.slack, prepared.engine, prepared.client, prepared.seen
    if slack.mode == "socket":
        app = build_app(slack, engine, client, seen=seen)
        health_at = None if slack.fpcheck_health_port is None else (slack.fpcheck_health_host,
                                                                     slack.fpcheck_health_port)
        return run_socket_mode(app, slack.app_token() or "", health_at, engine.wiring.redis)
    if slack.fpcheck_health_port is not None:
        log.info("FPCHECK_HEALTH_PORT is for Socket Mode: in HTTP mode the health check is %s on PORT", HEALTH_PATH)
    workers, threads = slack.fpcheck_http_workers, slack.fpcheck_http_threads
    if workers > 1 and isinstance(seen, MemorySeenStore):
        log.warning("FPCHECK_HTTP_WORKERS=%d without FPCHECK_REDIS_URL: each worker keeps its own record of "
                    "answered Slack events (a retry may be answered twice) and its own rate budgets", workers)
    port = slack.port if args.port is None else args.port
    sock = bind(args.host, port)
    host, real_port = sock.getsockname()[:2]
    log.info("fpcheck: HTTP on http://%s:%d%s (health check %s; %d worker(s) x %d thread(s))",
             host, real_port, EVENTS_PATH, HEALTH_PATH, workers, threads)
    health = Health(redis=engine.wiring.redis)
    return run_http(sock, lambda: wsgi_app(build_app(slack, engine, client, seen=seen), health),
                    workers=workers, threads=threads)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    try:
        settings = load_serve_settings()  # once: every part of the process reads this one object
        if args.check:
            return check(settings)
        prepared = prepare(settings)
        jobs = start_jobs(prepared)
        try:
            return listen(prepared, args)
        finally:
            for stop in jobs:  # the server stopped: so do the digest and the watch
                stop.set()
    except ConfigError as exc:
        print(f"fpcheck serve: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: one line, the traceback only at FPCHECK_LOG_LEVEL=debug
        log.debug("unexpected error at start-up", exc_info=True)
        print(f"fpcheck serve: unexpected error ({type(exc).__name__}); run again with FPCHECK_LOG_LEVEL=debug "
              "for details", file=sys.stderr)
        return 1
