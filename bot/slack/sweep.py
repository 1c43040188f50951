"""`/fpcheck sweep 7d` in Slack: acknowledged at once, then a parent message with the summary line
and, threaded under it, the breakdown by cause with examples, each with a "Check" button that posts
that person's full report in the thread."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.service import Asker, Service, new_ref
from bot.slack.arrival import bound, just_ack, received
from bot.slack.blocks import denial_text, escape, user_ref
from bot.slack.mention import InThread
from bot.slack.reply import last_resort
from bot.slack.text import parse_command_text
from bot.sweep_cli import EXAMPLES, HINTS, summary_line, usd
from checks.query import QueryError
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
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": (
            f"*{escape(cid)}* · {cause.count} payment{'s' if cause.count != 1 else ''} · "
            f"{usd(cause.amount_usd)}\n{escape(hint)}")}})
        for lo in [x for x in result.lost if x.verdict.check == cid][:EXAMPLES]:
            blocks.append({
                "type": "section",
                "text": {"type": "mrkdwn", "text": (
                    f"{escape(lo.query)} · `{escape(lo.payment.id)}` · {escape(lo.payment.paid_at[:16])} UTC")},
                "accessory": {"type": "button", "action_id": CHECK_ACTION_ID,
                              "text": {"type": "plain_text", "text": "Check"},
                              "value": lo.query[:200]},
            })
    if len(result.by_cause) > MAX_CAUSES:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"…and {len(result.by_cause) - MAX_CAUSES} more causes: run `fpcheck sweep` for all of them.")}]})
    if result.incomplete:
        text = "*Partial:* " + "; ".join(escape(r) for r in result.incomplete)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}})
    if not blocks:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "Nothing looks lost."}})
    return blocks


def post_sweep(client: WebClient, channel: str, result: SweepResult, window: Window, asked_by: str | None) -> str:
    """Post the parent and the threaded breakdown; returns the parent's ts."""
    text = parent_text(result, window, asked_by)
    parent = client.chat_postMessage(channel=channel, text=text,
                                     blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}])
    ts = parent["ts"]
    client.chat_postMessage(channel=channel, thread_ts=ts, text="Lost commissions by cause",
                            blocks=breakdown_blocks(result))
    return ts


def register(app: App, service: Service) -> None:
    """Must run before the /fpcheck check listener is registered: Bolt gives a command to the first
    listener whose matchers accept it."""
    engine: Any = service.engine

    def denial(user: str | None, channel: str | None) -> str | None:
        denied = service.denial(Asker(user, channel))
        if denied is None:
            return None
        return denial_text(service.allowed_channels, service.allowed_users, channel_denied=denied.channel)

    def ack_sweep(ack: Callable[..., Any], command: dict) -> None:
        try:
            window = parse_sweep(command.get("text"))
        except QueryError as exc:
            ack(response_type="ephemeral", text=f":thinking_face: {escape(str(exc))}\n\n{USAGE}")
            return
        denied = denial(command.get("user_id"), command.get("channel_id"))
        if denied:
            ack(response_type="ephemeral", text=denied)
            return
        ack(response_type="ephemeral", text=f":hourglass_flowing_sand: Sweeping the last {window.label()}…")

    def run_sweep(command: dict, client: WebClient, respond: Callable[..., Any]) -> None:
        user, channel = command.get("user_id"), command.get("channel_id") or ""
        try:
            window = parse_sweep(command.get("text"))
        except QueryError:
            return
        if denial(user, channel):
            return
        ref = new_ref()
        try:
            result = Sweeper(engine.settings, engine=engine).run(window)
            post_sweep(client, channel, result, window, user)
            log.info("sweep ref %s by %s in %s: %d lost of %d payments", ref, user, channel, len(result.lost),
                     result.scanned["payments"])
        except Exception:
            log.exception("sweep ref %s failed", ref)
            try:
                respond(response_type="ephemeral", replace_original=False,
                        text=f":warning: The sweep failed unexpectedly (reference `{ref}`).")
            except Exception:
                log.error("sweep ref %s: could not tell %s either", ref, user)

    app.command("/fpcheck", matchers=[is_sweep])(ack=ack_sweep, lazy=[run_sweep])
    app.action(CHECK_ACTION_ID)(ack=just_ack, lazy=[bound(run_check, service)])


def run_check(service: Service, body: dict, action: dict, client: WebClient, context: dict) -> None:
    """The Check button beside a lost payment: that person's report, in the sweep's thread, through the
    same request as /fpcheck (allow-list, deadline, audit line)."""
    asker = Asker((body.get("user") or {}).get("id"), (body.get("channel") or {}).get("id"), context.get("team_id"))
    message = body.get("message") or {}
    face = InThread(client, asker, message.get("thread_ts") or message.get("ts"), rerun=False)
    text = parse_command_text(action.get("value"))
    last_resort("sweep check", lambda: service.ask("sweep_check", asker, text, received(context), face))


def digest_poster(client: WebClient, channel: str, engine: Any) -> Callable[[Window], None]:
    """What the scheduled digest does at its time: sweep the window and post it in `channel`."""

    def post(window: Window) -> None:
        result = Sweeper(engine.settings, engine=engine).run(window)
        post_sweep(client, channel, result, window, None)

    return post
