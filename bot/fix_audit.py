"""One JSON line per fix on the `fpcheck.audit` logger: who, where, the referral, before → after,
FirstPromoter's answers, the outcome.  Emails are masked as in every audit line (bot/audit.py);
FirstPromoter's answers are already cut to ids, states and amounts (checks/fix/apply.py), and only
the fields below are written, so no key or token can reach the line."""

from __future__ import annotations

import json
from typing import Literal

from bot.audit import logger, mask_email
from checks.fix.apply import FixResult

Via = Literal["terminal", "slack"]


def record_fix(result: FixResult, *, via: Via, user: str | None, where: str | None, ref: str) -> dict[str, object]:
    plan = result.plan
    line: dict[str, object] = {
        "event": "fpcheck.fix",
        "ref": ref,
        "via": via,
        "user": user,
        "where": where,
        "query": mask_email(plan.query),
        "kind": plan.kind.value,
        "cause": plan.cause,
        "referral": plan.referral_id,
        "changes": [{"what": c.what, "before": c.before, "after": c.after} for c in plan.changes],
        "calls": [c.line for c in plan.calls],
        "responses": [s.model_dump(mode="json", exclude_none=True) for s in result.steps],
        "outcome": result.outcome,
        "detail": result.summary[:500],
    }
    if result.changed:
        line["stale"] = list(result.changed)
    logger.info(json.dumps(line, separators=(",", ":"), default=str))
    return line
