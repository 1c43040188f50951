"""Apply a confirmed FixPlan: read its preconditions again, refuse it when the world moved on, send
its calls in order, follow an import's batch, and say what happened in words and in data.

Nothing is lost on a failure: a refused write (401, 403, 422, 429) changed nothing and says so; a
write that may have taken effect (a timeout, a 5xx) is never sent again: the object is read back to
learn whether it did.  An import that FirstPromoter did not confirm is not repeated (it could credit
a sale twice); the recheck after FirstPromoter's ~2 minutes shows the outcome.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

from checks.fix.plan import Call, Expect, FixKind, FixPlan
from checks.fix.writer import FirstPromoterWriter, WriteError
from checks.model import Frozen

Outcome = Literal["applied", "pending", "stale", "failed", "unknown"]
BATCH_DONE = ("completed", "failed", "stopped")


class Step(Frozen):
    call: str  # "PUT /referrals/5009"
    status: int | None = None
    answer: Any = None  # FirstPromoter's answer, the fields that matter (no emails)
    error: str | None = None
    note: str | None = None


class FixResult(Frozen):
    plan: FixPlan
    outcome: Outcome
    summary: str
    steps: tuple[Step, ...] = ()
    changed: tuple[str, ...] = ()  # stale: what is different from what the plan saw


def _brief(answer: Any) -> Any:
    """The part of an answer a person (and the audit line) needs; never an email or a note."""
    keep = ("id", "uid", "state", "customer_since", "status", "total", "processed_count", "failed_count",
            "processing_errors", "event_id", "sale_amount", "amount", "coupon", "display_coupon", "message", "code")
    if isinstance(answer, list):
        return [_brief(a) for a in answer[:10]]
    if isinstance(answer, dict):
        return {k: answer[k] for k in keep if k in answer}
    return answer


def _names(rows: list[dict[str, Any]], ids: tuple[str, ...]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("event_id") in ids]


def stale(plan: FixPlan, writer: FirstPromoterWriter) -> list[str]:
    """What no longer holds of what the plan saw (empty: apply it).  WriteError when it cannot be read."""
    changed: list[str] = []
    for e in plan.expect:
        changed += _check(e, writer)
    return changed


def _check(e: Expect, writer: FirstPromoterWriter) -> list[str]:
    if e.kind == "referral_uid":
        try:
            now = writer.referral(e.id).get("uid") or None
        except WriteError as exc:
            if exc.kind == "not_found":
                return [f"referral #{e.id} no longer exists"]
            raise
        return [] if now == e.value else [f"referral #{e.id}'s uid is now {now or '(empty)'} (the plan saw "
                                          f"{e.value or '(empty)'})"]
    if e.kind == "no_commission":
        found = [c for q in e.event_ids for c in _names(writer.commissions(q), e.event_ids)]
        if found:
            c = found[0]
            return [f"commission #{c.get('id')} for {c.get('event_id')} appeared since (status {c.get('status')})"]
        return []
    pc = writer.promoter_campaign(e.id)
    if pc is None:
        return [f"promoter campaign #{e.id} no longer exists"]
    now = (pc.get("coupon") or "").strip() or None
    return [] if now == e.value else [f"promoter campaign #{e.id}'s coupon is now {now or '(empty)'} (the plan saw "
                                      f"{e.value or '(empty)'})"]


def apply_plan(plan: FixPlan, writer: FirstPromoterWriter, *, batch_wait: float = 20.0, poll: float = 1.0,
               sleep: Callable[[float], None] = time.sleep) -> FixResult:
    if plan.needs_choice:
        return FixResult(plan=plan, outcome="failed", summary="Nothing was changed: pick the paying customer first.")
    try:
        changed = stale(plan, writer)
    except WriteError as exc:
        return FixResult(plan=plan, outcome="failed",
                         summary=f"Nothing was changed: fpcheck could not read FirstPromoter to confirm the plan still "
                                 f"holds ({exc}).")
    if changed:
        return FixResult(plan=plan, outcome="stale", changed=tuple(changed),
                         summary="Nothing was changed: the plan is stale, " + "; ".join(changed) +
                                 ". Check again for a fresh plan.")
    steps: list[Step] = []
    for n, call in enumerate(plan.calls):
        step, stop = _send(plan, call, writer)
        steps.append(step)
        if stop is not None:
            done = " after the earlier step(s) succeeded" if n else ""
            return FixResult(plan=plan, outcome=stop[0], steps=tuple(steps), summary=stop[1] + done + ".")
    outcome, summary = _finish(plan, steps, writer, batch_wait, poll, sleep)
    return FixResult(plan=plan, outcome=outcome, steps=tuple(steps), summary=summary)


def _send(plan: FixPlan, call: Call, writer: FirstPromoterWriter) -> tuple[Step, tuple[Outcome, str] | None]:
    try:
        status, answer = writer.send(call)
    except WriteError as exc:
        if not exc.maybe:
            return Step(call=call.line, status=exc.status, error=str(exc)), (
                "failed", f"{_what(call)} was not done: {exc}")
        return _read_back(plan, call, writer, exc)
    return Step(call=call.line, status=status, answer=_brief(answer)), None


def _what(call: Call) -> str:
    if call.path.endswith("/import_events"):
        return "The import"
    if call.path == "/commissions":
        return "The commission"
    return f"{call.line}"


def _read_back(plan: FixPlan, call: Call, writer: FirstPromoterWriter,
               exc: WriteError) -> tuple[Step, tuple[Outcome, str] | None]:
    """A write that may have taken effect: read the object to learn whether it did (never resend)."""
    failed = Step(call=call.line, status=exc.status, error=str(exc))
    if call.path.endswith("/import_events"):
        return failed.model_copy(update={"note": "not resent: an import sent twice could credit a sale twice"}), (
            "unknown", f"FirstPromoter did not confirm the import ({exc}); fpcheck did not send it again. The "
                       "recheck shows whether the commissions came; if not, use Import Stripe Events in "
                       "FirstPromoter")
    if exc.kind == "timeout":  # a write still in flight may land just after the client gave up
        time.sleep(min(writer.timeout, 5.0))
    try:
        if call.path == "/commissions":
            ids = next(e.event_ids for e in plan.expect if e.kind == "no_commission"
                       and (call.body or {}).get("event_id") in e.event_ids)
            rows = [c for q in ids for c in _names(writer.commissions(q), ids)]
            took = bool(rows)
            answer = _brief(rows)
        else:
            body = call.body or {}
            if call.path.startswith("/promoter_campaigns/"):
                now = writer.promoter_campaign(int(call.path.rsplit("/", 1)[1])) or {}
                took = now.get("coupon") == body.get("coupon")
            else:
                now = writer.referral(int(call.path.rsplit("/", 1)[1]))
                took = now.get("uid") == body.get("uid")
            answer = _brief(now)
    except WriteError as again:
        return failed.model_copy(update={"note": f"read back failed too: {again}"}), (
            "unknown", f"FirstPromoter did not answer {call.line} ({exc}) and could not be read back ({again}); "
                       "fpcheck did not send it again: check again in a moment to see whether it took effect")
    if took:
        return Step(call=call.line, status=None, answer=answer, error=str(exc),
                    note="no answer, but reading it back shows the change took effect"), None
    return failed.model_copy(update={"answer": answer, "note": "read back: the change did not take effect"}), (
        "failed", f"{_what(call)} was not done: {exc}; reading it back shows it has not taken effect; check "
                  "again before trying once more")


def _finish(plan: FixPlan, steps: list[Step], writer: FirstPromoterWriter, batch_wait: float, poll: float,
            sleep: Callable[[float], None]) -> tuple[Outcome, str]:
    if plan.kind is FixKind.COUPON:
        return "applied", (f"FirstPromoter now has {plan.changes[0].after} as the Coupon Code; future sales with it "
                           "are tracked. Sales already lost stay lost.")
    if plan.kind is FixKind.COMMISSION:
        made = [c for s in steps for c in (s.answer if isinstance(s.answer, list) else [s.answer]) if c]
        ids = ", ".join(f"#{c.get('id')}" for c in made if isinstance(c, dict) and c.get("id"))
        return "applied", f"FirstPromoter added the commission{'s' if len(made) > 1 else ''} {ids}".rstrip() + "."
    batch = steps[-1].answer if isinstance(steps[-1].answer, dict) else {}
    batch_id = batch.get("id")
    status = batch.get("status")
    polls = max(0, math.ceil(batch_wait / poll)) if poll > 0 else 0
    for _ in range(polls):  # bounded: FirstPromoter imports in the background
        if status in BATCH_DONE or not isinstance(batch_id, int):
            break
        sleep(poll)
        try:
            batch = _brief(writer.batch(batch_id))
        except WriteError as exc:
            steps.append(Step(call=f"GET /batch_processes/{batch_id}", error=str(exc)))
            break
        steps.append(Step(call=f"GET /batch_processes/{batch_id}", status=200, answer=batch))
        status = batch.get("status")
    head = "The uid is set and " if plan.kind is FixKind.SET_UID else ""
    if status == "completed":
        return "applied", (f"{head}FirstPromoter's import (batch #{batch_id}) completed: processed "
                           f"{batch.get('processed_count')}, failed {batch.get('failed_count')}.")
    if status in ("failed", "stopped"):
        errors = "; ".join(str(e) for e in batch.get("processing_errors") or [])[:300]
        return "failed", f"{head}FirstPromoter's import (batch #{batch_id}) {status}" + (f": {errors}" if errors else ".")
    return "pending", (f"{head}FirstPromoter accepted the import (batch #{batch_id}, {status or 'no status'}); it is "
                       "still running.")
