"""fpcheck's App Home, published (views.publish) each time someone opens it (app_home_opened): what
fpcheck sees of each dependency (the reads `fpcheck doctor` makes, one line each, at most once a
minute), the next digest and the payment watch's state, the person's own recent checks
(bot/slack/history.py), and a "Check a customer" button that opens the same modal as the global
shortcut (bot/slack/modal.py).

Someone not on FPCHECK_ALLOWED_USERS sees only why not (and the refusal has its audit line, `"via":
"home"`, through bot/service.py).  FPCHECK_ALLOWED_CHANNELS does not hide the home: it is not a
channel and posts nothing; the modal's answer goes to a conversation, which the allow-list judges.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.service import Asker, Denied, Service
from bot.slack.arrival import just_ack, received
from bot.slack.blocks import Block, cut, denial_text, escape, mrkdwn
from bot.slack.dedupe import SeenStore
from bot.slack.doctor import Line, engine_lines
from bot.slack.history import Entry, History
from bot.slack.modal import open_modal
from bot.slack.reply import last_resort, post_problem
from bot.slack.shortcuts import Once, with_deps
from bot.slack.text import Parsed
from checks.facts import Query
from checks.settings import ConfigError, Settings

log = logging.getLogger("fpcheck.slack")

HOME_CHECK_ACTION = "fpcheck_home_check"  # the home's "Check a customer" button
STATUS_TTL = 60.0  # seconds the dependency lines are reused: opening the home is not a load test
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,30}$")
_STATUS = {"pass": ":white_check_mark:", "fail": ":x:", "warn": ":warning:", "error": ":exclamation:",
           "skip": ":heavy_minus_sign:"}


def register(app: App, service: Service, home: Home, seen: SeenStore) -> None:
    app.event("app_home_opened")(ack=just_ack, lazy=[with_deps(run_home, service, home)])
    app.action(HOME_CHECK_ACTION)(with_deps(open_from_home, Once(seen)))


def run_home(service: Service, home: Home, event: dict, client: WebClient, context: dict) -> None:
    if event.get("tab", "home") != "home":  # the Messages tab: nothing to draw
        return
    asker = Asker(event.get("user"), None, context.get("team_id"))
    last_resort("app home", lambda: home.show(service, client, asker, received(context)))


def open_from_home(once: Once, ack: Callable[..., Any], body: dict, client: WebClient) -> None:
    ack()
    if once.first(body, "home button"):
        open_modal(client, body.get("trigger_id"), (body.get("user") or {}).get("id"))


@dataclass(frozen=True)
class Refused:
    """The home of someone not on the allow-list: why not, and nothing else."""

    client: WebClient
    user: str

    def unreadable(self, problem: str | None) -> None:  # pragma: no cover (the home always has its query)
        pass

    def denied(self, denied: Denied) -> None:
        text = denial_text(denied.channels, denied.users, channel_denied=False) if denied.users else (
            ":no_entry: fpcheck's home is not open to you.")
        self.client.views_publish(user_id=self.user, view=home_view([_section(text)]))


class Home:
    """What the home shows; `settings` is the serve process's (digest and watch settings when it
    has them), `engine` the one that checks (its settings and Redis client)."""

    def __init__(self, settings: object, engine: object, history: History, scopes: frozenset[str],
                 clock: Callable[[], float] = time.time) -> None:
        self.settings, self.history, self.scopes, self._clock = settings, history, scopes, clock
        engine_settings = getattr(engine, "settings", None)
        self.engine_settings = engine_settings if isinstance(engine_settings, Settings) else None
        self.redis = getattr(getattr(engine, "wiring", None), "redis", None)
        self._status: list[Line] | None = None
        self._status_at = 0.0
        self._lock = threading.Lock()

    def show(self, service: Service, client: WebClient, asker: Asker, started: float) -> None:
        user = asker.user or ""
        if service.allowed_users and user not in service.allowed_users:
            # refused in words, with its audit line: the service's own denial path (nothing is run)
            service.admit("home", asker, Parsed(Query(raw="App Home")), started, Refused(client, user))
            return
        client.views_publish(user_id=user, view=home_view(self.blocks(client, user)))

    # ------------------------------------------------------------------ what it shows
    def blocks(self, client: WebClient, user: str) -> list[Block]:
        now = self._clock()
        status = self.status(client)
        recent = self.history.recent(user)
        return [
            {"type": "header", "text": {"type": "plain_text", "text": "fpcheck", "emoji": True}},
            {"type": "section", "block_id": "fpcheck_home_intro",
             "text": mrkdwn("Why did this referral earn no commission? Give fpcheck a customer email or Stripe "
                            "`cus_` id; it walks FirstPromoter's troubleshooting guide and says what broke."),
             "accessory": {"type": "button", "action_id": HOME_CHECK_ACTION, "style": "primary",
                           "text": {"type": "plain_text", "text": "Check a customer", "emoji": True}}},
            {"type": "divider"},
            _section("*What fpcheck sees*\n" + "\n".join(
                f"{':white_check_mark:' if line.ok else ':x:'} {escape(line.text)}" for line in status),
                "fpcheck_home_status"),
            _section("*Digest and watch*\n" + self.digest_line(now) + "\n" + self.watch_line(),
                     "fpcheck_home_jobs"),
            {"type": "divider"},
            _section("*Your recent checks*\n" + ("\n".join(_entry_line(e, now) for e in recent) if recent else
                     "None yet. Try *Check a customer*, `/fpcheck EMAIL`, or *Check with fpcheck* on a message."),
                     "fpcheck_home_recent"),
            {"type": "context", "elements": [mrkdwn(
                f"Updated {datetime.fromtimestamp(now, UTC):%H:%M} UTC. The dependency lines are the reads "
                "`fpcheck doctor` makes, at most once a minute.")]},
        ]

    def status(self, client: WebClient) -> list[Line]:
        now = time.monotonic()
        with self._lock:
            if self._status is not None and now - self._status_at < STATUS_TTL:
                return self._status
        lines = [self.slack_line(client)]
        s = self.engine_settings
        if s is None:
            lines.append(Line(False, "Stripe and FirstPromoter: this fpcheck has no engine settings to show"))
        else:
            lines += engine_lines(s)  # what `fpcheck doctor` says
        with self._lock:
            self._status, self._status_at = lines, time.monotonic()
        return lines

    def slack_line(self, client: WebClient) -> Line:
        """auth.test, and the scopes the code needs (as `fpcheck serve --check`)."""
        try:
            resp = client.auth_test()
        except (SlackApiError, OSError) as exc:
            return Line(False, f"Slack: auth.test failed ({post_problem(exc)})")
        header = next((v for k, v in dict(resp.headers).items() if k.lower() == "x-oauth-scopes"), None)
        if header is not None:
            value = ",".join(header) if isinstance(header, list | tuple) else str(header)
            missing = sorted(self.scopes - {s.strip() for s in value.split(",")})
            if missing:
                return Line(False, f"Slack: missing the bot scope(s) {', '.join(missing)} (reinstall from app.yaml)")
        mode = "Socket Mode" if getattr(self.settings, "mode", "http") == "socket" else "HTTP"
        return Line(True, f"Slack ok: bot {resp.get('user')} in workspace {resp.get('team')}, {mode}")

    def digest_line(self, now: float) -> str:
        from croniter import croniter

        from bot.digest import FileDigestState, RedisDigestState, Schedule

        channel = getattr(self.settings, "digest_channel", None)
        if not channel:
            return ":heavy_minus_sign: Digest: off (FPCHECK_SWEEP_CHANNEL is not set)"
        tz_name = getattr(self.settings, "fpcheck_tz", None) or getattr(self.engine_settings, "fpcheck_tz", None)
        try:
            schedule = Schedule.parse(getattr(self.settings, "fpcheck_sweep_cron", None), tz_name)
        except ConfigError as exc:
            return f":x: Digest: {escape(str(exc))}"
        local = datetime.fromtimestamp(now, UTC).astimezone(schedule.tz)
        nxt = croniter(schedule.cron, local).get_next(datetime)
        try:
            state: Any = (RedisDigestState(self.redis) if self.redis is not None
                          else FileDigestState(getattr(self.settings, "fpcheck_state_file", ".fpcheck-state.json")))
            last = state.last_end()
            covered = f"; the last covered up to {last:%Y-%m-%d %H:%M} UTC" if last else "; none posted yet"
        except Exception as exc:  # Redis down, a state file it may not read
            covered = f"; its state could not be read ({type(exc).__name__})"
        return (f":calendar: Digest: next {nxt:%a %Y-%m-%d %H:%M} ({escape(tz_name or 'UTC')}) in "
                f"{_channel(channel)}{covered}")

    def watch_line(self) -> str:
        from bot.watch import FileWatchState, RedisWatchState

        channel = getattr(self.settings, "watch_channel", None)
        if not channel:
            return ":heavy_minus_sign: Payment watch: off (FPCHECK_WATCH_CHANNEL is not set)"
        delay = getattr(self.settings, "fpcheck_watch_delay", None) or 300.0
        head = (f":eyes: Payment watch: on, alerts in {_channel(channel)}, each payment checked "
                f"{delay / 60:.0f} min after it is made")
        try:
            state: Any = (RedisWatchState(self.redis) if self.redis is not None
                          else FileWatchState(getattr(self.settings, "fpcheck_state_file", ".fpcheck-state.json")))
            cursor, waiting = state.cursor(), len(state.pending())
        except Exception as exc:
            return f"{head}; its state could not be read ({type(exc).__name__})"
        read = (f"Stripe's events read up to {datetime.fromtimestamp(cursor, UTC):%Y-%m-%d %H:%M} UTC"
                if cursor else "not polled yet")
        return f"{head}; {read}; {waiting} payment{'s' if waiting != 1 else ''} waiting to be checked"


# ---------------------------------------------------------------- drawing


def home_view(blocks: list[Block]) -> dict[str, Any]:
    return {"type": "home", "callback_id": "fpcheck_home", "blocks": blocks[:100]}


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(cut(text, 3000))}
    if block_id:
        block["block_id"] = block_id
    return block


def _channel(channel: str) -> str:
    return f"<#{channel}>" if _CHANNEL_ID.match(channel) else escape(channel)


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min ago"
    if seconds < 86_400:
        return f"{seconds // 3600:.0f} h ago"
    return f"{seconds // 86_400:.0f} d ago"


def _entry_line(entry: Entry, now: float) -> str:
    cause = f" ({escape(entry.cause)})" if entry.cause else ""
    return (f"• *{escape(entry.query)}*: {_STATUS.get(entry.status, ':grey_question:')} {escape(entry.status)}"
            f"{cause} · {_ago(now - entry.at)}")
