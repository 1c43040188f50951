"""Read-only client of FirstPromoter's v1 ("legacy") API (`https://firstpromoter.com/api/v1`) over `requests`.

Facts (docs/firstpromoter-v1.md has each one with its source):
- auth is one header, `X-API-KEY: <key>`; there is no account id.  A rejected key answers 401
  ("Bad credentials").
- parameters are key-value pairs (query parameters on a GET), not JSON; answers are JSON.
- lists are bare JSON arrays; pagination "is held on response headers".  The header names are not
  documented: third-party code reads `Total` and `Per-Page` (the Rails api-pagination convention,
  which also sends `Link: <…>; rel="next"`).  This reader follows `Link` when it is there, else
  `Total`/`Per-Page`, else stops at an empty, short or repeated page.
- a lookup miss on `/leads/show` or `/promoters/show` answers 404 `{"error": "… not found."}`.
- the rate limit and whether a 429 carries `Retry-After` are not documented; both are honoured.

What v1 does not have, and so what this reader leaves "not examined" (checks/fp_version.py says it):
how a lead came in (`entry_source`), expiry (`is_expired`), a reward's fraud check, whether it
was paid out and its type; a `?q=` search (a lead is looked up by email, then by uid, exactly);
an event-id search of rewards (a person's rewards are their promotion's rewards, matched to the lead).

Same shape as the v2 reader (checks/sources/firstpromoter.py): GET only, the run's deadline, the
shared rate budget, bounded retries on 429/5xx/timeouts with `Retry-After`, a key that never reaches
a reason, and no partial list taken for a whole one ("stopped after N pages").
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

import requests
from pydantic import BaseModel

from checks.campaigns import FPCampaign, FPPerson
from checks.facts import Commission, PromoterCampaign, Referral, ReferralCampaignLink, ReferralLookup
from checks.ratelimit import Limiter
from checks.sources import SourceError
from checks.sources.firstpromoter import MAX_UIDS
from checks.sources.fp_http import MISS, FirstPromoterHTTP, Miss

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://firstpromoter.com/api/v1"
KEY_NAME = "FIRSTPROMOTER_V1_API_KEY"
API_VERSION: Literal["v1"] = "v1"

M = TypeVar("M", bound=BaseModel)
_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*rel="?next"?', re.IGNORECASE)


class FirstPromoterV1Reader(FirstPromoterHTTP):
    """Fills the same facts as FirstPromoterReader (checks/sources/protocols.py FirstPromoterSource)."""

    api_version: Literal["v1"] = API_VERSION
    api_name = "FirstPromoter (v1)"

    def __init__(
        self,
        api_key: str,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = 8.0,
        retries: int = 2,
        *,
        backoff_base: float = 0.5,
        backoff_cap: float = 4.0,
        max_total_wait: float = 10.0,
        per_page: int = 100,
        max_pages: int = 50,
        limiter: Limiter | None = None,
        key_name: str = KEY_NAME,
    ) -> None:
        if not api_key:
            raise SourceError(f"{key_name} is not set")
        self.key_name = key_name
        self._leads: dict[tuple[str, str], Any] = {}  # (attr, value) -> lead row or MISS, for this reader's run
        self._leads_lock = threading.Lock()
        super().__init__(
            api_key, api_base, {"X-API-KEY": api_key},
            timeout=timeout, retries=retries, backoff_base=backoff_base, backoff_cap=backoff_cap,
            max_total_wait=max_total_wait, per_page=per_page, max_pages=max_pages, limiter=limiter,
        )

    def __repr__(self) -> str:  # never show the key
        return f"FirstPromoterV1Reader(api_base={self.api_base!r})"

    # ------------------------------------------------------------------ public reads
    def find_referral(self, email: str | None, uids: Sequence[str] = ()) -> ReferralLookup:
        """The lead by email (as typed, then lower-cased when that differs: v1 has no search to catch a
        case variant), then by each uid.  `found_by` as in the v2 reader; never "search"."""
        email = (email or "").strip() or None
        tried: list[str] = []
        if email:
            for value in dict.fromkeys((email, email.lower())):
                tried.append("email" if value == email else "email:lower-case")
                row = self._lead("email", value)
                if row is not None:
                    return ReferralLookup(referral=self._referral(row), found_by="email", tried=tuple(tried))
        for uid in list(dict.fromkeys(u.strip() for u in uids if u and u.strip()))[:MAX_UIDS]:
            tried.append(f"uid:{uid}")
            row = self._lead("uid", uid)
            if row is not None:
                how: Literal["customer_id", "uid"] = "customer_id" if uid.startswith("cus_") else "uid"
                return ReferralLookup(referral=self._referral(row), found_by=how, tried=tuple(tried))
        return ReferralLookup(referral=None, tried=tuple(tried))

    def promoter_campaigns(self) -> tuple[PromoterCampaign, ...]:
        """Every promotion (v2: promoter campaign) of every promoter, all pages of /promoters/list."""
        return tuple(pc for page in self._pages("/promoters/list", {}) for row in page for pc in _promotions(row, self))

    def promoter_campaign_page(self, page: int) -> tuple[tuple[PromoterCampaign, ...], bool]:
        """One page of promoters (from 1), flattened into their promotions, and whether it is the last."""
        resp, rows = self._list_page("/promoters/list", {}, page)
        models = tuple(pc for row in rows for pc in _promotions(row, self))
        return models, not _has_more(resp, rows, page, self.per_page)

    def commissions(self, q: str) -> tuple[Commission, ...]:
        """The rewards of the lead whose email (or uid) is `q`: its promotion's rewards, matched to the
        lead.  v1 cannot search rewards by anything else (an event id): that is a SourceError."""
        q = (q or "").strip()
        attr = "email" if "@" in q else "uid"
        if not q or (attr == "uid" and q.startswith(("in_", "ch_", "pi_"))):
            self._fail(f"FirstPromoter's v1 API cannot search rewards by {q or 'nothing'}: only a lead's promotion lists them")
        row = self._lead(attr, q)
        if row is None and attr == "email" and q.lower() != q:
            row = self._lead("email", q.lower())
        if row is None:
            return ()
        promotion = row.get("promotion") if isinstance(row.get("promotion"), dict) else None
        lead_id = row.get("id")
        if not promotion or promotion.get("id") is None:
            return ()
        out = []
        for page in self._pages("/rewards/list", {"promotion_id": promotion["id"]}):
            for r in page:
                lead = r.get("lead") if isinstance(r.get("lead"), dict) else {}
                if lead.get("id") == lead_id or (
                    isinstance(lead.get("email"), str) and isinstance(row.get("email"), str)
                    and lead["email"].casefold() == row["email"].casefold()
                ):
                    out.append(self._model(Commission, _reward_fields(r, lead or row), "reward"))
        return tuple(out)

    # ------------------------------------------------------------------ lookups
    def _lead(self, attr: str, value: str) -> dict[str, Any] | None:
        key = (attr, value)
        with self._leads_lock:
            if key in self._leads:
                got = self._leads[key]
                return None if isinstance(got, Miss) else got
        data = self._get("/leads/show", {attr: value}, label=f"/leads/show?{attr}=", miss_ok=True)
        if not isinstance(data, Miss) and not isinstance(data, dict):
            self._fail(f"FirstPromoter sent an unexpected shape for a lead looked up by {attr} "
                       f"(expected an object, got {type(data).__name__})")
        with self._leads_lock:
            self._leads[key] = data
        return None if isinstance(data, Miss) else data

    def _referral(self, row: dict[str, Any]) -> Referral:
        return self._model(Referral, _lead_fields(row), "lead")

    # ------------------------------------------------------------------ paging
    def _list_page(self, path: str, params: dict[str, Any], page: int) -> tuple[requests.Response, list[dict[str, Any]]]:
        resp = self._get(path, {**params, "page": page, "per_page": self.per_page}, label=path, raw=True)
        return resp, self._rows(self._json(resp, path), path)

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        previous: list[dict[str, Any]] | None = None
        for page in range(1, self.max_pages + 1):
            resp, rows = self._list_page(path, params, page)
            if previous is not None and rows == previous:
                return  # the server ignored `page`
            yield rows
            if not _has_more(resp, rows, page, self.per_page):
                return
            previous = rows
        self._fail(f"FirstPromoter's {path} listing has more than {self.max_pages} pages; stopped after "
                   f"{self.max_pages} page(s) rather than use a partial list")

    def _result(self, resp: requests.Response, label: str, miss_ok: bool, raw: bool) -> Any:
        status = resp.status_code
        if 200 <= status < 300:
            return resp if raw else self._json(resp, label)
        if miss_ok and status == 404:
            return MISS
        if status == 401:
            self._fail(f"FirstPromoter rejected {self.key_name} as a V1 (legacy) API key (401): use the key shown "
                       "as the V1 / legacy API key in Settings → Integrations → Manage API Keys (a V2 key goes in "
                       "FIRSTPROMOTER_API_KEY with FIRSTPROMOTER_ACCOUNT_ID)", setup=True)
        message = _message(resp)
        if status == 403:
            self._fail(f"FirstPromoter refused GET {label} (403): {message or 'the API key lacks the rights for this call'}",
                       setup=True)
        if status == 404:
            self._fail(f"FirstPromoter answered 404 for GET {label}: check FIRSTPROMOTER_V1_API_BASE ({self.api_base})",
                       setup=True)
        if status == 422:
            self._fail(f"FirstPromoter rejected GET {label} as invalid (422): {message or 'no details given'}")
        if 300 <= status < 400:
            self._fail(f"FirstPromoter redirected GET {label} ({status}); check the API base URL ({self.api_base})")
        self._fail(f"FirstPromoter answered {status} for GET {label}" + (f": {message}" if message else ""))


# ---------------------------------------------------------------------- helpers


def _has_more(resp: requests.Response, rows: list[Any], page: int, asked: int) -> bool:
    """Whether another page follows: `Link: rel="next"`, else `Total`/`Per-Page`, else a full page."""
    link = resp.headers.get("Link")
    if link is not None:
        m = _NEXT.search(link)
        if m is None:
            return False
        nxt = dict(parse_qsl(urlsplit(m.group(1)).query))
        return not nxt.get("page", "").isdigit() or int(nxt["page"]) > page
    total, per = _int(resp.headers.get("Total")), _int(resp.headers.get("Per-Page"))
    if total is not None and per:
        return page * per < total
    return bool(rows) and len(rows) >= (per or asked)


def _int(raw: str | None) -> int | None:
    try:
        return int(str(raw).strip()) if raw is not None else None
    except ValueError:
        return None


def _message(resp: requests.Response) -> str | None:
    """The `error` (or `message`) of a v1 error body, or a bare JSON string ("Bad credentials")."""
    try:
        body = resp.json()
    except ValueError:
        return None
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str) and body[key].strip():
                return body[key].strip()[:300]
    return None


def _name(row: dict[str, Any]) -> str | None:
    profile = row.get("profile") if isinstance(row.get("profile"), dict) else {}
    parts = [p for p in (profile.get("first_name"), profile.get("last_name")) if isinstance(p, str) and p.strip()]
    return " ".join(parts) or None


def _code(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None  # "" and null: no code


def _promotions(row: dict[str, Any], reader: FirstPromoterV1Reader) -> list[PromoterCampaign]:
    """A v1 promoter's `promotions[]` as v2 promoter campaigns: `promo_code` is the tracking coupon
    (the Coupon id), `customer_promo_code` the code customers type."""
    person = {"id": row.get("id"), "email": row.get("email"), "name": _name(row)}
    out = []
    for p in row.get("promotions") or ():
        if not isinstance(p, dict):
            continue
        campaign = {"id": p["campaign_id"], "name": p.get("campaign_name")} if p.get("campaign_id") is not None else None
        out.append(reader._model(PromoterCampaign, {
            "id": p.get("id"),
            "campaign_id": p.get("campaign_id"),
            "promoter_id": p.get("promoter_id", row.get("id")),
            "state": None,  # v1 has the promoter's status and the offer's, not the v2 promoter-campaign state
            "coupon": _code(p.get("promo_code")),
            "display_coupon": _code(p.get("customer_promo_code")),
            "promoter": person if person["id"] is not None else None,
            "campaign": campaign,
        }, "promotion"))
    return out


def _lead_fields(row: dict[str, Any]) -> dict[str, Any]:
    promotion = row.get("promotion") if isinstance(row.get("promotion"), dict) else None
    promoter = row.get("promoter") if isinstance(row.get("promoter"), dict) else None
    link = None
    if promotion and promotion.get("id") is not None:
        link = ReferralCampaignLink(
            id=promotion["id"],
            campaign_id=promotion.get("campaign_id"),
            promoter_id=promotion.get("promoter_id") or (promoter or {}).get("id"),
            promoter=FPPerson(id=promoter["id"], email=promoter.get("email"), name=_name(promoter))
            if promoter and promoter.get("id") is not None else None,
            campaign=FPCampaign(id=promotion["campaign_id"], name=promotion.get("campaign_name"))
            if promotion.get("campaign_id") is not None else None,
        )
    uid = row.get("uid")
    return {
        "id": row.get("id"),
        "email": row.get("email"),
        "uid": str(uid) if uid is not None else None,
        "state": row.get("state"),
        "entry_source": None,  # not reported by v1
        "created_at": row.get("created_at"),
        "customer_since": row.get("customer_since") or None,
        "fraud_check": row.get("suspicion") or None,  # v1 `suspicion` carries the same values (no_suspicion, ...)
        "is_expired": None,  # not reported by v1
        "promoter_campaign": link,
    }


def _reward_fields(r: dict[str, Any], lead: dict[str, Any]) -> dict[str, Any]:
    uid = lead.get("uid")
    return {
        "id": r.get("id"),
        "status": r.get("status"),
        "fraud_check": None,  # not reported by v1
        "is_paid": None,  # not reported by v1
        "commission_type": None,  # not reported by v1
        "event_id": r.get("event_id") or None,
        "amount": r.get("amount"),
        "sale_amount": r.get("conversion_amount"),
        "unit": r.get("unit"),
        "created_at": r.get("created_at"),
        "referral_email": lead.get("email"),
        "referral_id": lead.get("id"),
        "referral_uid": str(uid) if uid is not None else None,
    }
