"""/healthz in both modes: 200 "ok" while fpcheck can answer Slack, else 503 with a JSON reason.

What it asks:
- the Slack connection: in Socket Mode slack_sdk's own view of it (a connection Slack closes shows
  at once, one that dies silently when slack_sdk's pings give up, about a minute); in HTTP mode the
  process answering is the answer;
- Redis, when FPCHECK_REDIS_URL is set: a ping, reused for PING_TTL seconds so a probe every few
  seconds costs Redis nothing.  Without Redis, replicas answer a Slack event twice, lose the
  digest's and the watch's state and share no rate budget: such a replica should not take traffic.

Stripe and FirstPromoter are not asked.  An outage there is said in every report, and restarting
fpcheck (what a failing health check leads to) would not bring them back; `fpcheck serve --check`,
`fpcheck doctor` and the App Home read them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("fpcheck.serve")

PING_TTL = 5.0  # seconds a Redis ping's answer is reused


class Health:
    def __init__(self, connected: Callable[[], bool] | None = None, redis: Any | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._connected = connected  # None: HTTP mode, where serving is being connected
        self._redis = redis
        self._clock = clock
        self._lock = threading.Lock()
        self._ping: tuple[float, str | None] | None = None  # (when, the problem or None)

    def problem(self) -> str | None:
        """Why fpcheck cannot answer Slack now, or None."""
        if self._connected is not None and not self._connected():
            return "not connected to Slack in Socket Mode (connecting or reconnecting)"
        return self._redis_problem()

    def answer(self) -> tuple[int, str, bytes]:
        """The HTTP status, content type and body of GET /healthz."""
        problem = self.problem()
        if problem is None:
            return 200, "text/plain", b"ok\n"
        return 503, "application/json", json.dumps({"ok": False, "reason": problem}).encode()

    def _redis_problem(self) -> str | None:
        if self._redis is None:
            return None
        now = self._clock()
        with self._lock:
            if self._ping is not None and now - self._ping[0] < PING_TTL:
                return self._ping[1]
        try:
            self._redis.ping()
            problem = None
        except Exception as exc:  # redis' ConnectionError, TimeoutError, an auth error: never the URL
            problem = f"Redis (FPCHECK_REDIS_URL) does not answer ({type(exc).__name__})"
            log.warning("health: %s", problem)
        with self._lock:
            self._ping = (self._clock(), problem)
        return problem
