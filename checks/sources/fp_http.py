"""What both FirstPromoter readers share (v2: firstpromoter.py, v1: firstpromoter_v1.py): a session
that can only send GET and whose timeouts are clamped to the run's deadline, the account's rate
gate, bounded retries on 429, 5xx, timeouts and dropped connections (honouring Retry-After), and
reasons that never carry the key.  Each reader says what its API's answers mean (`_result`)."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ValidationError

from checks import deadline
from checks.ratelimit import DEFAULT_PAUSE, Limiter
from checks.sources import SetupError, SourceError
from checks.sources.upstream import Backoff, Gate, ReadOnlyViolation, Redactor, get_only
from checks.sources.upstream import retry_after as upstream_retry_after

log = logging.getLogger("checks.sources.firstpromoter")

M = TypeVar("M", bound=BaseModel)


class GetOnlySession(deadline.DeadlineSession):
    """A Session that can only send GET: both entry points (request and send) check the method.
    Each request's timeout is clamped to the run's deadline (checks/deadline.py)."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self._check(method)
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self._check(request.method)
        return super().send(request, **kwargs)

    @staticmethod
    def _check(method: str | bytes | None) -> None:
        refused = get_only(method)
        if refused is not None:
            raise ReadOnlyViolation(f"fpcheck is read-only towards FirstPromoter: refused to send {refused}")


class Miss:
    """A lookup that found nothing (what counts as a miss is the reader's: `_result`)."""


MISS = Miss()


class FirstPromoterHTTP(ABC):
    """The plumbing of a FirstPromoter reader; `_result` (what a status means) is the reader's own."""

    api_name = "FirstPromoter"  # how a reason names the API ("FirstPromoter (v1)")

    def __init__(
        self,
        api_key: str,
        api_base: str,
        headers: dict[str, str],
        *,
        timeout: float,
        retries: int,
        backoff_base: float,  # first retry waits about this long, then doubles
        backoff_cap: float,  # no single wait is longer
        max_total_wait: float,  # all waits of one call together stay under this
        per_page: int,
        max_pages: int,
        limiter: Limiter | None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self.retries = max(retries, 0)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_total_wait = max_total_wait
        self._backoff = Backoff(self.retries, backoff_base, max_total_wait, cap=backoff_cap)
        self.per_page = per_page
        self.max_pages = max_pages
        self._host = urlsplit(self.api_base).netloc or self.api_base
        self._gate = Gate("FirstPromoter", limiter)
        self._redact = Redactor([api_key])
        self._session = GetOnlySession()
        self._session.headers.update({**headers, "Accept": "application/json", "User-Agent": "fpcheck (read-only)"})

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (every attempt counts)."""
        return self._gate.calls

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ shapes
    def _rows(self, data: Any, path: str) -> list[dict[str, Any]]:
        rows = data.get("data") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            self._fail(f"FirstPromoter sent an unexpected shape for {path} (expected a list of objects)")
        return rows

    def _model(self, model: type[M], fields: dict[str, Any], what: str) -> M:
        try:
            return model.model_validate(fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(top)"
            self._fail(f"{self.api_name} sent a {what} this reader does not understand: {where}: {err['msg']}")

    def _json(self, resp: requests.Response, label: str) -> Any:
        try:
            return resp.json()
        except ValueError:
            ctype = resp.headers.get("Content-Type", "no content type")
            self._fail(f"FirstPromoter sent a response that is not JSON for GET {label} "
                       f"(HTTP {resp.status_code}, {ctype})")

    # ------------------------------------------------------------------ HTTP
    def _get(self, path: str, params: dict[str, Any], *, label: str, miss_ok: bool = False, raw: bool = False) -> Any:
        """One GET with bounded retries on 429, 5xx, timeouts and connection errors; what else
        came back, as `_result` reads it (`raw`: the response itself, for its headers)."""
        url = self.api_base + path
        started = time.monotonic()
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            self._gate.enter()  # the run's deadline, the rate limit, the count
            retry_after: float | None = None
            unreachable = False  # refused or unresolvable: the base URL is wrong, not FirstPromoter slow
            try:
                resp = self._session.get(url, params=params, timeout=self.timeout, allow_redirects=False)
            except requests.Timeout:
                problem = (
                    "FirstPromoter did not answer before the run's deadline"
                    if deadline.expired()
                    else f"FirstPromoter did not answer within {self.timeout:g} s"
                )
            except requests.ConnectionError as exc:
                problem = self._connection_problem(exc)
                unreachable = "connection refused" in problem or "Could not resolve" in problem
            else:
                if resp.status_code == 429:
                    problem = "FirstPromoter answered 429 (rate limited)"
                    retry_after = upstream_retry_after(resp.headers)
                    # every sender of this account's budget slows down
                    self._gate.pause(retry_after if retry_after is not None else DEFAULT_PAUSE)
                elif resp.status_code >= 500:
                    problem = f"FirstPromoter answered {resp.status_code} (server error)"
                    retry_after = upstream_retry_after(resp.headers)
                else:
                    return self._result(resp, label, miss_ok, raw)

            elapsed = time.monotonic() - started
            gave_up = f"gave up after {attempt} attempt{'s' if attempt > 1 else ''} in {elapsed:.1f} s"
            if attempt > self.retries:
                self._fail(f"{problem} on GET {label}; {gave_up}", setup=unreachable)
            budget = self.max_total_wait - waited
            if retry_after is not None:
                if retry_after > budget:
                    self._fail(f"{problem} on GET {label} and asked to wait {retry_after:g} s, longer than "
                               f"this check waits ({self.max_total_wait:g} s); {gave_up}")
                delay = retry_after
            else:
                if budget <= 0:
                    self._fail(f"{problem} on GET {label}; {gave_up}")
                delay = min(self._backoff.delay(attempt), budget)
            if not deadline.allows(delay):
                self._fail(f"{problem} on GET {label}; {gave_up}, no time left before the run's deadline")
            log.info("%s on GET %s; retrying in %.2f s (attempt %d of %d)",
                     problem, label, delay, attempt + 1, self.retries + 1)
            time.sleep(delay)
            waited += delay

    @abstractmethod
    def _result(self, resp: requests.Response, label: str, miss_ok: bool, raw: bool) -> Any:
        """A response that is neither a 429 nor a 5xx: its JSON (or `resp` when `raw`), MISS, or a
        SourceError saying what the status means for this API (each reader's own)."""

    def _connection_problem(self, exc: requests.ConnectionError) -> str:
        text = repr(exc)
        if isinstance(exc, requests.exceptions.SSLError):
            return f"Could not open a TLS connection to FirstPromoter at {self._host}"
        if "RemoteDisconnected" in text or "Connection aborted" in text or "ConnectionReset" in text:
            return "FirstPromoter closed the connection without answering"
        if "Connection refused" in text or "ConnectionRefused" in text:
            return f"Could not connect to FirstPromoter at {self._host} (connection refused)"
        if "NameResolution" in text or "getaddrinfo" in text or "Name or service not known" in text:
            return f"Could not resolve FirstPromoter's host {self._host}"
        return f"Could not reach FirstPromoter at {self._host} ({type(exc).__name__})"

    def _fail(self, reason: str, *, setup: bool = False) -> NoReturn:
        # Belt and braces: nothing upstream should echo the key, but a reason must never carry it.
        raise (SetupError if setup else SourceError)(self._redact(reason))
