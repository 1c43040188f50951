"""The "Fix…" button under a failed report (FPCHECK_ALLOW_FIXES=true): a confirmation modal that
shows exactly what will change, then the repair through FirstPromoter's API, its result in the
thread, and, once FirstPromoter has had its ~2 minutes, the report re-checked in place.

- Only the users in FPCHECK_FIX_USERS may press it (empty: nobody); anyone else is told privately
  who may.  The modal opens at once (Slack's trigger_id lasts 3 s) and shows the plan when it is made.
- The plan travels in the modal's private_metadata (Slack signs what comes back), so a submit applies
  exactly what was shown; apply.py reads its preconditions again and refuses a stale plan.
- Two submits, or two replicas, apply once: the first to claim the plan in the event store (Redis
  when shared) applies it; the others are told privately.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.fix_audit import record_fix
from bot.service import DELIVERED, Asker, Delivery, Request, Service, new_ref
from bot.slack import blocks as slack_blocks
from bot.slack.arrival import just_ack
from bot.slack.blocks import (
    Block,
    Rerun,
    escape,
    fallback_text,
    mrkdwn,
    parent_blocks,
    parent_text,
    report_blocks,
    user_ref,
    verdict_text,
)
from bot.slack.dedupe import SeenStore
from bot.slack.reply import failure_reason, post_problem, tell_privately, whisper
from checks.fix.apply import FixResult, apply_plan
from checks.fix.plan import FixPlan, NoFix
from checks.fix.planner import MANUAL
from checks.fix.settings import FixSettings, writer_for
from checks.fix.words import nofix_lines, plan_lines
from checks.model import Report, Status
from checks.query import QueryError, parse_query

log = logging.getLogger("fpcheck.slack")

FIX_ACTION_ID = "fpcheck_fix"
FIX_VIEW_ID = "fpcheck_fix_confirm"
CUSTOMER_BLOCK, CUSTOMER_ACTION = "fpcheck_fix_customer", "customer"
MAX_METADATA = 3000  # Slack's limit on a view's private_metadata


def fix_button(report: Report, rerun: Rerun) -> Block | None:
    """"Fix…" beside Run again, under a report whose verdict is a failure fpcheck may repair."""
    v = report.verdict
    if v.status is not Status.FAIL or v.check is None or v.check in MANUAL:
        return None
    return {"type": "button", "action_id": FIX_ACTION_ID, "value": rerun.to_value(),
            "text": {"type": "plain_text", "text": "Fix…", "emoji": True}}


@dataclass(frozen=True)
class Where:
    """Where the report is: its channel and message, the thread it is in, who asked first."""

    channel: str
    report_ts: str
    thread_ts: str | None
    query: str
    parent_ts: str | None = None
    asked_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"c": self.channel, "r": self.report_ts, "t": self.thread_ts, "q": self.query, "p": self.parent_ts,
                "a": self.asked_by}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Where:
        return cls(str(d["c"]), str(d["r"]), d.get("t"), str(d["q"]), d.get("p"), d.get("a"))


class Fixer:
    """What the listeners share: the engine, the fix settings, the claim store, the recheck timers."""

    def __init__(self, engine: Any, fixes: FixSettings, store: SeenStore, service: Service | None = None) -> None:
        self.engine = engine
        self.service = service if service is not None else Service(engine)  # the re-check runs through it
        self.fixes = fixes
        self.store = store
        self.timers: list[threading.Timer] = []

    def allowed(self, user: str | None) -> bool:
        return bool(user) and user in self.fixes.fix_users

    def refusal(self) -> str:
        if not self.fixes.fpcheck_allow_fixes:
            return ":no_entry: Fixes are off here (FPCHECK_ALLOW_FIXES is not true): follow the report's steps instead."
        who = ", ".join(f"<@{u}>" for u in sorted(self.fixes.fix_users))
        if not who:
            return ":no_entry: Nobody may apply fixes from Slack here (FPCHECK_FIX_USERS is empty)."
        return f":no_entry: Only {who} may apply fixes from Slack. Ask one of them, or follow the report's steps."


def register(app: App, service: Service, engine: Any, store: SeenStore, fixes: FixSettings) -> None:
    """The Fix… button is drawn only when fixes are on and the engine can gather facts; its listeners
    are always there, so a button on an old report still gets an answer after fixes are turned off."""
    from checks.engine import Engine

    # a FirstPromoter v1 account has no import_events or batch API: no button, the report's steps
    usable = fixes.fpcheck_allow_fixes and isinstance(engine, Engine) and engine.wiring.fp_api_version == "v2"
    slack_blocks.EXTRA_BUTTONS[:] = [fix_button] if usable else []
    fixer = Fixer(engine, fixes, store, service)
    app.action(FIX_ACTION_ID)(ack=just_ack, lazy=[_bound(pressed, fixer)])
    app.view(FIX_VIEW_ID)(ack=just_ack, lazy=[_bound(submitted, fixer)])


def _bound(listener: Callable[..., None], fixer: Fixer) -> Callable[..., None]:
    def run(body: dict, client: WebClient, respond: Callable[..., Any], context: dict) -> None:
        try:
            listener(fixer, body, client, respond, context)
        except Exception:  # a bug must not vanish in Bolt's pool: the log has it, the person a line
            log.exception("the Fix… %s failed", listener.__name__)
    run.__name__ = listener.__name__
    return run


# ---------------------------------------------------------------- the button


def pressed(fixer: Fixer, body: dict, client: WebClient, respond: Callable[..., Any], context: dict) -> None:
    user = (body.get("user") or {}).get("id")
    container, message = body.get("container") or {}, body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
    if not fixer.fixes.fpcheck_allow_fixes or not fixer.allowed(user):
        log.info("refused a Fix… press by %s", user)
        tell_privately(respond, fixer.refusal())
        return
    action = next(iter(body.get("actions") or []), {})
    rerun = Rerun.from_value(action.get("value"))
    if rerun is None:
        tell_privately(respond, ":warning: This button holds nothing fpcheck can fix.")
        return
    where = Where(channel, message.get("ts") or container.get("message_ts") or "",
                  message.get("thread_ts") or rerun.parent_ts or message.get("ts"), rerun.query, rerun.parent_ts,
                  rerun.asked_by)
    try:  # at once: the trigger_id lasts 3 s, planning may take longer
        opened = client.views_open(trigger_id=body.get("trigger_id") or "", view=_modal([
            _text(f":hourglass_flowing_sand: Reading Stripe and FirstPromoter again for {escape(rerun.query)}…")]))
    except (SlackApiError, OSError) as exc:
        tell_privately(respond, f":warning: Slack would not open the fix dialog ({escape(post_problem(exc))}).")
        return
    view = opened.get("view") or {}
    view_blocks, metadata, can_apply = _planned(fixer, where, user)
    try:
        client.views_update(view_id=view.get("id") or "", hash=view.get("hash"),
                            view=_modal(view_blocks, metadata if can_apply else None))
    except (SlackApiError, OSError) as exc:
        log.warning("could not show the fix plan: %s", post_problem(exc))


def _planned(fixer: Fixer, where: Where, user: str | None) -> tuple[list[Block], str | None, bool]:
    """The modal's blocks for a fresh plan, its private_metadata, and whether it can be applied."""
    from checks.fix.diagnose import diagnose
    from checks.fix.planner import plan_fix

    try:
        report, facts = diagnose(fixer.engine, parse_query(where.query))
        planned = plan_fix(report, facts, actor=f"Slack user {user}", settle_s=fixer.fixes.fpcheck_fix_recheck_delay)
    except (QueryError, ValueError) as exc:
        return [_text(f":warning: {escape(str(exc))}")], None, False
    except Exception as exc:  # an upstream failure: said, nothing planned, nothing lost
        log.warning("planning a fix failed: %s", type(exc).__name__)
        return [_text(f":warning: fpcheck could not read Stripe and FirstPromoter to plan the fix "
                      f"({escape(str(exc)[:200])}). Nothing was changed; try again.")], None, False
    if report.setup_error:
        return [_text(f":warning: {escape(report.setup_error)}")], None, False
    if isinstance(planned, NoFix):
        return [_text("\n".join(escape(line) for line in nofix_lines(planned)))], None, False
    metadata = json.dumps({"w": where.to_dict(), "plan": planned.model_dump(mode="json", exclude={"notes"})},
                          separators=(",", ":"))
    if len(metadata) > MAX_METADATA:
        return [_text(":warning: This fix is too large to confirm in Slack: use `fpcheck fix` in a terminal.")], \
            None, False
    return _plan_blocks(planned), metadata, True


def _plan_blocks(plan: FixPlan) -> list[Block]:
    lines = plan_lines(plan)
    out: list[Block] = [_text(f"*{escape(lines[0])}*"), _text("\n".join(escape(line) for line in lines[1:]))]
    if plan.needs_choice:
        options = [{"text": {"type": "plain_text", "text": c.customer_id[:75]},
                    "description": {"type": "plain_text", "text": c.paid[:75]}, "value": c.customer_id}
                   for c in plan.candidates[:10]]
        out.append({"type": "input", "block_id": CUSTOMER_BLOCK, "label": {"type": "plain_text", "text": "The payer"},
                    "element": {"type": "radio_buttons", "action_id": CUSTOMER_ACTION, "options": options}})
    out.append({"type": "context", "elements": [mrkdwn("Apply writes this to FirstPromoter; fpcheck reads the "
                                                       "preconditions again first. Nothing is written to Stripe.")]})
    return out


def _text(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text[:3000])}


def _modal(view_blocks: list[Block], metadata: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal", "callback_id": FIX_VIEW_ID,
                            "title": {"type": "plain_text", "text": "Fix in FirstPromoter"},
                            "close": {"type": "plain_text", "text": "Cancel" if metadata else "Close"},
                            "blocks": view_blocks}
    if metadata is not None:
        view["submit"] = {"type": "plain_text", "text": "Apply"}
        view["private_metadata"] = metadata
    return view


# ---------------------------------------------------------------- the submit


def submitted(fixer: Fixer, body: dict, client: WebClient, respond: Callable[..., Any], context: dict) -> None:
    user = (body.get("user") or {}).get("id")
    view = body.get("view") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "")
        where = Where.from_dict(meta["w"])
        # the recheck's delay is this process's setting (it is not part of the plan's data)
        plan = FixPlan.model_validate(meta["plan"]).model_copy(
            update={"settle_s": fixer.fixes.fpcheck_fix_recheck_delay})
    except (ValueError, KeyError, TypeError, ValidationError):
        log.warning("a fix submit without a readable plan")
        return
    asker = Asker(user, where.channel, context.get("team_id"))
    if not fixer.fixes.fpcheck_allow_fixes or not fixer.allowed(user):
        whisper(client, asker, where.thread_ts, fixer.refusal())
        return
    if plan.needs_choice:
        picked = (((view.get("state") or {}).get("values") or {}).get(CUSTOMER_BLOCK) or {}).get(CUSTOMER_ACTION) or {}
        try:
            plan = plan.choose(str((picked.get("selected_option") or {}).get("value") or ""))
        except ValueError as exc:
            whisper(client, asker, where.thread_ts, f":warning: Nothing was changed: {escape(str(exc))}")
            return
    key = "fix:" + hashlib.sha256((where.report_ts + plan.model_dump_json()).encode()).hexdigest()[:32]
    if not fixer.store.first_time(key):
        whisper(client, asker, where.thread_ts, ":information_source: This fix is already being applied (another "
                "click or another fpcheck); its result is in the thread.")
        return
    ref = new_ref()
    result = _apply(fixer, plan)
    record_fix(result, via="slack", user=user, where=where.channel, ref=ref)
    _post(client, where, user, result, ref)
    if result.outcome in ("applied", "pending", "unknown"):
        _recheck_later(fixer, client, where, user, result)


def _apply(fixer: Fixer, plan: FixPlan) -> FixResult:
    from checks.fix.writer import WriteError

    writer = writer_for(fixer.engine.settings, fixer.engine.wiring.fp_limiter)
    try:
        return apply_plan(plan, writer, batch_wait=fixer.fixes.fpcheck_fix_batch_wait)
    except WriteError as exc:  # apply_plan answers its own failures; this is the unexpected rest
        return FixResult(plan=plan, outcome="failed", summary=f"Nothing more was done: {exc}")
    finally:
        writer.close()


def result_text(result: FixResult, user: str | None, ref: str) -> str:
    mark = {"applied": ":white_check_mark:", "pending": ":hourglass_flowing_sand:", "stale": ":no_entry:",
            "failed": ":x:", "unknown": ":grey_question:"}[result.outcome]
    plan = result.plan
    lines = [f"{mark} {user_ref(user)} applied a fix: *{escape(plan.title)}*" if result.outcome != "stale" else
             f"{mark} {user_ref(user)}'s fix was refused: *{escape(plan.title)}*", escape(result.summary)]
    for step in result.steps:
        answer = json.dumps(step.answer, separators=(",", ":"))[:300] if step.answer is not None else ""
        said = str(step.status or "") or (step.error or "")
        lines.append(f"• `{escape(step.call)}` → {escape(said)} {escape(answer)}".rstrip())
    if result.outcome in ("applied", "pending", "unknown"):
        lines.append(f"_fpcheck checks the report again in {plan.settle_s:.0f} s (FirstPromoter needs about 2 "
                     f"minutes)._ Reference `{ref}`.")
    return "\n".join(lines)[:2900]


def _post(client: WebClient, where: Where, user: str | None, result: FixResult, ref: str) -> None:
    text = result_text(result, user, ref)
    try:
        client.chat_postMessage(channel=where.channel, thread_ts=where.thread_ts, text=text,
                                blocks=[_text(text)])
    except (SlackApiError, OSError) as exc:  # the audit line has it all; tell the person privately
        log.warning("could not post the fix result in %s: %s", where.channel, post_problem(exc))
        whisper(client, Asker(user, where.channel), where.thread_ts, text)


def _recheck_later(fixer: Fixer, client: WebClient, where: Where, user: str | None, result: FixResult) -> None:
    timer = threading.Timer(result.plan.settle_s, recheck, args=(fixer, client, where, user))
    timer.daemon = True
    fixer.timers[:] = [t for t in fixer.timers if t.is_alive()] + [timer]
    timer.start()


def recheck(fixer: Fixer, client: WebClient, where: Where, user: str | None) -> None:
    """The report again, in place, with a note saying it is the check after the fix: run by the
    service (its deadline and audit line, `"via": "fix"`) without the allow-list or limits, which the
    fix itself has passed."""
    try:
        query = parse_query(where.query)
    except QueryError:
        log.warning("the re-check after a fix has no query")
        return
    request = Request("fix", Asker(user, where.channel), query, time.monotonic())
    fixer.service.serve(request, Rechecked(client, where, user))


@dataclass(frozen=True)
class Rechecked:
    """Replaces the report in place (and the verdict line above it); a re-check that cannot run leaves
    the report as it was and says so in the thread's log."""

    client: WebClient
    where: Where
    user: str | None
    reason = staticmethod(failure_reason)

    def deliver(self, request: Request, report: Report) -> Delivery:
        where = self.where
        note = f":wrench: Re-checked after {user_ref(self.user)}'s fix: {verdict_text(report)}"
        rerun = Rerun(where.query, where.parent_ts, where.asked_by)
        self.client.chat_update(channel=where.channel, ts=where.report_ts, text=fallback_text(report),
                                blocks=report_blocks(report, asked_by=where.asked_by, rerun=rerun, note=note))
        if where.parent_ts:
            try:
                self.client.chat_update(channel=where.channel, ts=where.parent_ts,
                                        text=parent_text(report, where.asked_by),
                                        blocks=parent_blocks(report, where.asked_by))
            except (SlackApiError, OSError) as exc:
                log.warning("could not refresh the verdict line after the fix: %s", post_problem(exc))
        return DELIVERED

    def too_late(self, request: Request, waited: float) -> None:
        log.warning("the re-check after a fix waited %.0f s past its deadline; the report stays as it was", waited)

    def failed(self, request: Request) -> None:
        log.warning("the re-check after a fix failed (reference %s); the report stays as it was", request.ref)
