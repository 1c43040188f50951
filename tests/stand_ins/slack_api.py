"""A loopback stand-in for the Slack Web API (and for response_url), for the bot's tests.

It speaks the shapes slack_sdk expects: `POST /api/<method>` answered with `{"ok": ...}` JSON, the
granted scopes in auth.test's `x-oauth-scopes` header, HTTP 429 with `Retry-After` when rate
limited.  It keeps the messages it was sent (so chat.update really changes one), checks the bot
token, refuses channels the bot is not a member of, enforces Block Kit's size limits like Slack, and
records every call.  `POST /response/<id>` plays the command's response_url.  Waits are bounded.
`latency` (seconds) delays every answer, like Slack's own round trip, for benchmarks.
`inject` makes a method misbehave at the HTTP level (slow, 5xx, 429 without Retry-After, a body
that is not JSON), for the bot's fault tests.  `socket_mode` makes apps.connections.open accept an
app-level token and hand out a WebSocket URL (slack_socket.py serves it).  views.open, views.update and
views.publish keep the views they were sent (`views`, each user's `home`), answer Slack's view object
(id, hash, empty state) and refuse, like Slack, a trigger_id used twice and a view over its limits.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sandbox.httpserver import LoopbackServer

BOT_USER_ID = "UFPCHECKBOT"
BOT_ID = "BFPCHECKBOT"
TEAM_ID = "T0FPCHECK"


@dataclass
class Call:
    method: str  # "chat.postMessage", or "response_url" for a POST to /response/<id>
    params: dict[str, Any]  # the JSON or form body
    authorization: str | None
    path: str
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    """How calls to one method misbehave; see SlackStandIn.inject."""

    method: str
    status: int | None = None  # answer this HTTP status with `body`
    body: Any = None  # dict: JSON; str: sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering; alone, the call then succeeds (a slow Slack)
    malformed: bool = False  # HTTP 200 with a body that is not JSON (a proxy's error page)
    times: int | None = None  # None: until clear_faults()


MALFORMED_BODY = "<html><body><h1>502 Bad Gateway</h1></body></html>"
MAX_FAULT_DELAY = 30.0


class SlackStandIn(LoopbackServer):
    def __init__(
        self, bot_token: str, scopes: Iterable[str] = ("commands", "chat:write", "app_mentions:read")
    ):
        self.bot_token = bot_token
        self.scopes = set(scopes)
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message
        self.not_member: dict[str, str] = {}  # channel -> error chat.postMessage answers there
        self.response_status = 200  # what response_url answers (404 plays an expired url)
        self.latency = 0.0  # seconds added before every answer (bench/slack_load.py)
        self._errors: dict[str, list[str | None]] = defaultdict(list)  # method -> queued Slack errors
        self._rate_limits: dict[str, list[int]] = defaultdict(list)  # method -> queued Retry-After
        self.faults: list[Fault] = []
        # Socket Mode (see socket_mode): the xapp- token apps.connections.open accepts, and what
        # hands out the WebSocket URL it answers (tests/stand_ins/slack_socket.py issue_url)
        self.app_token: str | None = None
        self.socket_url: Callable[[], str] | None = None
        # views.open / views.update / views.publish: every view by id, each user's Home tab, and the
        # trigger_ids already exchanged for a modal (Slack's triggers are single-use)
        self.views: dict[str, dict[str, Any]] = {}
        self.home: dict[str, dict[str, Any]] = {}  # user id -> the published home view
        self._used_triggers: set[str] = set()
        self._cond = threading.Condition()
        self._ts = 1_700_000_000

    # ------------------------------------------------------------------ control
    def fail(self, method: str, error: str, times: int = 1, after: int = 0) -> None:
        """After `after` good calls, the next `times` calls to `method` answer `{"ok": false, "error": error}`."""
        with self._cond:
            self._errors[method].extend([None] * after + [error] * times)

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls to `method` answer HTTP 429 with this Retry-After."""
        with self._cond:
            self._rate_limits[method].extend([retry_after] * times)

    def inject(
        self,
        method: str,
        *,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        malformed: bool = False,
        times: int | None = None,
    ) -> Fault:
        """Calls to `method` ("chat.postMessage", or "response_url") misbehave at the HTTP level.

        A faulted call is recorded when it arrives (before any delay), so it is counted even when
        the client gives up waiting."""
        if not 0 <= delay <= MAX_FAULT_DELAY:
            raise ValueError(f"delay must be between 0 and {MAX_FAULT_DELAY:.0f} s")
        fault = Fault(method, status, body, dict(headers or {}), delay, malformed, times)
        with self._cond:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._cond:
            self.faults.clear()

    def socket_mode(self, app_token: str, socket_url: Callable[[], str]) -> None:
        """apps.connections.open accepts `app_token` and answers a URL from `socket_url()`."""
        self.app_token, self.socket_url = app_token, socket_url

    def count(self, method: str) -> int:
        return len(self.of(method))

    def of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        with self._cond:
            return [c.method for c in self.calls]

    def wait_for(self, method: str, n: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until `method` has been called `n` times (bounded); return those calls."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [c for c in self.calls if c.method == method]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"waited {timeout:.0f} s for {n} {method} call(s), saw {len(got)}; "
                        f"all calls: {[c.method for c in self.calls]}"
                    )
                self._cond.wait(left)

    # ------------------------------------------------------------------ addresses
    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"  # slack_sdk needs the trailing slash

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.url}/response/{name}"

    # ------------------------------------------------------------------ serving
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        path = urlsplit(h.path).path
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        if self.latency:
            time.sleep(self.latency)
        if "json" in h.headers.get("Content-Type", ""):
            params = json.loads(raw or "{}")
        else:
            params = dict(parse_qsl(raw, keep_blank_values=True))
        method = "response_url" if path.startswith("/response/") else path.rsplit("/", 1)[-1]
        call = Call(method, params, h.headers.get("Authorization"), path)
        fault = self._take_fault(method)
        if fault is not None:
            self._serve_fault(h, call, fault)
            return
        if method == "response_url":
            status, body, headers = (
                self.response_status,
                ("ok" if self.response_status == 200 else "expired_url"),
                {},
            )
        else:
            status, body, headers = self._api(call)
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
        _send(h, status, body, headers)

    def _take_fault(self, method: str) -> Fault | None:
        with self._cond:
            for fault in self.faults:
                if fault.method != method or (fault.times is not None and fault.times <= 0):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _serve_fault(self, h: BaseHTTPRequestHandler, call: Call, fault: Fault) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()
        if fault.delay:
            time.sleep(fault.delay)
        if fault.malformed:
            status, body, headers = 200, MALFORMED_BODY, {"Content-Type": "application/json; charset=utf-8"}
        elif fault.status is not None:
            status, body, headers = fault.status, fault.body if fault.body is not None else "", {}
        elif call.method == "response_url":  # only slow: then answers as usual
            status, body, headers = self.response_status, "ok", {}
        else:  # only slow: Slack did the work, late
            status, body, headers = self._api(call)
        # the client may have stopped waiting (its timeout): then there is nothing to answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            _send(h, status, body, {**headers, **fault.headers})

    def _api(self, call: Call) -> tuple[int, Any, dict[str, str]]:
        with self._cond:
            if self._rate_limits[call.method]:
                wait = self._rate_limits[call.method].pop(0)
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
            queued = self._errors[call.method].pop(0) if self._errors[call.method] else None
        if call.method == "apps.connections.open":  # the one method that takes the app-level token
            return self._apps_connections_open(call, queued)
        if call.authorization != f"Bearer {self.bot_token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if queued:
            return 200, {"ok": False, "error": queued}, {}
        handler = getattr(self, "_m_" + call.method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return handler(call.params)

    def _next_ts(self) -> str:
        with self._cond:
            self._ts += 1
            return f"{self._ts}.000100"

    def _m_auth_test(self, p: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        body = {
            "ok": True,
            "url": "https://fpcheck-test.slack.com/",
            "team": "fpcheck test",
            "user": "fpcheck",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }
        return 200, body, {"x-oauth-scopes": ",".join(sorted(self.scopes))}

    def _apps_connections_open(self, call: Call, queued: str | None) -> tuple[int, Any, dict[str, str]]:
        if self.app_token is None or call.authorization != f"Bearer {self.app_token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if queued:
            return 200, {"ok": False, "error": queued}, {}
        if self.socket_url is None:
            return 200, {"ok": False, "error": "internal_error"}, {}
        return 200, {"ok": True, "url": self.socket_url()}, {}

    def _m_chat_postMessage(self, p: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        if "chat:write" not in self.scopes:
            return 200, {"ok": False, "error": "missing_scope", "needed": "chat:write"}, {}
        channel = p.get("channel") or ""
        if channel in self.not_member:
            return 200, {"ok": False, "error": self.not_member[channel]}, {}
        problem = _check_message(p)
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": ts,
            "text": p.get("text", ""),
            "blocks": p.get("blocks") or [],
        }
        if p.get("thread_ts"):
            message["thread_ts"] = p["thread_ts"]
        with self._cond:
            self.messages[(channel, ts)] = message
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}, {}

    def _m_chat_update(self, p: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        key = (p.get("channel") or "", p.get("ts") or "")
        with self._cond:
            message = self.messages.get(key)
        if message is None:
            return 200, {"ok": False, "error": "message_not_found"}, {}
        if message.get("user") != BOT_USER_ID:
            return 200, {"ok": False, "error": "cant_update_message"}, {}
        problem = _check_message(p)
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        with self._cond:
            message.update(text=p.get("text", ""), blocks=p.get("blocks") or [], edited=True)
        return (
            200,
            {"ok": True, "channel": key[0], "ts": key[1], "text": message["text"], "message": message},
            {},
        )

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        channel = p.get("channel") or ""
        if channel in self.not_member:
            return 200, {"ok": False, "error": self.not_member[channel]}, {}
        if not p.get("user"):
            return 200, {"ok": False, "error": "user_not_in_channel"}, {}
        return 200, {"ok": True, "message_ts": self._next_ts()}, {}

    # ------------------------------------------------------------------ views (modals, App Home)
    def _view(self, v: Any, *, view_id: str | None = None, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        """The view object Slack answers with: what was sent, plus its id, hash and empty state."""
        view = json.loads(v) if isinstance(v, str) else dict(v or {})
        with self._cond:
            self._ts += 1
            n = self._ts
        return {
            **view,
            "id": view_id or f"V{n:010d}",
            "team_id": TEAM_ID,
            "state": {"values": {}},
            "hash": f"{n}.{n:08x}",
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "root_view_id": (previous or {}).get("root_view_id") or view_id or f"V{n:010d}",
            "previous_view_id": None,
            "app_id": "A0FPCHECK",
            "bot_id": BOT_ID,
        }

    def _m_views_open(self, p: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        trigger = p.get("trigger_id") or ""
        view = p.get("view")
        if not trigger:
            return 200, {"ok": False, "error": "invalid_trigger_id"}, {}
        with self._cond:
            if trigger in self._used_triggers:
                return 200, {"ok": False, "error": "exchanged_trigger_id"}, {}
            self._used_triggers.add(trigger)
        problem = _check_view(view, "modal")
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        opened = self._view(view)
        with self._cond:
            self.views[opened["id"]] = opened
        return 200, {"ok": True, "view": opened}, {}

    def _m_views_update(self, p: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        with self._cond:
            old = self.views.get(p.get("view_id") or "") or next(
                (v for v in self.views.values() if p.get("external_id") and v.get("external_id") == p["external_id"]),
                None)
        if old is None:
            return 200, {"ok": False, "error": "not_found"}, {}
        if p.get("hash") and p["hash"] != old["hash"]:
            return 200, {"ok": False, "error": "hash_conflict"}, {}
        problem = _check_view(p.get("view"), old.get("type", "modal"))
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        updated = self._view(p.get("view"), view_id=old["id"], previous=old)
        with self._cond:
            self.views[old["id"]] = updated
        return 200, {"ok": True, "view": updated}, {}

    def _m_views_publish(self, p: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        user = p.get("user_id") or ""
        if not user:
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        with self._cond:
            old = self.home.get(user)
        if p.get("hash") and old is not None and p["hash"] != old["hash"]:
            return 200, {"ok": False, "error": "hash_conflict"}, {}
        problem = _check_view(p.get("view"), "home")
        if problem:
            return 200, {"ok": False, "error": problem}, {}
        published = self._view(p.get("view"), view_id=old["id"] if old else None, previous=old)
        with self._cond:
            self.home[user] = published
            self.views[published["id"]] = published
        return 200, {"ok": True, "view": published}, {}

    def add_message(self, channel: str, text: str, user: str = "UHUMAN01") -> str:
        """A message a person wrote (e.g. the thread parent a mention replies under)."""
        ts = self._next_ts()
        with self._cond:
            self.messages[(channel, ts)] = {"type": "message", "user": user, "ts": ts, "text": text}
        return ts


def _send(h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    try:
        h.send_response(status)
        if not any(k.lower() == "content-type" for k in headers):
            h.send_header(
                "Content-Type", "text/plain" if isinstance(body, str) else "application/json; charset=utf-8"
            )
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up waiting (its timeout): nothing to answer


def _text_of(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind in ("section", "header"):
        return (block.get("text") or {}).get("text", "") + "".join(
            f.get("text", "") for f in block.get("fields", [])
        )
    if kind == "context":
        return "".join(e.get("text", "") for e in block.get("elements", []))
    if kind == "actions":
        return "".join((e.get("text") or {}).get("text", "") for e in block.get("elements", []))
    return ""


def _check_message(p: dict[str, Any]) -> str | None:
    """Slack's message limits, as the Web API enforces them."""
    blocks = p.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not p.get("text") and not blocks:
        return "no_text"
    if not blocks:
        return None
    if len(blocks) > 50:
        return "invalid_blocks"
    for b in blocks:
        if b.get("type") == "header" and len(b["text"]["text"]) > 150:
            return "invalid_blocks"
        if b.get("type") == "section" and len((b.get("text") or {}).get("text", "")) > 3000:
            return "invalid_blocks"
    if sum(len(_text_of(b)) for b in blocks) > 12_000:
        return "msg_blocks_too_long"
    return None


def _check_view(v: Any, kind: str) -> str | None:
    """Slack's view limits, as views.open / views.update / views.publish enforce them."""
    view = json.loads(v) if isinstance(v, str) else v
    if not isinstance(view, dict) or view.get("type") != kind:
        return "invalid_arguments"
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or len(blocks) > 100:
        return "invalid_arguments"
    if kind == "modal":
        title = (view.get("title") or {}).get("text", "")
        if not title or len(title) > 24:
            return "invalid_arguments"
        if any(b.get("type") == "input" for b in blocks) and not view.get("submit"):
            return "invalid_arguments"  # a modal with inputs needs a submit button
    for b in blocks:
        if b.get("type") == "section" and len((b.get("text") or {}).get("text", "")) > 3000:
            return "invalid_arguments"
    return None
