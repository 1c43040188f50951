"""The "Run again" button under a report: re-checks the same query and replaces the report in place
(and refreshes the channel's verdict line above it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.service import DELIVERED, Asker, Delivery, Denied, Request, Service
from bot.slack.arrival import bound, just_ack, received
from bot.slack.blocks import (
    RERUN_ACTION_ID,
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
    last_resort,
    note_of,
    respond_checked,
    tell_privately,
    too_late_text,
)
from bot.slack.text import parse_command_text
from checks.model import Report

log = logging.getLogger("fpcheck.slack")


def register(app: App, service: Service) -> None:
    app.action(RERUN_ACTION_ID)(ack=just_ack, lazy=[bound(run_again, service)])


def run_again(
    service: Service, body: dict, action: dict, client: WebClient, respond: Callable[..., Any], context: dict
) -> None:
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    asker = Asker((body.get("user") or {}).get("id"), channel, context.get("team_id"))
    # an unreadable value (not one of our buttons) carries no query: the face then says so
    rerun = Rerun.from_value(action.get("value")) or Rerun("")
    face = Again(client, respond, body, rerun)
    last_resort("button", lambda: service.ask("button", asker, parse_command_text(rerun.query), received(context),
                                              face))


@dataclass(frozen=True)
class Again:
    """Replaces the report under the button (and refreshes the channel's verdict line above it); the
    rest is answered privately, leaving the report as it was."""

    client: WebClient
    respond: Callable[..., Any]
    body: dict
    rerun: Rerun
    reason = staticmethod(failure_reason)

    def unreadable(self, problem: str | None) -> None:
        # not one of our buttons, or its query no longer reads (the service audited the press)
        log.warning("Run again pressed with an unreadable value")
        self._tell(f":warning: This button holds nothing fpcheck can check ({escape(problem or 'it is empty')}); "
                   "ask with `/fpcheck EMAIL` instead.")

    def denied(self, denied: Denied) -> None:
        self._tell(denied_text(denied))

    def deliver(self, request: Request, report: Report) -> Delivery:
        container, message = self.body.get("container") or {}, self.body.get("message") or {}
        rerun, pressed_by = self.rerun, request.asker.user
        if container.get("is_ephemeral"):
            # the private fallback report: only its response_url can replace it
            blocks = report_blocks(report, asked_by=rerun.asked_by, rerun=rerun, rerun_by=pressed_by,
                                   note=note_of(message))
            respond_checked(self.respond, text=fallback_text(report), blocks=blocks, response_type="ephemeral",
                            replace_original=True)
            return Delivery("fallback")
        channel = request.asker.channel or ""
        self.client.chat_update(
            channel=channel,
            ts=message.get("ts") or container.get("message_ts") or "",
            text=fallback_text(report),
            blocks=report_blocks(report, asked_by=rerun.asked_by, rerun=rerun, rerun_by=pressed_by),
        )
        if rerun.parent_ts:
            _refresh_parent(self.client, channel, rerun, report)
        return DELIVERED

    def too_late(self, request: Request, waited: float) -> None:
        self._tell(too_late_text(request.query.raw, waited))

    def failed(self, request: Request) -> None:
        self._tell(failure_text(request.ref, request.query.raw))

    def _tell(self, text: str) -> None:
        if not tell_privately(self.respond, text):  # an answer before the run must not raise out of it
            log.error("could not answer %s's Run again press", (self.body.get("user") or {}).get("id"))


def _refresh_parent(client: WebClient, channel: str, rerun: Rerun, report: Report) -> None:
    """Keep the channel's verdict line in step with the refreshed report (best effort)."""
    try:
        client.chat_update(
            channel=channel,
            ts=rerun.parent_ts or "",
            text=parent_text(report, rerun.asked_by),
            blocks=parent_blocks(report, rerun.asked_by),
        )
    except SlackApiError as exc:
        log.warning("could not refresh the parent message %s: %s", rerun.parent_ts, exc.response.get("error"))
