"""One structured JSON line per fpcheck run: who asked, where, about whom, what came out, how long.

The line goes to the `fpcheck.audit` logger at INFO.  The customer's email is masked
(j***@example.com); Stripe customer ids are kept (they are not personal data on their own and
support needs them to follow up).  Only the fields below are written, so no token or key can leak
into the audit trail through it.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from typing import Literal

from checks.model import Report

logger = logging.getLogger("fpcheck.audit")

# the entry point: /fpcheck, @fpcheck, Run again, the sweep's Check button, MCP, /fpcheck sweep; the
# message shortcut, its picker's buttons, the Check a customer modal, the App Home (bot/slack/shortcuts.py...),
# the re-check after a fix (bot/slack/fix.py)
Via = Literal["command", "mention", "button", "sweep_check", "mcp", "sweep", "shortcut", "picker", "modal", "home",
              "fix"]
# expired: the request waited in the queue past its deadline, so it was not checked
# limited: the asker (or the channel) had asked for too many in the last minute, so it was not run
# how a run ended for the asker (the audit line's "outcome"); checks.model.Outcome is what a check returns
Ending = Literal["delivered", "fallback", "denied", "failed", "expired", "limited"]


def mask_email(text: str) -> str:
    """j***@example.com for jane@example.com; anything that is not an email is returned as is."""
    local, at, domain = text.partition("@")
    if not at or not local or not domain:
        return text
    return f"{local[0]}***@{domain}"


def record(
    *,
    ref: str,
    via: Via,
    user: str | None,
    channel: str | None,
    team: str | None,
    query: str,
    outcome: Ending,
    report: Report | None = None,
    started: float | None = None,
    detail: str | None = None,
    sweep: dict[str, object] | None = None,
) -> dict[str, object]:
    """Write the audit line and return what was written (tests read it back from the logs)."""
    line: dict[str, object] = {
        "event": "fpcheck.run",
        "ref": ref,
        "via": via,
        "user": user,
        "channel": channel,
        "team": team,
        "query": mask_email(query),
        "outcome": outcome,
    }
    if report is not None:
        line["verdict"] = report.verdict.status.value
        line["cause"] = report.verdict.check
        line["statuses"] = dict(Counter(r.status.value for r in report.checks))
        line["engine_ms"] = report.duration_ms
    if started is not None:
        line["duration_ms"] = int((time.monotonic() - started) * 1000)
    if detail:
        line["detail"] = detail[:300]
    if sweep is not None:  # a sweep's window and counts: numbers and dates, never a customer's email
        line["sweep"] = sweep
    logger.info(json.dumps(line, separators=(",", ":"), sort_keys=False))
    return line
