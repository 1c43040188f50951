"""What every listener shares: when Slack's request arrived (stamped on the context by a middleware in
bot/slack/app.py, so a check's deadline and the audit's duration count the time the request then
waited for a free worker), and how a module-level listener is given the service."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from bot.service import Service

RECEIVED = "fpcheck_received"  # context key: time.monotonic() when Slack's request arrived


def received(context: dict) -> float:
    """When Slack's request arrived; now if unknown."""
    at = context.get(RECEIVED)
    return at if isinstance(at, float) else time.monotonic()


def bound(listener: Callable[..., None], service: Service) -> Callable[..., None]:
    """`listener` with the service as its first argument.  Bolt passes the arguments the remaining
    parameters name (a partial hides the bound one from it) and names a listener by __name__."""
    with_service = functools.partial(listener, service)
    with_service.__name__ = listener.__name__  # type: ignore[attr-defined]
    return with_service


def just_ack(ack: Callable[..., Any]) -> None:
    """The ack of a listener whose whole answer comes after it (a mention, a button)."""
    ack()
