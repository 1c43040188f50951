"""The message shortcut "Check with fpcheck": on any message (an escalation, in a thread where
slash commands do not work), the emails and `cus_` ids in it are checked and answered in that
message's thread.  One found: its report goes in the thread.  Several: the asker gets a private
picker (an ephemeral message, one button per customer), and each pick is checked into the thread.
None: a private hint.  Everything that is not a report (the hint, a refusal, a failure) reaches only
the asker, through the shortcut's response_url (it works where fpcheck is not a member).

Every check goes through bot/service.py like /fpcheck's: allow-list, limits, deadline, audit line
(`"via": "shortcut"`, `"via": "picker"` for a pick).  Slack signs each delivery anew, so app.py's
middleware already answers a replayed request once; a trigger_id is also answered once (`Once`),
which holds in Socket Mode too, where nothing is signed.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.service import DELIVERED, Asker, Delivery, Denied, Request, Service
from bot.slack.arrival import received
from bot.slack.blocks import (
    Block,
    Rerun,
    cut,
    escape,
    failure_text,
    fallback_text,
    mrkdwn,
    report_blocks,
)
from bot.slack.dedupe import SeenStore
from bot.slack.reply import (
    denied_text,
    failure_reason,
    fallback_note,
    last_resort,
    post_problem,
    respond_checked,
    tell_privately,
    too_late_text,
    unconfirmed_note,
    whisper,
)
from bot.slack.text import Parsed, parse_command_text, usage_with
from bot.visible import visible
from checks.facts import Query
from checks.model import Report
from checks.query import QueryError
from checks.query import parse_query as parse_plain

log = logging.getLogger("fpcheck.slack")

MESSAGE_SHORTCUT = "fpcheck_message_check"  # app.yaml features.shortcuts[].callback_id (a test holds them equal)
PICK_ACTION = re.compile(r"^fpcheck_pick_[0-9]+$")  # one per button: action_ids are unique within a block
MAX_PICKS = 10  # buttons in the picker; more customers in one message are named, not offered
MAX_BUTTON_TEXT = 75  # Slack's limit for a button's label
FRESH = "fpcheck_fresh"  # context key: the ack saw this trigger_id for the first time

NOTHING_FOUND = (
    ":mag: I found no customer email or Stripe `cus_` id in that message. Use the *Check a customer* "
    "shortcut to type one, or mention me in the thread: `@fpcheck jane@example.com`."
)

# Slack's markup in a message's text: <mailto:a@b|a@b>, <https://…|label>, <@U…>, <#C…|name>, <!here>
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9_])cus_[A-Za-z0-9]{1,64}(?![A-Za-z0-9_])"  # a Stripe customer id, also inside a URL
    r"|[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+"  # an email (the engine's parser has the last word)
)


def queries_in(text: str | None) -> list[Query]:
    """Every email and `cus_` id in a Slack message's text, once each, in order of appearance;
    `<mailto:…|…>` unwrapped, mentions and channel links ignored, links read for a `cus_` id."""

    def unwrap(m: re.Match[str]) -> str:
        target, label = m[1], m[2] or ""
        if target.lower().startswith("mailto:"):
            return f" {target[len('mailto:'):]} "
        if target[:1] in "@#!":
            return " "
        return f" {target} {label} "

    plain = _MARKUP.sub(unwrap, (text or "")[:40_000])
    found: dict[str, Query] = {}
    for m in _CANDIDATE.finditer(plain):
        word = m.group(0).strip(".'")
        try:
            query = parse_plain(word)
        except QueryError:
            continue
        found.setdefault(query.raw.lower(), query)
    return list(found.values())


def message_text(message: dict[str, Any]) -> str:
    """What a message says: its text, and its attachments' (a bot's or an integration's message)."""
    parts = [message.get("text") or ""]
    for a in message.get("attachments") or []:
        if isinstance(a, dict):
            parts += [str(a.get(k) or "") for k in ("pretext", "text", "fallback")]
    return "\n".join(p for p in parts if p)


class Once:
    """A trigger_id answered once (several replicas share the store when it is Redis's)."""

    def __init__(self, seen: SeenStore) -> None:
        self.seen = seen

    def first(self, body: dict[str, Any], what: str) -> bool:
        trigger = body.get("trigger_id")
        if not isinstance(trigger, str) or not trigger:
            return True
        if self.seen.first_time(f"{what}:{trigger}"):
            return True
        log.info("ignored a repeated %s (trigger %s)", what, trigger[:40])
        return False


def with_deps(listener: Callable[..., None], *deps: object) -> Callable[..., None]:
    """`listener` with `deps` as its first arguments; Bolt reads the rest by name (see arrival.bound)."""
    partial = functools.partial(listener, *deps)
    partial.__name__ = listener.__name__  # type: ignore[attr-defined]
    return partial


def register(app: App, service: Service, seen: SeenStore) -> None:
    once = Once(seen)
    app.message_shortcut(MESSAGE_SHORTCUT)(ack=with_deps(ack_once, once, "message shortcut"),
                                           lazy=[with_deps(run_message_shortcut, service)])
    app.action(PICK_ACTION)(ack=with_deps(ack_once, once, "pick"), lazy=[with_deps(run_pick, service)])


def ack_once(once: Once, what: str, ack: Callable[..., Any], body: dict, context: dict) -> None:
    ack()
    if once.first(body, what):
        context[FRESH] = True  # Bolt hands lazy listeners a copy of the context, after the ack


def run_message_shortcut(service: Service, shortcut: dict, client: WebClient, respond: Callable[..., Any],
                         context: dict) -> None:
    if not context.get(FRESH):
        return
    message = shortcut.get("message") or {}
    asker = Asker((shortcut.get("user") or {}).get("id"), (shortcut.get("channel") or {}).get("id"),
                  context.get("team_id"))
    # the thread the message is in, or a new one under it (a reply's own ts is never a thread)
    face = OnMessage(client, respond, asker, message.get("thread_ts") or message.get("ts") or shortcut.get("message_ts"))
    found = queries_in(message_text(message))
    started = received(context)

    def ask() -> None:
        if len(found) <= 1:  # none: the face's hint (nothing was asked, so no audit line)
            service.ask("shortcut", asker, Parsed(found[0] if found else None), started, face)
        elif service.denial(asker) is not None:
            # refused before being offered anything: the service words it and writes the audit line
            service.admit("shortcut", asker, Parsed(found[0]), started, face)
        else:
            face.pick(found)

    last_resort("message shortcut", ask)


def run_pick(service: Service, body: dict, action: dict, client: WebClient, respond: Callable[..., Any],
             context: dict) -> None:
    if not context.get(FRESH):
        return
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    asker = Asker((body.get("user") or {}).get("id"), channel, context.get("team_id"))
    pick = Pick.from_value(action.get("value"))
    face = OnMessage(client, respond, asker, pick.thread_ts if pick else None)
    # not one of our buttons: its text reads as no query, and the face says so
    text = parse_command_text(pick.query if pick else "")
    if text.query is None:
        text = Parsed(problem=text.problem or "This button holds no email or cus_ id.")
    last_resort("pick", lambda: service.ask("picker", asker, text, received(context), face))


@dataclass(frozen=True)
class Pick:
    """What a picker button carries: the query and the thread to answer in (Slack signs it back)."""

    query: str
    thread_ts: str | None

    def to_value(self) -> str:
        return json.dumps({"q": self.query, "t": self.thread_ts}, separators=(",", ":"))

    @classmethod
    def from_value(cls, value: str | None) -> Pick | None:
        try:
            data = json.loads(value or "")
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("q"), str):
            return None
        thread = data.get("t")
        return cls(data["q"], thread if isinstance(thread, str) else None)


def picker_blocks(found: list[Query], thread_ts: str | None) -> list[Block]:
    shown = found[:MAX_PICKS]
    more = len(found) - len(shown)
    text = (f":mag: I found {len(found)} customers in that message. Which one should I check? "
            "The report goes in the message's thread.")
    if more:
        text += f" ({more} more not shown: " + ", ".join(escape(q.raw) for q in found[MAX_PICKS:MAX_PICKS + 5]) + ")"
    buttons = [
        {"type": "button", "action_id": f"fpcheck_pick_{i}",
         "text": {"type": "plain_text", "text": cut(visible(q.raw), MAX_BUTTON_TEXT), "emoji": False},
         "value": Pick(q.raw, thread_ts).to_value()}
        for i, q in enumerate(shown)
    ]
    return [{"type": "section", "text": mrkdwn(cut(text, 2900))},
            {"type": "actions", "block_id": "fpcheck_picker", "elements": buttons}]


@dataclass(frozen=True)
class OnMessage:
    """Answers a shortcut on a message: the report in the message's thread (privately, through the
    response_url, where fpcheck may not post); the rest only to the asker."""

    client: WebClient
    respond: Callable[..., Any]
    asker: Asker
    thread_ts: str | None
    reason = staticmethod(failure_reason)

    def say(self, text: str) -> None:
        """Only to the asker: through the response_url, else an ephemeral message in the thread."""
        if not tell_privately(self.respond, text):
            whisper(self.client, self.asker, self.thread_ts, text)

    def unreadable(self, problem: str | None) -> None:
        self.say(usage_with(problem) if problem else NOTHING_FOUND)

    def denied(self, denied: Denied) -> None:
        self.say(denied_text(denied))

    def pick(self, found: list[Query]) -> None:
        blocks = picker_blocks(found, self.thread_ts)
        text = f"I found {len(found)} customers in that message: which one should I check?"
        try:
            respond_checked(self.respond, text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        except Exception as exc:  # an expired or foreign response_url: an ephemeral message instead
            log.info("picker through the response_url failed (%s); sending it as an ephemeral message",
                     type(exc).__name__)
            self.client.chat_postEphemeral(channel=self.asker.channel or "", user=self.asker.user or "",
                                           thread_ts=self.thread_ts, text=text, blocks=blocks)

    def deliver(self, request: Request, report: Report) -> Delivery:
        user = self.asker.user
        rerun = Rerun(request.query.raw, None, user)
        try:
            self.client.chat_postMessage(channel=self.asker.channel or "", thread_ts=self.thread_ts,
                                         text=fallback_text(report),
                                         blocks=report_blocks(report, asked_by=user, rerun=rerun))
        except (SlackApiError, OSError) as exc:
            # not a member there (a private channel, a DM between people), or Slack is slow or down:
            # the asker still gets the whole report, privately, as /fpcheck does
            error = post_problem(exc)
            note = (fallback_note(self.asker.channel, error) if isinstance(exc, SlackApiError)
                    else unconfirmed_note(error))
            respond_checked(self.respond, text=fallback_text(report),
                            blocks=report_blocks(report, asked_by=user, rerun=rerun, note=note),
                            response_type="ephemeral", replace_original=False)
            return Delivery("fallback", error)
        return DELIVERED

    def too_late(self, request: Request, waited: float) -> None:
        self.say(too_late_text(request.query.raw, waited))

    def failed(self, request: Request) -> None:
        self.say(failure_text(request.ref, request.query.raw))
