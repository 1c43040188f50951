"""`/fpcheck sweep 7d` in Slack: acknowledged at once, then a parent message with the summary line
and, threaded under it, the breakdown by cause with examples, each with a "Check" button that posts
that person's full report in the thread."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.service import Asker, Delivery, Denied, Request, Service, new_ref
from bot.slack.arrival import bound, just_ack, received
from bot.slack.blocks import (
    MAX_BUTTON_VALUE,
    denial_text,
    escape,
    fallback_text,
    mrkdwn,
    report_blocks,
    user_ref,
)
from bot.slack.mention import InThread
from bot.slack.reply import (
    NO_POST_HERE,
    denied_text,
    failure_reason,
    fallback_note,
    last_resort,
    post_problem,
    respond_checked,
    tell_privately,
    whisper,
)
from bot.slack.text import parse_command_text
from bot.sweep_cli import EXAMPLES, HINTS, summary_line, usd
from checks.model import Report
from checks.query import QueryError
from checks.settings import v1_cannot_sweep
from checks.sweep.run import Sweeper, SweepResult
from checks.sweep.window import Window, parse_since

log = logging.getLogger(__name__)

CHECK_ACTION_ID = "fpcheck_sweep_check"
MAX_CAUSES = 10  # 1 + 4 blocks each stays under Slack's 50 blocks per message
# "sweep" alone or followed by a space: `/fpcheck sweep.jones@example.com` is a check of that person
_SWEEP = re.compile(r"^\s*sweep(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
USAGE = "Usage: `/fpcheck sweep 7d` (or 24h, 2w): the payments of that period whose commission looks lost."


def is_sweep(command: dict) -> bool:
    return _SWEEP.match(command.get("text") or "") is not None


def parse_sweep(text: str | None) -> Window:
    m = _SWEEP.match(text or "")
    arg = ((m.group(1) if m else "") or "").strip() or "7d"
    return parse_since(arg, datetime.now(UTC))


def parent_text(result: SweepResult, window: Window, asked_by: str | None) -> str:
    icon = ":white_check_mark:" if not result.lost and not result.partial else ":rotating_light:"
    who = f"{user_ref(asked_by)} swept" if asked_by else "Sweep of"
    return f"{icon} {who} the last {escape(window.label())}: {escape(summary_line(result, window))}"


def breakdown_blocks(result: SweepResult) -> list[dict[str, Any]]:
    """Per cause: a section (count, amount, hint), then up to EXAMPLES people with a Check button."""
    blocks: list[dict[str, Any]] = []
    for cid, cause in list(result.by_cause.items())[:MAX_CAUSES]:
        hint = HINTS.get(cid, "Check an example for the full report.")
        blocks.append({"type": "section", "text": mrkdwn(
            f"*{escape(cid)}* · {cause.count} payment{'s' if cause.count != 1 else ''} · "
            f"{usd(cause.amount_usd)}\n{escape(hint)}")})
        for lo in [x for x in result.lost if x.verdict.check == cid][:EXAMPLES]:
            line = f"{escape(lo.query)} · `{escape(lo.payment.id)}` · {escape(lo.payment.paid_at[:16])} UTC"
            if parse_command_text(lo.query).query is None:  # no email or customer: a button could check no one
                blocks.append({"type": "section", "text": mrkdwn(f"{line} · _no email or customer to check_")})
                continue
            blocks.append({
                "type": "section",
                "text": mrkdwn(line),
                "accessory": {"type": "button", "action_id": CHECK_ACTION_ID,
                              "text": {"type": "plain_text", "text": "Check"},
                              "value": lo.query[:MAX_BUTTON_VALUE]},  # whole: a cut email checks no one
            })
    if len(result.by_cause) > MAX_CAUSES:
        blocks.append({"type": "context", "elements": [mrkdwn(
            f"…and {len(result.by_cause) - MAX_CAUSES} more causes: run `fpcheck sweep` for all of them.")]})
    if result.incomplete:
        text = "*Partial:* " + "; ".join(escape(r) for r in result.incomplete)
        blocks.append({"type": "section", "text": mrkdwn(text[:2900])})
    if not blocks:
        blocks.append({"type": "section", "text": mrkdwn("Nothing looks lost.")})
    return blocks


def post_sweep(client: WebClient, channel: str, result: SweepResult, window: Window, asked_by: str | None) -> str:
    """Post the parent and the threaded breakdown; returns the parent's ts."""
    text = parent_text(result, window, asked_by)
    parent = client.chat_postMessage(channel=channel, text=text,
                                     blocks=[{"type": "section", "text": mrkdwn(text[:2900])}])
    ts = parent["ts"]
    client.chat_postMessage(channel=channel, thread_ts=ts, text="Lost commissions by cause",
                            blocks=breakdown_blocks(result))
    return ts


def register(app: App, service: Service) -> None:
    """Must run before the /fpcheck check listener is registered: Bolt gives a command to the first
    listener whose matchers accept it."""
    app.command("/fpcheck", matchers=[is_sweep])(ack=bound(ack_sweep, service), lazy=[bound(run_sweep, service)])
    app.action(CHECK_ACTION_ID)(ack=just_ack, lazy=[bound(run_check, service)])


ADMITTED = "fpcheck_sweep"  # context key: the Sweep the ack admitted, for the lazy run


@dataclass(frozen=True)
class Sweep:
    """An admitted sweep: who asked, where, for which window, since when, under which reference."""

    asker: Asker
    text: str
    window: Window
    started: float
    ref: str = field(default_factory=new_ref)


def ack_sweep(service: Service, ack: Callable[..., Any], command: dict, context: dict) -> None:
    # the only place the text is read and the allow-list and limits checked; the run reads what was admitted
    asker = Asker(command.get("user_id"), command.get("channel_id"), context.get("team_id"))
    text = (command.get("text") or "").strip()
    try:
        window = parse_sweep(text)
    except QueryError as exc:
        ack(response_type="ephemeral", text=f":thinking_face: {escape(str(exc))}\n\n{USAGE}")
        return
    if getattr(getattr(service.engine, "settings", None), "firstpromoter_v1", False):
        ack(response_type="ephemeral", text=f":information_source: {escape(v1_cannot_sweep('A sweep'))}")
        return
    started = received(context)
    refused = service.admit_sweep(asker, text[:100], started, window.to_json())
    if refused is not None:
        said = denied_text(refused) if refused.limited is not None else sweep_denial_text(refused)
        ack(response_type="ephemeral", text=said)
        return
    context[ADMITTED] = Sweep(asker, text[:100], window, started)
    ack(response_type="ephemeral", text=f":hourglass_flowing_sand: Sweeping the last {window.label()}…")


def sweep_denial_text(denied: Denied) -> str:
    """Why the asker may not sweep: the channel, or who may (FPCHECK_SWEEP_USERS, else who may check)."""
    if denied.channel:
        return denial_text(denied.channels, denied.users, channel_denied=True)
    return denial_text(denied.channels, denied.users, channel_denied=False, what="A sweep")


def run_sweep(service: Service, client: WebClient, respond: Callable[..., Any], context: dict) -> None:
    sweep = context.get(ADMITTED)
    if not isinstance(sweep, Sweep):  # the ack already answered (usage, denial, limit)
        return
    engine: Any = service.engine
    counts: dict[str, object] = dict(sweep.window.to_json())
    try:
        result = Sweeper(engine.settings, engine=engine).run(sweep.window)
        counts.update(payments=result.scanned.get("payments"), lost=len(result.lost), partial=result.partial)
        post_sweep(client, sweep.asker.channel or "", result, sweep.window, sweep.asker.user)
    except Exception as exc:
        log.exception("sweep ref %s failed", sweep.ref)
        service.swept(sweep.ref, sweep.asker, sweep.text, sweep.started, counts, error=failure_reason(exc))
        if not tell_privately(respond, f":warning: The sweep failed unexpectedly (reference `{sweep.ref}`)."):
            log.error("sweep ref %s: could not tell %s either", sweep.ref, sweep.asker.user)
        return
    service.swept(sweep.ref, sweep.asker, sweep.text, sweep.started, counts)


def run_check(service: Service, body: dict, action: dict, client: WebClient, context: dict,
              respond: Callable[..., Any] | None = None) -> None:
    """The Check button beside a lost payment: that person's report, in the sweep's thread, through the
    same request as /fpcheck (allow-list, limits, deadline, audit line)."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    asker = Asker((body.get("user") or {}).get("id"), channel, context.get("team_id"))
    message = body.get("message") or {}  # absent when the button is in an ephemeral message
    thread = (message.get("thread_ts") or message.get("ts") or container.get("thread_ts")
              or container.get("message_ts"))
    value = action.get("value")
    face = Pressed(client, asker, thread, rerun=False, respond=respond or _no_response_url)
    text = parse_command_text(value if isinstance(value, str) else None)
    last_resort("sweep check", lambda: service.ask("sweep_check", asker, text, received(context), face))


def _no_response_url(**_: Any) -> None:
    raise ValueError("no response_url")  # as Bolt's respond() says when the request had none


@dataclass(frozen=True)
class Pressed(InThread):
    """The Check button's answers: the report in the sweep's thread, the rest whispered there; when
    Slack will not take a whisper or the post (the bot was removed from the channel), privately
    through the press's response_url instead, so every press is answered."""

    respond: Callable[..., Any] = _no_response_url  # the press's response_url

    def say(self, text: str) -> None:
        if not whisper(self.client, self.asker, self.thread_ts, text) and not tell_privately(self.respond, text):
            log.error("could not answer %s's Check button in any way", self.asker.user)

    def unreadable(self, problem: str | None) -> None:
        # not one of our queries (a payment with neither email nor customer, an old or edited button)
        said = escape(problem).rstrip(".") if problem else "it is empty"
        self.say(f":warning: There is no one to check behind this button: {said}. A payment with no email "
                 "or Stripe customer cannot be checked; look it up in Stripe.")

    def deliver(self, request: Request, report: Report) -> Delivery:
        try:
            return super().deliver(request, report)
        except SlackApiError as exc:
            error = post_problem(exc)
            if error not in NO_POST_HERE:
                raise
        log.info("cannot post in %s (%s); answering %s's Check privately", self.asker.channel, error,
                 self.asker.user)
        blocks = report_blocks(report, asked_by=self.asker.user, note=fallback_note(self.asker.channel, error))
        respond_checked(self.respond, text=fallback_text(report), blocks=blocks, response_type="ephemeral",
                        replace_original=False)
        return Delivery("fallback", error)


def digest_poster(client: WebClient, channel: str, engine: Any) -> Callable[[Window], None]:
    """What the scheduled digest does at its time: sweep the window and post it in `channel`."""

    def post(window: Window) -> None:
        result = Sweeper(engine.settings, engine=engine).run(window)
        post_sweep(client, channel, result, window, None)

    return post
