"""`fpcheck serve`: start-up checks (one clear line, exit 2), HTTP under gunicorn, and Socket Mode."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from urllib.parse import urlencode

import pytest
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_harness import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    event_envelope,
    mention,
    signed_headers,
    stop_serve,
)
from slack_sdk.socket_mode.request import SocketModeRequest
from stand_ins.slack_api import TEAM_ID, SlackStandIn

from bot.slack.app import build_app
from bot.slack.serve import main
from bot.slack.settings import load_slack_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, clean_sandbox, slack: SlackStandIn) -> dict[str, str]:
    """A complete configuration: the sandbox's Stripe and FirstPromoter, the Slack stand-in."""
    values = {
        **clean_sandbox.env(),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": slack.api_url,
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def serve(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("fpcheck serve:")]
    assert len(lines) == 1, err
    return lines[0]


def test_check_passes_with_a_complete_configuration(env, capsys) -> None:
    code, out, err = serve(capsys, "--check")
    assert code == 0, err
    assert "configuration ok" in out and "HTTP" in out


@pytest.mark.parametrize(
    "unset, named",
    [
        ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
        ("SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"),
        ("STRIPE_API_KEY", "STRIPE_API_KEY"),
        ("FIRSTPROMOTER_API_KEY", "FIRSTPROMOTER_API_KEY"),
    ],
)
def test_missing_setting_is_one_clear_line(env, capsys, monkeypatch, unset: str, named: str) -> None:
    monkeypatch.delenv(unset)
    code, out, err = serve(capsys, "--check")
    assert code == 2
    assert named in one_line(err)
    assert "Traceback" not in err


def test_malformed_token_is_named_not_echoed(env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-a-user-token-not-a-bot-token")
    code, _, err = serve(capsys, "--check")
    assert code == 2
    assert one_line(err).startswith("fpcheck serve: SLACK_BOT_TOKEN: must be a bot token")
    assert "xoxp-a-user" not in err


def test_token_slack_rejects(env, capsys, monkeypatch, slack) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-9999-revoked-token")
    code, _, err = serve(capsys, "--check")
    assert code == 2
    assert "Slack rejected SLACK_BOT_TOKEN (invalid_auth)" in one_line(err)
    assert "revoked-token" not in err


def test_missing_scope_is_named_with_reinstall(env, capsys, slack) -> None:
    slack.scopes.discard("app_mentions:read")
    code, _, err = serve(capsys, "--check")
    assert code == 2
    line = one_line(err)
    assert "app_mentions:read" in line and "reinstall the app" in line
    assert "chat:write," not in line  # only what is missing


def test_unreachable_slack_api(env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SLACK_API_BASE_URL", "http://127.0.0.1:9/api/")
    code, _, err = serve(capsys, "--check")
    assert code == 2
    assert "cannot reach the Slack API at http://127.0.0.1:9/api/" in one_line(err)


def test_port_in_use(env, capsys) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, _, err = serve(capsys, "--host", "127.0.0.1", "--port", str(port))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in one_line(err)


def test_socket_mode_rejected_app_token(env, capsys, monkeypatch, slack) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")  # not needed in Socket Mode
    code, _, err = serve(capsys)
    assert code == 2
    assert "Slack rejected SLACK_APP_TOKEN (invalid_auth)" in one_line(err)
    assert "apps.connections.open" in slack.methods()
    assert APP_TOKEN not in err


# ---------------------------------------------------------------- Socket Mode, without a WebSocket


def test_socket_mode_path_runs_the_same_listeners(slack, engine) -> None:
    settings = load_slack_settings(
        _env_file=None, slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN, slack_api_base_url=slack.api_url
    )
    app = build_app(settings, engine)  # no signing secret: Socket Mode messages are not signed
    command = {
        "type": "slash_commands",
        "envelope_id": "env-1",
        "accepts_response_payload": True,
        "payload": {
            "team_id": TEAM_ID, "channel_id": "C0GENERAL", "user_id": "U0ALICE", "command": "/fpcheck",
            "text": "healthy@example.com", "response_url": slack.response_url(), "trigger_id": "1.2.3",
            "api_app_id": "A0FPCHECK",
        },
    }  # fmt: skip
    resp = run_bolt_app(app, SocketModeRequest.from_dict(command))
    assert resp.status == 200
    assert json.loads(resp.body)["text"].endswith("Checking healthy@example.com…")
    parent, reply = slack.wait_for("chat.postMessage", 2)
    assert reply.params["thread_ts"] and reply.params["blocks"][0]["type"] == "header"

    ts = slack.add_message("C0GENERAL", "x")
    event = {
        "type": "events_api",
        "envelope_id": "env-2",
        "accepts_response_payload": False,
        "payload": event_envelope(mention("healthy@example.com", ts=ts), "Ev0SOCKET01"),
    }
    assert run_bolt_app(app, SocketModeRequest.from_dict(event)).status == 200
    retried = {**event, "envelope_id": "env-3", "retry_attempt": 1, "retry_reason": "timeout"}
    assert run_bolt_app(app, SocketModeRequest.from_dict(retried)).status == 200
    app.listener_runner.listener_executor.shutdown(wait=True)
    posts = slack.of("chat.postMessage")
    assert len(posts) == 3 and posts[2].params["thread_ts"] == ts  # the retry was not answered again


# ---------------------------------------------------------------- HTTP under gunicorn, for real


def _pump(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)
    stream.close()


def _wait_line(lines: queue.Queue, pattern: str, timeout: float, seen: list[str]) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    raise AssertionError(f"no line matching {pattern!r} within {timeout} s; got:\n{''.join(seen)}")


def test_http_mode_under_gunicorn(env, slack, tmp_path) -> None:
    child_env = {**os.environ, **env, "PORT": "0"}
    child_env.pop("SLACK_APP_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from bot.slack.serve import main; sys.exit(main(sys.argv[1:]))",
         "--host", "127.0.0.1"],
        cwd=tmp_path, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    err_lines: queue.Queue = queue.Queue()
    out_lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stderr, err_lines), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stdout, out_lines), daemon=True).start()
    seen: list[str] = []
    try:
        port = int(
            _wait_line(err_lines, r"HTTP on http://127\.0\.0\.1:(\d+)/slack/events", 20, seen).group(1)
        )
        _wait_line(err_lines, r"Booting worker", 20, seen)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:  # the worker loads the app (auth.test) after it boots
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                    assert resp.status == 200 and resp.read() == b"ok\n"
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        body = urlencode(
            {"team_id": TEAM_ID, "channel_id": "C0GENERAL", "user_id": "U0ALICE", "command": "/fpcheck",
             "text": "healthy@example.com", "response_url": slack.response_url()}
        )  # fmt: skip
        req = urllib.request.Request(
            base + "/slack/events",
            data=body.encode(),
            headers=signed_headers(body, "application/x-www-form-urlencoded"),
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert "Checking healthy@example.com" in json.loads(resp.read())["text"]
        parent, reply = slack.wait_for("chat.postMessage", 2, timeout=15)
        assert reply.params["thread_ts"]
        audit = json.loads(_wait_line(out_lines, r"^\{.*\}$", 10, []).group(0))  # the audit trail is stdout
        assert audit["query"] == "h***@example.com" and audit["outcome"] == "delivered"
        bad = urllib.request.Request(
            base + "/slack/events",
            data=body.encode(),
            headers=signed_headers(body, "application/x-www-form-urlencoded", secret="wrong"),
        )
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(bad, timeout=5)
        assert exc.value.code == 401
    finally:
        code = stop_serve(proc)
    assert code == 0
    everything = "".join(seen) + "".join(err_lines.queue) + "".join(out_lines.queue)
    for secret in (BOT_TOKEN, SIGNING_SECRET, env["STRIPE_API_KEY"], env["FIRSTPROMOTER_API_KEY"]):
        assert secret not in everything
    # private by default: no customer email from any library (Stripe's request URLs, Bolt's
    # rejected body), and no start-up notice about a token fpcheck passes on purpose
    assert "healthy@example.com" not in everything and "healthy%40example.com" not in everything
    assert "will be unused" not in everything


def test_redis_url_is_checked_at_start_up(env, capsys, monkeypatch, redis_url) -> None:
    monkeypatch.setenv("FPCHECK_REDIS_URL", "http://user:hunter2@127.0.0.1:9")
    code, _, err = serve(capsys, "--check")
    assert code == 2 and "FPCHECK_REDIS_URL: must start with redis://" in one_line(err)
    assert "hunter2" not in err
    monkeypatch.setenv("FPCHECK_REDIS_URL", "redis://:hunter2@127.0.0.1:9/0")
    code, _, err = serve(capsys, "--check")
    assert code == 2 and "cannot reach Redis at FPCHECK_REDIS_URL" in one_line(err)
    assert "hunter2" not in err
    monkeypatch.setenv("FPCHECK_REDIS_URL", redis_url)
    assert serve(capsys, "--check")[0] == 0


def test_watch_settings_are_checked_at_start_up(env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("FPCHECK_WATCH_CHANNEL", "C0WATCH")
    monkeypatch.setenv("FPCHECK_WATCH_DELAY", "60")  # FirstPromoter needs ~2 minutes
    code, _, err = serve(capsys, "--check")
    assert code == 2 and "FPCHECK_WATCH_DELAY: give seconds between 150" in one_line(err)
    monkeypatch.setenv("FPCHECK_WATCH_DELAY", "soon")
    code, _, err = serve(capsys, "--check")
    assert code == 2 and "FPCHECK_WATCH_DELAY: give a number of seconds" in one_line(err)
    monkeypatch.setenv("FPCHECK_WATCH_DELAY", "300")
    assert serve(capsys, "--check")[0] == 0
