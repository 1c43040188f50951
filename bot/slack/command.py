"""`/fpcheck EMAIL`: acked at once with "Checking…" (or usage, or a denial), then checked on the
app's worker pool; the report is threaded under a short parent message in the channel, or sent
privately through the command's response_url when the bot cannot post there."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import audit
from bot.service import Asker, Denied, Request, Service, TooLate
from bot.slack.arrival import received
from bot.slack.blocks import (
    Rerun,
    denial_text,
    escape,
    failure_text,
    fallback_text,
    parent_blocks,
    parent_text,
    report_blocks,
)
from bot.slack.reply import (
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
    def ack_command(ack: Callable[..., Any], command: dict, context: dict) -> None:
        # the only place the text is parsed and the allow-list checked; the run reads what was admitted
        parsed = parse_command_text(command.get("text"))
        if parsed.query is None:
            ack(response_type="ephemeral", text=usage_with(parsed.problem))
            return
        asker = Asker(command.get("user_id"), command.get("channel_id"), context.get("team_id"))
        admitted = service.admit("command", asker, parsed.query, received(context))
        if isinstance(admitted, Denied):
            ack(response_type="ephemeral", text=denial_text(
                service.allowed_channels, service.allowed_users, channel_denied=admitted.channel))
            return
        context[ADMITTED] = admitted  # Bolt hands lazy listeners a copy of the context, after the ack
        ack(response_type="ephemeral", text=f":hourglass_flowing_sand: Checking {escape(parsed.query.raw)}…")

    def run_command(client: WebClient, respond: Callable[..., Any], context: dict) -> None:
        request = context.get(ADMITTED)
        if isinstance(request, Request):  # else the ack already answered (usage or denial)
            last_resort("command", lambda: _run(service, request, client, respond))

    app.command("/fpcheck")(ack=ack_command, lazy=[run_command])


def _run(service: Service, request: Request, client: WebClient, respond: Callable[..., Any]) -> None:
    report: Report | None = None
    try:
        report = service.run(request)
        outcome, detail = _deliver(client, respond, request, report)
        service.delivered(request, outcome, report, detail)
    except TooLate as exc:
        service.expired(request, exc)
        with contextlib.suppress(Exception):
            respond_checked(respond, text=too_late_text(request.query.raw, exc.waited), response_type="ephemeral")
    except Exception as exc:
        service.failed(request.via, request.ref, request.asker, request.query.raw, report, request.started, exc,
                       failure_reason(exc))
        try:
            respond_checked(respond, text=failure_text(request.ref, request.query.raw), response_type="ephemeral")
        except Exception as notice:  # Slack is unreachable altogether: the log is all there is
            log.error("fpcheck command ref %s: could not tell %s either (%s)", request.ref, request.asker.user,
                      type(notice).__name__)


def _deliver(
    client: WebClient, respond: Callable[..., Any], request: Request, report: Report
) -> tuple[audit.Ending, str | None]:
    asker, query = request.asker, request.query
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
        error = post_problem(exc)
        if isinstance(exc, SlackApiError):
            log.info("cannot post in %s (%s); answering %s privately", asker.channel, error, asker.user)
            note = fallback_note(asker.channel, error)
        else:
            log.warning("posting in %s failed (%s); answering %s privately", asker.channel, error, asker.user)
            note = unconfirmed_note(error)
        blocks = report_blocks(report, asked_by=asker.user, rerun=Rerun(query.raw, None, asker.user), note=note)
        respond_checked(respond, text=fallback_text(report), blocks=blocks, response_type="ephemeral",
                        replace_original=False)
        return "fallback", error
    parent_ts = parent["ts"]
    client.chat_postMessage(
        channel=asker.channel or "",
        thread_ts=parent_ts,
        text=fallback_text(report),
        blocks=report_blocks(report, asked_by=asker.user, rerun=Rerun(query.raw, parent_ts, asker.user)),
    )
    return "delivered", None
