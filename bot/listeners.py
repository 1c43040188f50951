"""fpcheck's Slack listeners: /fpcheck, @fpcheck mentions and the Run again button.

Every listener acks at once (Slack wants an answer within 3 s) and does the checking in a lazy
function on the app's worker pool.  Bolt swallows exceptions raised in lazy functions, so each lazy
body catches everything, logs it with a short reference id and tells the asker that id.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import audit
from bot.blocks import (
    NOT_IN_CHANNEL_NOTE,
    NOTE_BLOCK_ID,
    PRIVATE_NOTE,
    RERUN_ACTION_ID,
    Rerun,
    denial_text,
    escape,
    failure_text,
    fallback_text,
    parent_blocks,
    parent_text,
    refused_note,
    report_blocks,
)
from bot.slack_settings import SlackSettings
from checks import deadline
from checks.facts import Query
from checks.model import Report
from checks.query import QueryError, parse_query

if TYPE_CHECKING:
    from bot.app import Checker

log = logging.getLogger("fpcheck.slack")

HELP_WORDS = frozenset({"", "help", "-h", "--help", "?", "usage"})
USAGE = (
    "*How to use fpcheck*\n"
    "• `/fpcheck jane@example.com` or `/fpcheck cus_Q1a2B3c4D5e6F7`: checks why a FirstPromoter referral "
    "did not turn into a commission; the report is threaded under a short message in the channel.\n"
    "• In a thread, mention me instead (slash commands do not work in threads): `@fpcheck jane@example.com`.\n"
    "• Under a report, *Run again* re-checks (useful after a “too early” warning)."
)
NO_POST_HERE = ("not_in_channel", "channel_not_found")
RECEIVED = "fpcheck_received"  # context key: time.monotonic() when Slack's request arrived
_MENTION = re.compile(r"<@[UWB][A-Z0-9]+(?:\|[^>]*)?>")


def new_ref() -> str:
    """A short id the asker can quote and the operator can grep for in the log."""
    return secrets.token_hex(4)


@dataclass(frozen=True)
class Asker:
    user: str | None
    channel: str | None
    team: str | None


class Parsed:
    """What the text asked for: a query, or the one-line reason it is not one (usage follows)."""

    def __init__(self, query: Query | None = None, problem: str | None = None) -> None:
        self.query, self.problem = query, problem


def parse_command_text(text: str | None) -> Parsed:
    raw = (text or "").strip()
    if raw.lower() in HELP_WORDS:
        return Parsed()
    try:
        return Parsed(parse_query(raw))
    except QueryError as exc:
        return Parsed(problem=str(exc))


def parse_mention_text(text: str | None) -> Parsed:
    """Mentions are written as sentences ("@fpcheck can you check <mailto:..>?"): accept one query
    anywhere in the text, once the mentions themselves are removed."""
    raw = _MENTION.sub(" ", text or "").strip()
    parsed = parse_command_text(raw)
    if parsed.query is not None or parsed.problem is None:
        return parsed
    found = []
    for word in raw.split():
        try:
            found.append(parse_query(word.strip(".,;:!?()\"'")))
        except QueryError:
            continue
    if len({q.raw for q in found}) == 1:
        return Parsed(found[0])
    return parsed


class TooLate(Exception):
    """The request waited for a worker until its deadline had passed: a report now would not help."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"waited {waited:.1f} s in the queue, past its deadline")
        self.waited = waited


def too_late_text(query: str, waited: float) -> str:
    return (
        f":hourglass: fpcheck was too busy to check {escape(query)} in time (it waited {waited:.0f} s "
        "for a free worker). Please ask again."
    )


def received(context: dict) -> float:
    """When Slack's request arrived (stamped by a middleware in bot/app.py); now if unknown."""
    at = context.get(RECEIVED)
    return at if isinstance(at, float) else time.monotonic()


def usage_with(problem: str | None) -> str:
    return f":thinking_face: {escape(problem)}\n\n{USAGE}" if problem else USAGE


class Bot:
    """The listeners' shared state: settings (allow-lists) and the engine."""

    def __init__(self, settings: SlackSettings, engine: Checker) -> None:
        self.settings = settings
        self.engine = engine

    def check(self, query: Query, started: float) -> Report:
        """The engine's report, within the deadline counted from when the request arrived."""
        seconds = getattr(self.engine, "deadline", None)
        if not isinstance(seconds, int | float):
            return self.engine.check(query)
        limit = deadline.Deadline(seconds, start=started)
        if limit.remaining() < min(2.0, seconds / 4):
            # (all but) past its deadline: every read would fail at once, and a report made only of
            # "no answer within the deadline" would not help the asker
            raise TooLate(time.monotonic() - started)
        with deadline.bound(limit):
            return self.engine.check(query)

    def expired(self, via: audit.Via, ref: str, asker: Asker, query: Query, started: float, exc: TooLate) -> None:
        log.warning("fpcheck %s ref %s not checked: it waited %.1f s for a worker", via, ref, exc.waited)
        self._audit(via, ref, asker, query, "expired", None, started, f"waited {exc.waited:.1f} s in the queue")

    # ------------------------------------------------------------------ access
    def denial(self, user: str | None, channel: str | None) -> str | None:
        channels, users = self.settings.allowed_channels, self.settings.allowed_users
        if channels and channel not in channels:
            return denial_text(channels, users, channel_denied=True)
        if users and user not in users:
            return denial_text(channels, users, channel_denied=False)
        return None

    # ------------------------------------------------------------------ /fpcheck
    def ack_command(self, ack: Callable[..., Any], command: dict, context: dict) -> None:
        parsed = parse_command_text(command.get("text"))
        if parsed.query is None:
            ack(response_type="ephemeral", text=usage_with(parsed.problem))
            return
        asker = Asker(command.get("user_id"), command.get("channel_id"), context.get("team_id"))
        denied = self.denial(asker.user, asker.channel)
        if denied:
            ack(response_type="ephemeral", text=denied)
            self._audit_denied("command", asker, parsed.query)
            return
        ack(response_type="ephemeral", text=f":hourglass_flowing_sand: Checking {escape(parsed.query.raw)}…")

    def run_command(
        self, command: dict, client: WebClient, respond: Callable[..., Any], context: dict
    ) -> None:
        parsed = parse_command_text(command.get("text"))
        asker = Asker(command.get("user_id"), command.get("channel_id"), context.get("team_id"))
        if parsed.query is None or self.denial(asker.user, asker.channel):
            return  # the ack already answered
        query, ref, started = parsed.query, new_ref(), received(context)
        report: Report | None = None
        try:
            report = self.check(query, started)
            outcome, detail = self._deliver_command(client, respond, asker, query, report)
            self._audit("command", ref, asker, query, outcome, report, started, detail)
        except TooLate as exc:
            self.expired("command", ref, asker, query, started, exc)
            with contextlib.suppress(Exception):
                _respond_checked(respond, text=too_late_text(query.raw, exc.waited), response_type="ephemeral")
        except Exception as exc:
            self._failed("command", ref, asker, query, report, started, exc)
            try:
                _respond_checked(respond, text=failure_text(ref, query.raw), response_type="ephemeral")
            except Exception as notice:  # Slack is unreachable altogether: the log is all there is
                log.error(
                    "fpcheck command ref %s: could not tell %s either (%s)",
                    ref,
                    asker.user,
                    type(notice).__name__,
                )

    def _deliver_command(
        self, client: WebClient, respond: Callable[..., Any], asker: Asker, query: Query, report: Report
    ) -> tuple[audit.Outcome, str | None]:
        try:
            parent = client.chat_postMessage(
                channel=asker.channel or "",
                text=parent_text(report, asker.user),
                blocks=parent_blocks(report, asker.user),
            )
        except (SlackApiError, OSError) as exc:
            # The bot cannot post there (not invited, a private channel, a DM between people...), or
            # Slack's API is slow, down or garbled: the report is ready, so the asker still gets all
            # of it, privately, through the command's response_url (a separate endpoint).
            error = _post_problem(exc)
            if isinstance(exc, SlackApiError):
                log.info("cannot post in %s (%s); answering %s privately", asker.channel, error, asker.user)
                note = _fallback_note(asker.channel, error)
            else:
                log.warning(
                    "posting in %s failed (%s); answering %s privately", asker.channel, error, asker.user
                )
                note = _unconfirmed_note(error)
            blocks = report_blocks(
                report, asked_by=asker.user, rerun=Rerun(query.raw, None, asker.user), note=note
            )
            _respond_checked(
                respond,
                text=fallback_text(report),
                blocks=blocks,
                response_type="ephemeral",
                replace_original=False,
            )
            return "fallback", error
        parent_ts = parent["ts"]
        client.chat_postMessage(
            channel=asker.channel or "",
            thread_ts=parent_ts,
            text=fallback_text(report),
            blocks=report_blocks(report, asked_by=asker.user, rerun=Rerun(query.raw, parent_ts, asker.user)),
        )
        return "delivered", None

    # ------------------------------------------------------------------ @fpcheck
    def run_mention(self, event: dict, client: WebClient, context: dict) -> None:
        asker = Asker(event.get("user"), event.get("channel"), context.get("team_id"))
        # reply in the thread the mention is in; a top-level mention starts a thread under itself
        thread_ts = event.get("thread_ts") or event.get("ts")
        parsed = parse_mention_text(event.get("text"))
        if parsed.query is None:
            self._whisper(client, asker, thread_ts, usage_with(parsed.problem))
            return
        query, ref, started = parsed.query, new_ref(), received(context)
        denied = self.denial(asker.user, asker.channel)
        if denied:
            self._whisper(client, asker, thread_ts, denied)
            self._audit_denied("mention", asker, query)
            return
        report: Report | None = None
        try:
            report = self.check(query, started)
            client.chat_postMessage(
                channel=asker.channel or "",
                thread_ts=thread_ts,
                text=fallback_text(report),
                blocks=report_blocks(report, asked_by=asker.user, rerun=Rerun(query.raw, None, asker.user)),
            )
            self._audit("mention", ref, asker, query, "delivered", report, started, None)
        except TooLate as exc:
            self.expired("mention", ref, asker, query, started, exc)
            self._whisper(client, asker, thread_ts, too_late_text(query.raw, exc.waited))
        except Exception as exc:
            self._failed("mention", ref, asker, query, report, started, exc)
            self._whisper(client, asker, thread_ts, failure_text(ref, query.raw))

    def _whisper(self, client: WebClient, asker: Asker, thread_ts: str | None, text: str) -> None:
        """An ephemeral message to the asker in the thread; logged, never raised, if Slack refuses."""
        try:
            client.chat_postEphemeral(
                channel=asker.channel or "", user=asker.user or "", thread_ts=thread_ts, text=text
            )
        except (SlackApiError, OSError) as exc:
            log.warning("could not send an ephemeral message to %s: %s", asker.user, _post_problem(exc))

    # ------------------------------------------------------------------ Run again
    def run_again(
        self, body: dict, action: dict, client: WebClient, respond: Callable[..., Any], context: dict
    ) -> None:
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        asker = Asker((body.get("user") or {}).get("id"), channel, context.get("team_id"))
        rerun = Rerun.from_value(action.get("value"))
        ref, started = new_ref(), received(context)
        if rerun is None:
            log.warning("Run again pressed with an unreadable value (ref %s)", ref)
            _respond_checked(
                respond, text=failure_text(ref), response_type="ephemeral", replace_original=False
            )
            return
        query: Query | None = None
        report: Report | None = None
        try:
            query = parse_query(rerun.query)
            denied = self.denial(asker.user, asker.channel)
            if denied:
                _respond_checked(respond, text=denied, response_type="ephemeral", replace_original=False)
                self._audit_denied("button", asker, query)
                return
            report = self.check(query, started)
            message = body.get("message") or {}
            if container.get("is_ephemeral"):
                # the private fallback report: only its response_url can replace it
                blocks = report_blocks(
                    report, asked_by=rerun.asked_by, rerun=rerun, rerun_by=asker.user, note=_note_of(message)
                )
                _respond_checked(
                    respond,
                    text=fallback_text(report),
                    blocks=blocks,
                    response_type="ephemeral",
                    replace_original=True,
                )
                outcome: audit.Outcome = "fallback"
            else:
                blocks = report_blocks(report, asked_by=rerun.asked_by, rerun=rerun, rerun_by=asker.user)
                client.chat_update(
                    channel=channel or "",
                    ts=message.get("ts") or container.get("message_ts") or "",
                    text=fallback_text(report),
                    blocks=blocks,
                )
                if rerun.parent_ts:
                    self._refresh_parent(client, channel or "", rerun, report)
                outcome = "delivered"
            self._audit("button", ref, asker, query, outcome, report, started, None)
        except TooLate as exc:
            assert query is not None  # TooLate is raised only once the query is parsed
            self.expired("button", ref, asker, query, started, exc)
            with contextlib.suppress(Exception):
                _respond_checked(
                    respond, text=too_late_text(query.raw, exc.waited), response_type="ephemeral",
                    replace_original=False,
                )
        except Exception as exc:
            self._failed("button", ref, asker, query, report, started, exc, raw=rerun.query)
            _respond_checked(
                respond,
                text=failure_text(ref, rerun.query),
                response_type="ephemeral",
                replace_original=False,
            )

    def _refresh_parent(self, client: WebClient, channel: str, rerun: Rerun, report: Report) -> None:
        """Keep the channel's verdict line in step with the refreshed report (best effort)."""
        try:
            client.chat_update(
                channel=channel,
                ts=rerun.parent_ts or "",
                text=parent_text(report, rerun.asked_by),
                blocks=parent_blocks(report, rerun.asked_by),
            )
        except SlackApiError as exc:
            log.warning(
                "could not refresh the parent message %s: %s", rerun.parent_ts, exc.response.get("error")
            )

    # ------------------------------------------------------------------ audit and failures
    def _audit(
        self,
        via: audit.Via,
        ref: str,
        asker: Asker,
        query: Query,
        outcome: audit.Outcome,
        report: Report | None,
        started: float,
        detail: str | None,
    ) -> None:
        audit.record(
            ref=ref,
            via=via,
            user=asker.user,
            channel=asker.channel,
            team=asker.team,
            query=query.raw,
            outcome=outcome,
            report=report,
            started=started,
            detail=detail,
        )

    def _audit_denied(self, via: audit.Via, asker: Asker, query: Query) -> None:
        self._audit(via, new_ref(), asker, query, "denied", None, time.monotonic(), "not on the allow-list")

    def _failed(
        self,
        via: audit.Via,
        ref: str,
        asker: Asker,
        query: Query | None,
        report: Report | None,
        started: float,
        exc: Exception,
        raw: str | None = None,
    ) -> None:
        reason = (
            f"Slack answered {exc.response.get('error')}"
            if isinstance(exc, SlackApiError)
            else type(exc).__name__
        )
        log.exception("fpcheck %s run failed, ref %s: %s (%s)", via, ref, reason, str(exc)[:300])
        audit.record(
            ref=ref,
            via=via,
            user=asker.user,
            channel=asker.channel,
            team=asker.team,
            query=query.raw if query else (raw or ""),
            outcome="failed",
            report=report,
            started=started,
            detail=reason,
        )


class DeliveryError(RuntimeError):
    """Slack would not take a message through a response_url."""


def _respond_checked(respond: Callable[..., Any], **kwargs: Any) -> None:
    """respond() does not raise when Slack refuses (expired or used-up response_url): check."""
    resp = respond(**kwargs)
    status = getattr(resp, "status_code", None)
    if status != 200:
        raise DeliveryError(
            f"Slack refused the message sent to the command's response_url (HTTP {status}); "
            "a response_url expires after 30 minutes or 5 uses"
        )


_NON_JSON = "Received a response in a non-JSON format"  # slack_sdk's error for a garbled body
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,80}$")


def _post_problem(exc: SlackApiError | OSError) -> str:
    """Why a Web API call failed, short and safe to show: Slack's error code, or what went wrong
    on the way (never a response body, which could be a whole proxy error page)."""
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error")
        status = getattr(exc.response, "status_code", None)
        if isinstance(error, str) and _ERROR_CODE.match(error):
            return error
        if isinstance(error, str) and error.startswith(_NON_JSON):
            return f"HTTP {status}, not JSON"
        return f"HTTP {status}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "unreachable"


def _unconfirmed_note(problem: str) -> str:
    # after a timeout the post may still appear late; the asker has the report either way
    return (
        f":information_source: Slack did not confirm my post in this channel (`{escape(problem)}`), "
        "so here is the report, visible only to you."
    )


def _fallback_note(channel: str | None, error: str) -> str:
    if channel and channel.startswith("D"):
        return ":information_source: I can't post in a direct message between people, so only you can see this report."
    if error in NO_POST_HERE:
        return NOT_IN_CHANNEL_NOTE
    return refused_note(error)


def _note_of(message: dict) -> str | None:
    """The note at the top of a private report, kept when Run again replaces it."""
    blocks = message.get("blocks") or []
    if blocks and blocks[0].get("block_id") == NOTE_BLOCK_ID:
        return (blocks[0].get("text") or {}).get("text") or PRIVATE_NOTE
    return PRIVATE_NOTE


def _last_resort(what: str, work: Callable[[], None]) -> None:
    """Bolt only logs a lazy listener's exception as "Failed to run an internal function": make sure
    whatever escaped the listener's own handling is logged with a reference id."""
    try:
        work()
    except Exception:
        log.exception("fpcheck %s listener failed, ref %s", what, new_ref())


def register(app: App, *, settings: SlackSettings, engine: Checker) -> None:
    bot = Bot(settings, engine)

    # Bolt injects listener arguments by parameter name, so these wrappers spell them out.
    def ack_command(ack: Callable[..., Any], command: dict, context: dict) -> None:
        bot.ack_command(ack, command, context)

    def run_command(command: dict, client: WebClient, respond: Callable[..., Any], context: dict) -> None:
        _last_resort("command", lambda: bot.run_command(command, client, respond, context))

    def just_ack(ack: Callable[..., Any]) -> None:
        ack()

    def run_mention(event: dict, client: WebClient, context: dict) -> None:
        _last_resort("mention", lambda: bot.run_mention(event, client, context))

    def run_again(
        body: dict, action: dict, client: WebClient, respond: Callable[..., Any], context: dict
    ) -> None:
        _last_resort("button", lambda: bot.run_again(body, action, client, respond, context))

    app.command("/fpcheck")(ack=ack_command, lazy=[run_command])
    app.event("app_mention")(ack=just_ack, lazy=[run_mention])
    app.action(RERUN_ACTION_ID)(ack=just_ack, lazy=[run_again])
