"""Answering in Slack when the happy path is not there: checked response_url replies, ephemeral
whispers, the wording of a Web API failure, and the notes on a privately delivered report."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.service import Asker, Denied, new_ref
from bot.slack.blocks import (
    NOT_IN_CHANNEL_NOTE,
    NOTE_BLOCK_ID,
    PRIVATE_NOTE,
    denial_text,
    escape,
    refused_note,
)

log = logging.getLogger("fpcheck.slack")

NO_POST_HERE = ("not_in_channel", "channel_not_found")
_NON_JSON = "Received a response in a non-JSON format"  # slack_sdk's error for a garbled body
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,80}$")


class DeliveryError(RuntimeError):
    """Slack would not take a message through a response_url."""


def respond_checked(respond: Callable[..., Any], **kwargs: Any) -> None:
    """respond() does not raise when Slack refuses (expired or used-up response_url): check."""
    resp = respond(**kwargs)
    status = getattr(resp, "status_code", None)
    if status != 200:
        raise DeliveryError(
            f"Slack refused the message sent to the command's response_url (HTTP {status}); "
            "a response_url expires after 30 minutes or 5 uses"
        )


def whisper(client: WebClient, asker: Asker, thread_ts: str | None, text: str) -> bool:
    """An ephemeral message to the asker in the thread; False (logged, never raised) if Slack refuses."""
    try:
        client.chat_postEphemeral(channel=asker.channel or "", user=asker.user or "", thread_ts=thread_ts, text=text)
        return True
    except (SlackApiError, OSError) as exc:
        log.warning("could not send an ephemeral message to %s: %s", asker.user, post_problem(exc))
        return False


def denied_text(denied: Denied) -> str:
    if denied.limited is not None:
        return limited_text(denied)
    return denial_text(denied.channels, denied.users, channel_denied=denied.channel)


def limited_text(denied: Denied) -> str:
    """The private answer to a request over the per-user or per-channel limit."""
    lim = denied.limited
    if lim is None:
        return denied_text(denied)
    who = "This channel" if denied.channel else "You"
    per = "channel" if denied.channel else "person"
    span = "minute" if lim.window == 60 else f"{lim.window:.0f} s"
    return (
        f":hourglass: {who} asked for {lim.asked} checks in the last {span}; wait {max(1, round(lim.wait))} s, "
        f"then ask again. fpcheck runs at most {lim.asked} a {span} per {per}, so everyone's reports stay quick."
    )


def reply_address_ok(url: str, origins: tuple[str, ...]) -> bool:
    """Whether a request's response_url points at one of `origins` (scheme://host[:port]) and hides
    nothing else in its address (user info, which some clients take for the host; spaces)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or any(c.isspace() for c in url):
        return False
    return f"{parts.scheme}://{parts.netloc}".lower() in origins


class Dropped:
    """respond() for a request whose response_url is not Slack's: nothing is sent anywhere (a report
    names a customer), the log says so, and the caller hears it as a failed delivery."""

    def __init__(self, url: str) -> None:
        self.host = (urlsplit(url).hostname or "?")[:100] if url else "?"

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        log.warning("dropped a reply to a response_url on %s: not a Slack address", self.host)
        raise DeliveryError(f"the request's response_url is not a Slack address ({self.host}); nothing was sent")


def tell_privately(respond: Callable[..., Any], text: str) -> bool:
    """An ephemeral answer through the response_url; False (logged) when Slack would not take it."""
    try:
        respond_checked(respond, text=text, response_type="ephemeral", replace_original=False)
        return True
    except (DeliveryError, OSError, ValueError) as exc:  # ValueError: Bolt's respond without a response_url
        log.warning("could not answer through the response_url: %s", str(exc)[:200])
        return False


def too_late_text(query: str, waited: float) -> str:
    return (
        f":hourglass: fpcheck was too busy to check {escape(query)} in time (it waited {waited:.0f} s "
        "for a free worker). Please ask again."
    )


def failure_reason(exc: Exception) -> str:
    """What the audit line says went wrong: Slack's error code, else the exception's type."""
    return f"Slack answered {exc.response.get('error')}" if isinstance(exc, SlackApiError) else type(exc).__name__


def post_problem(exc: SlackApiError | OSError) -> str:
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


def unconfirmed_note(problem: str) -> str:
    # after a timeout the post may still appear late; the asker has the report either way
    return (
        f":information_source: Slack did not confirm my post in this channel (`{escape(problem)}`), "
        "so here is the report, visible only to you."
    )


def fallback_note(channel: str | None, error: str) -> str:
    if channel and channel.startswith("D"):
        return ":information_source: I can't post in a direct message between people, so only you can see this report."
    if error in NO_POST_HERE:
        return NOT_IN_CHANNEL_NOTE
    return refused_note(error)


def note_of(message: dict) -> str | None:
    """The note at the top of a private report, kept when Run again replaces it."""
    blocks = message.get("blocks") or []
    if blocks and blocks[0].get("block_id") == NOTE_BLOCK_ID:
        return (blocks[0].get("text") or {}).get("text") or PRIVATE_NOTE
    return PRIVATE_NOTE


def last_resort(what: str, work: Callable[[], object]) -> None:
    """Bolt only logs a lazy listener's exception as "Failed to run an internal function": make sure
    whatever escaped the listener's own handling is logged with a reference id."""
    try:
        work()
    except Exception:
        log.exception("fpcheck %s listener failed, ref %s", what, new_ref())
