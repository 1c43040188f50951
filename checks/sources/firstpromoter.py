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
from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel

from checks.facts import Commission, PromoterCampaign, Referral, ReferralLookup
from checks.ratelimit import Limiter
from checks.sources import SourceError
from checks.sources.fp_http import MISS, FirstPromoterHTTP, Miss
from checks.sources.upstream import ReadOnlyViolation  # noqa: F401  (callers import it from here)

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.firstpromoter.com/api/v2/company"
MAX_UIDS = 5  # uids tried one by one with find_by=uid; each is a request against the 400/min budget

M = TypeVar("M", bound=BaseModel)


class FirstPromoterReader(FirstPromoterHTTP):
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
        super().__init__(
            api_key, api_base, {"Authorization": f"Bearer {api_key}", "ACCOUNT-ID": account_id},
            timeout=timeout, retries=retries, backoff_base=backoff_base, backoff_cap=backoff_cap,
            max_total_wait=max_total_wait, per_page=per_page, max_pages=max_pages, limiter=limiter,
        )

    def __repr__(self) -> str:  # never show the key
        return f"FirstPromoterReader(account_id={self.account_id!r}, api_base={self.api_base!r})"

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
        return tuple(self._model(PromoterCampaign, promoter_campaign_fields(r), "promoter campaign")
                     for r in rows)

    def promoter_campaign_page(self, page: int) -> tuple[tuple[PromoterCampaign, ...], bool]:
        """One page of promoter campaigns (from 1) and whether it is the last one (a short page).
        Pages are independent, so the campaign index reads several at once."""
        data = self._get("/promoter_campaigns", {"page": page, "per_page": self.per_page}, label="/promoter_campaigns")
        rows = self._rows(data, "/promoter_campaigns")
        models = tuple(self._model(PromoterCampaign, promoter_campaign_fields(r), "promoter campaign") for r in rows)
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
        if isinstance(data, Miss):
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

    # ------------------------------------------------------------------ HTTP
    def _result(self, resp: requests.Response, label: str, miss_ok: bool, raw: bool) -> Any:
        status = resp.status_code
        if 200 <= status < 300:
            return resp if raw else self._json(resp, label)
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


def promoter_campaign_fields(row: dict[str, Any]) -> dict[str, Any]:
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
