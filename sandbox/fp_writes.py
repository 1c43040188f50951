"""The FirstPromoter stand-in's write routes: what `fpcheck fix` calls, as FirstPromoter's v2 specs
describe them (`shared/reference/firstpromoter/openapi-v2/`).

Off unless `enable_writes` is called: a stand-in without it answers every write 404, as before,
so the read-only tests keep proving that the readers never write.  With it:

- `PUT /referrals/{id}` (also `find_by` in the body) changes `email`, `uid`, `username`,
  `promoter_campaign_id` or `fraud_check`; 200 with the referral, 404 when there is none.
- `POST /referrals/{id}/import_events` ("Import previous sales from stripe"): 202 with a batch
  object; 422 "Operation failed" when the referral's uid names no Stripe customer.  The batch
  creates a sale commission for each paid Stripe invoice (and one-time charge) of the uid's customer
  that no commission names yet, and makes the referral a customer; it is `pending` for
  `import_seconds`, then `completed` (FirstPromoter imports in the background).
- `GET /batch_processes/{id}`: the batch as it stands.
- `POST /commissions` (`commission_type: sale`): 200 with `[commission]`.  FirstPromoter documents
  no duplicate check on `event_id`, so none is made here either: the caller must look first.
- `PUT /promoter_campaigns/{id}`: `coupon`, `display_coupon`, `state`, `ref_token`; 200 with it.

The import reads the Stripe stand-in's own objects (the mode FirstPromoter is connected to), the
way FirstPromoter reads the connected Stripe account.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from sandbox.fp_server import (
    BASE,
    FRAUD_CHECKS,
    NOT_FOUND,
    PROMOTER_CAMPAIGN_STATES,
    FirstPromoterStandIn,
    FPReferralRec,
    iso,
)
from sandbox.httpserver import Request, Response
from sandbox.stripe_server import StripeStandIn

COMMISSION_RATE = 0.20  # the sandbox's reward: 20% of the sale (fp_seed: $5.80 of $29.00)
MIN_SALE = 50  # cents: FirstPromoter skips what is not over $0.50
OPERATION_FAILED = {"message": "Operation failed", "code": "operation_failed"}
SALE_UNITS = ("cash", "credits", "points", "free_months", "mon_discount", "discount_per")


@dataclass
class Batch:
    id: int
    referral_id: int
    created_at: float
    ready_at: float
    total: int = 1
    failed_count: int = 0
    errors: list[str] = field(default_factory=list)
    done: bool = False

    def json(self, now: float) -> dict[str, Any]:
        # the spec's BatchOperationResponse; `status` is pending until the import has run
        completed = self.done and now >= self.ready_at
        return {
            "id": self.id,
            "status": "completed" if completed else "pending",
            "total": self.total,
            "selected_total": self.total,
            "processed_count": self.total if completed else 0,
            "failed_count": self.failed_count if completed else 0,
            "action_label": "import_events",
            "created_at": iso(self.created_at),
            "updated_at": iso(self.ready_at if completed else self.created_at),
            "meta": {"referral_id": self.referral_id},
            "progress": 100 if completed else 0,
            "processing_errors": list(self.errors) if completed else [],
        }


class Writes:
    """The write routes of one FirstPromoter stand-in, and the batches they started."""

    def __init__(self, fp: FirstPromoterStandIn, stripe: StripeStandIn | None, *, mode: str = "test",
                 import_seconds: float = 0.0) -> None:
        self.fp = fp
        self.stripe = stripe
        self.mode = mode
        self.import_seconds = import_seconds
        self.batches: dict[int, Batch] = {}
        self._lock = threading.Lock()
        self._next_batch = 40_000

    def register(self) -> None:
        fp = self.fp
        fp.route("PUT", f"{BASE}/referrals/([^/]+)", self._put_referral)
        fp.route("POST", f"{BASE}/referrals/([^/]+)/import_events", self._import_events)
        fp.route("GET", f"{BASE}/batch_processes/([0-9]+)", self._get_batch)
        fp.route("POST", f"{BASE}/commissions", self._post_commission)
        fp.route("PUT", f"{BASE}/promoter_campaigns/([0-9]+)", self._put_promoter_campaign)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _body(req: Request) -> dict[str, Any] | None:
        try:
            data = json.loads(req.body or "{}")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _referral(self, value: str, find_by: str | None) -> FPReferralRec | None:
        if find_by is None:
            return self.fp.referrals.get(int(value)) if value.isdigit() else None
        return next((r for r in sorted(self.fp.referrals.values(), key=lambda r: r.id)
                     if getattr(r, find_by, None) == value), None)

    # ------------------------------------------------------------------ referrals
    def _put_referral(self, req: Request, m: re.Match[str]) -> Response:
        body = self._body(req)
        if body is None:
            return Response(422, {"message": "the body is not a JSON object", "code": "invalid_params"})
        find_by = body.get("find_by") or req.param("find_by")
        if find_by not in (None, "email", "uid", "username"):
            return Response(422, {"message": "find_by is invalid", "code": "invalid_params"})
        with self.fp._data:
            ref = self._referral(unquote(m.group(1)), find_by)
            if ref is None:
                return Response(404, dict(NOT_FOUND))
            uid, email = body.get("uid", ref.uid), body.get("email", ref.email)
            if not uid and not email:
                return Response(422, {"message": "Email and uid can not be both blank", "code": "invalid_params"})
            for name in ("uid", "email", "username"):
                if name in body and body[name] is not None and not isinstance(body[name], str):
                    return Response(422, {"message": f"{name} must be a string", "code": "invalid_params"})
            if "fraud_check" in body and body["fraud_check"] not in FRAUD_CHECKS:
                return Response(422, {"message": "fraud_check is invalid", "code": "invalid_params"})
            pcid = body.get("promoter_campaign_id", ref.promoter_campaign_id)
            if pcid is not None and pcid not in self.fp.promoter_campaigns:
                return Response(422, {"message": "promoter campaign not found", "code": "invalid_params"})
            ref.uid, ref.email = uid, email
            ref.username = body.get("username", ref.username)
            ref.fraud_check = body.get("fraud_check", ref.fraud_check)
            ref.promoter_campaign_id = pcid
            return Response(200, self.fp.referral_json(ref))

    def _import_events(self, req: Request, m: re.Match[str]) -> Response:
        with self.fp._data:
            ref = self._referral(unquote(m.group(1)), req.param("find_by"))
            if ref is None or not ref.uid or self.stripe is None:
                return Response(422, dict(OPERATION_FAILED))
            sales = self._stripe_sales(ref.uid)
            if sales is None:
                return Response(422, dict(OPERATION_FAILED))
            now = time.time()
            with self._lock:
                self._next_batch += 1
                batch = Batch(self._next_batch, ref.id, now, now + self.import_seconds, total=max(len(sales), 1))
                self.batches[batch.id] = batch
            known = {c.event_id for c in self.fp.commissions.values() if c.event_id}
            first: float | None = None
            for event_id, amount, paid_at in sales:
                first = paid_at if first is None else min(first, paid_at)
                if event_id in known:
                    continue
                self.fp.add_commission(
                    event_id, referral_id=ref.id, status="pending", sale_amount=amount,
                    amount=round(amount * COMMISSION_RATE), created_at=now,
                )
            if sales and ref.customer_since is None:
                ref.customer_since = first
                ref.state = "active" if ref.state == "signup" else ref.state
            batch.done = True
            return Response(202, batch.json(now))

    def _stripe_sales(self, uid: str) -> list[tuple[str, int, float]] | None:
        """(event id, amount, when) of every sale FirstPromoter would import for the Stripe customer
        `uid`: paid invoices with money collected through Stripe, and one-time charges; None when the
        connected Stripe account has no such customer."""
        assert self.stripe is not None
        ds = self.stripe.data[self.mode]  # type: ignore[index]
        if uid not in ds.customers:
            return None
        out: list[tuple[str, int, float]] = []
        invoiced: set[str] = set()
        for inv in ds.invoices.values():
            for pay_id in ds.payments_of.get(inv["id"], []):
                payment = ds.invoice_payments[pay_id].get("payment") or {}
                invoiced.update(v for k, v in payment.items() if k != "type" and isinstance(v, str))
            if inv.get("customer") != uid or inv.get("status") != "paid":
                continue
            amount = int(inv.get("amount_paid") or 0) - int(inv.get("amount_paid_off_stripe") or 0)
            if amount > MIN_SALE:
                paid_at = (inv.get("status_transitions") or {}).get("paid_at") or inv.get("created") or 0
                out.append((inv["id"], amount, float(paid_at)))
        for ch in ds.charges.values():
            if ch.get("customer") != uid or ch.get("status") != "succeeded":
                continue
            if ch["id"] in invoiced or (ch.get("payment_intent") or "") in invoiced or ch.get("invoice"):
                continue
            amount = int(ch.get("amount_captured") or 0) - int(ch.get("amount_refunded") or 0)
            if amount > MIN_SALE:
                out.append((ch["id"], amount, float(ch.get("created") or 0)))
        return sorted(out, key=lambda s: s[2])

    def _get_batch(self, req: Request, m: re.Match[str]) -> Response:
        with self._lock:
            batch = self.batches.get(int(m.group(1)))
        if batch is None:
            return Response(404, dict(NOT_FOUND))
        return Response(200, batch.json(time.time()))

    # ------------------------------------------------------------------ commissions
    def _post_commission(self, req: Request, _m: re.Match[str]) -> Response:
        body = self._body(req)
        if body is None:
            return Response(422, {"message": "the body is not a JSON object", "code": "invalid_params"})
        if body.get("commission_type") != "sale":
            return Response(422, {"message": "only sale commissions are supported here", "code": "invalid_params"})
        ref_id, amount = body.get("referral_id"), body.get("sale_amount")
        if not isinstance(ref_id, int) or isinstance(ref_id, bool):
            return Response(422, {"message": "param is missing or the value is empty or invalid: referral_id",
                                  "code": "invalid_params"})
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            return Response(422, {"message": "param is missing or the value is empty or invalid: sale_amount",
                                  "code": "invalid_params"})
        unit = body.get("unit", "cash")
        if unit not in SALE_UNITS:
            return Response(422, {"message": "unit is invalid", "code": "invalid_params"})
        with self.fp._data:
            if ref_id not in self.fp.referrals:
                return Response(404, dict(NOT_FOUND))
            cid = self.fp.add_commission(
                body.get("event_id") if isinstance(body.get("event_id"), str) else None, referral_id=ref_id,
                status="pending", sale_amount=amount, amount=round(amount * COMMISSION_RATE), unit=unit,
            )
            rec = self.fp.commissions[cid]
            note = body.get("internal_note")
            rec.internal_note = note if isinstance(note, str) else None
            rec.created_by_user_email = "api@acme.example"
            return Response(200, [self.fp.commission_json(rec)])

    # ------------------------------------------------------------------ promoter campaigns
    def _put_promoter_campaign(self, req: Request, m: re.Match[str]) -> Response:
        body = self._body(req)
        if body is None:
            return Response(422, {"message": "the body is not a JSON object", "code": "invalid_params"})
        with self.fp._data:
            pc = self.fp.promoter_campaigns.get(int(m.group(1)))
            if pc is None:
                return Response(404, dict(NOT_FOUND))
            if "state" in body and body["state"] not in PROMOTER_CAMPAIGN_STATES:
                return Response(422, {"message": "state is invalid", "code": "invalid_params"})
            for name in ("coupon", "display_coupon", "ref_token"):
                if name in body and body[name] is not None and not isinstance(body[name], str):
                    return Response(422, {"message": f"{name} must be a string", "code": "invalid_params"})
            pc.coupon = body.get("coupon", pc.coupon) or None
            pc.display_coupon = body.get("display_coupon", pc.display_coupon) or None
            pc.state = body.get("state", pc.state)
            pc.ref_token = body.get("ref_token", pc.ref_token)
            self.fp._sorted = None
            return Response(200, self.fp.promoter_campaign_json(pc))


def enable_writes(fp: FirstPromoterStandIn, stripe: StripeStandIn | None, *, mode: str = "test",
                  import_seconds: float = 0.0) -> Writes:
    """Give `fp` its write routes; `stripe` is the connected account an import reads (in `mode`)."""
    writes = Writes(fp, stripe, mode=mode, import_seconds=import_seconds)
    writes.register()
    return writes
