"""The bot under test, for real: a Bolt app behind a real HTTP server on 127.0.0.1, talking to a
Slack Web API stand-in (tests/stand_ins/slack_api.py), with the engine reading the seeded Stripe and
FirstPromoter stand-ins.  Requests are signed like Slack signs them.  Every wait is bounded."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_sdk.signature import SignatureVerifier
from stand_ins.slack_api import BOT_USER_ID, TEAM_ID, SlackStandIn

from bot.slack.app import build_app
from bot.slack.dedupe import SeenStore
from bot.slack.serve import wsgi_app
from bot.slack.settings import SlackSettings, load_slack_settings
from checks.engine import Engine

BOT_TOKEN = "xoxb-1111-2222-fpcheckTestBotToken9f3a"
SIGNING_SECRET = "fpcheck-test-signing-secret-7d1f0c2e"
APP_TOKEN = "xapp-1-A0FPCHECK-1-fpcheckTestAppToken5b8c"
APP_ID = "A0FPCHECK"


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class Answer:
    def __init__(self, status: int, body: bytes, headers: dict[str, str], seconds: float) -> None:
        self.status, self.body, self.headers, self.seconds = status, body, headers, seconds

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


def signed_headers(
    body: str, content_type: str, *, secret: str = SIGNING_SECRET, at: float | None = None
) -> dict:
    ts = str(int(time.time() if at is None else at))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body),
    }


class Harness:
    """build_app(...) served by a threaded wsgiref server, plus helpers that sign like Slack.

    `seen` is the event dedupe store (build_app's default: its own memory); `slack_timeout` shortens
    the Web API client's timeout (bot.slack.app.SLACK_TIMEOUT) so a slow-Slack test stays fast.  `app`
    serves an app built elsewhere (e.g. the way `fpcheck serve` builds it) instead of building one.
    """

    def __init__(
        self,
        slack: SlackStandIn,
        engine: Engine,
        *,
        seen: SeenStore | None = None,
        slack_timeout: float | None = None,
        app: App | None = None,
        **overrides: Any,
    ) -> None:
        self.slack = slack
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_base_url": slack.api_url,
        }
        values.update(overrides)
        self.settings: SlackSettings = load_slack_settings(_env_file=None, **values)
        self.app: App = app if app is not None else build_app(self.settings, engine, seen=seen)
        if slack_timeout is not None:
            # Bolt copies app.client's timeout into the client each listener gets
            self.app.client.timeout = slack_timeout  # type: ignore[assignment]
        self.pool = self.app.listener_runner.listener_executor  # build_app's own pool
        self.server = make_server(
            "127.0.0.1", 0, wsgi_app(self.app), server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self._n = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.pool.shutdown(wait=True)

    def drain(self) -> None:
        """Wait for every ack and lazy listener to finish (instead of sleeping)."""
        self.pool.shutdown(wait=True)

    # ------------------------------------------------------------------ raw HTTP
    def request(self, path: str, body: str | None = None, headers: dict | None = None) -> Answer:
        data = body.encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers or {})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return Answer(resp.status, resp.read(), dict(resp.headers), time.monotonic() - started)
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.read(), dict(err.headers), time.monotonic() - started)

    def post(self, body: str, content_type: str, **sign: Any) -> Answer:
        return self.request("/slack/events", body, signed_headers(body, content_type, **sign))

    # ------------------------------------------------------------------ what Slack sends
    def command(
        self,
        text: str,
        *,
        channel: str = "C0GENERAL",
        user: str = "U0ALICE",
        hook: str = "cmd",
        response_url: str | None = None,
        **sign: Any,
    ) -> Answer:
        """A signed /fpcheck; its response_url is the stand-in's /response/<hook> unless given."""
        body = urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "fpcheck-test",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": "alice",
                "command": "/fpcheck",
                "text": text,
                "api_app_id": APP_ID,
                "is_enterprise_install": "false",
                "response_url": response_url or self.slack.response_url(hook),
                "trigger_id": "1.2.3",
            }
        )
        return self.post(body, "application/x-www-form-urlencoded", **sign)

    def event(
        self, event: dict, *, event_id: str | None = None, retry_num: int | None = None, **sign: Any
    ) -> Answer:
        self._n += 1
        envelope = event_envelope(event, event_id or f"Ev0FPCHECK{self._n:04d}")
        body = json.dumps(envelope)
        headers = signed_headers(body, "application/json", **sign)
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
        return self.request("/slack/events", body, headers)

    def action(self, payload: dict, **sign: Any) -> Answer:
        return self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **sign
        )


def event_envelope(event: dict, event_id: str) -> dict:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def mention(
    text: str, *, channel: str = "C0GENERAL", user: str = "U0ALICE", ts: str, thread_ts: str | None = None
) -> dict:
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def button_payload(
    message: dict, *, channel: str, user: str, response_url: str, ephemeral: bool = False
) -> dict:
    """What Slack sends when someone presses the Run again button under `message`."""
    button = next(
        e
        for b in message.get("blocks", [])
        if b["type"] == "actions"
        for e in b["elements"]
        if e["type"] == "button"
    )
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "bob", "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message.get("ts"),
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "4.5.6",
        "team": {"id": TEAM_ID, "domain": "fpcheck-test"},
        "channel": {"id": channel, "name": "general"},
        "message": message,
        "response_url": response_url,
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "fpcheck_actions",
                "text": button["text"],
                "value": button["value"],
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def all_text(blocks: list[dict] | None) -> str:
    """Every string in a message's blocks, for assertions about what a reader sees."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "text" and isinstance(v, str):
                    out.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks or [])
    return "\n".join(out)


def stop_serve(proc: subprocess.Popen[Any]) -> int:
    """SIGTERM a `fpcheck serve` process and return its exit code; kill it if it does not stop
    within 15 s (bounded: a hung server fails the test instead of hanging it)."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        raise
