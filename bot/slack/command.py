"""`/fpcheck EMAIL`: acked at once with "Checking…" (or usage, or a denial), then checked on the
app's worker pool; the report is threaded under a short parent message in the channel, or sent
privately through the command's response_url when the bot cannot post there."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.service import DELIVERED, Asker, Delivery, Denied, Request, Service
from bot.slack.arrival import bound, received
from bot.slack.blocks import (
    Rerun,
    escape,
    failure_text,
    fallback_text,
    parent_blocks,
    parent_text,
    report_blocks,
)
from bot.slack.reply import (
    denied_text,
    failure_reason,
    fallback_note,
    last_resort,
    post_problem,
    respond_checked,
    too_late_text,
    unconfirmed_note,
)
from bot.slack.text import parse_command_text, usage_with
from checks.model import Report

log = logging.getLogger("fpcheck.slack")

ADMITTED = "fpcheck_request"  # context key: the Request the ack admitted, for the lazy run


def register(app: App, service: Service) -> None:
    app.command("/fpcheck")(ack=bound(ack_command, service), lazy=[bound(run_command, service)])


def ack_command(service: Service, ack: Callable[..., Any], command: dict, context: dict) -> None:
    # the only place the text is read and the allow-list checked; the run reads what was admitted
    asker = Asker(command.get("user_id"), command.get("channel_id"), context.get("team_id"))
    request = service.admit("command", asker, parse_command_text(command.get("text")), received(context), Acked(ack))
    if request is not None:
        context[ADMITTED] = request  # Bolt hands lazy listeners a copy of the context, after the ack
        ack(response_type="ephemeral", text=f":hourglass_flowing_sand: Checking {escape(request.query.raw)}…")


def run_command(service: Service, client: WebClient, respond: Callable[..., Any], context: dict) -> None:
    request = context.get(ADMITTED)
    if isinstance(request, Request):  # else the ack already answered (usage or denial)
        last_resort("command", lambda: service.serve(request, Reply(client, respond)))


@dataclass(frozen=True)
class Acked:
    """What the ack answers, privately, when nothing will run: usage, or a denial."""

    ack: Callable[..., Any]

    def unreadable(self, problem: str | None) -> None:
        self.ack(response_type="ephemeral", text=usage_with(problem))

    def denied(self, denied: Denied) -> None:
        self.ack(response_type="ephemeral", text=denied_text(denied))


@dataclass(frozen=True)
class Reply:
    """After the run: the report threaded under a short parent message in the channel, or privately
    through the command's response_url; too late and failed are answered privately."""

    client: WebClient
    respond: Callable[..., Any]
    reason = staticmethod(failure_reason)

    def deliver(self, request: Request, report: Report) -> Delivery:
        asker, query = request.asker, request.query
        try:
            parent = self.client.chat_postMessage(
                channel=asker.channel or "",
                text=parent_text(report, asker.user),
                blocks=parent_blocks(report, asker.user),
            )
        except (SlackApiError, OSError) as exc:
            # The bot cannot post there (not invited, a private channel, a DM between people...), or
            # Slack's API is slow, down or garbled: the report is ready, so the asker still gets all
            # of it, privately, through the command's response_url (a separate endpoint).
            error = post_problem(exc)
            if isinstance(exc, SlackApiError):
                log.info("cannot post in %s (%s); answering %s privately", asker.channel, error, asker.user)
                note = fallback_note(asker.channel, error)
            else:
                log.warning("posting in %s failed (%s); answering %s privately", asker.channel, error, asker.user)
                note = unconfirmed_note(error)
            blocks = report_blocks(report, asked_by=asker.user, rerun=Rerun(query.raw, None, asker.user), note=note)
            respond_checked(self.respond, text=fallback_text(report), blocks=blocks, response_type="ephemeral",
                            replace_original=False)
            return Delivery("fallback", error)
        parent_ts = parent["ts"]
        self.client.chat_postMessage(
            channel=asker.channel or "",
            thread_ts=parent_ts,
            text=fallback_text(report),
            blocks=report_blocks(report, asked_by=asker.user, rerun=Rerun(query.raw, parent_ts, asker.user)),
        )
        return DELIVERED

    def too_late(self, request: Request, waited: float) -> None:
        respond_checked(self.respond, text=too_late_text(request.query.raw, waited), response_type="ephemeral")

    def failed(self, request: Request) -> None:
        respond_checked(self.respond, text=failure_text(request.ref, request.query.raw), response_type="ephemeral")
