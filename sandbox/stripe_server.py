"""A stateful, read-only stand-in for Stripe's API (version 2026-10-28.endive) on 127.0.0.1.

It holds two data sets, test and live, picked by the key's mode like Stripe does, and serves the
current object shapes, built from Stripe's own example objects (`data/stripe_fixtures3.json`, a
subset of stripe-mock's fixtures3.json, MIT).  Only GET is served: a write is recorded (so tests can
prove our readers never send one) and refused with a 403, as Stripe refuses a read-only key.

Behaviour copied from Stripe (reference/stripe.md):
- `customers?email=` is case-sensitive and exact; several customers may share an email.
- Lists are newest first, `limit` 1..100, `starting_after`/`ending_before`, `has_more`.
- Invoice `discounts` are `di_...` ids and `payments` is absent unless expanded; expand is at most
  4 levels deep; a Discount's coupon is `source.coupon`, a PromotionCode's is `promotion.coupon`.
- `subscriptions` without `status` omits canceled ones; `status=all` includes them.
- A restricted (rk_) key gets 403 on GET /v1/account, naming the account and the permission.
  `deny(key, path, permission)` refuses endpoints, `deny_expand(key, field, permission)` refuses
  expanding a field (e.g. `discounts.source.coupon`, `balance_transaction`), and `restrict(key,
  permission, ...)` does both for a read permission (see RESTRICTABLE).
- Charges carry a `balance_transaction` (`txn_…`, expandable): the settlement amount and currency.
- Checkout Sessions (`/v1/checkout/sessions`) with `customer` null for guest payments; filters
  `customer`, `customer_details[email]`, `payment_intent`, `payment_link`, `status`,
  `subscription`, `created[gt|gte|lt|lte]`.
- Events (`/v1/events`): a payment seeded or added records its events (`invoice.paid` and
  `invoice.payment_succeeded`, `charge.succeeded`, `checkout.session.completed`), newest first,
  the last 30 days, filters `type` (`*` wildcards) or `types[]` (at most 20), `created[...]`.
- Bad keys get 401 with the key masked; every answer carries a `Request-Id`.
- PaymentIntents (`/v1/payment_intents`, filters `customer`, `created[...]`) in every status, with
  `last_payment_error` and `next_action` when a payment failed or waits for the customer.
- A deleted customer (`delete_customer`) answers `{"id", "object": "customer", "deleted": true}` and
  is in no customer list or search; its invoices and charges stay listed under its id, and Stripe
  cancels its subscriptions.
- Invoices carry `amount_paid_off_stripe` (0 unless paid outside Stripe), `collection_method` and
  `starting_balance`; a payment recorded outside Stripe is an InvoicePayment whose `payment` is
  `{"type": "payment_record", "payment_record": "prec_…"}`, with no PaymentIntent or Charge.

Our assumptions, not verified against Stripe: customer search's `email:'x'` matches
case-insensitively; `customer_details[email]` matches exactly (case-sensitive, like
`customers?email=`); expanding `balance_transaction` needs `rak_balance_read`; an invoice paid
entirely outside Stripe sends `invoice.paid` but no `invoice.payment_succeeded`.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import copy
import fnmatch
import itertools
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from sandbox.httpserver import Request, Response, StandIn
from sandbox.scenarios import (
    STRIPE_ACCOUNT_ID,
    STRIPE_ACCOUNT_NAME,
    STRIPE_LIVE_KEY,
    STRIPE_NOCOUPON_KEY,
    STRIPE_RESTRICTED_KEY,
    STRIPE_TEST_KEY,
)
from sandbox.versioned import VersionedDict, version_of

Mode = Literal["test", "live"]
API_VERSION = "2026-10-28.endive"
FIXTURES = Path(__file__).with_name("data") / "stripe_fixtures3.json"
MAX_EXPAND_DEPTH = 4
DAY = 86_400

# Bodies tests and the demo can inject with `standin.inject(..., body=...)`.
RATE_LIMIT_ERROR = {
    "error": {
        "code": "rate_limit",
        "message": "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
        "type": "invalid_request_error",
    }
}
API_ERROR = {
    "error": {
        "message": "Sorry, something went wrong on our end. Please try again.",
        "type": "api_error",
    }
}

# What a read permission covers in this stand-in: its endpoints and the expansions that need it.
# Permission names as Stripe's 403 messages spell them (reference/stripe.md §11); the balance
# transaction one is our assumption (module docstring).
RESTRICTABLE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rak_coupon_read": ((r"^/v1/coupons",), ("discounts.source.coupon", "promotion.coupon")),
    "rak_promotion_code_read": ((r"^/v1/promotion_codes",), ("discounts.promotion_code",)),
    "rak_balance_read": ((r"^/v1/balance",), ("balance_transaction",)),
    "rak_checkout_session_read": ((r"^/v1/checkout/sessions",), ()),
    "rak_payment_intent_read": ((r"^/v1/payment_intents",), ()),
    "rak_event_read": ((r"^/v1/events",), ()),
}

_KEY_RX = re.compile(r"^((?:sk|rk|pk)_(?:test|live)_)")
# Fields the Basil/Clover API versions removed from Invoice; the fixture still carries `subscription`.
_REMOVED_INVOICE_FIELDS = ("discount", "subscription", "charge", "payment_intent", "paid", "paid_out_of_band")
_INVOICE_STATUSES = {"draft", "open", "paid", "uncollectible", "void"}
_COLLECTION_METHODS = {"charge_automatically", "send_invoice"}
_PI_STATUSES = {
    "requires_payment_method", "requires_confirmation", "requires_action", "processing", "requires_capture",
    "canceled", "succeeded",
}
_SUB_STATUSES = {
    "active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "trialing",
    "paused", "ended", "all",
}


@lru_cache(maxsize=1)
def _fixtures() -> dict[str, Any]:
    return json.loads(FIXTURES.read_text())["resources"]


def template(kind: str) -> dict[str, Any]:
    """A fresh copy of Stripe's example object of that type."""
    return copy.deepcopy(_fixtures()[kind])


def key_mode(key: str) -> Mode | None:
    m = _KEY_RX.match(key)
    if not m or m.group(1).startswith("pk_"):
        return None
    return "live" if "_live_" in m.group(1) else "test"


def mask_key(key: str) -> str:
    """Stripe shows a key as its prefix, stars and its last 4 characters."""
    m = _KEY_RX.match(key)
    prefix = m.group(1) if m else ""
    tail = key[-4:] if len(key) >= len(prefix) + 8 else ""
    return f"{prefix}****{tail}"


def error(
    status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
    param: str | None = None,
) -> Response:
    err: dict[str, Any] = {"message": message, "type": type_}
    if code:
        err["code"] = code
        err["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        err["param"] = param
    return Response(status, {"error": err})


def _missing(kind: str, id_: str, param: str = "id") -> Response:
    return error(404 if param == "id" else 400, f"No such {kind}: '{id_}'", code="resource_missing", param=param)


class _BadRequest(Exception):
    """Raised inside a handler; becomes Stripe's 400 invalid_request_error."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


# Builds of listing orders and field indexes, one at a time (re-entrant: an order's build may
# need another's)
_BUILDING = threading.RLock()


@dataclass
class _Index:
    """One kind's objects in listing order (newest first; among equal `created`, the later-added
    first), the negated `created` of each (ascending, for bisect) and each id's position."""

    store: dict[str, dict[str, Any]]
    version: int | None
    order: list[dict[str, Any]]
    neg_created: list[int]
    at: dict[str, int]
    by_field: dict[str, dict[Any, list[int]]] = field(default_factory=dict)

    def by(self, name: str, value_of: Callable[[dict[str, Any]], Any] | None = None) -> dict[Any, list[int]]:
        """Positions in `order` (ascending) by the value of one top-level field (`customer`,
        `email`), or by `value_of` (named `name`), built on first use: a diagnosis's `?customer=`
        reads and searches walk that person's objects, not the month.  Callers test what they get
        again, so the index only narrows."""
        got = self.by_field.get(name)
        if got is not None:
            return got
        with _BUILDING:  # built once: a burst of first reads waits for it instead of each building it
            got = self.by_field.get(name)
            if got is None:
                got = {}
                get = value_of or (lambda o: o.get(name))
                for i, o in enumerate(self.order):
                    with contextlib.suppress(TypeError):  # an unhashable value equals no query string
                        got.setdefault(get(o), []).append(i)
                self.by_field[name] = got
        return got


@dataclass
class DataSet:
    """One mode's objects, by id, in the order they were added."""

    livemode: bool
    customers: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    deleted_customers: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)  # as they were
    invoices: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    invoice_payments: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    payments_of: dict[str, list[str]] = field(default_factory=VersionedDict)  # invoice id -> its payments' ids
    discounts: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    charges: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    coupons: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    promotion_codes: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    balance_transactions: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    checkout_sessions: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    events: dict[str, dict[str, Any]] = field(default_factory=VersionedDict)
    # each listed kind's order, kept while its store is unchanged (DataSet.index)
    _indexes: dict[str, _Index] = field(default_factory=dict, repr=False, compare=False)

    def index(self, store_name: str) -> _Index:
        """The listing order of one store (`invoices`, `charges`, ...), built again only when the
        store changed since (sandbox/versioned.py): a page is then a bisect and a walk over the page,
        not a filter and a sort of the month."""
        store = getattr(self, store_name)

        def current() -> _Index | None:
            idx = self._indexes.get(store_name)
            version = version_of(store)
            ok = idx is not None and version is not None and idx.store is store and idx.version == version
            return idx if ok else None

        idx = current()
        if idx is not None:
            return idx
        with _BUILDING:  # one build for a burst of first pages (a month is 100,000 objects to sort)
            idx = current()
            if idx is None:
                version = version_of(store)
                order = _newest_first(store.values())
                at: dict[str, int] = {}
                for i, o in enumerate(order):
                    at.setdefault(o["id"], i)
                idx = _Index(store, version, order, [-int(o.get("created") or 0) for o in order], at)
                self._indexes[store_name] = idx
        return idx

    def reindex(self) -> None:
        """Forget every listing order (after changing an object's `created` in place)."""
        self._indexes.clear()

    def store_for(self, field_name: str, id_: str) -> tuple[str, dict[str, dict[str, Any]]] | None:
        """Where an expandable reference lives: by field name for coupons (their ids are free text),
        by id prefix for the rest."""
        if field_name == "coupon":
            return "coupon", self.coupons
        for prefix, kind, store in (
            ("cus_", "customer", self.customers),
            ("in_", "invoice", self.invoices),
            ("inpay_", "invoice payment", self.invoice_payments),
            ("di_", "discount", self.discounts),
            ("ch_", "charge", self.charges),
            ("pi_", "payment_intent", self.payment_intents),
            ("sub_", "subscription", self.subscriptions),
            ("promo_", "promotion code", self.promotion_codes),
            ("txn_", "balance transaction", self.balance_transactions),
            ("cs_", "checkout session", self.checkout_sessions),
        ):
            if id_.startswith(prefix):
                return kind, store
        return None


_NO_LOWER, _NO_UPPER = -(2**63), 2**63


def _created_bounds(req: Request) -> tuple[int, int]:
    """Stripe's `created[gte|gt|lte|lt]=<unix seconds>` list filters (or `created=<exact>`), as
    inclusive bounds (unbounded: `_NO_LOWER`, `_NO_UPPER`)."""
    lo, hi = _NO_LOWER, _NO_UPPER
    for op in ("gte", "gt", "lte", "lt", ""):
        raw = req.param(f"created[{op}]" if op else "created")
        if raw is None:
            continue
        try:
            bound = int(raw)
        except ValueError:
            raise _BadRequest("Invalid integer: " + raw, "created") from None
        if op in ("gte", "gt", ""):
            lo = max(lo, bound + (op == "gt"))
        if op in ("lte", "lt", ""):
            hi = min(hi, bound - (op == "lt"))
    return lo, hi


def _deleted_customer(id_: str) -> dict[str, Any]:
    """What Stripe serves for a deleted customer, by id or expanded (fixtures3's deleted_customer)."""
    return {"id": id_, "object": "customer", "deleted": True}


def _json_copy(v: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): copy.deepcopy's memo is most of a
    big page's time."""
    if isinstance(v, dict):
        return {k: _json_copy(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return type(v)(_json_copy(x) for x in v)
    return v if v is None or isinstance(v, str | int | float | bool) else copy.deepcopy(v)


def _newest_first(objs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    # Stripe lists newest first; among equal `created`, the later-added object first.
    return sorted(reversed(list(objs)), key=lambda o: o.get("created") or 0, reverse=True)


class StripeStandIn(StandIn):
    name = "stripe"

    def __init__(self, account_id: str = STRIPE_ACCOUNT_ID, account_name: str = STRIPE_ACCOUNT_NAME) -> None:
        super().__init__()
        self.data: dict[Mode, DataSet] = {"test": DataSet(livemode=False), "live": DataSet(livemode=True)}
        self._keys: dict[str, bool] = {k: True for k in (STRIPE_TEST_KEY, STRIPE_LIVE_KEY, STRIPE_RESTRICTED_KEY)}
        self._denied: list[tuple[str, re.Pattern[str], str]] = []
        self._denied_expands: list[tuple[str, str, str]] = []  # (key, field path, permission)
        self._seq = itertools.count(1)
        self._req_ids = itertools.count(1)
        self.account: dict[str, Any] = {}
        self.set_account(account_id, account_name)

        get = self._get
        self.route("GET", r"/v1/account", get(self._account))
        self.route("GET", r"/v1/customers/search", get(self._customer_search))
        self.route("GET", r"/v1/customers/(?P<id>[^/]+)", get(self._customer))
        self.route("GET", r"/v1/customers", get(self._customers))
        self.route("GET", r"/v1/invoices/(?P<id>[^/]+)", get(self._retrieve("invoice", "invoices")))
        self.route("GET", r"/v1/invoices", get(self._invoices))
        self.route("GET", r"/v1/invoice_payments/(?P<id>[^/]+)",
                   get(self._retrieve("invoice payment", "invoice_payments")))
        self.route("GET", r"/v1/invoice_payments", get(self._invoice_payments))
        self.route("GET", r"/v1/charges/(?P<id>[^/]+)", get(self._retrieve("charge", "charges")))
        self.route("GET", r"/v1/charges", get(self._charges))
        self.route("GET", r"/v1/payment_intents/(?P<id>[^/]+)",
                   get(self._retrieve("payment_intent", "payment_intents")))
        self.route("GET", r"/v1/payment_intents", get(self._payment_intents))
        self.route("GET", r"/v1/subscriptions/(?P<id>[^/]+)", get(self._retrieve("subscription", "subscriptions")))
        self.route("GET", r"/v1/subscriptions", get(self._subscriptions))
        self.route("GET", r"/v1/coupons/(?P<id>[^/]+)", get(self._retrieve("coupon", "coupons")))
        self.route("GET", r"/v1/coupons", get(self._coupons))
        self.route("GET", r"/v1/promotion_codes/(?P<id>[^/]+)",
                   get(self._retrieve("promotion code", "promotion_codes")))
        self.route("GET", r"/v1/promotion_codes", get(self._promotion_codes))
        self.route("GET", r"/v1/balance_transactions/(?P<id>[^/]+)",
                   get(self._retrieve("balance transaction", "balance_transactions")))
        self._route_checkout_sessions()
        self._route_events()
        # A read-only key without the Coupons and Promotion codes permissions (sandbox scenario).
        self.add_key(STRIPE_NOCOUPON_KEY)
        self.restrict(STRIPE_NOCOUPON_KEY, "rak_coupon_read", "rak_promotion_code_read")

    def clear_data(self) -> None:
        """Forget every seeded object (both modes), e.g. to seed again with a new `now`."""
        with self._lock:
            self.data = {"test": DataSet(livemode=False), "live": DataSet(livemode=True)}

    def reindex(self) -> None:
        """Build the listing orders again on the next page: needed only after changing an object's
        `created` in place (adding, replacing or removing objects is seen by itself)."""
        for ds in self.data.values():
            ds.reindex()

    # ================================================================== keys and account
    def add_key(self, key: str) -> None:
        self._keys[key] = True

    def revoke(self, key: str) -> None:
        self._keys[key] = False

    def deny(self, key: str, path: str, permission: str) -> None:
        """Make `key` get Stripe's restricted-key 403 on paths matching `path`, naming `permission`."""
        self._denied.append((key, re.compile(path), permission))

    def deny_expand(self, key: str, field: str, permission: str) -> None:
        """Make `key` get Stripe's restricted-key 403, naming `permission`, when a request expands
        `field` or anything under it (`discounts.source.coupon`, `balance_transaction`; a list's
        `data.` prefix is ignored), as Stripe refuses to expand an object the key may not read."""
        self._denied_expands.append((key, field.removeprefix("data."), permission))

    def restrict(self, key: str, *permissions: str) -> None:
        """`key` lacks these read permissions: their endpoints and their expansions answer 403."""
        for permission in permissions:
            paths, fields = RESTRICTABLE[permission]
            for path in paths:
                self.deny(key, path, permission)
            for f in fields:
                self.deny_expand(key, f, permission)

    def set_account(self, account_id: str, name: str | None, email: str = "billing@acme.example") -> None:
        acct = template("account")
        acct.update(id=account_id, email=email, created=1_600_000_000)
        acct["business_profile"]["name"] = name
        acct["settings"]["dashboard"]["display_name"] = name
        acct["external_accounts"]["url"] = f"/v1/accounts/{account_id}/external_accounts"
        self.account = acct

    def writes(self) -> list[Request]:
        """Every request that was not a GET (our readers must never send one)."""
        return [r for r in self.calls() if r.method != "GET"]

    @staticmethod
    def key_of(req: Request) -> str | None:
        auth = req.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() or None
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(value.strip()).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return None
            return user.partition(":")[0] or None
        return None

    def _permission_error(self, key: str, permission: str) -> Response:
        return error(
            403,
            f"The provided key '{mask_key(key)}' does not have the required permissions for this endpoint "
            f"on account '{self.account['id']}'. Having the '{permission}' permission would allow this "
            "request to continue.",
        )

    def authorize(self, req: Request) -> Response | None:
        key = self.key_of(req)
        if key is None:
            return error(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization "
                "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
                "https://stripe.com/docs/api#authentication for details, or we can help at "
                "https://support.stripe.com/.",
            )
        if not self._keys.get(key) or key_mode(key) is None:
            return error(401, f"Invalid API Key provided: {mask_key(key)}")
        if req.method != "GET":
            # Only reads are served: refuse like Stripe refuses a read-only restricted key.
            resource = (req.path.split("/")[2:3] or ["resource"])[0].rstrip("s") or "resource"
            return self._permission_error(key, f"rak_{resource}_write")
        if key.startswith("rk_") and req.path.rstrip("/") == "/v1/account":
            return self._permission_error(key, "rak_connected_account_read")
        for k, rx, permission in self._denied:
            if k == key and rx.search(req.path):
                return self._permission_error(key, permission)
        # expansions in request order: the first one the key may not read is named
        for path in (p.removeprefix("data.") for p in req.prefixed("expand")):
            for k, f, permission in self._denied_expands:
                if k == key and (path == f or path.startswith(f + ".")):
                    return self._permission_error(key, permission)
        return None

    def not_found(self, req: Request) -> Response:
        return error(
            404,
            f"Unrecognized request URL ({req.method}: {req.path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _send(self, h: BaseHTTPRequestHandler, resp: Response) -> None:  # type: ignore[override]
        # Headers and body leave in two writes; with Nagle on, the client's delayed ACK adds ~40 ms
        # to every keep-alive request.
        with contextlib.suppress(OSError):
            h.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A new dict: a fault's own headers must not collect our ids.
        resp.headers = {"Request-Id": f"req_sbx{next(self._req_ids):010d}", "Stripe-Version": API_VERSION,
                        **resp.headers}
        StandIn._send(h, resp)

    # ================================================================== handler plumbing
    def _ds(self, req: Request) -> DataSet:
        mode = key_mode(self.key_of(req) or "") or "test"
        return self.data[mode]

    def _get(self, fn: Callable[[Request, re.Match[str], DataSet], Any]) -> Callable[[Request, re.Match[str]], Response]:
        def handler(req: Request, m: re.Match[str]) -> Response:
            try:
                out = fn(req, m, self._ds(req))
            except _BadRequest as exc:
                return error(400, str(exc), param=exc.param)
            return out if isinstance(out, Response) else Response(200, out)

        return handler

    def _retrieve(self, kind: str, store: str) -> Callable[[Request, re.Match[str], DataSet], Any]:
        def fn(req: Request, m: re.Match[str], ds: DataSet) -> Any:
            id_ = unquote(m.group("id"))
            obj = getattr(ds, store).get(id_)
            if obj is None:
                return _missing(kind, id_)
            out = self._render(ds, obj)
            for path in self._expands(req):
                self._expand(ds, out, path.split("."), path)
            return out

        return fn

    @staticmethod
    def _expands(req: Request) -> list[str]:
        paths = [p for p in req.prefixed("expand") if p]
        for p in paths:
            if len(p.split(".")) > MAX_EXPAND_DEPTH:
                raise _BadRequest(
                    f"You cannot expand more than {MAX_EXPAND_DEPTH} levels of a property. Property: {p}",
                    "expand",
                )
        return paths

    @staticmethod
    def _limit(req: Request) -> int:
        raw = req.param("limit")
        if raw is None:
            return 10
        try:
            limit = int(raw)
        except ValueError:
            raise _BadRequest("Invalid integer: " + raw, "limit") from None
        if not 1 <= limit <= 100:
            raise _BadRequest("This value must be greater than or equal to 1 and less than or equal to 100.", "limit")
        return limit

    def _list(
        self, req: Request, ds: DataSet, store: str, url: str, kind: str,
        preds: Iterable[Callable[[dict[str, Any]], bool]] = (), oldest: int | None = None,
        eq: Iterable[tuple[str, Any]] = (),
    ) -> dict[str, Any]:
        """One page of `store`'s objects whose top-level fields equal `eq`'s (field, value) pairs
        and that pass every one of `preds` (and were created at or after `oldest`, when given),
        newest first, by the request's `created[...]`, `limit`, `starting_after` / `ending_before`
        and `expand[]`.  By the store's index (DataSet.index): the created range is a bisect, a
        cursor a lookup, the first of `eq` narrows to its objects (_Index.by), and objects are
        tested only until `limit + 1` pass; only the page is copied."""
        lo, hi = _created_bounds(req)
        if oldest is not None:
            lo = max(lo, oldest)
        limit = self._limit(req)
        after, before = req.param("starting_after"), req.param("ending_before")
        if after and before:
            raise _BadRequest("You may only specify one of these parameters: ending_before, starting_after.")
        idx = ds.index(store)
        equal = tuple(eq)
        order = idx.order
        tests = (*(lambda o, f=f, v=v: o.get(f) == v for f, v in equal), *preds)
        first = bisect.bisect_left(idx.neg_created, -hi) if hi < _NO_UPPER else 0
        end = max(first, bisect.bisect_right(idx.neg_created, -lo) if lo > _NO_LOWER else len(order))
        # the positions that may pass, ascending: all of them, or those of the first `eq` value
        cands: Sequence[int] = range(len(order))
        if equal:
            try:
                cands = idx.by(equal[0][0]).get(equal[0][1], [])
            except TypeError:
                cands = []
        lo_i, hi_i = bisect.bisect_left(cands, first), bisect.bisect_left(cands, end)

        def passes(o: dict[str, Any]) -> bool:
            return all(t(o) for t in tests)

        def take(positions: Sequence[int]) -> list[dict[str, Any]]:
            """The first `limit + 1` objects at `positions` that pass."""
            if not tests:
                return [order[i] for i in positions[:limit + 1]]
            out: list[dict[str, Any]] = []
            for i in positions:
                if passes(order[i]):
                    out.append(order[i])
                    if len(out) > limit:
                        break
            return out

        def position(cursor: str, param: str) -> int:
            at = idx.at.get(cursor)
            if at is None or not first <= at < end or not passes(order[at]):
                raise _BadRequest(f"No such {kind}: '{cursor}'", param)
            return at

        if after:
            hits = take(cands[bisect.bisect_right(cands, position(after, "starting_after")):hi_i])
            page, has_more = hits[:limit], len(hits) > limit
        elif before:
            hits = take(cands[lo_i:bisect.bisect_left(cands, position(before, "ending_before"))][::-1])
            page, has_more = hits[:limit][::-1], len(hits) > limit
        else:
            hits = take(cands[lo_i:hi_i])
            page, has_more = hits[:limit], len(hits) > limit
        body = {"object": "list", "data": [self._render(ds, o) for o in page], "has_more": has_more, "url": url}
        for path in self._expands(req):
            if not path.startswith("data."):
                raise _BadRequest(f"This property cannot be expanded ({path}).", "expand")
            self._expand(ds, body, path.split("."), path)
        return body

    # ------------------------------------------------------------------ expand
    def _render(self, ds: DataSet, obj: dict[str, Any]) -> dict[str, Any]:
        out = _json_copy(obj)
        out.pop("payments", None)  # invoices: only when expanded (see _expand)
        return out

    def _payments_list(self, ds: DataSet, invoice_id: str) -> dict[str, Any]:
        # by the per-invoice index: a scan per invoice is slow on a month of data
        pays = [ds.invoice_payments[i] for i in ds.payments_of.get(invoice_id, ())]
        return {
            "object": "list",
            "data": [_json_copy(p) for p in pays],
            "has_more": False,
            "url": f"/v1/invoice_payments?invoice={invoice_id}",
        }

    def _expand(self, ds: DataSet, obj: dict[str, Any], parts: list[str], full: str) -> None:
        """Replace the id at `parts[0]` of `obj` by the object it names, then walk on."""
        name, rest = parts[0], parts[1:]
        if name not in obj:
            if obj.get("object") == "invoice" and name == "payments":
                obj["payments"] = self._payments_list(ds, obj["id"])
            else:
                raise _BadRequest(f"This property cannot be expanded ({full}).", "expand")
        value = obj[name]
        if isinstance(value, list):
            value = obj[name] = [self._resolve(ds, name, v, full) if isinstance(v, str) else v for v in value]
            targets = [v for v in value if isinstance(v, dict)]
        elif isinstance(value, str):
            obj[name] = self._resolve(ds, name, value, full)
            targets = [obj[name]] if isinstance(obj[name], dict) else []
        elif isinstance(value, dict):
            targets = [value]
        elif value is None:
            targets = []
        else:
            raise _BadRequest(f"This property cannot be expanded ({full}).", "expand")
        if rest:
            for t in targets:
                self._expand(ds, t, rest, full)

    def _resolve(self, ds: DataSet, name: str, id_: str, full: str) -> Any:
        where = ds.store_for(name, id_)
        if where is None:
            raise _BadRequest(f"This property cannot be expanded ({full}).", "expand")
        obj = where[1].get(id_)
        if obj is None and id_ in ds.deleted_customers:
            return _deleted_customer(id_)
        return self._render(ds, obj) if obj is not None else id_

    # ================================================================== endpoints
    def _account(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        return copy.deepcopy(self.account)  # an Account has no `livemode`

    def _customer(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        id_ = unquote(m.group("id"))
        if id_ in ds.deleted_customers:  # Stripe answers 200 with the deleted stub, not a 404
            return _deleted_customer(id_)
        return self._retrieve("customer", "customers")(req, m, ds)

    def _customers(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        email = req.param("email")  # case-sensitive, like Stripe
        eq = [("email", email)] if email is not None else []
        return self._list(req, ds, "customers", "/v1/customers", "customer", eq=eq)

    _CLAUSE = re.compile(
        r"""^\s*(?:(?P<field>email|name)|metadata\[(?P<q>['"])(?P<key>[^'"]+)(?P=q)\])\s*:\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*$"""
    )

    def _customer_search(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        query = req.param("query")
        if not query:
            raise _BadRequest("Missing required param: query.", "query")
        if re.search(r"\sOR\s", query):
            raise _BadRequest("The sandbox's search supports AND only.", "query")
        preds: list[Callable[[dict[str, Any]], bool]] = []
        idx = ds.index("customers")
        narrow: list[int] | None = None  # the first clause's customers, by an index of its field
        for clause in re.split(r"\s+AND\s+", query.strip()):
            cm = self._CLAUSE.match(clause)
            if cm is None:
                raise _BadRequest(f"Invalid search query: {clause!r}. See https://stripe.com/docs/search.", "query")
            value = re.sub(r"\\(.)", r"\1", cm.group("value"))
            if cm.group("key"):
                key = cm.group("key")
                preds.append(lambda c, k=key, v=value: (c.get("metadata") or {}).get(k) == v)
                if narrow is None:
                    narrow = idx.by(f"metadata[{key}]", lambda c, k=key: (c.get("metadata") or {}).get(k)).get(value, [])
            else:  # our assumption: email and name match ignoring case
                fname = cm.group("field")
                preds.append(lambda c, f=fname, v=value: (c.get(f) or "").casefold() == v.casefold())
                if narrow is None:
                    narrow = idx.by(f"casefold {fname}", lambda c, f=fname: (c.get(f) or "").casefold()).get(
                        value.casefold(), [])
        seen = (idx.order[i] for i in narrow) if narrow is not None else iter(idx.order)
        hits = [c for c in seen if all(p(c) for p in preds)]
        limit = self._limit(req)
        offset = 0
        page_token = req.param("page")
        if page_token:
            try:
                offset = int(base64.urlsafe_b64decode(page_token.encode()).decode().removeprefix("offset:"))
            except (ValueError, binascii.Error):
                raise _BadRequest("Invalid page token.", "page") from None
        page = hits[offset:offset + limit]
        has_more = offset + limit < len(hits)
        next_page = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode() if has_more else None
        body = {
            "object": "search_result",
            "data": [self._render(ds, c) for c in page],
            "has_more": has_more,
            "next_page": next_page,
            "url": "/v1/customers/search",
        }
        for path in self._expands(req):
            self._expand(ds, body, path.split("."), path)
        return body

    def _invoices(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        preds: list[Callable[[dict[str, Any]], bool]] = []
        status = req.param("status")
        if status is not None and status not in _INVOICE_STATUSES:
            raise _BadRequest(f"Invalid status: must be one of {', '.join(sorted(_INVOICE_STATUSES))}", "status")
        customer = req.param("customer")
        eq = [("customer", customer)] if customer is not None else []
        if status is not None:  # most of a month is paid: a test while walking, not an index
            preds.append(lambda o: o.get("status") == status)
        sub = req.param("subscription")
        if sub is not None:
            preds.append(lambda o: ((o.get("parent") or {}).get("subscription_details") or {}).get("subscription") == sub)
        return self._list(req, ds, "invoices", "/v1/invoices", "invoice", preds, eq=eq)

    def _invoice_payments(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        preds: list[Callable[[dict[str, Any]], bool]] = []
        invoice = req.param("invoice")
        eq = [("invoice", invoice)] if invoice is not None else []
        for sub in ("type", "payment_intent", "charge"):  # `payment[type]`, `payment[payment_intent]`, ...
            val = req.param(f"payment[{sub}]")
            if val is not None:
                preds.append(lambda p, s=sub, v=val: (p.get("payment") or {}).get(s) == v)
        return self._list(req, ds, "invoice_payments", "/v1/invoice_payments", "invoice payment", preds, eq=eq)

    def _charges(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        eq = [(name, req.param(name)) for name in ("customer", "payment_intent") if req.param(name) is not None]
        return self._list(req, ds, "charges", "/v1/charges", "charge", eq=eq)

    def _payment_intents(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        customer = req.param("customer")
        eq = [("customer", customer)] if customer is not None else []
        return self._list(req, ds, "payment_intents", "/v1/payment_intents", "payment_intent", eq=eq)

    def _subscriptions(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        preds: list[Callable[[dict[str, Any]], bool]] = []
        status = req.param("status")
        if status is not None and status not in _SUB_STATUSES:
            raise _BadRequest(f"Invalid status: must be one of {', '.join(sorted(_SUB_STATUSES))}", "status")
        if status is None:
            preds.append(lambda o: o["status"] not in ("canceled", "incomplete_expired"))
        elif status == "ended":
            preds.append(lambda o: o["status"] in ("canceled", "incomplete_expired"))
        elif status != "all":
            preds.append(lambda o: o["status"] == status)
        customer = req.param("customer")
        eq = [("customer", customer)] if customer is not None else []
        return self._list(req, ds, "subscriptions", "/v1/subscriptions", "subscription", preds, eq=eq)

    def _coupons(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        return self._list(req, ds, "coupons", "/v1/coupons", "coupon")

    def _promotion_codes(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        preds: list[Callable[[dict[str, Any]], bool]] = []
        code = req.param("code")
        if code is not None:  # Stripe: "promotion codes that have this case-insensitive code"
            preds.append(lambda o: o["code"].casefold() == code.casefold())
        coupon = req.param("coupon")
        if coupon is not None:
            preds.append(lambda o: o["promotion"]["coupon"] == coupon)
        active = req.param("active")
        if active is not None:
            preds.append(lambda o: o["active"] == (active == "true"))
        customer = req.param("customer")
        if customer is not None:
            preds.append(lambda o: o.get("customer") == customer)
        return self._list(req, ds, "promotion_codes", "/v1/promotion_codes", "promotion code", preds)

    # ================================================================== seeding (unix-int timestamps)
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_Sbx{next(self._seq):010d}"

    @staticmethod
    def _suffix(id_: str) -> str:
        return id_.split("_", 1)[1] if "_" in id_ else id_

    def add_customer(
        self, id: str, email: str | None, *, created: int, name: str | None = None,
        metadata: dict[str, str] | None = None, balance: int = 0, mode: Mode = "test",
    ) -> dict[str, Any]:
        ds = self.data[mode]
        c = template("customer")
        c.update(
            id=id, email=email, name=name, created=created, livemode=ds.livemode, metadata=dict(metadata or {}),
            balance=balance, discount=None, invoice_prefix=self._suffix(id)[:8].upper(),
        )
        ds.customers[id] = c
        return c

    def delete_customer(self, id: str, *, at: int, mode: Mode = "test") -> None:
        """Delete a customer at `at`: Stripe cancels its subscriptions at once and keeps its invoices
        and charges (they still name it)."""
        ds = self.data[mode]
        ds.deleted_customers[id] = ds.customers.pop(id)
        for sub in ds.subscriptions.values():
            if sub["customer"] == id and sub["status"] not in ("canceled", "incomplete_expired"):
                sub.update(status="canceled", canceled_at=at, ended_at=at)
                sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}

    def add_coupon(
        self, id: str, *, created: int, percent_off: float | None = None, amount_off: int | None = None,
        currency: str | None = None, name: str | None = None, duration: str = "once",
        duration_in_months: int | None = None, valid: bool = True, mode: Mode = "test",
    ) -> dict[str, Any]:
        ds = self.data[mode]
        c = template("coupon")
        c.update(
            id=id, created=created, percent_off=float(percent_off) if percent_off is not None else None,
            amount_off=amount_off, currency=currency if amount_off is not None else None, name=name,
            duration=duration, duration_in_months=duration_in_months, redeem_by=None, valid=valid,
            livemode=ds.livemode,
        )
        ds.coupons[id] = c
        return c

    def add_promotion_code(
        self, id: str, code: str, coupon: str, *, created: int, active: bool = True, mode: Mode = "test",
    ) -> dict[str, Any]:
        ds = self.data[mode]
        p = template("promotion_code")
        p.update(id=id, code=code, created=created, active=active, expires_at=None, livemode=ds.livemode)
        p["promotion"] = {"type": "coupon", "coupon": coupon}
        ds.promotion_codes[id] = p
        return p

    def add_payment_intent(
        self, id: str, customer: str | None, amount: int, *, created: int, currency: str = "usd",
        status: str = "succeeded", latest_charge: str | None = None,
        last_payment_error: dict[str, Any] | None = None, next_action: dict[str, Any] | None = None,
        mode: Mode = "test",
    ) -> dict[str, Any]:
        """`last_payment_error`: `{code, decline_code, message, type, ...}` of the last failed
        attempt; `next_action`: `{type: "use_stripe_sdk" | "redirect_to_url" | ..., ...}` when the
        customer must act (status requires_action)."""
        if status not in _PI_STATUSES:
            raise ValueError(f"payment intent status {status!r}")
        ds = self.data[mode]
        p = template("payment_intent")
        p.update(
            id=id, customer=customer, amount=amount, currency=currency, created=created, status=status,
            amount_received=amount if status == "succeeded" else 0,
            amount_capturable=amount if status == "requires_capture" else 0, latest_charge=latest_charge,
            client_secret=f"{id}_secret_sandbox", canceled_at=created if status == "canceled" else None,
            cancellation_reason="abandoned" if status == "canceled" else None,
            last_payment_error=copy.deepcopy(last_payment_error), next_action=copy.deepcopy(next_action),
            processing=None, transfer_data=None, payment_method_configuration_details=None, shipping=None,
            # a failed attempt detaches the payment method (it is then in last_payment_error)
            payment_method=None if status == "requires_payment_method" else f"pm_{self._suffix(id)}",
            livemode=ds.livemode,
        )
        ds.payment_intents[id] = p
        return p

    def add_charge(
        self, id: str, customer: str | None, amount: int, *, created: int, currency: str = "usd",
        status: str = "succeeded", payment_intent: str | None = None, amount_refunded: int = 0,
        billing_email: str | None = None, receipt_email: str | None = None,
        settlement: tuple[int, str, float | None] | None = None, decline_code: str | None = None,
        failure_message: str = "Your card was declined.", mode: Mode = "test",
    ) -> dict[str, Any]:
        """A charge.  A succeeded one gets its balance transaction (`txn_…`): `settlement` is
        (amount, currency, exchange rate) in the account's settlement currency; by default the
        charge's own amount and currency, no conversion.  A failed one is a card decline, with the
        issuer's `decline_code` (e.g. insufficient_funds) as its outcome's reason when given."""
        ds = self.data[mode]
        c = template("charge")
        ok = status == "succeeded"
        if ok:
            self.add_balance_transaction(f"txn_{self._suffix(id)}", id, created=created,
                                         settlement=settlement or (amount, currency, None), mode=mode)
        c.update(
            id=id, customer=customer, amount=amount, currency=currency, created=created, status=status,
            amount_captured=amount if ok else 0, captured=ok, paid=ok, amount_refunded=amount_refunded,
            refunded=amount_refunded >= amount > 0, payment_intent=payment_intent, receipt_email=receipt_email,
            description=None, balance_transaction=f"txn_{self._suffix(id)}" if ok else None,
            payment_method=f"pm_{self._suffix(id)}", receipt_url=None, source=None, transfer_data=None,
            failure_code=None if ok else "card_declined",
            failure_message=None if ok else failure_message, livemode=ds.livemode,
        )
        c["billing_details"]["email"] = billing_email
        c["billing_details"]["name"] = None
        declined = (f"The bank returned the decline code `{decline_code}`." if decline_code
                    else "The bank did not return any further details with this decline.")
        c["outcome"].update(type="authorized" if ok else "issuer_declined",
                            seller_message="Payment complete." if ok else declined,
                            reason=None if ok else decline_code,
                            network_status="approved_by_network" if ok else "declined_by_network")
        c["refunds"]["url"] = f"/v1/charges/{id}/refunds"
        ds.charges[id] = c
        if ok:
            self.record_event("charge.succeeded", c, created=created, mode=mode)
        return c

    def add_balance_transaction(
        self, id: str, source: str, *, created: int, settlement: tuple[int, str, float | None],
        mode: Mode = "test",
    ) -> dict[str, Any]:
        """A charge's balance transaction, shaped like fixtures3's: what the account received."""
        ds = self.data[mode]
        amount, currency, rate = settlement
        t = template("balance_transaction")
        t.update(id=id, source=source, amount=amount, currency=currency.lower(), exchange_rate=rate, fee=0,
                 fee_details=[], net=amount, created=created, available_on=created + 2 * DAY,
                 status="available", description=None, type="charge", reporting_category="charge")
        ds.balance_transactions[id] = t
        return t

    def add_subscription(
        self, id: str, customer: str, *, created: int, status: str = "active", amount: int = 2900,
        currency: str = "usd", trial_end: int | None = None, canceled_at: int | None = None,
        collection_method: str = "charge_automatically", mode: Mode = "test",
    ) -> dict[str, Any]:
        if collection_method not in _COLLECTION_METHODS:
            raise ValueError(f"collection method {collection_method!r}")
        ds = self.data[mode]
        s = template("subscription")
        s.update(
            id=id, customer=customer, created=created, status=status, currency=currency, livemode=ds.livemode,
            collection_method=collection_method, days_until_due=30 if collection_method == "send_invoice" else None,
            start_date=created, billing_cycle_anchor=trial_end or created, cancel_at=None,
            canceled_at=canceled_at, ended_at=canceled_at, cancel_at_period_end=False,
            trial_start=created if trial_end else None, trial_end=trial_end, latest_invoice=None,
            pause_collection=None, pending_update=None, pending_invoice_item_interval=None,
            next_pending_invoice_item_invoice=None, transfer_data=None, billing_thresholds=None,
        )
        s["billing_cycle_anchor_config"] = None
        item = s["items"]["data"][0]
        period_start = trial_end or created
        item.update(id=f"si_{self._suffix(id)}", created=created, subscription=id,
                    current_period_start=period_start, current_period_end=period_start + 30 * DAY,
                    billing_thresholds=None)
        item["price"].update(unit_amount=amount, unit_amount_decimal=str(amount), currency=currency,
                             created=created, id=f"price_{self._suffix(id)}", livemode=ds.livemode,
                             transform_quantity=None)
        item["plan"].update(amount=amount, amount_decimal=str(amount), currency=currency, interval_count=1,
                            id=f"price_{self._suffix(id)}", livemode=ds.livemode, created=created,
                            metadata={}, transform_usage=None, billing_scheme="per_unit")
        s["items"]["url"] = f"/v1/subscription_items?subscription={id}"
        ds.subscriptions[id] = s
        return s

    def add_invoice(
        self, id: str, customer: str, *, created: int, status: str = "paid", subtotal: int,
        total: int | None = None, amount_due: int | None = None, amount_paid: int | None = None,
        paid_at: int | None = None, currency: str = "usd", billing_reason: str = "subscription_create",
        subscription: str | None = None, discounts: Iterable[tuple[str, str | None, int]] = (),
        pay: bool = True, amount_paid_off_stripe: int = 0, collection_method: str = "charge_automatically",
        starting_balance: int = 0, payment_record: str | None = None, mode: Mode = "test",
    ) -> dict[str, Any]:
        """`discounts`: (coupon id, promotion code id or None, amount off).  A paid invoice with
        money paid on Stripe (`amount_paid - amount_paid_off_stripe`) gets, when `pay`, a
        PaymentIntent, its Charge and an InvoicePayment; `payment_record` (`prec_…`) adds the
        InvoicePayment of a payment recorded outside Stripe.  `starting_balance` is the customer's
        balance applied (negative: a credit), so by default `amount_due = max(0, total + it)`."""
        if status not in _INVOICE_STATUSES:
            raise ValueError(f"invoice status {status!r}")
        if collection_method not in _COLLECTION_METHODS:
            raise ValueError(f"collection method {collection_method!r}")
        ds = self.data[mode]
        cus = ds.customers.get(customer) or {}
        disc_ids: list[str] = []
        amounts: list[dict[str, Any]] = []
        for n, (coupon, promo, off) in enumerate(discounts, 1):
            d = template("discount")
            did = f"di_{self._suffix(id)}{n:02d}"
            d.update(id=did, customer=customer, invoice=id, subscription=None, start=created, end=None,
                     promotion_code=promo, source={"type": "coupon", "coupon": coupon})
            ds.discounts[did] = d
            disc_ids.append(did)
            amounts.append({"amount": off, "discount": did})
        if total is None:
            total = max(0, subtotal - sum(a["amount"] for a in amounts))
        if amount_due is None:
            amount_due = max(0, total + starting_balance)
        if amount_paid is None:
            amount_paid = amount_due if status == "paid" else 0
        if status == "paid" and paid_at is None:
            paid_at = created
        finalized = None if status == "draft" else created
        send = collection_method == "send_invoice"
        inv = template("invoice")
        for gone in _REMOVED_INVOICE_FIELDS:
            inv.pop(gone, None)
        inv.update(
            id=id, customer=customer, created=created, status=status, currency=currency, subtotal=subtotal,
            subtotal_excluding_tax=subtotal, total=total, total_excluding_tax=total, amount_due=amount_due,
            amount_paid=amount_paid, amount_remaining=max(0, amount_due - amount_paid) if status in ("draft", "open") else 0,
            amount_overpaid=0, amount_shipping=0, billing_reason=billing_reason, livemode=ds.livemode,
            customer_email=cus.get("email"), customer_name=cus.get("name"), account_name=self.account.get(
                "settings", {}).get("dashboard", {}).get("display_name"),
            discounts=disc_ids, total_discount_amounts=amounts, attempted=status != "draft",
            # a send_invoice invoice is never charged by Stripe: the customer pays by its due date
            attempt_count=1 if status in ("paid", "open") and amount_due > 0 and not send else 0,
            auto_advance=status in ("draft", "open"), due_date=created + 30 * DAY if send else None,
            effective_at=finalized, next_payment_attempt=created + DAY if status == "open" and not send else None,
            amount_paid_off_stripe=amount_paid_off_stripe, collection_method=collection_method,
            starting_balance=starting_balance,
            number=None if status == "draft" else f"{cus.get('invoice_prefix', 'SBX')}-{next(self._seq):04d}",
            period_start=created, period_end=created, webhooks_delivered_at=created,
            from_invoice=None, last_finalization_error=None, shipping_cost=None,
            ending_balance=min(0, total + starting_balance) if finalized else None,
            hosted_invoice_url=None, invoice_pdf=None,
        )
        inv["status_transitions"] = {
            "finalized_at": finalized, "marked_uncollectible_at": None,
            "paid_at": paid_at if status == "paid" else None, "voided_at": None,
        }
        inv["parent"] = (
            {"type": "subscription_details", "quote_details": None,
             "subscription_details": {"metadata": {}, "subscription": subscription}}
            if subscription else None
        )
        line = inv["lines"]["data"][0]
        line.update(
            id=f"il_{self._suffix(id)}", invoice=id, amount=subtotal, currency=currency, livemode=ds.livemode,
            description="1 × Acme Analytics Pro (at $%.2f / month)" % (subtotal / 100), discounts=disc_ids,
            discount_amounts=amounts, period={"start": created, "end": created + 30 * DAY},
        )
        line.pop("subscription", None)
        line["parent"] = (
            {"type": "subscription_item_details", "invoice_item_details": None,
             "subscription_item_details": {"invoice_item": None, "proration": False, "proration_details": None,
                                           "subscription": subscription,
                                           "subscription_item": f"si_{self._suffix(subscription)}"}}
            if subscription else
            {"type": "invoice_item_details", "subscription_item_details": None,
             "invoice_item_details": {"invoice_item": f"ii_{self._suffix(id)}", "proration": False,
                                      "proration_details": None, "subscription": None}}
        )
        inv["lines"]["url"] = f"/v1/invoices/{id}/lines"
        ds.invoices[id] = inv
        if subscription and subscription in ds.subscriptions:
            ds.subscriptions[subscription]["latest_invoice"] = id
        if pay and status == "paid" and amount_paid - amount_paid_off_stripe > 0:
            self.pay_invoice(id, mode=mode)
        if payment_record and status == "paid":
            self.add_invoice_payment(id, {"type": "payment_record", "payment_record": payment_record},
                                     amount_paid=amount_paid_off_stripe, mode=mode)
        if status == "paid":
            self.record_invoice_paid(inv, mode=mode)
        return inv

    def pay_invoice(self, invoice_id: str, *, mode: Mode = "test") -> dict[str, Any]:
        """Record how a paid invoice was paid on Stripe: a PaymentIntent, its Charge, and an
        InvoicePayment, for what was not paid outside Stripe."""
        ds = self.data[mode]
        inv = ds.invoices[invoice_id]
        at = inv["status_transitions"]["paid_at"] or inv["created"]
        sfx = self._suffix(invoice_id)
        cus = ds.customers.get(inv["customer"]) or {}
        pi, ch = f"pi_{sfx}", f"ch_{sfx}"
        amount = inv["amount_paid"] - inv["amount_paid_off_stripe"]
        self.add_payment_intent(pi, inv["customer"], amount, created=at, currency=inv["currency"],
                                latest_charge=ch, mode=mode)
        self.add_charge(ch, inv["customer"], amount, created=at, currency=inv["currency"],
                        payment_intent=pi, billing_email=cus.get("email"), mode=mode)
        return self.add_invoice_payment(invoice_id, {"type": "payment_intent", "payment_intent": pi},
                                        amount_paid=amount, mode=mode)

    def add_invoice_payment(
        self, invoice_id: str, payment: dict[str, str], *, amount_paid: int | None, status: str = "paid",
        id: str | None = None, mode: Mode = "test",
    ) -> dict[str, Any]:
        """One payment of an invoice: `payment` is `{type, <that id>}` (charge, payment_intent or
        payment_record).  `status` open is an attempt still under way (`amount_paid` null)."""
        ds = self.data[mode]
        inv = ds.invoices[invoice_id]
        at = inv["status_transitions"]["paid_at"] or inv["created"]
        ids = ds.payments_of.setdefault(invoice_id, [])
        ip = template("invoice_payment")
        ip.update(
            id=id or f"inpay_{self._suffix(invoice_id)}" + (f"{len(ids) + 1:02d}" if ids else ""),
            invoice=invoice_id, amount_paid=amount_paid if status == "paid" else None,
            amount_requested=inv["amount_due"], created=at, currency=inv["currency"], is_default=not ids,
            livemode=ds.livemode, status=status, payment=dict(payment),
            status_transitions={"canceled_at": None, "paid_at": at if status == "paid" else None},
        )
        ds.invoice_payments[ip["id"]] = ip
        ids.append(ip["id"])
        return ip

    # ================================================================== Checkout Sessions
    # Guest payments: Checkout in payment mode (and Payment Links) creates no Customer by default
    # (`customer_creation: if_required`); the buyer is then only in `customer_details.email`.
    _CS_STATUSES = ("open", "complete", "expired")

    def _route_checkout_sessions(self) -> None:
        get = self._get
        self.route("GET", r"/v1/checkout/sessions/(?P<id>[^/]+)",
                   get(self._retrieve("checkout session", "checkout_sessions")))
        self.route("GET", r"/v1/checkout/sessions", get(self._checkout_sessions))

    def _checkout_sessions(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        preds: list[Callable[[dict[str, Any]], bool]] = []
        status = req.param("status")
        if status is not None and status not in self._CS_STATUSES:
            raise _BadRequest(f"Invalid status: must be one of {', '.join(self._CS_STATUSES)}", "status")
        eq = [(name, req.param(name)) for name in ("customer", "payment_intent", "payment_link", "subscription")
              if req.param(name) is not None]
        if status is not None:
            preds.append(lambda o: o.get("status") == status)
        email = req.param("customer_details[email]")
        if email is not None:  # our assumption: exact, like customers?email=
            preds.append(lambda o: (o.get("customer_details") or {}).get("email") == email)
        for op in ("gt", "gte", "lt", "lte"):  # named by operator when not an integer; _list applies them
            raw = req.param(f"created[{op}]")
            if raw is None:
                continue
            try:
                int(raw)
            except ValueError:
                raise _BadRequest("Invalid integer: " + raw, f"created[{op}]") from None
        exact = req.param("created")
        if exact is not None:
            preds.append(lambda o: str(o["created"]) == exact)
        return self._list(req, ds, "checkout_sessions", "/v1/checkout/sessions", "checkout session", preds, eq=eq)

    def add_checkout_session(
        self, id: str, *, email: str | None, created: int, amount_total: int | None,
        currency: str | None = "usd", checkout_mode: str = "payment", status: str = "complete",
        payment_status: str = "paid", customer: str | None = None, customer_creation: str | None = "if_required",
        client_reference_id: str | None = None, metadata: dict[str, str] | None = None,
        payment_intent: str | None = None, invoice: str | None = None, subscription: str | None = None,
        payment_link: str | None = None, mode: Mode = "test",
    ) -> dict[str, Any]:
        """A Checkout Session shaped like fixtures3's "checkout.session".  `checkout_mode` is the
        session's `mode` (payment, subscription, setup); `mode` picks the data set, as elsewhere."""
        if status not in self._CS_STATUSES:
            raise ValueError(f"checkout session status {status!r}")
        ds = self.data[mode]
        cs = template("checkout.session")
        cs.update(
            id=id, created=created, expires_at=created + DAY, livemode=ds.livemode, mode=checkout_mode,
            status=status, payment_status=payment_status, amount_total=amount_total, amount_subtotal=amount_total,
            currency=currency, customer=customer, customer_creation=customer_creation,
            customer_email=None, client_reference_id=client_reference_id, metadata=dict(metadata or {}),
            payment_intent=payment_intent, invoice=invoice, subscription=subscription, payment_link=payment_link,
            url=None if status != "open" else f"https://checkout.stripe.com/c/pay/{id}",
            shipping_cost=None, shipping_address_collection=None, currency_conversion=None,
            total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        )
        cs["customer_details"].update(email=email, name=None)
        if status != "open":  # no recovery link once it is over
            cs["after_expiration"] = None
        ds.checkout_sessions[id] = cs
        if status == "complete":
            self.record_event("checkout.session.completed", cs, created=created, mode=mode)
        return cs

    # ================================================================== Events
    # What the payment watch polls.  A payment seeded or added records the events Stripe sends for
    # it, each holding a snapshot of the object as it was (shape: fixtures3's "event").
    MAX_EVENT_TYPES = 20
    EVENT_RETENTION = 30 * DAY  # Stripe lists the last 30 days of events

    def _route_events(self) -> None:
        get = self._get
        self.route("GET", r"/v1/events/(?P<id>[^/]+)", get(self._retrieve("event", "events")))
        self.route("GET", r"/v1/events", get(self._events))

    def _events(self, req: Request, m: re.Match[str], ds: DataSet) -> Any:
        one, many = req.param("type"), req.prefixed("types")
        if one is not None and many:
            raise _BadRequest("You may only specify one of these parameters: type, types.", "types")
        if len(many) > self.MAX_EVENT_TYPES:
            raise _BadRequest(f"You may pass at most {self.MAX_EVENT_TYPES} types.", "types")
        oldest = int(time.time()) - self.EVENT_RETENTION
        preds: list[Callable[[dict[str, Any]], bool]] = []
        if one is not None:
            preds.append(lambda e: fnmatch.fnmatchcase(e["type"], one))
        elif many:
            wanted = set(many)
            preds.append(lambda e: e["type"] in wanted)
        return self._list(req, ds, "events", "/v1/events", "event", preds, oldest=oldest)

    def record_event(self, type_: str, obj: dict[str, Any], *, created: int, mode: Mode = "test") -> dict[str, Any]:
        """Record that `obj` (as it is now) went through `type_` at `created`."""
        ds = self.data[mode]
        e = {
            "id": self._new_id("evt"), "object": "event", "api_version": API_VERSION, "created": created,
            "data": {"object": self._render(ds, obj)}, "livemode": ds.livemode, "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None}, "type": type_,
        }
        ds.events[e["id"]] = e
        return e

    def record_invoice_paid(self, inv: dict[str, Any], *, mode: Mode = "test") -> None:
        """A paid invoice: Stripe sends invoice.payment_succeeded then invoice.paid (a $0 invoice
        only invoice.paid)."""
        at = (inv.get("status_transitions") or {}).get("paid_at") or inv["created"]
        if int(inv.get("amount_paid") or 0) - int(inv.get("amount_paid_off_stripe") or 0) > 0:
            self.record_event("invoice.payment_succeeded", inv, created=at, mode=mode)
        self.record_event("invoice.paid", inv, created=at, mode=mode)
