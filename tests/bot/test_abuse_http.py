"""HTTP mode against abuse, on the real `fpcheck serve` (gunicorn) over loopback: slow clients cannot
hold its threads, and a body Bolt cannot parse is a 400, never a 500 and a traceback."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from slack_harness import BOT_TOKEN, SIGNING_SECRET, signed_headers, stop_serve
from stand_ins.slack_api import TEAM_ID, SlackStandIn

SLOW_CLIENTS = 8  # as many as gunicorn has threads (FPCHECK_HTTP_THREADS' default)

# the same server with gunicorn's plain gthread worker and Bolt reading the body itself: the "before"
_UNBOUNDED = (
    "import bot.slack.intake as i; from gunicorn.workers.gthread import ThreadWorker; "
    "i.BoundedThreadWorker = ThreadWorker; i.slack_request = lambda environ, start, slack: slack(environ, start); "
)


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[str]
    err: list[str]


def _pump(stream, into: list[str]) -> None:  # type: ignore[no-untyped-def]
    for line in iter(stream.readline, ""):
        into.append(line)
    stream.close()


def start_serve(env: dict[str, str], tmp_path, bounded: bool = True) -> Served:  # type: ignore[no-untyped-def]
    code = ("" if bounded else _UNBOUNDED) + "import sys; from bot.slack.serve import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, "--host", "127.0.0.1"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    out: list[str] = []
    threading.Thread(target=_pump, args=(proc.stderr, err), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stdout, out), daemon=True).start()
    deadline = time.monotonic() + 30
    port = None
    while port is None:
        assert time.monotonic() < deadline and proc.poll() is None, "".join(err)
        m = next((re.search(r"HTTP on http://127\.0\.0\.1:(\d+)/", line) for line in err if "HTTP on" in line), None)
        port = int(m.group(1)) if m else None
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    while True:  # the worker loads the app (auth.test) after it boots
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                break
        except OSError:
            assert time.monotonic() < deadline, "".join(err)
            time.sleep(0.1)
    return Served(base, proc, err)


@pytest.fixture
def serve_env(clean_sandbox, slack: SlackStandIn) -> dict[str, str]:
    env = {**os.environ, **clean_sandbox.env(), "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_BASE_URL": slack.api_url, "PORT": "0"}
    env.pop("SLACK_APP_TOKEN", None)
    return env


@pytest.fixture
def served(serve_env, tmp_path) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    s = start_serve(serve_env, tmp_path)
    yield s
    stop_serve(s.proc)


class SlowClients:
    """`n` connections that send a request a byte at a time, half of them slow in the headers and half
    in the body; each one the server cuts is opened again, so `n` are always connected."""

    def __init__(self, base: str, n: int) -> None:
        self.port = int(base.rsplit(":", 1)[1])
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i % 2 == 0,), daemon=True) for i in range(n)]
        for t in self.threads:
            t.start()
        time.sleep(0.5)  # every one connected and holding a thread

    def _run(self, in_headers: bool) -> None:
        head = (b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded"
                b"\r\nContent-Length: 4000\r\n\r\n")
        while not self.stop.is_set():
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                first, rest = (head[:10], head[10:] + b"x" * 4000) if in_headers else (head + b"x", b"x" * 3999)
                try:
                    s.sendall(first)
                    for i in range(len(rest)):
                        if self.stop.wait(0.2):
                            return
                        s.sendall(rest[i:i + 1])
                except OSError:
                    pass  # the server cut it: come again

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=5)


def timed(req: urllib.request.Request | str, timeout: float = 10) -> tuple[float, int, bytes]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return time.monotonic() - started, resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return time.monotonic() - started, err.code, err.read()
    except TimeoutError:
        return time.monotonic() - started, 0, b""


def signed_command(base: str, slack: SlackStandIn, text: str = "healthy@example.com") -> urllib.request.Request:
    body = urlencode({"team_id": TEAM_ID, "channel_id": "C0GENERAL", "user_id": "U0ALICE", "command": "/fpcheck",
                      "text": text, "api_app_id": "A0FPCHECK", "response_url": slack.response_url()})
    return urllib.request.Request(base + "/slack/events", data=body.encode(),
                                  headers=signed_headers(body, "application/x-www-form-urlencoded"))


def answered_under_slow_clients(base: str, slack: SlackStandIn) -> tuple[tuple[float, int], tuple[float, int]]:
    slow = SlowClients(base, SLOW_CLIENTS)
    try:
        health = timed(base + "/healthz")
        command = timed(signed_command(base, slack))
    finally:
        slow.close()
    print(f"\n{SLOW_CLIENTS} slow clients: /healthz {health[1]} in {health[0]:.2f} s, "
          f"signed command {command[1]} in {command[0]:.2f} s")
    return health[:2], command[:2]


def test_slow_clients_cannot_hold_the_threads(served: Served, slack: SlackStandIn) -> None:
    (health_s, health), (command_s, command) = answered_under_slow_clients(served.base, slack)
    assert health == 200 and health_s < 3.5
    assert command == 200 and command_s < 3.5
    assert slack.wait_for("chat.postMessage", 2, timeout=20)  # and the check ran


@pytest.mark.skipif(not os.environ.get("FPCHECK_BENCH"), reason="the 'before' figure: FPCHECK_BENCH=1")
def test_slow_clients_before(serve_env, slack: SlackStandIn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = start_serve(serve_env, tmp_path, bounded=False)
    try:
        answered_under_slow_clients(s.base, slack)
    finally:
        stop_serve(s.proc)


@pytest.mark.parametrize("body, content_type", [
    ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    ("payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),  # JSON, but not an object
    ("payload=%22text%22", "application/x-www-form-urlencoded"),
    ("{not json", "application/json"),
    ("[1, 2]", "application/json"),
])  # fmt: skip
def test_malformed_body_is_400_without_traceback(served: Served, body: str, content_type: str) -> None:
    for headers in (signed_headers(body, content_type), {"Content-Type": content_type}):
        req = urllib.request.Request(served.base + "/slack/events", data=body.encode(), headers=headers)
        _, status, _ = timed(req)
        assert status == 400
    not_utf8 = urllib.request.Request(served.base + "/slack/events", data=b"payload=\xff\xfe",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert timed(not_utf8)[1] == 400
    assert timed(served.base + "/healthz")[1] == 200
    assert "Traceback" not in "".join(served.err)


def test_a_body_too_large_is_refused_before_it_is_read(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", int(served.base.rsplit(":", 1)[1])), timeout=5) as s:
        s.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 50000000\r\n\r\n{")
        assert s.recv(100).startswith(b"HTTP/1.1 413")


def test_the_json_answer_is_unchanged_for_a_good_request(served: Served, slack: SlackStandIn) -> None:
    _, status, body = timed(signed_command(served.base, slack))
    assert status == 200 and "Checking healthy@example.com" in json.loads(body)["text"]
