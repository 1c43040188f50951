"""HTTP mode against abuse, on the real `fpcheck serve` (gunicorn) over loopback: slow clients cannot
hold its threads, and a body Bolt cannot parse is a 400, never a 500 and a traceback."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from collections.abc import Iterator

import pytest
from serve_process import (
    SLOW_CLIENTS,
    Served,
    SlowClients,
    flood_then_time_another,
    signed_command,
    start_serve,
    timed,
)
from slack_harness import BOT_TOKEN, SIGNING_SECRET, signed_headers, stop_serve
from stand_ins.slack_api import SlackStandIn


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


def test_one_user_s_flood_leaves_others_fast_on_serve(served: Served, slack: SlackStandIn) -> None:
    seconds, said, answer = flood_then_time_another(served.base, slack, n=40)
    assert answer == "report"
    assert sum("Checking" in s for s in said) == 10  # FPCHECK_USER_LIMIT's default
    assert all(s.startswith(":hourglass: You asked for 10 checks") for s in said if "Checking" not in s)
    assert seconds < 5.0  # unlimited, the same flood holds it for the flood's length (bench/slack_abuse.py)


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
