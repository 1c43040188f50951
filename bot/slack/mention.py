"""`@fpcheck EMAIL` in a thread (slash commands do not work in threads): the report is posted in the
mention's thread; usage, denials and failures are whispered to the asker there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.service import Asker, Denied, Service, TooLate
from bot.slack.arrival import received
from bot.slack.blocks import Rerun, denial_text, failure_text, fallback_text, report_blocks
from bot.slack.reply import failure_reason, last_resort, too_late_text, whisper
from bot.slack.text import parse_mention_text, usage_with
from checks.model import Report


def register(app: App, service: Service) -> None:
    def just_ack(ack: Callable[..., Any]) -> None:
        ack()

    def run_mention(event: dict, client: WebClient, context: dict) -> None:
        last_resort("mention", lambda: _run(service, event, client, context))

    app.event("app_mention")(ack=just_ack, lazy=[run_mention])


def _run(service: Service, event: dict, client: WebClient, context: dict) -> None:
    asker = Asker(event.get("user"), event.get("channel"), context.get("team_id"))
    # reply in the thread the mention is in; a top-level mention starts a thread under itself
    thread_ts = event.get("thread_ts") or event.get("ts")
    parsed = parse_mention_text(event.get("text"))
    if parsed.query is None:
        whisper(client, asker, thread_ts, usage_with(parsed.problem))
        return
    request = service.admit("mention", asker, parsed.query, received(context))
    if isinstance(request, Denied):
        whisper(client, asker, thread_ts, denial_text(
            service.allowed_channels, service.allowed_users, channel_denied=request.channel))
        return
    query = request.query
    report: Report | None = None
    try:
        report = service.run(request)
        client.chat_postMessage(
            channel=asker.channel or "",
            thread_ts=thread_ts,
            text=fallback_text(report),
            blocks=report_blocks(report, asked_by=asker.user, rerun=Rerun(query.raw, None, asker.user)),
        )
        service.delivered(request, "delivered", report)
    except TooLate as exc:
        service.expired(request, exc)
        whisper(client, asker, thread_ts, too_late_text(query.raw, exc.waited))
    except Exception as exc:
        service.failed(request.via, request.ref, asker, query.raw, report, request.started, exc, failure_reason(exc))
        whisper(client, asker, thread_ts, failure_text(request.ref, query.raw))
