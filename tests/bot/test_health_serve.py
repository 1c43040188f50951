"""A real `fpcheck serve` process over loopback: in Socket Mode, GET /healthz on FPCHECK_HEALTH_PORT
follows the Socket Mode connection (200 "ok" while it is up, 503 with a JSON reason while it is
not); in HTTP mode, FPCHECK_HTTP_WORKERS and FPCHECK_HTTP_THREADS reach gunicorn, and a bad value is
one line and exit 2.  Every wait is bounded."""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import yaml
from slack_harness import APP_ID, APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, stop_serve
from stand_ins.slack_api import SlackStandIn
from stand_ins.slack_socket import OP_CLOSE, SocketModeStandIn

from bot.slack.settings import load_slack_settings

# what the `fpcheck` console script runs (bot.cli:run), so this is `fpcheck serve` itself
FPCHECK = "import sys; from bot.cli import run; run()"
ROOT = Path(__file__).resolve().parents[2]
OURS = ("FPCHECK_HEALTH_PORT", "FPCHECK_HEALTH_HOST", "FPCHECK_HTTP_WORKERS", "FPCHECK_HTTP_THREADS",
        "FPCHECK_USER_LIMIT")


class SlackHangsUp(SocketModeStandIn):
    def hang_up(self) -> None:
        """Close every connection as Slack does when it drops one: a close frame (1001, going away).
        (stop() alone only shuts the sockets: slack_sdk notices that by its pings, 40-60 s later.)"""
        with self._cond:
            conns = list(self._open)
        for conn in conns:
            self._send(conn, OP_CLOSE, struct.pack("!H", 1001) + b"going away")


@pytest.fixture
def ws() -> Iterator[SlackHangsUp]:
    with SlackHangsUp(APP_ID) as standin:
        yield standin


class Served:
    """A `fpcheck serve` child process; its stderr read line by line."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", FPCHECK, "serve", *args], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stdout, queue.Queue()), daemon=True).start()

    @staticmethod
    def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
        for line in iter(stream.readline, ""):
            lines.put(line)
        stream.close()

    def line(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if m := re.search(pattern, line):
                return m
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s; got:\n{self.stderr()}")

    def stderr(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return "".join(self.seen)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(env: dict[str, str], *args: str) -> Served:
        started.append(Served(env, tmp_path, *args))
        return started[-1]

    yield start
    for s in started:
        if s.proc.poll() is None:
            stop_serve(s.proc)


def child_env(clean_sandbox: Any, slack: SlackStandIn, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OURS}
    return {**env, **clean_sandbox.env(), "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_BASE_URL": slack.api_url,
            **values}


def healthz(port: int) -> tuple[int, str, bytes]:
    """(status, content type, body) of GET /healthz; a 503 is an answer too."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def wait_status(port: int, status: int, timeout: float) -> tuple[int, str, bytes]:
    deadline = time.monotonic() + timeout
    answer = healthz(port)
    while answer[0] != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz did not answer {status} within {timeout} s; last: {answer}")
        time.sleep(0.05)
        answer = healthz(port)
    return answer


def image_health_checks(**env: str) -> list[int]:
    """Exit codes of the Containerfile's HEALTHCHECK and of compose's healthcheck, run here (python3
    being this interpreter), with a proxy in the environment that refuses everything."""
    text = (ROOT / "Containerfile").read_text()
    found = re.search(r"^HEALTHCHECK\b.*?\bCMD (\[[^\n]*\])", text, re.M | re.S)
    assert found, "the Containerfile has no HEALTHCHECK ... CMD [...]"
    image = json.loads(found.group(1))
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["x-fpcheck"]["healthcheck"]["test"][1:]
    env = {"PATH": os.environ["PATH"], "HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", **env}
    return [subprocess.run([sys.executable, *cmd[1:]], env=env, capture_output=True, timeout=10).returncode
            for cmd in (image, compose)]


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A WebSocket URL on a port that is bound but not listening: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"ws://127.0.0.1:{s.getsockname()[1]}/link/"


# ---------------------------------------------------------------- Socket Mode: /healthz


def test_healthz_follows_the_socket_mode_connection(clean_sandbox, slack, ws, serve, refused_url) -> None:
    slack.socket_mode(APP_TOKEN, ws.issue_url)
    bot = serve(child_env(clean_sandbox, slack, SLACK_APP_TOKEN=APP_TOKEN, FPCHECK_HEALTH_PORT="0"))
    port = int(bot.line(r"health check on http://127\.0\.0\.1:(\d+)/healthz").group(1))  # 0: a free port
    ws.wait_connected(timeout=20)
    assert wait_status(port, 200, timeout=5) == (200, "text/plain", b"ok\n")  # as /healthz in HTTP mode
    in_socket_mode = {"SLACK_APP_TOKEN": "xapp-set", "FPCHECK_HEALTH_PORT": str(port)}
    assert image_health_checks(**in_socket_mode) == [0, 0]  # the image's check asks this port, not via a proxy

    # Slack drops the connection and, for now, hands out URLs that refuse: 503 with the reason
    slack.socket_mode(APP_TOKEN, lambda: refused_url)
    ws.hang_up()
    status, kind, body = wait_status(port, 503, timeout=5)
    assert kind == "application/json"
    assert json.loads(body) == {"ok": False,
                                "reason": "not connected to Slack in Socket Mode (connecting or reconnecting)"}
    assert 0 not in image_health_checks(**in_socket_mode)  # a 503 fails the image's check

    # Slack is back: slack_sdk reconnects on its next check (every 10 s), and so is /healthz
    slack.socket_mode(APP_TOKEN, ws.issue_url)
    ws.wait_connected(2, timeout=30)
    assert wait_status(port, 200, timeout=5)[0] == 200

    # the Socket Mode stand-in is gone for good
    slack.socket_mode(APP_TOKEN, lambda: refused_url)
    ws.hang_up()
    ws.stop()
    assert wait_status(port, 503, timeout=5)[0] == 503
    time.sleep(0.5)
    assert healthz(port)[0] == 503  # and stays so while it cannot reconnect
    other = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", method="GET")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(other, timeout=2)
    assert exc.value.code == 404  # /healthz is all it serves

    assert stop_serve(bot.proc) == 0, bot.stderr()
    with pytest.raises(OSError):  # the health port closed with the process
        healthz(port)
    assert "GET /healthz" not in bot.stderr()  # probes are not logged: they would bury the rest
    assert APP_TOKEN not in bot.stderr() and BOT_TOKEN not in bot.stderr()


def test_health_port_in_use_is_one_line_and_exit_2(clean_sandbox, slack, ws, serve) -> None:
    slack.socket_mode(APP_TOKEN, ws.issue_url)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        bot = serve(child_env(clean_sandbox, slack, SLACK_APP_TOKEN=APP_TOKEN, FPCHECK_HEALTH_PORT=str(port)))
        assert bot.proc.wait(timeout=30) == 2
    lines = [line for line in bot.stderr().splitlines() if line.startswith("fpcheck serve:")]
    assert len(lines) == 1 and lines[0].startswith(f"fpcheck serve: cannot listen on 127.0.0.1:{port} (")
    assert "set FPCHECK_HEALTH_PORT to a free port" in lines[0]
    assert ws.accepted == 0  # it stopped before connecting to Slack


def test_no_health_port_unless_asked() -> None:
    settings = load_slack_settings(_env_file=None)
    assert settings.fpcheck_health_port is None and settings.fpcheck_health_host == "127.0.0.1"
    assert load_slack_settings(_env_file=None, fpcheck_health_port=" ").fpcheck_health_port is None


# ---------------------------------------------------------------- HTTP mode: workers and threads


@pytest.mark.parametrize("name, value", [("FPCHECK_HTTP_WORKERS", "0"), ("FPCHECK_HTTP_WORKERS", "two"),
                                         ("FPCHECK_HTTP_THREADS", "-4")])
def test_a_bad_worker_or_thread_count_is_one_line_and_exit_2(clean_sandbox, slack, serve, name: str,
                                                            value: str) -> None:
    bot = serve(child_env(clean_sandbox, slack, SLACK_SIGNING_SECRET=SIGNING_SECRET, PORT="0", **{name: value}),
                "--host", "127.0.0.1")
    assert bot.proc.wait(timeout=30) == 2
    assert bot.stderr() == f"fpcheck serve: {name}: must be a whole number of at least 1\n"
    assert slack.calls == []  # named before anything was asked of Slack


def test_a_bad_limit_is_one_line_and_exit_2(clean_sandbox, slack, serve) -> None:
    bot = serve(child_env(clean_sandbox, slack, SLACK_SIGNING_SECRET=SIGNING_SECRET, PORT="0",
                          FPCHECK_USER_LIMIT="ten"), "--host", "127.0.0.1")
    assert bot.proc.wait(timeout=30) == 2
    assert bot.stderr() == "fpcheck serve: FPCHECK_USER_LIMIT: must be a whole number of checks a minute (0: no limit)\n"


def test_the_defaults_are_one_worker_and_eight_threads() -> None:
    settings = load_slack_settings(_env_file=None)
    assert (settings.fpcheck_http_workers, settings.fpcheck_http_threads) == (1, 8)
    assert load_slack_settings(_env_file=None, fpcheck_http_workers="").fpcheck_http_workers == 1


def test_worker_and_thread_counts_reach_gunicorn(clean_sandbox, slack, serve) -> None:
    bot = serve(child_env(clean_sandbox, slack, SLACK_SIGNING_SECRET=SIGNING_SECRET, PORT="0",
                          FPCHECK_HTTP_WORKERS="2", FPCHECK_HTTP_THREADS="3"), "--host", "127.0.0.1")
    bot.line(r"FPCHECK_HTTP_WORKERS=2 without FPCHECK_REDIS_URL: each worker keeps its own record")
    port = int(bot.line(r"HTTP on http://127\.0\.0\.1:(\d+)/slack/events \(health check /healthz; "
                        r"2 worker\(s\) x 3 thread\(s\)\)").group(1))
    bot.line(r"gunicorn: 2 worker process\(es\) x 3 thread\(s\)")  # read back from gunicorn's config
    pids = {int(bot.line(r"Booting worker with pid: (\d+)").group(1)) for _ in range(2)}
    children = Path(f"/proc/{bot.proc.pid}/task/{bot.proc.pid}/children")
    if children.exists():  # Linux: the two workers are the arbiter's own processes
        assert {int(p) for p in children.read_text().split()} == pids
    assert wait_status(port, 200, timeout=20) == (200, "text/plain", b"ok\n")
    assert image_health_checks(PORT=str(port)) == [0, 0]  # HTTP mode: the image's check asks PORT
    assert stop_serve(bot.proc) == 0, bot.stderr()


# ---------------------------------------------------------------- Redis in the health check


def test_healthz_says_when_redis_stops_answering_in_both_modes(clean_sandbox, slack, ws, serve,
                                                                tmp_path: Path) -> None:
    from tests.conftest import start_redis

    url, redis = start_redis(tmp_path)
    try:
        http = serve(child_env(clean_sandbox, slack, SLACK_SIGNING_SECRET=SIGNING_SECRET, PORT="0",
                               FPCHECK_REDIS_URL=url), "--host", "127.0.0.1")
        http_port = int(http.line(r"HTTP on http://127\.0\.0\.1:(\d+)/slack/events").group(1))
        slack.socket_mode(APP_TOKEN, ws.issue_url)
        socket_mode = serve(child_env(clean_sandbox, slack, SLACK_APP_TOKEN=APP_TOKEN, FPCHECK_HEALTH_PORT="0",
                                      FPCHECK_REDIS_URL=url))
        sm_port = int(socket_mode.line(r"health check on http://127\.0\.0\.1:(\d+)/healthz").group(1))
        ws.wait_connected(timeout=20)
        for port in (http_port, sm_port):
            assert wait_status(port, 200, timeout=20) == (200, "text/plain", b"ok\n")
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    for port in (http_port, sm_port):  # within the ping's reuse (5 s) and a probe's own time
        status, kind, body = wait_status(port, 503, timeout=15)
        assert kind == "application/json"
        assert json.loads(body) == {"ok": False, "reason": "Redis (FPCHECK_REDIS_URL) does not answer (ConnectionError)"}
    assert url not in http.stderr() + socket_mode.stderr()  # a Redis URL may hold a password
