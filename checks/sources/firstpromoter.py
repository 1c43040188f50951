"""Read-only client of FirstPromoter's v2 admin API (`/api/v2/company`) over `requests`.

Facts (shared/reference/firstpromoter.md):
- auth is two headers, `Authorization: Bearer <key>` and `ACCOUNT-ID`; a 401 has no JSON body;
  a valid key with an unknown account id answers 404 everywhere.
- lists are bare JSON arrays (only `/promoters` is `{data, meta}`); no totals, so paging stops at
  a short page or a page that repeats the previous one.  Both list shapes are accepted.
- 400 requests/minute per account, 429 without a documented `Retry-After`.
- a `find_by` miss on `/referrals/{value}` is documented only as 404; promoters answer 422.  Both
  count as "not found" here.

Truncation policy: a listing that would need more than `max_pages` pages raises SourceError
("stopped after N pages") instead of returning a partial list, because checks such as "is this
tracking coupon unique?" would silently pass on a partial list.

The reader can only send GET: its session refuses any other method before a byte leaves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal, NoReturn, TypeVar
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel, ValidationError

from checks import deadline
from checks.facts import Commission, PromoterCampaign, Referral, ReferralLookup
from checks.ratelimit import DEFAULT_PAUSE, Limiter
from checks.sources import SetupError, SourceError
from checks.sources.upstream import Backoff, Gate, ReadOnlyViolation, Redactor, get_only
from checks.sources.upstream import retry_after as upstream_retry_after

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.firstpromoter.com/api/v2/company"
MAX_UIDS = 5  # uids tried one by one with find_by=uid; each is a request against the 400/min budget

M = TypeVar("M", bound=BaseModel)


class _GetOnlySession(deadline.DeadlineSession):
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


class _Miss:
    """A find_by lookup that found nothing (404 or 422)."""


MISS = _Miss()


class FirstPromoterReader:
    def __init__(
        self,
        api_key: str,
        account_id: str,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = 8.0,
        retries: int = 2,
        *,
        backoff_base: float = 0.5,  # first retry waits about this long, then doubles
        backoff_cap: float = 4.0,  # no single wait is longer
        max_total_wait: float = 10.0,  # all waits of one call together stay under this
        per_page: int = 100,
        max_pages: int = 50,
        limiter: Limiter | None = None,
    ) -> None:
        if not api_key:
            raise SourceError("FIRSTPROMOTER_API_KEY is not set")
        if not account_id:
            raise SourceError("FIRSTPROMOTER_ACCOUNT_ID is not set")
        self.account_id = account_id
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
        self._session = _GetOnlySession()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {api_key}",
                "ACCOUNT-ID": account_id,
                "Accept": "application/json",
                "User-Agent": "fpcheck (read-only)",
            }
        )

    def __repr__(self) -> str:  # never show the key
        return f"FirstPromoterReader(account_id={self.account_id!r}, api_base={self.api_base!r})"

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (every attempt counts)."""
        return self._gate.calls

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> FirstPromoterReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public reads
    def find_referral(self, email: str | None, uids: Sequence[str] = ()) -> ReferralLookup:
        """Find the referral by email, then by each uid (e.g. the Stripe customer ids), then by a
        `?q=` search with an exact client-side match.

        `found_by` is "customer_id" when the uid that matched is a Stripe `cus_...` id, "uid" for
        any other uid.  `referral` is None when nothing matched.
        """
        email = (email or "").strip() or None
        tried: list[str] = []
        if email:
            tried.append("email")
            ref = self._find_by("email", email)
            if ref is not None:
                return ReferralLookup(referral=ref, found_by="email", tried=tuple(tried))
        distinct = list(dict.fromkeys(u.strip() for u in uids if u and u.strip()))[:MAX_UIDS]
        for uid in distinct:
            tried.append(f"uid:{uid}")
            ref = self._find_by("uid", uid)
            if ref is not None:
                how: Literal["customer_id", "uid"] = "customer_id" if uid.startswith("cus_") else "uid"
                return ReferralLookup(referral=ref, found_by=how, tried=tuple(tried))
        # The search also tells "not found" from a wrong account id: a list call that 404s raises.
        term = email or (distinct[0] if distinct else None)
        if term:
            tried.append(f"search:{term}")
            ref = self._search(term, email, set(distinct))
            if ref is not None:
                return ReferralLookup(referral=ref, found_by="search", tried=tuple(tried))
        return ReferralLookup(referral=None, tried=tuple(tried))

    def promoter_campaigns(self) -> tuple[PromoterCampaign, ...]:
        """Every promoter campaign of the account (all pages)."""
        rows = [r for page in self._pages("/promoter_campaigns", {}) for r in page]
        return tuple(self._model(PromoterCampaign, _promoter_campaign_fields(r), "promoter campaign")
                     for r in rows)

    def promoter_campaign_page(self, page: int) -> tuple[tuple[PromoterCampaign, ...], bool]:
        """One page of promoter campaigns (from 1) and whether it is the last one (a short page).
        Pages are independent, so the campaign index reads several at once."""
        data = self._get("/promoter_campaigns", {"page": page, "per_page": self.per_page}, label="/promoter_campaigns")
        rows = self._rows(data, "/promoter_campaigns")
        models = tuple(self._model(PromoterCampaign, _promoter_campaign_fields(r), "promoter campaign") for r in rows)
        return models, len(rows) < self.per_page

    def commissions(self, q: str) -> tuple[Commission, ...]:
        """Commissions FirstPromoter's search returns for `q` (an event id such as `in_...`/`ch_...`,
        an email or a uid).  FirstPromoter's search may be partial: callers compare exactly."""
        rows = [r for page in self._pages("/commissions", {"q": q}) for r in page]
        return tuple(self._model(Commission, _commission_fields(r), "commission") for r in rows)

    # ------------------------------------------------------------------ lookups
    def _find_by(self, attr: str, value: str) -> Referral | None:
        path = f"/referrals/{quote(value, safe='')}"  # '@' -> %40, '+' -> %2B, '/' -> %2F
        data = self._get(path, {"find_by": attr}, label=f"/referrals/{{{attr}}}?find_by={attr}", miss_ok=True)
        if isinstance(data, _Miss):
            return None
        if not isinstance(data, dict):
            self._fail(f"FirstPromoter sent an unexpected shape for a referral looked up by {attr} "
                       f"(expected an object, got {type(data).__name__})")
        return self._referral(data)

    def _search(self, term: str, email: str | None, uids: set[str]) -> Referral | None:
        wanted = email.casefold() if email else None
        for page in self._pages("/referrals", {"q": term}):
            for row in page:
                row_email = row.get("email")
                if (wanted and isinstance(row_email, str) and row_email.strip().casefold() == wanted) or (
                    row.get("uid") in uids
                ):
                    return self._referral(row)
        return None

    def _referral(self, row: dict[str, Any]) -> Referral:
        fields = dict(row)
        link = fields.get("promoter_campaign")
        if isinstance(link, dict):
            fields["promoter_campaign"] = _drop_empty(link, "promoter", "campaign") if link else None
        return self._model(Referral, fields, "referral")

    # ------------------------------------------------------------------ paging
    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        previous: list[dict[str, Any]] | None = None
        for page in range(1, self.max_pages + 1):
            data = self._get(path, {**params, "page": page, "per_page": self.per_page}, label=path)
            rows = self._rows(data, path)
            if previous is not None and rows == previous:
                return  # the server ignored `page` and sent the same page again
            yield rows
            if len(rows) < self.per_page:
                return
            previous = rows
        self._fail(f"FirstPromoter's {path} listing has more than {self.max_pages * self.per_page} "
                   f"entries; stopped after {self.max_pages} page(s) rather than use a partial list")

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
            self._fail(f"FirstPromoter sent a {what} this reader does not understand: {where}: {err['msg']}")

    # ------------------------------------------------------------------ HTTP
    def _get(self, path: str, params: dict[str, Any], *, label: str, miss_ok: bool = False) -> Any:
        """One GET with bounded retries on 429, 5xx, timeouts and connection errors."""
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
                    return self._result(resp, label, miss_ok)

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
                delay = self._backoff.delay(attempt)
                if budget <= 0:
                    self._fail(f"{problem} on GET {label}; {gave_up}")
                delay = min(delay, budget)
            if not deadline.allows(delay):
                self._fail(f"{problem} on GET {label}; {gave_up}, no time left before the run's deadline")
            log.info("%s on GET %s; retrying in %.2f s (attempt %d of %d)",
                     problem, label, delay, attempt + 1, self.retries + 1)
            time.sleep(delay)
            waited += delay

    def _result(self, resp: requests.Response, label: str, miss_ok: bool) -> Any:
        status = resp.status_code
        if 200 <= status < 300:
            try:
                return resp.json()
            except ValueError:
                ctype = resp.headers.get("Content-Type", "no content type")
                self._fail(f"FirstPromoter sent a response that is not JSON for GET {label} "
                           f"(HTTP {status}, {ctype})")
        if miss_ok and status in (404, 422):
            return MISS
        if status == 401:
            self._fail("FirstPromoter rejected the API key (401): check FIRSTPROMOTER_API_KEY "
                       "(a V2 key from Settings → Integrations → Manage API Keys)", setup=True)
        if status == 404:
            self._fail(f"FirstPromoter answered 404: check FIRSTPROMOTER_ACCOUNT_ID (GET {label}; the "
                       "Account ID is shown beside the key in Settings → Integrations → Manage API Keys)", setup=True)
        message = _message(resp)
        if status == 403:
            self._fail(f"FirstPromoter refused GET {label} (403): "
                       f"{message or 'the API key lacks the rights for this call'}", setup=True)
        if status == 422:
            self._fail(f"FirstPromoter rejected GET {label} as invalid (422): {message or 'no details given'}")
        if 300 <= status < 400:
            self._fail(f"FirstPromoter redirected GET {label} ({status}); check the API base URL "
                       f"({self.api_base})")
        self._fail(f"FirstPromoter answered {status} for GET {label}" + (f": {message}" if message else ""))

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


# ---------------------------------------------------------------------- helpers


def _message(resp: requests.Response) -> str | None:
    """The `message` of a v2 error body (`{"message", "code", "errors"}`), if there is one."""
    try:
        body = resp.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip():
        return body["message"].strip()[:300]
    return None


def _drop_empty(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Nested objects sent as `{}` mean "none"."""
    return {k: (None if k in keys and not v else v) for k, v in obj.items()}


def _promoter_campaign_fields(row: dict[str, Any]) -> dict[str, Any]:
    fields = _drop_empty(row, "promoter", "campaign")
    for key in ("coupon", "display_coupon"):
        value = fields.get(key)
        fields[key] = (value.strip() or None) if isinstance(value, str) else None  # "" = no coupon
    return fields


def _commission_fields(row: dict[str, Any]) -> dict[str, Any]:
    referral = row.get("referral") if isinstance(row.get("referral"), dict) else {}
    return {
        **row,
        "referral_email": referral.get("email"),
        "referral_id": referral.get("id"),
        "referral_uid": referral.get("uid"),
    }
