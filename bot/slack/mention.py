"""`@fpcheck EMAIL` in a thread (slash commands do not work in threads): the report is posted in the
mention's thread; usage, denials and failures are whispered to the asker there."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient

from bot.service import DELIVERED, Asker, Delivery, Denied, Request, Service
from bot.slack.arrival import bound, just_ack, received
from bot.slack.blocks import Rerun, failure_text, fallback_text, report_blocks
from bot.slack.reply import denied_text, failure_reason, last_resort, too_late_text, whisper
from bot.slack.text import parse_mention_text, usage_with
from checks.model import Report


def register(app: App, service: Service) -> None:
    app.event("app_mention")(ack=just_ack, lazy=[bound(run_mention, service)])


def run_mention(service: Service, event: dict, client: WebClient, context: dict) -> None:
    asker = Asker(event.get("user"), event.get("channel"), context.get("team_id"))
    # reply in the thread the mention is in; a top-level mention starts a thread under itself
    face = InThread(client, asker, event.get("thread_ts") or event.get("ts"))
    text = parse_mention_text(event.get("text"))
    last_resort("mention", lambda: service.ask("mention", asker, text, received(context), face))


@dataclass(frozen=True)
class InThread:
    """Answers in a thread: the report is posted there, everything else whispered to the asker.  The
    sweep's Check button answers this way too, with no Run again button (`rerun`)."""

    client: WebClient
    asker: Asker
    thread_ts: str | None
    rerun: bool = True
    reason = staticmethod(failure_reason)

    def say(self, text: str) -> None:
        """Whisper to the asker in the thread (the Check button's face has a second way)."""
        whisper(self.client, self.asker, self.thread_ts, text)

    def unreadable(self, problem: str | None) -> None:
        self.say(usage_with(problem))

    def denied(self, denied: Denied) -> None:
        self.say(denied_text(denied))

    def deliver(self, request: Request, report: Report) -> Delivery:
        user = self.asker.user
        self.client.chat_postMessage(
            channel=self.asker.channel or "",
            thread_ts=self.thread_ts,
            text=fallback_text(report),
            blocks=report_blocks(report, asked_by=user, rerun=Rerun(request.query.raw, None, user) if self.rerun
                                 else None),
        )
        return DELIVERED

    def too_late(self, request: Request, waited: float) -> None:
        self.say(too_late_text(request.query.raw, waited))

    def failed(self, request: Request) -> None:
        self.say(failure_text(request.ref, request.query.raw))
