"""A real `fpcheck serve` (gunicorn) in a child process on 127.0.0.1, and clients that abuse it:
shared by tests/bot/test_abuse_http.py and bench/slack_abuse.py."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode

from slack_harness import signed_headers
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


def signed_command(base: str, slack: SlackStandIn, text: str = "healthy@example.com",
                   user: str = "U0ALICE") -> urllib.request.Request:
    """A /fpcheck as Slack sends it; each has its own trigger_id, so its own signature (a signature
    seen again is a replay, answered once)."""
    body = urlencode({"team_id": TEAM_ID, "channel_id": "C0GENERAL", "user_id": user, "command": "/fpcheck",
                      "text": text, "api_app_id": "A0FPCHECK", "response_url": slack.response_url(),
                      "trigger_id": f"{time.monotonic_ns()}.1.2"})
    return urllib.request.Request(base + "/slack/events", data=body.encode(),
                                  headers=signed_headers(body, "application/x-www-form-urlencoded"))


def flood_then_time_another(base: str, slack: SlackStandIn, n: int = 100,
                            timeout: float = 120.0) -> tuple[float, list[str], str]:
    """`n` commands from one user, sent as fast as they are acknowledged, then another user's: the
    seconds until that one is answered (bounded by `timeout`), what the flooder was told, and what the
    other user got ("report", or the text of a message in its place, e.g. "too busy")."""
    said = []
    for _ in range(n):
        _, status, body = timed(signed_command(base, slack, user="U0FLOOD"))
        said.append(json.loads(body)["text"] if status == 200 and body else f"HTTP {status}")
    asked = time.monotonic()
    _, status, body = timed(signed_command(base, slack, "no-referral@example.com", user="U0OTHER"))
    assert status == 200 and "Checking" in json.loads(body)["text"], body
    deadline = asked + timeout
    while time.monotonic() < deadline:
        with slack._cond:
            for c in slack.calls:
                text = str(c.params.get("text", ""))
                if c.method == "chat.postMessage" and text.startswith("fpcheck no-referral@example.com"):
                    return time.monotonic() - asked, said, "report"
                if "no-referral@example.com" in text and "too busy" in text:
                    return time.monotonic() - asked, said, text[:80]
        time.sleep(0.02)
    return float("inf"), said, "nothing"
