"""The one FirstPromoter client that may write: explicit, separate from the readers (whose sessions
refuse anything but GET), and used only to apply a FixPlan someone confirmed.

- Writes are sent once.  A write that times out or gets a 5xx may or may not have taken effect, so
  it is never retried blindly: `WriteError.maybe` says so, and apply.py reads first to find out.
- Reads (the preconditions, the batch) retry a little on 429, 5xx and timeouts, within a few seconds.
- A 401 is a key FirstPromoter rejects (revoked): said as such; nothing is retried.
- Every reason has the key taken out (Redactor); the rate budget is the readers' (one per account).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

from checks.fix.plan import Call
from checks.ratelimit import Limiter
from checks.sources import SourceError
from checks.sources.upstream import Gate, Redactor, retry_after

log = logging.getLogger(__name__)

Failure = Literal["timeout", "rate_limited", "server", "auth", "forbidden", "not_found", "rejected",
                  "unreachable", "shape"]
READ_RETRIES = 2
READ_WAIT_CAP = 2.0  # seconds: a fix waits a little for a read, never long
PAGE = 100
MAX_PAGES = 200


class WriteError(SourceError):
    """A FirstPromoter call of a fix failed.  `maybe`: it was a write that may have taken effect
    (a timeout, a 5xx, a dropped connection): read before doing anything else."""

    def __init__(self, reason: str, *, kind: Failure, status: int | None = None, maybe: bool = False) -> None:
        super().__init__(reason)
        self.kind = kind
        self.status = status
        self.maybe = maybe


class FirstPromoterWriter:
    def __init__(self, api_key: str, account_id: str, api_base: str, *, timeout: float = 8.0,
                 limiter: Limiter | None = None) -> None:
        if not api_key or not account_id:
            raise SourceError("FIRSTPROMOTER_API_KEY and FIRSTPROMOTER_ACCOUNT_ID are needed to apply a fix")
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self._host = urlsplit(self.api_base).netloc or self.api_base
        self._gate = Gate("FirstPromoter", limiter)
        self._redact = Redactor([api_key])
        self._session = requests.Session()
        self._session.headers.update({
            "Authorization": f"Bearer {api_key}",
            "ACCOUNT-ID": account_id,
            "Accept": "application/json",
            "User-Agent": "fpcheck (fix)",
        })

    def __repr__(self) -> str:  # never show the key
        return f"FirstPromoterWriter(api_base={self.api_base!r})"

    @property
    def calls(self) -> int:
        return self._gate.calls

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------ reads
    def referral(self, referral_id: int) -> dict[str, Any]:
        data = self._read(f"/referrals/{referral_id}")
        if not isinstance(data, dict):
            raise WriteError(f"FirstPromoter sent an unexpected shape for referral #{referral_id}", kind="shape")
        return data

    def commissions(self, q: str) -> list[dict[str, Any]]:
        """Every commission FirstPromoter's search returns for `q` (all pages)."""
        out: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            rows = self._rows(self._read("/commissions", {"q": q, "page": page, "per_page": PAGE}), "/commissions")
            out += rows
            if len(rows) < PAGE:
                return out
        raise WriteError(f"FirstPromoter's commissions for {q} run past {MAX_PAGES} pages", kind="shape")

    def promoter_campaign(self, pcid: int) -> dict[str, Any] | None:
        """The promoter campaign, read from the listing (FirstPromoter has no GET by id for it)."""
        for page in range(1, MAX_PAGES + 1):
            rows = self._rows(self._read("/promoter_campaigns", {"page": page, "per_page": PAGE}),
                              "/promoter_campaigns")
            found = next((r for r in rows if r.get("id") == pcid), None)
            if found is not None or len(rows) < PAGE:
                return found
        return None

    def batch(self, batch_id: int) -> dict[str, Any]:
        data = self._read(f"/batch_processes/{batch_id}")
        if not isinstance(data, dict):
            raise WriteError(f"FirstPromoter sent an unexpected shape for batch #{batch_id}", kind="shape")
        return data

    # ------------------------------------------------------------------ the write
    def send(self, call: Call) -> tuple[int, Any]:
        """One write of a plan, sent once: (status, FirstPromoter's JSON answer)."""
        if call.method == "GET":
            return 200, self._read(call.path)
        self._gate.enter()
        try:
            resp = self._session.request(call.method, self.api_base + call.path, json=call.body or {},
                                         timeout=self.timeout)
        except requests.Timeout:
            raise WriteError(f"FirstPromoter did not answer {call.line} within {self.timeout:g} s", kind="timeout",
                             maybe=True) from None
        except requests.ConnectionError as exc:
            refused = "refused" in repr(exc).lower() or "NameResolution" in repr(exc)
            raise WriteError(self._redact(f"Could not reach FirstPromoter at {self._host} for {call.line}"
                                          f"{' (connection refused)' if refused else ''}"),
                             kind="unreachable", maybe=not refused) from None
        if resp.status_code >= 500:
            raise WriteError(f"FirstPromoter answered {resp.status_code} (server error) to {call.line}",
                             kind="server", status=resp.status_code, maybe=True)
        if resp.status_code >= 300:
            self._refused(resp, call.line)
        return resp.status_code, _json(resp)

    # ------------------------------------------------------------------ plumbing
    def _read(self, path: str, params: dict[str, Any] | None = None) -> Any:
        label = f"GET {path}"
        for attempt in range(READ_RETRIES + 1):
            self._gate.enter()
            wait: float | None = None
            try:
                resp = self._session.get(self.api_base + path, params=params, timeout=self.timeout)
            except requests.Timeout:
                problem: WriteError = WriteError(f"FirstPromoter did not answer {label} within {self.timeout:g} s",
                                                 kind="timeout")
            except requests.ConnectionError:
                problem = WriteError(f"Could not reach FirstPromoter at {self._host} for {label}", kind="unreachable")
            else:
                if resp.status_code == 429:
                    problem = WriteError(f"FirstPromoter answered 429 (rate limited) to {label}",
                                         kind="rate_limited", status=429)
                    wait = retry_after(resp.headers)
                    self._gate.pause(wait if wait is not None else 1.0)
                elif resp.status_code >= 500:
                    problem = WriteError(f"FirstPromoter answered {resp.status_code} (server error) to {label}",
                                         kind="server", status=resp.status_code)
                elif resp.status_code >= 300:
                    self._refused(resp, label)
                else:
                    return _json(resp)
            if attempt == READ_RETRIES or (wait is not None and wait > READ_WAIT_CAP):
                raise problem
            log.info("%s; reading again (attempt %d)", problem, attempt + 2)
            time.sleep(min(READ_WAIT_CAP, wait if wait is not None else 0.3 * 2 ** attempt))
        raise AssertionError("unreachable")

    def _rows(self, data: Any, path: str) -> list[dict[str, Any]]:
        rows = data.get("data") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise WriteError(f"FirstPromoter sent an unexpected shape for {path} (expected a list)", kind="shape")
        return rows

    def _refused(self, resp: requests.Response, label: str) -> None:
        status, message = resp.status_code, _message(resp)
        said = f": {message}" if message else ""
        if status == 401:
            raise WriteError("FirstPromoter rejected the API key (401): it may have been revoked; check "
                             "FIRSTPROMOTER_API_KEY", kind="auth", status=401)
        if status == 403:
            raise WriteError(self._redact(f"FirstPromoter refused {label} (403){said or ': the key lacks the rights'}"),
                             kind="forbidden", status=403)
        if status == 404:
            raise WriteError(f"FirstPromoter answered 404 to {label}{said}", kind="not_found", status=404)
        if status == 429:
            raise WriteError(f"FirstPromoter answered 429 (rate limited) to {label}: nothing was changed; try again "
                             "in a minute", kind="rate_limited", status=429)
        raise WriteError(self._redact(f"FirstPromoter refused {label} ({status}){said}"), kind="rejected",
                         status=status)


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _message(resp: requests.Response) -> str | None:
    body = _json(resp)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip():
        return body["message"].strip()[:300]
    return None
