"""The global shortcut "Check a customer" (and the App Home's button): a modal with the query and
where the answer goes.  The submission is read and admitted in its ack, so a malformed query is an
error under the field (`response_action: errors`) and a refusal replaces the modal with the reason;
an admitted one becomes "Checking…" and is run on the worker pool like /fpcheck (bot/service.py:
allow-list, limits, deadline, audit line `"via": "modal"`).

Where the answer goes.  A global shortcut comes from no conversation: there is no channel to answer
in and no response_url, and Slack's ephemeral messages (chat.postEphemeral) need a conversation the
person is in.  So the modal has a conversations_select, empty by default, and an "Only me" box:
- a conversation, not "only me": the report is posted there like /fpcheck's (a verdict line, the
  report threaded under it); where fpcheck may not post, privately instead;
- a conversation and "only me": an ephemeral message in that conversation, through the response_url
  Slack hands out for the picked conversation (`response_url_enabled`: it works where fpcheck is not
  a member);
- no conversation: a direct message from fpcheck (chat.postMessage to the person's user id, which
  lands in fpcheck's Messages tab; chat:write is all it needs).
The allow-lists apply to the conversation picked; none picked is a direct message, which a channel
allow-list refuses, as it refuses /fpcheck in a DM.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.service import DELIVERED, Asker, Delivery, Denied, Request, Service, read
from bot.slack.arrival import received
from bot.slack.blocks import (
    Block,
    Rerun,
    cut,
    escape,
    failure_text,
    fallback_text,
    mrkdwn,
    parent_blocks,
    parent_text,
    report_blocks,
)
from bot.slack.dedupe import SeenStore
from bot.slack.reply import (
    denied_text,
    failure_reason,
    fallback_note,
    last_resort,
    post_problem,
    reply_address_ok,
    respond_checked,
    too_late_text,
    unconfirmed_note,
)
from bot.slack.shortcuts import Once, with_deps
from bot.visible import visible
from checks.model import Report

log = logging.getLogger("fpcheck.slack")

GLOBAL_SHORTCUT = "fpcheck_global_check"  # app.yaml features.shortcuts[].callback_id (a test holds them equal)
MODAL = "fpcheck_check_modal"  # the modal's callback_id: its submission comes back under it
QUERY_BLOCK, QUERY_ACTION = "fpcheck_query", "query"
WHERE_BLOCK, WHERE_ACTION = "fpcheck_where", "conversation"
ONLY_ME_BLOCK, ONLY_ME_ACTION, ONLY_ME = "fpcheck_only_me", "only_me", "only_me"
ADMITTED = "fpcheck_modal_request"  # context key: (Request, Where) the ack admitted, for the lazy run
MAX_ERROR = 150  # characters of an error shown under a field


def register(app: App, service: Service, seen: SeenStore, reply_origins: tuple[str, ...]) -> None:
    once = Once(seen)
    app.global_shortcut(GLOBAL_SHORTCUT)(with_deps(open_from_shortcut, once))
    app.view_submission(MODAL)(ack=with_deps(ack_submission, service, once, reply_origins),
                               lazy=[with_deps(run_submission, service)])


def modal_view(query: str = "") -> dict[str, Any]:
    query_input: dict[str, Any] = {
        "type": "plain_text_input", "action_id": QUERY_ACTION, "max_length": 320,
        "placeholder": {"type": "plain_text", "text": "jane@example.com or cus_Q1a2B3c4D5e6F7"},
    }
    if query:
        query_input["initial_value"] = query
    return {
        "type": "modal",
        "callback_id": MODAL,
        "title": {"type": "plain_text", "text": "Check a customer"},
        "submit": {"type": "plain_text", "text": "Check"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "input", "block_id": QUERY_BLOCK, "element": query_input,
             "label": {"type": "plain_text", "text": "Customer email or Stripe customer id"}},
            {"type": "input", "block_id": WHERE_BLOCK, "optional": True,
             "label": {"type": "plain_text", "text": "Post the report in"},
             "element": {"type": "conversations_select", "action_id": WHERE_ACTION, "response_url_enabled": True,
                         "placeholder": {"type": "plain_text", "text": "No conversation: a direct message to you"},
                         "filter": {"include": ["public", "private"], "exclude_bot_users": True}},
             "hint": {"type": "plain_text", "text": "Leave it empty and the report comes to you, from fpcheck, "
                                                    "in a direct message."}},
            {"type": "input", "block_id": ONLY_ME_BLOCK, "optional": True,
             "label": {"type": "plain_text", "text": "Who sees it"},
             "element": {"type": "checkboxes", "action_id": ONLY_ME_ACTION, "options": [
                 {"text": {"type": "plain_text", "text": "Only me"}, "value": ONLY_ME,
                  "description": {"type": "plain_text", "text": "In the conversation above, visible only to you"}}]}},
        ],
    }


def notice_view(text: str) -> dict[str, Any]:
    """A modal that only says something (what is being checked, or why not)."""
    return {"type": "modal", "callback_id": MODAL + "_notice", "title": {"type": "plain_text", "text": "fpcheck"},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": [{"type": "section", "text": mrkdwn(cut(text, 2900))}]}


def open_modal(client: WebClient, trigger_id: str | None, user: str | None) -> None:
    """views.open, within the 3 s the trigger_id lasts (so in the ack, never queued behind checks)."""
    try:
        client.views_open(trigger_id=trigger_id or "", view=modal_view())
    except (SlackApiError, OSError) as exc:
        log.warning("could not open the Check a customer modal for %s: %s", user, post_problem(exc))


def open_from_shortcut(once: Once, ack: Callable[..., Any], shortcut: dict, client: WebClient) -> None:
    ack()
    if once.first(shortcut, "global shortcut"):
        open_modal(client, shortcut.get("trigger_id"), (shortcut.get("user") or {}).get("id"))


@dataclass(frozen=True)
class Where:
    """Where the answer goes: a conversation (None: a direct message), privately or not, and the
    response_url Slack gave for the conversation (None when it gave none, or not a Slack address)."""

    channel: str | None
    only_me: bool
    response_url: str | None

    def words(self) -> str:
        if self.channel is None:
            return "The report will come to you in a direct message from fpcheck."
        if self.only_me:
            return f"The report will appear in <#{self.channel}>, visible only to you."
        return f"The report will be posted in <#{self.channel}>."


def read_where(body: dict, values: dict, origins: tuple[str, ...]) -> Where:
    picked = ((values.get(WHERE_BLOCK) or {}).get(WHERE_ACTION) or {}).get("selected_conversation")
    options = ((values.get(ONLY_ME_BLOCK) or {}).get(ONLY_ME_ACTION) or {}).get("selected_options") or []
    channel = picked if isinstance(picked, str) and picked else None
    url = next((r.get("response_url") for r in body.get("response_urls") or []
                if isinstance(r, dict) and r.get("block_id") == WHERE_BLOCK and r.get("channel_id") == channel), None)
    if isinstance(url, str) and not reply_address_ok(url, origins):
        log.warning("ignored a modal's response_url that is not a Slack address")
        url = None
    return Where(channel, any(isinstance(o, dict) and o.get("value") == ONLY_ME for o in options),
                 url if isinstance(url, str) else None)


def ack_submission(service: Service, once: Once, origins: tuple[str, ...], ack: Callable[..., Any], body: dict,
                   view: dict, context: dict) -> None:
    if not once.first(body, "modal submission"):
        ack()
        return
    values = (view.get("state") or {}).get("values") or {}
    text = ((values.get(QUERY_BLOCK) or {}).get(QUERY_ACTION) or {}).get("value")
    where = read_where(body, values, origins)
    asker = Asker((body.get("user") or {}).get("id"), where.channel, context.get("team_id"))
    # the only place the query is read and the allow-list checked; the run reads what was admitted
    request = service.admit("modal", asker, read(text), received(context), InModal(ack))
    if request is not None:
        context[ADMITTED] = (request, where)
        ack(response_action="update",
            view=notice_view(f":hourglass_flowing_sand: Checking {escape(request.query.raw)}… {where.words()}"))


def run_submission(service: Service, client: WebClient, context: dict) -> None:
    admitted = context.get(ADMITTED)
    if isinstance(admitted, tuple) and isinstance(admitted[0], Request):  # else the ack answered
        request, where = admitted
        last_resort("modal", lambda: service.serve(request, ToChosen(client, request.asker, where)))


@dataclass(frozen=True)
class InModal:
    """What the submission's ack answers when nothing will run: the field's error, or the refusal."""

    ack: Callable[..., Any]

    def unreadable(self, problem: str | None) -> None:
        why = problem or "Give one customer email or Stripe customer id (cus_...)."
        self.ack(response_action="errors", errors={QUERY_BLOCK: cut(visible(why), MAX_ERROR)})

    def denied(self, denied: Denied) -> None:
        self.ack(response_action="update", view=notice_view(denied_text(denied)))


@dataclass(frozen=True)
class ToChosen:
    """Delivers where the modal said (see the module's docstring); the rest only to the asker."""

    client: WebClient
    asker: Asker
    where: Where
    reason = staticmethod(failure_reason)

    def deliver(self, request: Request, report: Report) -> Delivery:
        user, channel, query = self.asker.user, self.where.channel, request.query.raw
        if channel is None or self.where.only_me:
            self._privately(fallback_text(report), report_blocks(report, asked_by=user, rerun=Rerun(query, None, user)))
            return DELIVERED
        try:
            parent = self.client.chat_postMessage(channel=channel, text=parent_text(report, user),
                                                  blocks=parent_blocks(report, user))
        except (SlackApiError, OSError) as exc:
            error = post_problem(exc)
            note = fallback_note(channel, error) if isinstance(exc, SlackApiError) else unconfirmed_note(error)
            self._privately(fallback_text(report),
                            report_blocks(report, asked_by=user, rerun=Rerun(query, None, user), note=note))
            return Delivery("fallback", error)
        self.client.chat_postMessage(channel=channel, thread_ts=parent["ts"], text=fallback_text(report),
                                     blocks=report_blocks(report, asked_by=user, rerun=Rerun(query, parent["ts"], user)))
        return DELIVERED

    def too_late(self, request: Request, waited: float) -> None:
        self._privately(too_late_text(request.query.raw, waited))

    def failed(self, request: Request) -> None:
        self._privately(failure_text(request.ref, request.query.raw))

    def _privately(self, text: str, blocks: list[Block] | None = None) -> None:
        """Ephemeral in the picked conversation through its response_url, else a direct message."""
        if self.where.channel is not None and self.where.response_url:
            try:
                respond_checked(Respond(response_url=self.where.response_url), text=text, blocks=blocks,
                                response_type="ephemeral", replace_original=False)
                return
            except Exception as exc:  # expired (30 min, 5 uses) or unreachable: a direct message instead
                log.info("the modal's response_url did not take the answer (%s); sending a direct message",
                         type(exc).__name__)
        self.client.chat_postMessage(channel=self.asker.user or "", text=text, blocks=blocks)
