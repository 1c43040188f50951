"""A loopback stand-in for FirstPromoter's v1 ("legacy") API (`/api/v1`), from its API reference.

Shapes are those of `firstpromoter/docs` `api-reference-v1/*/openapi-*.json` (docs/firstpromoter-v1.md):
`GET /leads/show?id|uid|email` (a Lead with its `promotion` and `promoter`), `/leads/list`,
`/rewards/list` (rewards with their `lead`), `/promoters/list` and `/promoters/show` (a promoter with
`promotions[]`: `promo_code` is the tracking coupon, `customer_promo_code` the code customers type).
Auth is `X-API-KEY`; a bad key answers 401 `"Bad credentials"`; a lookup miss 404 `{"error": …}`;
a call without a lookup parameter 422.  Writes are recorded and answered 404 (no route).

It holds the same records as the v2 stand-in (sandbox/fp_server.py), so one seeding serves both
(sandbox/fp_v1_seed.py).  Where the docs leave behaviour open, the choice is a knob:
- `pagination`: which headers carry paging ("link": `Link` + `Total` + `Per-Page`, the Rails
  api-pagination convention third-party code reads; "total": only `Total`/`Per-Page`; "none").
- `default_per_page` / `max_per_page`: undocumented (FirstPromoter's n8n node sends 20 or 25).
- `email_case_sensitive`: whether `leads/show?email=` compares letter case (unknown upstream).
- `rate_limit_per_minute` and `retry_after`: v1's limit is undocumented; off unless set.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from sandbox.fp_server import (
    FPCampaignRec,
    FPCommissionRec,
    FPPromoterCampaignRec,
    FPPromoterRec,
    FPReferralRec,
    iso,
)
from sandbox.httpserver import Request, Response, StandIn
from sandbox.scenarios import FP_V1_API_KEY

BASE = "/api/v1"
BAD_CREDENTIALS = "Bad credentials"


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw not in (None, "") else default
    except ValueError:
        return default


class FirstPromoterV1StandIn(StandIn):
    name = "firstpromoter-v1"

    def __init__(
        self,
        api_keys: Iterable[str] = (FP_V1_API_KEY,),
        *,
        pagination: str = "link",
        default_per_page: int = 20,
        max_per_page: int = 100,
        email_case_sensitive: bool = True,
        rate_limit_per_minute: int | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__()
        self.api_keys = set(api_keys)
        self.pagination = pagination
        self.default_per_page = default_per_page
        self.max_per_page = max_per_page
        self.email_case_sensitive = email_case_sensitive
        self.rate_limit_per_minute = rate_limit_per_minute
        self.retry_after = retry_after
        self._recent: deque[float] = deque()
        self._data = threading.RLock()
        self.campaigns: dict[int, FPCampaignRec] = {}
        self.promoters: dict[int, FPPromoterRec] = {}
        self.promoter_campaigns: dict[int, FPPromoterCampaignRec] = {}
        self.referrals: dict[int, FPReferralRec] = {}
        self.commissions: dict[int, FPCommissionRec] = {}
        self.route("GET", f"{BASE}/leads/show", self._show_lead)
        self.route("GET", f"{BASE}/leads/list", self._list_leads)
        self.route("GET", f"{BASE}/rewards/list", self._list_rewards)
        self.route("GET", f"{BASE}/promoters/list", self._list_promoters)
        self.route("GET", f"{BASE}/promoters/show", self._show_promoter)

    # ------------------------------------------------------------------ control
    def load_from(self, v2: Any) -> None:
        """Take the records of a seeded v2 stand-in (the same scenarios, in v1's shapes)."""
        with self._data:
            self.campaigns = dict(v2.campaigns)
            self.promoters = dict(v2.promoters)
            self.promoter_campaigns = dict(v2.promoter_campaigns)
            self.referrals = dict(v2.referrals)
            self.commissions = dict(v2.commissions)

    def revoke(self, key: str) -> None:
        self.api_keys.discard(key)

    def authorize(self, req: Request) -> Response | None:
        key = (req.headers.get("x-api-key") or "").strip()
        if key not in self.api_keys:
            return Response(401, BAD_CREDENTIALS)
        if self.rate_limit_per_minute is not None and self._over_limit(req.at):
            return Response(429, None, {"Retry-After": self.retry_after} if self.retry_after else {})
        return None

    def _over_limit(self, at: float) -> bool:
        with self._lock:
            while self._recent and at - self._recent[0] >= 60.0:
                self._recent.popleft()
            if len(self._recent) >= (self.rate_limit_per_minute or 0):
                return True
            self._recent.append(at)
            return False

    # ------------------------------------------------------------------ paging
    def _page(self, req: Request, rows: list[Any], render: Any) -> Response:
        page = max(_int(req.param("page"), 1), 1)
        per_page = min(max(_int(req.param("per_page"), self.default_per_page), 1), self.max_per_page)
        start = (page - 1) * per_page
        body = [render(r) for r in rows[start:start + per_page]]
        headers: dict[str, str] = {}
        if self.pagination in ("link", "total"):
            headers = {"Total": str(len(rows)), "Per-Page": str(per_page)}
        if self.pagination == "link":
            last = max(1, -(-len(rows) // per_page))
            keep = [(k, v) for k, v in req.query if k not in ("page", "per_page")]

            def url(n: int) -> str:
                return f"http://127.0.0.1{req.path}?{urlencode([*keep, ('page', n), ('per_page', per_page)])}"

            links = [f'<{url(1)}>; rel="first"']
            if page > 1:
                links.append(f'<{url(page - 1)}>; rel="prev"')
            if page < last:
                links.append(f'<{url(page + 1)}>; rel="next"')
            links.append(f'<{url(last)}>; rel="last"')
            headers["Link"] = ", ".join(links)
        return Response(200, body, headers)

    # ------------------------------------------------------------------ rendering (v1 spec shapes)
    def promotion_json(self, pc: FPPromoterCampaignRec) -> dict[str, Any]:
        campaign = self.campaigns.get(pc.campaign_id)
        refs = [r for r in self.referrals.values() if r.promoter_campaign_id == pc.id]
        return {
            "id": pc.id,
            "status": "offer_running",
            "ref_id": pc.ref_token,
            "promo_code": pc.coupon,
            "customer_promo_code": pc.display_coupon,
            "target_reached_at": None,
            "promoter_id": pc.promoter_id,
            "campaign_id": pc.campaign_id,
            "referral_link": f"https://acme.example/?fpr={pc.ref_token}",
            "current_offer": None,
            "current_referral_reward": {"id": 205, "amount": 2000, "type": "per_referral", "unit": "cash",
                                        "name": "20% recurring commission", "per_of_sale": 20, "default_promo_code": ""},
            "current_promotion_reward": None,
            "current_target_reward": None,
            "campaign_name": campaign.name if campaign else None,
            "hidden": False,
            "visitors_count": len(refs) * 3,
            "leads_count": len(refs),
            "customers_count": sum(1 for r in refs if r.customer_since is not None),
            "refunds_count": 0,
            "cancellations_count": 0,
            "sales_count": sum(1 for c in self.commissions.values() if c.promoter_campaign_id == pc.id),
            "sales_total": 0,
            "refunds_total": 0,
            "active_customers_count": 0,
        }

    def _promoter_short(self, p: FPPromoterRec) -> dict[str, Any]:
        pcs = sorted((pc for pc in self.promoter_campaigns.values() if pc.promoter_id == p.id), key=lambda pc: pc.id)
        return {
            "id": p.id,
            "status": "approved",
            "cust_id": p.cust_id,
            "email": p.email,
            "created_at": iso(p.joined_at),
            "temp_password": None,
            "default_promotion_id": pcs[0].id if pcs else None,
            "pref": None,
            "default_ref_id": pcs[0].ref_token if pcs else None,
            "note": None,
            "w8_form_url": None,
            "w9_form_url": None,
            "parent_promoter_id": None,
            "earnings_balance": None,
            "current_balance": None,
            "paid_balance": None,
            "auth_token": f"tok{p.id}",
        }

    def promoter_json(self, p: FPPromoterRec) -> dict[str, Any]:
        first, _, last = p.name.partition(" ")
        pcs = sorted((pc for pc in self.promoter_campaigns.values() if pc.promoter_id == p.id), key=lambda pc: pc.id)
        return {
            **self._promoter_short(p),
            "profile": {"id": p.id, "first_name": first, "last_name": last or None, "website": None,
                        "company_name": None, "phone_number": None, "address": None, "vat_id": None,
                        "country": None, "paypal_email": None, "avatar_url": None, "description": None,
                        "social_accounts": {}},
            "promotions": [self.promotion_json(pc) for pc in pcs],
            "custom_fields": {},
            "promo_codes": [],
        }

    def lead_json(self, r: FPReferralRec) -> dict[str, Any]:
        pc = self.promoter_campaigns.get(r.promoter_campaign_id) if r.promoter_campaign_id is not None else None
        promoter = self.promoters.get(pc.promoter_id) if pc else None
        return {
            "id": r.id,
            "state": r.state,
            "email": r.email,
            "uid": r.uid,
            "customer_since": iso(r.customer_since),
            "cancelled_at": None,
            "plan_name": "",
            "suspicion": r.fraud_check,
            "username": r.username,
            "website": None,
            "created_at": iso(r.created_at),
            "split_promotion_id": None,
            "custom_fields": {},
            "split_percentage_value": None,
            "visitor_sub_id": None,
            "promotion": self.promotion_json(pc) if pc else None,
            "promoter": self._promoter_short(promoter) if promoter else None,
        }

    def reward_json(self, c: FPCommissionRec) -> dict[str, Any]:
        ref = self.referrals.get(c.referral_id) if c.referral_id is not None else None
        pc = self.promoter_campaigns.get(c.promoter_campaign_id) if c.promoter_campaign_id is not None else None
        promoter = self.promoters.get(pc.promoter_id) if pc else None
        lead = dict(self.lead_json(ref)) if ref else None
        if lead:
            lead.pop("promotion")
            lead.pop("promoter")
        return {
            "id": c.id,
            "status": c.status,
            "amount": c.amount,
            "unit": c.unit if c.unit in ("cash", "credits", "points", "free_months") else "cash",
            "created_at": iso(c.created_at),
            "lead": lead,
            "event_id": c.event_id,
            "conversion_amount": c.sale_amount,
            "tier_level": 1,
            "promoter": self._promoter_short(promoter) if promoter else None,
            "promotion": self.promotion_json(pc) if pc else None,
        }

    # ------------------------------------------------------------------ handlers
    def _show_lead(self, req: Request, _m: re.Match[str]) -> Response:
        lead_id, uid, email = req.param("id"), req.param("uid"), req.param("email")
        if not (lead_id or uid or email):
            return Response(422, {"error": "You need to find the lead/customer either by id, uid or email."})
        with self._data:
            for r in sorted(self.referrals.values(), key=lambda r: r.id):
                if lead_id and str(r.id) == lead_id:
                    return Response(200, self.lead_json(r))
                if uid and r.uid == uid:
                    return Response(200, self.lead_json(r))
                if email and r.email is not None and (
                    r.email == email or (not self.email_case_sensitive and r.email.lower() == email.lower())
                ):
                    return Response(200, self.lead_json(r))
        return Response(404, {"error": "Lead not found."})

    def _promotion_filter(self, req: Request) -> tuple[set[int] | None, Response | None]:
        """The promotion ids `promotion_id` / `ref_id` / `promoter_id` / `campaign_id` select (None: all)."""
        pcs = list(self.promoter_campaigns.values())
        chosen: set[int] | None = None
        if (pid := req.param("promotion_id")) is not None:
            if _int(pid, -1) not in self.promoter_campaigns:
                return None, Response(422, {"error": "Promotion not found."})
            chosen = {_int(pid, -1)}
        if (ref := req.param("ref_id")) is not None:
            hit = {pc.id for pc in pcs if pc.ref_token == ref}
            if not hit:
                return None, Response(422, {"error": "Promotion not found."})
            chosen = hit if chosen is None else chosen & hit
        if (prid := req.param("promoter_id")) is not None:
            hit = {pc.id for pc in pcs if pc.promoter_id == _int(prid, -1)}
            chosen = hit if chosen is None else chosen & hit
        if (cid := req.param("campaign_id")) is not None:
            hit = {pc.id for pc in pcs if pc.campaign_id == _int(cid, -1)}
            chosen = hit if chosen is None else chosen & hit
        return chosen, None

    def _list_leads(self, req: Request, _m: re.Match[str]) -> Response:
        with self._data:
            chosen, refused = self._promotion_filter(req)
            if refused:
                return refused
            rows = [r for r in sorted(self.referrals.values(), key=lambda r: r.id)
                    if chosen is None or r.promoter_campaign_id in chosen]
            return self._page(req, rows, self.lead_json)

    def _list_rewards(self, req: Request, _m: re.Match[str]) -> Response:
        with self._data:
            chosen, refused = self._promotion_filter(req)
            if refused:
                return refused
            rows = [c for c in sorted(self.commissions.values(), key=lambda c: c.id)
                    if chosen is None or c.promoter_campaign_id in chosen]
            return self._page(req, rows, self.reward_json)

    def _list_promoters(self, req: Request, _m: re.Match[str]) -> Response:
        with self._data:
            rows = sorted(self.promoters.values(), key=lambda p: p.id)
            if (cid := req.param("campaign_id")) is not None:
                if _int(cid, -1) not in self.campaigns:
                    return Response(422, {"error": "Campaign not found."})
                rows = [p for p in rows if any(pc.promoter_id == p.id and pc.campaign_id == _int(cid, -1)
                                               for pc in self.promoter_campaigns.values())]
            return self._page(req, rows, self.promoter_json)

    def _show_promoter(self, req: Request, _m: re.Match[str]) -> Response:
        pid, email, cust, ref, tok = (req.param(k) for k in ("id", "promoter_email", "cust_id", "ref_id", "auth_token"))
        if not (pid or email or cust or ref or tok):
            return Response(422, {"error": "You need to find the promoter either by id, cust_id, auth_token, ref_id, "
                                           "promoter_email or promo_code"})
        with self._data:
            for p in sorted(self.promoters.values(), key=lambda p: p.id):
                refs = {pc.ref_token for pc in self.promoter_campaigns.values() if pc.promoter_id == p.id}
                if ((pid and str(p.id) == pid) or (email and p.email.lower() == email.lower())
                        or (cust and p.cust_id == cust) or (ref and ref in refs) or (tok and tok == f"tok{p.id}")):
                    return Response(200, self.promoter_json(p))
        return Response(404, {"error": "Promoter not found."})
