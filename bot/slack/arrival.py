"""When Slack's request arrived: stamped on the context by a middleware (bot/slack/app.py), so a check's
deadline and the audit's duration count the time the request then waited for a free worker."""

from __future__ import annotations

import time

RECEIVED = "fpcheck_received"  # context key: time.monotonic() when Slack's request arrived


def received(context: dict) -> float:
    """When Slack's request arrived; now if unknown."""
    at = context.get(RECEIVED)
    return at if isinstance(at, float) else time.monotonic()
