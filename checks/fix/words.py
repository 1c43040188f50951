"""A plan in plain lines, for every face (each escapes them its own way)."""

from __future__ import annotations

from checks.fix.plan import FixPlan, NoFix


def change_lines(plan: FixPlan) -> list[str]:
    return [f"new {c.what}: {c.after}" if c.before is None and "commission" in c.what
            else f"{c.what}: {c.before or '(empty)'} → {c.after}" for c in plan.changes]


def plan_lines(plan: FixPlan) -> list[str]:
    """Title, what changes (before → after), the calls, what is read again first, notes."""
    lines = [plan.title]
    if plan.needs_choice:
        lines.append("Several Stripe customers could be the payer; pick one:")
        lines += [f"  {c.customer_id}{f' ({c.email})' if c.email else ''}: {c.paid}" for c in plan.candidates]
    else:
        lines.append("What changes:")
        lines += [f"  {line}" for line in change_lines(plan)]
        lines.append("FirstPromoter calls:")
        lines += [f"  {c.line}" + (f" {_body(c.body)}" if c.body else "") for c in plan.calls]
        if plan.kind.value in ("set_uid", "import_events"):
            lines.append("  then GET /batch_processes/{id} until the import is done")
    if plan.expect:
        lines.append("Read again just before writing: " + "; ".join(e.words for e in plan.expect) + ".")
    lines += plan.notes
    return lines


def _body(body: dict[str, object]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in body.items() if k != "internal_note") + (
        ", internal_note: …" if "internal_note" in body else "") + "}"


def nofix_lines(nofix: NoFix) -> list[str]:
    lines = [f"No fix fpcheck can apply{f' for {nofix.cause}' if nofix.cause else ''}: {nofix.reason}"]
    if nofix.steps:
        lines.append(f"What to do instead: {nofix.steps}")
    return lines
