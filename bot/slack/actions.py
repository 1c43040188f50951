"""The "Run again" button under a report: re-checks the same query and replaces the report in place
(and refreshes the channel's verdict line above it)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import audit
from bot.service import Asker, Denied, Request, Service, TooLate, new_ref
from bot.slack.arrival import received
from bot.slack.blocks import (
    RERUN_ACTION_ID,
    Rerun,
    denial_text,
    failure_text,
    fallback_text,
    parent_blocks,
    parent_text,
    report_blocks,
)
from bot.slack.reply import failure_reason, last_resort, note_of, respond_checked, too_late_text
from bot.slack.text import parse_query
from checks.facts import Query
from checks.model import Report

log = logging.getLogger("fpcheck.slack")


def register(app: App, service: Service) -> None:
    def just_ack(ack: Callable[..., Any]) -> None:
        ack()

    def run_again(body: dict, action: dict, client: WebClient, respond: Callable[..., Any], context: dict) -> None:
        last_resort("button", lambda: _run(service, body, action, client, respond, context))

    app.action(RERUN_ACTION_ID)(ack=just_ack, lazy=[run_again])


def _run(
    service: Service, body: dict, action: dict, client: WebClient, respond: Callable[..., Any], context: dict
) -> None:
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    asker = Asker((body.get("user") or {}).get("id"), channel, context.get("team_id"))
    rerun = Rerun.from_value(action.get("value"))
    ref, started = new_ref(), received(context)
    if rerun is None:
        log.warning("Run again pressed with an unreadable value (ref %s)", ref)
        respond_checked(respond, text=failure_text(ref), response_type="ephemeral", replace_original=False)
        return
    query: Query | None = None
    request: Request | None = None
    report: Report | None = None
    try:
        query = parse_query(rerun.query)
        admitted = service.admit("button", asker, query, started)
        if isinstance(admitted, Denied):
            respond_checked(respond, response_type="ephemeral", replace_original=False, text=denial_text(
                service.allowed_channels, service.allowed_users, channel_denied=admitted.channel))
            return
        request = Request(admitted.via, asker, admitted.query, started, ref)
        report = service.run(request)
        message = body.get("message") or {}
        if container.get("is_ephemeral"):
            # the private fallback report: only its response_url can replace it
            blocks = report_blocks(
                report, asked_by=rerun.asked_by, rerun=rerun, rerun_by=asker.user, note=note_of(message)
            )
            respond_checked(respond, text=fallback_text(report), blocks=blocks, response_type="ephemeral",
                            replace_original=True)
            outcome: audit.Ending = "fallback"
        else:
            blocks = report_blocks(report, asked_by=rerun.asked_by, rerun=rerun, rerun_by=asker.user)
            client.chat_update(
                channel=channel or "",
                ts=message.get("ts") or container.get("message_ts") or "",
                text=fallback_text(report),
                blocks=blocks,
            )
            if rerun.parent_ts:
                _refresh_parent(client, channel or "", rerun, report)
            outcome = "delivered"
        service.delivered(request, outcome, report)
    except TooLate as exc:
        assert request is not None  # TooLate is raised only once the request is admitted
        service.expired(request, exc)
        with contextlib.suppress(Exception):
            respond_checked(respond, text=too_late_text(request.query.raw, exc.waited), response_type="ephemeral",
                            replace_original=False)
    except Exception as exc:
        service.failed("button", ref, asker, query.raw if query else rerun.query, report, started, exc,
                       failure_reason(exc))
        respond_checked(respond, text=failure_text(ref, rerun.query), response_type="ephemeral",
                        replace_original=False)


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
