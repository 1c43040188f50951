"""What the scheduled jobs (digest, watch) keep in Redis in common."""

from __future__ import annotations

from typing import Any

# SET only when the stored number is lower (or missing), atomically: a slow replica finishing an
# older run must never move a cursor or a digest's end back
_FORWARD = (
    "local v = redis.call('GET', KEYS[1]); if (not v) or tonumber(v) < tonumber(ARGV[1]) then "
    "redis.call('SET', KEYS[1], ARGV[1]) end return 1"
)


def set_forward(client: Any, key: str, value: int) -> None:
    """Store `value` at `key` unless a larger number is already there."""
    client.eval(_FORWARD, 1, key, int(value))
