"""A stateful loopback stand-in for FirstPromoter's v2 admin API (`/api/v2/company`).

It serves the read endpoints fpcheck uses, in the shapes of FirstPromoter's OpenAPI v2 specs
(`shared/reference/firstpromoter/openapi-v2/`): bare JSON arrays for lists, the `{data, meta}`
envelope for `/promoters` only, ISO-8601 `Z` timestamps.  There are no write routes on purpose:
a write is recorded (the base class logs every request) and answered 404, so tests can prove the
reader never writes.

Where the docs leave behaviour open, the choice is a constructor knob:
- `find_by_miss_status`: a `GET /referrals/{value}?find_by=...` miss answers 404 (referrals
  document a bodiless 404) or 422 (what promoters document).
- `email_case_sensitive`: whether `find_by=email` compares letter case.  Unknown upstream; exact
  by default so the reader's fallback to `?q=` search is exercised.
- `rate_limit_per_minute`: FirstPromoter allows 400/min per account and answers 429 without a
  `Retry-After`; off unless set.
- `add_many_promoter_campaigns` / `list_on_page`: a large account (thousands of promoters, each
  with a unique tracking coupon) and where one campaign appears in the listing's pages.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from sandbox.httpserver import Request, Response, StandIn
from sandbox.scenarios import FP_ACCOUNT_ID, FP_API_KEY
from sandbox.versioned import VersionedDict, version_of

BASE = "/api/v2/company"
DEFAULT_CAMPAIGN_ID = 301

NOT_FOUND = {"message": "Record not found", "code": "not_found"}
# The specs' enums (openapi-v2-commissions.json `Commission`, openapi-v2-promoter-campaigns.json):
# seeding refuses other values, so a typo cannot serve a shape FirstPromoter never sends.
COMMISSION_STATUSES = ("pending", "approved", "denied")
FRAUD_CHECKS = ("no_suspicion", "same_ip_suspicion", "same_promoter_email", "ad_source")
COMMISSION_TYPES = ("sale", "custom")
UNITS = ("cash", "credits", "points", "free_months", "mon_discount", "discount_per")
PROMOTER_CAMPAIGN_STATES = ("pending", "accepted", "rejected", "blocked", "inactive")
FORBIDDEN = {"message": "You don't have enough rights to perform this action", "code": "forbidden"}


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> `2026-11-02T09:29:51.973Z` (FirstPromoter's timestamp form)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ------------------------------------------------------------------------- records


@dataclass
class FPCampaignRec:
    id: int
    name: str
    color: str | None = "#EC4899"


@dataclass
class FPPromoterRec:
    id: int
    email: str
    name: str
    joined_at: float
    cust_id: str | None = None


@dataclass
class FPPromoterCampaignRec:
    id: int
    promoter_id: int
    campaign_id: int
    coupon: str | None
    display_coupon: str | None
    state: str
    ref_token: str
    created_at: float


@dataclass
class FPReferralRec:
    id: int
    email: str | None
    uid: str | None
    state: str
    entry_source: str
    created_at: float
    customer_since: float | None
    promoter_campaign_id: int | None
    username: str | None = None
    fraud_check: str = "no_suspicion"
    is_expired: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class FPCommissionRec:
    id: int
    event_id: str | None
    referral_id: int | None
    promoter_campaign_id: int | None
    status: str
    amount: int
    sale_amount: int
    unit: str
    created_at: float
    currency: str | None = "usd"
    fraud_check: str | None = "no_suspicion"
    is_paid: bool = False
    commission_type: str = "sale"
    is_self_referral: bool | None = False
    status_updated_at: float | None = None  # None: when it was created
    # set by POST /commissions (sandbox/fp_writes.py): who added it by hand, and why
    internal_note: str | None = None
    created_by_user_email: str | None = None


# ------------------------------------------------------------------------- helpers


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def _page(req: Request, rows: list[Any]) -> list[Any]:
    """FirstPromoter paging: `page` from 1, `per_page` default 20, at most 100; no totals."""
    page = max(_int(req.param("page"), 1), 1)
    per_page = min(max(_int(req.param("per_page"), 20), 1), 100)
    start = (page - 1) * per_page
    return rows[start : start + per_page]


def _created_range(req: Request, rows: list[Any]) -> list[Any]:
    """`filters[created_at][from|to]=YYYY-MM-DD` (UTC days, both inclusive)."""
    for bound, keep in (("from", lambda t, d: t >= d), ("to", lambda t, d: t < d + 86_400)):
        raw = req.param(f"filters[created_at][{bound}]")
        if not raw:
            continue
        try:
            day = datetime.strptime(raw[:10], "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue  # like other unknown filters: ignored
        rows = [r for r in rows if keep(r.created_at, day)]
    return rows


def _one_of(what: str, value: Any, allowed: Iterable[Any]) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r}: not one of {', '.join(map(str, allowed))}")


def _contains(needle: str, *haystack: str | None) -> bool:
    n = needle.lower()
    return any(h is not None and n in h.lower() for h in haystack)


class FirstPromoterStandIn(StandIn):
    name = "firstpromoter"

    def __init__(
        self,
        api_keys: Iterable[str] = (FP_API_KEY,),
        account_ids: Iterable[str] = (FP_ACCOUNT_ID,),
        *,
        find_by_miss_status: int = 404,
        email_case_sensitive: bool = True,
        rate_limit_per_minute: int | None = None,
    ) -> None:
        super().__init__()
        self.api_keys = set(api_keys)
        self.account_ids = set(account_ids)
        self.find_by_miss_status = find_by_miss_status
        self.email_case_sensitive = email_case_sensitive
        self.rate_limit_per_minute = rate_limit_per_minute
        self.forbidden: list[re.Pattern[str]] = []
        self._recent: deque[float] = deque()  # request times within the last minute
        self._data = threading.RLock()
        self.campaigns: dict[int, FPCampaignRec] = {}
        self.promoters: dict[int, FPPromoterRec] = VersionedDict()
        self.promoter_campaigns: dict[int, FPPromoterCampaignRec] = {}
        self.referrals: dict[int, FPReferralRec] = VersionedDict()
        self.commissions: dict[int, FPCommissionRec] = VersionedDict()
        # referrals, commissions, promoters by id, kept while their dict is unchanged (_by_id)
        self._id_orders: dict[str, tuple[Any, int | None, list[Any]]] = {}
        self._sorting = threading.Lock()
        self._next_id = 900_000  # for objects added without an explicit id
        self._listing_rank: dict[int, float] = {}  # promoter campaign id -> sort key (default: the id)
        self._sorted: list[FPPromoterCampaignRec] | None = None  # the listing's order, kept between pages

        self.route("GET", f"{BASE}/referrals", self._list_referrals)
        self.route("GET", f"{BASE}/referrals/([^/]+)", self._get_referral)
        self.route("GET", f"{BASE}/promoter_campaigns", self._list_promoter_campaigns)
        self.route("GET", f"{BASE}/promoters", self._list_promoters)
        self.route("GET", f"{BASE}/promoters/([^/]+)", self._get_promoter)
        self.route("GET", f"{BASE}/commissions", self._list_commissions)

    # ------------------------------------------------------------------ control
    def revoke(self, key: str) -> None:
        self.api_keys.discard(key)

    def forbid(self, path_regex: str) -> None:
        """Answer 403 (the documented body) on matching paths, as a key without rights would get."""
        self.forbidden.append(re.compile(path_regex))

    def clear_faults(self) -> None:
        super().clear_faults()
        self.forbidden.clear()

    def authorize(self, req: Request) -> Response | None:
        auth = req.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or key.strip() not in self.api_keys:
            return Response(401, None)  # documented: no JSON body
        account = req.headers.get("account-id")
        if not account:
            return Response(401, None)  # "the key alone fails auth"
        if account not in self.account_ids:
            return Response(404, dict(NOT_FOUND))
        if any(rx.search(req.path) for rx in self.forbidden):
            return Response(403, dict(FORBIDDEN))
        if self.rate_limit_per_minute is not None and self._over_limit(req.at):
            return Response(429, None)  # no Retry-After: none is documented
        return None

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, resp: Response) -> None:
        # The base writes headers and body separately; with Nagle on, a keep-alive client's delayed
        # ACK adds ~40 ms to every request (the reader keeps its connection open).
        with contextlib.suppress(OSError):
            h.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        StandIn._send(h, resp)

    def _over_limit(self, at: float) -> bool:
        with self._lock:
            while self._recent and at - self._recent[0] >= 60.0:
                self._recent.popleft()
            if len(self._recent) >= (self.rate_limit_per_minute or 0):
                return True
            self._recent.append(at)
            return False

    # ------------------------------------------------------------------ seeding
    def _new_id(self, given: int | None, table: dict[int, Any]) -> int:
        if given is None:
            self._next_id += 1
            given = self._next_id
        if given in table:
            raise ValueError(f"id {given} already exists")
        return given

    def add_campaign(self, name: str, *, id: int | None = None, color: str | None = "#EC4899") -> int:
        with self._data:
            cid = self._new_id(id, self.campaigns)
            self.campaigns[cid] = FPCampaignRec(cid, name, color)
            return cid

    def add_promoter(
        self, email: str, name: str, *, id: int | None = None, joined_at: float | None = None,
        cust_id: str | None = None,
    ) -> int:
        with self._data:
            pid = self._new_id(id, self.promoters)
            self.promoters[pid] = FPPromoterRec(pid, email, name, joined_at or time.time(), cust_id)
            return pid

    def add_promoter_campaign(
        self, promoter_id: int, *, id: int | None = None, campaign_id: int | None = None,
        coupon: str | None = None, display_coupon: str | None = None, state: str = "accepted",
        ref_token: str | None = None, created_at: float | None = None,
    ) -> int:
        _one_of("promoter campaign state", state, PROMOTER_CAMPAIGN_STATES)
        with self._data:
            if promoter_id not in self.promoters:
                raise KeyError(f"no promoter {promoter_id}")
            if campaign_id is None:
                campaign_id = DEFAULT_CAMPAIGN_ID
                if campaign_id not in self.campaigns:
                    self.add_campaign("Main Campaign", id=campaign_id)
            elif campaign_id not in self.campaigns:
                raise KeyError(f"no campaign {campaign_id}")
            pcid = self._new_id(id, self.promoter_campaigns)
            self.promoter_campaigns[pcid] = FPPromoterCampaignRec(
                pcid, promoter_id, campaign_id, coupon, display_coupon, state,
                ref_token or f"ref{pcid}", created_at or time.time(),
            )
            self._sorted = None
            return pcid

    def set_promoter_campaign_state(self, promoter_campaign_id: int, state: str) -> None:
        """E.g. a promoter blocked or rejected after the referral was tracked."""
        _one_of("promoter campaign state", state, PROMOTER_CAMPAIGN_STATES)
        with self._data:
            self.promoter_campaigns[promoter_campaign_id].state = state

    def add_many_promoter_campaigns(self, count: int, *, first_id: int = 100_000, coupon_prefix: str = "BULK") -> None:
        """`count` promoters, each with one promoter campaign and a unique tracking coupon
        (`BULK00000`...), listed before the seeded ones (a big account's long tail)."""
        with self._data:
            cid = DEFAULT_CAMPAIGN_ID
            if cid not in self.campaigns:
                self.add_campaign("Main Campaign", id=cid)
            now = time.time()
            for i in range(count):
                pid = pcid = first_id + i
                self.promoters[pid] = FPPromoterRec(pid, f"bulk{i:05d}@promoters.example", f"Bulk {i:05d}", now)
                coupon = f"{coupon_prefix}{i:05d}"
                self.promoter_campaigns[pcid] = FPPromoterCampaignRec(
                    pcid, pid, cid, coupon, f"{coupon}OFF", "accepted", f"bulk{i:05d}", now
                )
                self._listing_rank[pcid] = i - count  # before every seeded campaign
            self._sorted = None

    def list_on_page(self, promoter_campaign_id: int, page: int, per_page: int = 100) -> None:
        """Move one promoter campaign so `GET /promoter_campaigns` lists it on `page` (from 1)."""
        with self._data:
            others = sorted((pc for pc in self.promoter_campaigns if pc != promoter_campaign_id), key=self._rank)
            at = min((page - 1) * per_page + per_page // 2, len(others))
            before = self._rank(others[at - 1]) if at > 0 else -1e12
            after = self._rank(others[at]) if at < len(others) else before + 2
            self._listing_rank[promoter_campaign_id] = (before + after) / 2
            self._sorted = None

    def _by_id(self, table: str) -> list[Any]:
        """`referrals`, `commissions` or `promoters` sorted by id, as every listing serves them,
        sorted again only when that dict changed (sandbox/versioned.py): a month holds 50,000
        referrals, and a page is 100."""
        rows = getattr(self, table)
        kept = self._id_orders.get(table)
        version = version_of(rows)
        if kept is not None and version is not None and kept[0] is rows and kept[1] == version:
            return kept[2]
        with self._sorting:  # one sort for a burst of first pages
            kept = self._id_orders.get(table)
            version = version_of(rows)
            if kept is None or version is None or kept[0] is not rows or kept[1] != version:
                kept = (rows, version, sorted(rows.values(), key=lambda r: r.id))
                self._id_orders[table] = kept
            return kept[2]

    def reindex(self) -> None:
        """Sort the listings again on the next page: needed only after changing a record's `id`
        in place (adding, replacing or removing records is seen by itself)."""
        self._id_orders.clear()
        self._sorted = None

    def _rank(self, pcid: int) -> float:
        return self._listing_rank.get(pcid, pcid)

    def add_referral(
        self, email: str | None, *, id: int | None = None, uid: str | None = None,
        state: str = "signup", promoter_campaign_id: int | None = None, entry_source: str = "cookie",
        created_at: float | None = None, customer_since: float | None = None,
        username: str | None = None, fraud_check: str = "no_suspicion", is_expired: bool = False,
    ) -> int:
        with self._data:
            if promoter_campaign_id is not None and promoter_campaign_id not in self.promoter_campaigns:
                raise KeyError(f"no promoter campaign {promoter_campaign_id}")
            rid = self._new_id(id, self.referrals)
            self.referrals[rid] = FPReferralRec(
                rid, email, uid, state, entry_source, created_at or time.time(), customer_since,
                promoter_campaign_id, username, fraud_check, is_expired,
            )
            return rid

    def add_commission(
        self, event_id: str | None, *, referral_id: int | None, id: int | None = None,
        status: str = "approved", amount: int = 580, sale_amount: int = 2900, unit: str = "cash",
        created_at: float | None = None, promoter_campaign_id: int | None = None,
        fraud_check: str | None = "no_suspicion", is_paid: bool = False, commission_type: str = "sale",
        is_self_referral: bool | None = False, status_updated_at: float | None = None,
    ) -> int:
        """The commission's promoter campaign defaults to the referral's.  `status_updated_at`
        (e.g. when it was denied) defaults to when it was created."""
        _one_of("commission status", status, COMMISSION_STATUSES)
        _one_of("fraud_check", fraud_check, (*FRAUD_CHECKS, None))
        _one_of("commission_type", commission_type, COMMISSION_TYPES)
        _one_of("unit", unit, UNITS)
        with self._data:
            if referral_id is not None:
                ref = self.referrals[referral_id]
                if promoter_campaign_id is None:
                    promoter_campaign_id = ref.promoter_campaign_id
            cid = self._new_id(id, self.commissions)
            self.commissions[cid] = FPCommissionRec(
                cid, event_id, referral_id, promoter_campaign_id, status, amount, sale_amount, unit,
                created_at or time.time(), fraud_check=fraud_check, is_paid=is_paid,
                commission_type=commission_type, is_self_referral=is_self_referral,
                status_updated_at=status_updated_at,
            )
            return cid

    # ------------------------------------------------------------------ rendering (spec shapes)
    def _campaign_json(self, cid: int) -> dict[str, Any]:
        c = self.campaigns[cid]
        return {"id": c.id, "name": c.name, "color": c.color}

    def _person_json(self, pid: int) -> dict[str, Any]:
        p = self.promoters[pid]
        return {"id": p.id, "email": p.email, "name": p.name}

    def _link_json(self, pcid: int) -> dict[str, Any]:
        """`referral.promoter_campaign` / `commission.promoter_campaign`: the short form."""
        pc = self.promoter_campaigns[pcid]
        return {
            "id": pc.id,
            "campaign_id": pc.campaign_id,
            "promoter_id": pc.promoter_id,
            "created_at": iso(pc.created_at),
            "promoter": self._person_json(pc.promoter_id),
            "campaign": self._campaign_json(pc.campaign_id),
        }

    def referral_json(self, r: FPReferralRec) -> dict[str, Any]:
        return {
            "id": r.id,
            "email": r.email,
            "uid": r.uid,
            "state": r.state,
            "metadata": dict(r.metadata),
            "entry_source": r.entry_source,
            "created_at": iso(r.created_at),
            "customer_since": iso(r.customer_since),
            "promoter_campaign": (
                self._link_json(r.promoter_campaign_id) if r.promoter_campaign_id is not None else None
            ),
            "fraud_check": r.fraud_check,
            "created_by_user_email": None,
            "username": r.username,
            "split_details": None,
            "first_name": None,
            "last_name": None,
            "website": None,
            "comment": None,
            "is_expired": r.is_expired,
        }

    def promoter_campaign_json(self, pc: FPPromoterCampaignRec) -> dict[str, Any]:
        refs = [r for r in self.referrals.values() if r.promoter_campaign_id == pc.id]
        sales = [c for c in self.commissions.values() if c.promoter_campaign_id == pc.id]
        return {
            **self._link_json(pc.id),
            "state": pc.state,
            "stats": {
                "clicks_count": len(refs) * 3,
                "referrals_count": len(refs),
                "sales_count": len(sales),
                "customers_count": sum(1 for r in refs if r.customer_since is not None),
                "revenue_amount": sum(c.sale_amount for c in sales),
            },
            "coupon": pc.coupon,
            "display_coupon": pc.display_coupon,
            "ref_token": pc.ref_token,
            "ref_link": f"https://acme.example/?fpr={pc.ref_token}",
            "is_customized": False,
            "direct_url": f"https://acme.example/?fpr={pc.ref_token}",
            "referral_rewards_customized": False,
            "promoter_rewards_customized": False,
            "rewards_for_promoters": [],
            "rewards_for_referrals": [],
            "promo_codes": [pc.display_coupon] if pc.display_coupon else [],
        }

    def promoter_json(self, p: FPPromoterRec) -> dict[str, Any]:
        pcs = [pc for pc in self.promoter_campaigns.values() if pc.promoter_id == p.id]
        first, _, last = p.name.partition(" ")
        return {
            "id": p.id,
            "email": p.email,
            "name": p.name,
            "cust_id": p.cust_id,
            "note": None,
            "stats": {
                "clicks_count": 0, "referrals_count": 0, "sales_count": 0, "customers_count": 0,
                "revenue_amount": 0, "active_customers_count": 0,
            },
            "is_customized": False,
            "fraud_suspicions": [],
            "is_confirmed": True,
            "profile": {"id": p.id, "first_name": first, "last_name": last, "website": None,
                        "company_name": None, "country": None},
            "joined_at": iso(p.joined_at),
            "last_login_at": None,
            "archived_at": None,
            "custom_fields": None,
            "password_setup_url": None,
            "promoter_campaigns": [
                {
                    "id": pc.id, "campaign_id": pc.campaign_id, "promoter_id": pc.promoter_id,
                    "state": pc.state, "created_at": iso(pc.created_at),
                    "campaign": self._campaign_json(pc.campaign_id), "coupon": pc.coupon,
                    "ref_token": pc.ref_token, "ref_link": f"https://acme.example/?fpr={pc.ref_token}",
                }
                for pc in pcs
            ],
            "balances": {"cash": 0, "credits": None, "points": None, "free_months": None, "discount": None},
            "selected_payout_method": None,
        }

    def commission_json(self, c: FPCommissionRec) -> dict[str, Any]:
        ref = self.referrals.get(c.referral_id) if c.referral_id is not None else None
        return {
            "id": c.id,
            "status": c.status,
            "metadata": {},
            "is_self_referral": c.is_self_referral,
            "commission_type": c.commission_type,
            "created_by_user_email": c.created_by_user_email,
            "created_by_user_at": iso(c.created_at) if c.created_by_user_email else None,
            "sale_amount": c.sale_amount,
            "original_sale_amount": c.sale_amount,
            "original_sale_currency": c.currency,
            "event_id": c.event_id,
            "plan_id": None,
            "tier": 1,
            "internal_note": c.internal_note,
            "external_note": None,
            "unit": c.unit,
            "fraud_check": c.fraud_check,
            "amount": c.amount,
            "is_paid": c.is_paid,
            "is_split": False,
            "created_at": iso(c.created_at),
            "status_updated_at": iso(c.status_updated_at if c.status_updated_at is not None else c.created_at),
            "promoter_campaign": (
                self._link_json(c.promoter_campaign_id) if c.promoter_campaign_id is not None else {}
            ),
            "referral": {"id": ref.id, "email": ref.email, "uid": ref.uid} if ref else None,
            "reward": {"id": 1, "name": "20% recurring"},
            "split_details": None,
        }

    # ------------------------------------------------------------------ handlers
    def _list_referrals(self, req: Request, _m: re.Match[str]) -> Response:
        with self._data:
            rows = self._by_id("referrals")
            q = req.param("q")
            if q:
                rows = [r for r in rows if _contains(q, r.email, r.uid, r.username)]
            ids = {_int(i, -1) for i in req.params("ids[]")}
            if ids:
                rows = [r for r in rows if r.id in ids]
            if state := req.param("filters[state]"):
                rows = [r for r in rows if r.state == state]
            kind = req.param("filters[type]")
            if kind == "customer":
                rows = [r for r in rows if r.customer_since is not None]
            elif kind == "lead":
                rows = [r for r in rows if r.customer_since is None]
            if pid := req.param("filters[promoter_id]"):
                rows = [r for r in rows if r.promoter_campaign_id is not None
                        and self.promoter_campaigns[r.promoter_campaign_id].promoter_id == _int(pid, -1)]
            return Response(200, [self.referral_json(r) for r in _page(req, rows)])

    def _get_referral(self, req: Request, m: re.Match[str]) -> Response:
        value = unquote(m.group(1))
        find_by = req.param("find_by")
        with self._data:
            if find_by is None:
                ref = self.referrals.get(_int(value, -1)) if value.isdigit() else None
                return Response(200, self.referral_json(ref)) if ref else Response(404, dict(NOT_FOUND))
            if find_by not in ("email", "uid", "username"):
                return Response(422, {"message": "find_by is invalid", "code": "invalid_params"})
            for r in self._by_id("referrals"):
                have = getattr(r, find_by)
                if have is None:
                    continue
                if have == value or (
                    find_by == "email" and not self.email_case_sensitive and have.lower() == value.lower()
                ):
                    return Response(200, self.referral_json(r))
        if self.find_by_miss_status == 422:
            return Response(422, {"message": f"Cannot find referral by {find_by}", "code": "invalid_params"})
        return Response(self.find_by_miss_status, dict(NOT_FOUND))

    def _list_promoter_campaigns(self, req: Request, _m: re.Match[str]) -> Response:
        with self._data:
            if self._sorted is None or len(self._sorted) != len(self.promoter_campaigns):
                self._sorted = sorted(self.promoter_campaigns.values(), key=lambda pc: self._rank(pc.id))
            return Response(200, [self.promoter_campaign_json(pc) for pc in _page(req, self._sorted)])

    def _list_promoters(self, req: Request, _m: re.Match[str]) -> Response:
        with self._data:
            rows = self._by_id("promoters")
            if q := req.param("q"):
                rows = [p for p in rows if _contains(q, p.email, p.name)]
            ids = {_int(i, -1) for i in req.params("ids[]")}
            if ids:
                rows = [p for p in rows if p.id in ids]
            pending = sum(
                1 for p in self.promoters.values()
                if any(pc.state == "pending" for pc in self.promoter_campaigns.values() if pc.promoter_id == p.id)
            )
            data = [self.promoter_json(p) for p in _page(req, rows)]
            return Response(200, {"data": data, "meta": {"pending_count": pending}})

    def _get_promoter(self, req: Request, m: re.Match[str]) -> Response:
        value = unquote(m.group(1))
        find_by = req.param("find_by")
        with self._data:
            if find_by is None:
                p = self.promoters.get(_int(value, -1)) if value.isdigit() else None
                return Response(200, self.promoter_json(p)) if p else Response(404, dict(NOT_FOUND))
            for p in self.promoters.values():
                if (find_by == "email" and p.email.lower() == value.lower()) or (
                    find_by == "cust_id" and p.cust_id == value
                ):
                    return Response(200, self.promoter_json(p))
                if find_by == "ref_token" and any(
                    pc.ref_token == value for pc in self.promoter_campaigns.values() if pc.promoter_id == p.id
                ):
                    return Response(200, self.promoter_json(p))
        # documented: a find_by miss is 422, not 404
        return Response(422, {"message": f"Cannot find promoter by {find_by}", "code": "invalid_params"})

    def _list_commissions(self, req: Request, _m: re.Match[str]) -> Response:
        with self._data:
            rows = self._by_id("commissions")
            if q := req.param("q"):
                def hit(c: FPCommissionRec) -> bool:
                    ref = self.referrals.get(c.referral_id) if c.referral_id is not None else None
                    return _contains(q, c.event_id, ref.email if ref else None, ref.uid if ref else None)

                rows = [c for c in rows if hit(c)]
            ids = {_int(i, -1) for i in req.params("ids[]")}
            if ids:
                rows = [c for c in rows if c.id in ids]
            if status := req.param("filters[status]"):
                rows = [c for c in rows if c.status == status]
            rows = _created_range(req, rows)
            return Response(200, [self.commission_json(c) for c in _page(req, rows)])
