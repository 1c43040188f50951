"""Read-only Stripe reader over the official SDK (`stripe.StripeClient`, `client.v1.*` only).

Every method returns the typed facts of checks/facts.py or raises `SourceError` with a reason a
support engineer understands.  Nothing here ever writes: only list/retrieve/search are called, and
the HTTP client refuses any method but GET as a second guard.

Retries are ours, not the SDK's (it is built with `max_network_retries=0`), so one budget covers
every failure: at most `retries` extra attempts per call, for 429 (the SDK would retry a 429 only
with `Stripe-Should-Retry: true`), 5xx and connection errors, with jittered exponential backoff,
`Retry-After` honoured, and a cap on the total time spent waiting.  A read timeout is not retried:
a slow Stripe stays slow, and the report must come back within seconds.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import stripe

from checks import deadline
from checks.facts import (
    Mode,
    Settlement,
    StripeAccount,
    StripeCharge,
    StripeCheckoutSession,
    StripeCoupon,
    StripeCustomer,
    StripeDiscount,
    StripeInvoice,
    StripePaymentIntent,
    StripePromotionCode,
    StripeSubscription,
    TrackingCoupon,
)
from checks.ratelimit import Limiter
from checks.setting_values import key_mode
from checks.sources import Listed, PermissionDenied, SetupError, SourceError
from checks.sources.upstream import Backoff, Gate, get_only, retry_after

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_API_BASE = "https://api.stripe.com"
PAGE_SIZE = 100
MAX_PAGES = 3  # per list: 300 objects is far more than one customer has; bounded either way
CONNECT_TIMEOUT = 3.0
INVOICE_EXPAND = [
    "data.discounts",
    "data.discounts.source.coupon",
    "data.discounts.promotion_code",
    "data.payments",
]
# Expanding a referenced object needs the permission to read that object.  A key without it gets
# Stripe's restricted-key 403 for the whole list; these expands are then dropped (and the key's
# lack remembered), the rest is read, and the limit is named.
OPTIONAL_EXPANDS: dict[str, tuple[str, ...]] = {
    "rak_coupon_read": ("data.discounts.source.coupon",),
    "rak_promotion_code_read": ("data.discounts.promotion_code",),
}
_ALL_OPTIONAL = tuple(e for es in OPTIONAL_EXPANDS.values() for e in es)
CHARGE_EXPAND = "data.balance_transaction"

_SECRET_RX = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*._\-]*")
_PERMISSION_RX = re.compile(r"Having the '(rak_\w+)' permission")
_ACCOUNT_RX = re.compile(r"on account '(acct_[A-Za-z0-9]+)'")


def redact(text: str) -> str:
    """Remove anything shaped like a Stripe key (the SDK's messages may hold a masked one)."""
    return _SECRET_RX.sub("[key hidden]", text)


@dataclass
class _Failure:
    reason: str  # one attempt's failure, human words
    retry: bool
    kind: str  # "rate_limit", "server", "network", "permission", "setup" (key rejected, host unreachable), "other"
    wait: float | None = None  # what the server asked us to wait (Retry-After)
    permission: str | None = None  # the rak_… permission a 403 names


class ReadOnlyRefusal(stripe.APIConnectionError):
    """The client refused to send a write: raised as the SDK's own error, so the SDK lets it through."""


class _GetOnlyClient(stripe.RequestsClient):
    """The SDK's requests client, counting calls and refusing anything but GET."""

    def __init__(self, on_call: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_call = on_call

    def request(self, method: str, url: str, headers: Any, post_data: Any = None) -> Any:  # type: ignore[override]
        refused = get_only(method)
        if refused:
            raise ReadOnlyRefusal(f"fpcheck is read-only: refused to send {refused.upper()}")
        self._on_call()
        if getattr(self._thread_local, "session", None) is None:
            # the SDK keeps one Session per thread; ours clamps each timeout to the run's deadline
            self._thread_local.session = deadline.DeadlineSession()
        return super().request(method, url, headers, post_data)


class StripeReader:
    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        timeout: float = 8.0,
        retries: int = 2,
        *,
        backoff: float = 0.5,
        max_wait: float = 10.0,
        key_name: str = "STRIPE_API_KEY",
        limiter: Limiter | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise SourceError(f"no Stripe API key is configured ({key_name} is empty)")
        self._key = api_key.strip()
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_wait = max_wait
        self._backoff = Backoff(self.retries, backoff, max_wait)
        self.key_name = key_name
        self.api_base = (api_base or DEFAULT_API_BASE).rstrip("/")
        self.host = urlsplit(self.api_base).netloc or self.api_base
        # Set by customers_by_email when search could not be used (case variants may be missed).
        self.search_warning: str | None = None
        # Permissions this key was found to lack for optional expands (asked once per reader).
        self._lacks: set[str] = set()
        self._lacks_settlement: str | None = None  # the permission balance transactions need, once refused
        self._lock = threading.Lock()
        self._gate = Gate("Stripe", limiter)
        self._connect_timeout = min(CONNECT_TIMEOUT, timeout)
        # a SourceError from the gate passes through the SDK untouched: no retry, a clear reason
        self._http = _GetOnlyClient(self._gate.enter, timeout=(self._connect_timeout, timeout))
        self._client = stripe.StripeClient(
            self._key,
            base_addresses={"api": self.api_base},
            http_client=self._http,
            max_network_retries=0,
        )

    # ------------------------------------------------------------------ bookkeeping
    @property
    def calls(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self._gate.calls

    @property
    def key_mode(self) -> Mode | None:
        return key_mode(self._key)

    # ------------------------------------------------------------------ public reads
    def account(self) -> StripeAccount:
        def fetch() -> Any:
            try:
                return self._client.v1.accounts.retrieve_current()
            except stripe.PermissionError as exc:
                # A restricted key may not read /v1/account, but Stripe's 403 names the account.
                m = _ACCOUNT_RX.search(exc.user_message or "")
                if m:
                    return m.group(1)
                raise

        got = self._call("reading the Stripe account", fetch)
        if isinstance(got, str):
            return StripeAccount(id=got, source="permission_error")
        raw = _plain(got)
        return self._parse("the Stripe account", lambda: _account(raw))

    def customers_by_email(self, email: str) -> Listed[StripeCustomer]:
        """Customers whose email is `email` exactly or in another letter case.

        Stripe's list filter is case-sensitive, so: the exact email, the lower-cased email, then a
        search to catch other case variants.  A refused search does not fail the lookup.  When a
        read stopped at its bound, `.limits` says so (more customers exist than were read)."""
        email = email.strip()
        found: dict[str, StripeCustomer] = {}
        limits: list[str] = []

        def add(raws: Listed[dict[str, Any]]) -> None:
            limits.extend(raws.limits)
            for raw in raws:
                their = raw.get("email") or ""
                if raw["id"] in found or their.casefold() != email.casefold():
                    continue
                match = "exact" if their == email else "case_variant"
                found[raw["id"]] = self._parse("a Stripe customer", lambda r=raw, m=match: _customer(r, m))

        # the lists and the search are independent: ask them at once
        with deadline.DeadlinePool(max_workers=3, thread_name_prefix="fpcheck-stripe") as pool:
            lists = [
                pool.submit(
                    self._pages, "listing Stripe customers by email", self._client.v1.customers.list, {"email": v},
                    "customers with that email",
                )
                for v in dict.fromkeys((email, email.lower()))
            ]
            search = pool.submit(self._search, f"email:{_quote(email)}")
            for fut in lists:
                add(fut.result())
            self.search_warning = None
            try:
                add(search.result())
            except SourceError as exc:
                self.search_warning = f"customer search was unavailable, so other letter cases may be missed: {exc}"
                log.info("Stripe customer search unavailable: %s", exc)
        # exact matches first; within each group Stripe's order (newest first)
        return Listed(sorted(found.values(), key=lambda c: c.match != "exact"), limits)

    def customer(self, customer_id: str, match: str = "id") -> StripeCustomer | None:
        """One customer by id, or None when Stripe has none; a deleted one has `deleted` set (Stripe keeps
        its id and its payments).  `match` records why it was read: "id" (the query was this id) or
        "uid" (the referral's uid names it)."""
        got = self._maybe(
            f"reading Stripe customer {customer_id}", lambda: self._client.v1.customers.retrieve(customer_id)
        )
        if got is None:
            return None
        raw = _plain(got)
        if raw.get("deleted"):
            # Stripe's deleted shape is {id, object, deleted}: no email, no creation time
            return StripeCustomer(id=str(raw["id"]), created=datetime.fromtimestamp(0, UTC), deleted=True,
                                  match=match)  # type: ignore[arg-type]
        return self._parse("a Stripe customer", lambda: _customer(raw, match))

    def customers_by_fp_uid(self, uid: str) -> Listed[StripeCustomer]:
        """Customers whose metadata.fp_uid is `uid` (Stripe's search; a refused search is a
        SourceError naming the reason, e.g. the missing permission)."""
        raws = self._search(f"metadata['fp_uid']:{_quote(uid)}", "searching Stripe customers by metadata['fp_uid']")
        return Listed((self._parse("a Stripe customer", lambda r=r: _customer(r, "fp_uid")) for r in raws), raws.limits)

    def invoices(self, customer_id: str, paid_since: datetime | None = None) -> Listed[StripeInvoice]:
        """The customer's invoices, newest first, with discounts (coupon and promotion code
        expanded when the key may read them) and payments.  A key without the Coupons or Promotion
        codes permission still gets the invoices: the discount then carries the coupon id (and the
        promo_ id) only, and `.limits` names the missing permission.  With `paid_since`: only paid
        invoices created since then (what a long history needs beyond its newest pages)."""
        what = f"listing invoices of {customer_id}"
        window: dict[str, Any] = (
            {"status": "paid", "created": {"gte": int(paid_since.timestamp())}} if paid_since is not None else {}
        )
        raws: Listed[dict[str, Any]] | None = None
        for _ in range(len(OPTIONAL_EXPANDS) + 1):  # each refusal drops at least one expand
            with self._lock:
                lacks = set(self._lacks)
            dropped = {e for perm in lacks for e in OPTIONAL_EXPANDS.get(perm, _ALL_OPTIONAL)}
            expand = [e for e in INVOICE_EXPAND if e not in dropped]
            try:
                raws = self._pages(what, self._client.v1.invoices.list,
                                   {"customer": customer_id, "expand": expand, **window},
                                   f"{'paid invoices' if window else 'invoices'} of {customer_id}")
                break
            except PermissionDenied as exc:
                perm = exc.permission or ""
                if perm == "rak_invoice_read" or perm in lacks or set(_ALL_OPTIONAL) <= dropped:
                    raise  # the invoices themselves are refused, or dropping more would not help
                with self._lock:
                    self._lacks.add(perm)
        if raws is None:
            raise SourceError(f"Stripe kept refusing the invoice read with its details (while {what})")
        with self._lock:
            lacks = set(self._lacks)
        limits = [*raws.limits, *(_expand_limit(perm) for perm in sorted(lacks))]
        return Listed((self._parse("a Stripe invoice", lambda r=r: _invoice(r)) for r in raws), limits)

    def charges(self, customer_id: str) -> Listed[StripeCharge]:
        """The customer's charges, newest first, each with its settlement (balance transaction)
        when the key may read it."""
        return self._charges(f"listing charges of {customer_id}", {"customer": customer_id},
                             f"charges of {customer_id}")

    def charges_for_payment_intent(self, payment_intent: str) -> Listed[StripeCharge]:
        """The charges of one PaymentIntent (a guest payment's has no customer to list by)."""
        return self._charges(f"listing charges of {payment_intent}", {"payment_intent": payment_intent},
                             f"charges of {payment_intent}")

    def _charges(self, what: str, params: Mapping[str, Any], noun: str) -> Listed[StripeCharge]:
        unread: str | None = None
        with self._lock:
            lacks = self._lacks_settlement
        if lacks is None:
            try:
                raws = self._pages(what, self._client.v1.charges.list, {**params, "expand": [CHARGE_EXPAND]}, noun)
            except PermissionDenied as exc:
                if exc.permission == "rak_charge_read":
                    raise
                with self._lock:
                    self._lacks_settlement = lacks = exc.permission or ""
        if lacks is not None:
            raws = self._pages(what, self._client.v1.charges.list, params, noun)
            unread = _settlement_unread(lacks)
        return Listed(
            (self._parse("a Stripe charge", lambda r=r: _charge(r, unread)) for r in raws), raws.limits
        )

    def checkout_sessions(self, email: str) -> Listed[StripeCheckoutSession]:
        """Checkout Sessions whose `customer_details.email` is `email` (as typed, and lower-cased):
        guest payments (no Customer), and sessions carrying `fp_tid` or `client_reference_id`."""
        email = email.strip()
        found: dict[str, StripeCheckoutSession] = {}
        limits: list[str] = []
        for value in dict.fromkeys((email, email.lower())):
            raws = self._pages(
                "listing Checkout Sessions by email", self._client.v1.checkout.sessions.list,
                {"customer_details": {"email": value}}, "Checkout Sessions with that email",
            )
            limits.extend(raws.limits)
            for raw in raws:
                if raw["id"] not in found:
                    found[raw["id"]] = self._parse("a Stripe Checkout Session", lambda r=raw: _checkout_session(r))
        # newest first across both reads
        return Listed(sorted(found.values(), key=lambda c: c.created, reverse=True), limits)

    def subscriptions(self, customer_id: str) -> Listed[StripeSubscription]:
        raws = self._pages(
            f"listing subscriptions of {customer_id}",
            self._client.v1.subscriptions.list,
            {"customer": customer_id, "status": "all"},  # without it Stripe omits canceled ones
            f"subscriptions of {customer_id}",
        )
        return Listed((self._parse("a Stripe subscription", lambda r=r: _subscription(r)) for r in raws), raws.limits)

    def payment_intents(self, customer_id: str) -> Listed[StripePaymentIntent]:
        """The customer's payment attempts, newest first: why an invoice or checkout was not paid."""
        raws = self._pages(
            f"listing PaymentIntents of {customer_id}", self._client.v1.payment_intents.list,
            {"customer": customer_id}, f"PaymentIntents of {customer_id}",
        )
        return Listed((self._parse("a Stripe PaymentIntent", lambda r=r: _payment_intent(r)) for r in raws), raws.limits)

    def tracking_coupon(self, value: str) -> TrackingCoupon:
        """Is `value` a Coupon id (what FirstPromoter needs), a promotion code's code, or neither?"""
        value = value.strip()
        if not value:
            raise SourceError("there is no coupon value to look up")
        with deadline.DeadlinePool(max_workers=2, thread_name_prefix="fpcheck-stripe") as pool:
            got_f = pool.submit(
                self._maybe, f"looking up coupon {value!r}", lambda: self._client.v1.coupons.retrieve(value)
            )
            raws_f = pool.submit(
                self._pages,
                f"looking up promotion code {value!r}",
                self._client.v1.promotion_codes.list,
                {"code": value, "expand": ["data.promotion.coupon"]},
            )
            got, raws = got_f.result(), raws_f.result()
        coupon = self._parse("a Stripe coupon", lambda: _coupon(_plain(got))) if got is not None else None
        promos = tuple(self._parse("a Stripe promotion code", lambda r=r: _promotion_code(r)) for r in raws)
        return TrackingCoupon(value=value, coupon=coupon, promotion_codes=promos)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ paging
    def _pages(
        self, what: str, list_fn: Callable[..., Any], params: Mapping[str, Any], noun: str = "objects"
    ) -> Listed[dict[str, Any]]:
        """Every page of a list, newest first, up to MAX_PAGES; reaching the bound is said in
        `.limits` ("read the newest 300 invoices of cus_X; older ones were not examined")."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(MAX_PAGES):
            p = {**params, "limit": PAGE_SIZE, **({"starting_after": after} if after else {})}
            page = _plain(self._call(what, lambda p=p: list_fn(params=p)))
            data = page.get("data")
            if not isinstance(data, list):
                raise SourceError(f"Stripe's answer was not a list (while {what})")
            out += data
            if not page.get("has_more") or not data:
                return Listed(out)
            after = data[-1]["id"]
        log.warning("%s: stopped after %d pages of %d", what, MAX_PAGES, PAGE_SIZE)
        return Listed(out, [f"read the newest {len(out)} {noun}; older ones were not examined"])

    def _search(self, query: str, what: str = "searching Stripe customers") -> Listed[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page_token: str | None = None
        for _ in range(MAX_PAGES):
            p = {"query": query, "limit": PAGE_SIZE, **({"page": page_token} if page_token else {})}
            page = _plain(self._call(what, lambda p=p: self._client.v1.customers.search(params=p)))
            data = page.get("data")
            if not isinstance(data, list):
                raise SourceError(f"Stripe's search answer was not a list (while {what})")
            out += data
            page_token = page.get("next_page")
            if not page.get("has_more") or not page_token:
                return Listed(out)
        log.warning("%s: stopped after %d pages of %d", what, MAX_PAGES, PAGE_SIZE)
        return Listed(out, [f"read the first {len(out)} customers Stripe's search found for {query}; "
                            "more were not examined"])

    # ------------------------------------------------------------------ one call, retried
    def _maybe(self, what: str, fn: Callable[[], T]) -> T | None:
        """`_call`, but Stripe's 404 resource_missing means None (not an error)."""

        def fetch() -> T | None:
            try:
                return fn()
            except stripe.InvalidRequestError as exc:
                if _is_missing(exc):
                    return None
                raise

        return self._call(what, fetch)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        started = time.monotonic()
        waited = 0.0
        failures: list[_Failure] = []
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except stripe.StripeError as exc:
                failure = self._classify(exc)
            failures.append(failure)
            if failure.kind == "rate_limit":
                self._gate.pause(failure.wait or 1.0)  # one 429 slows every sender of this budget
            if not failure.retry or attempt == self.retries:
                break
            if failure.wait is not None:
                if waited + failure.wait > self.max_wait:
                    failures[-1] = _Failure(
                        f"{failure.reason} and asked us to wait {failure.wait:g} s", False, failure.kind
                    )
                    break
                delay = failure.wait
            else:
                delay = self._backoff.delay(attempt + 1)
            delay = min(delay, self.max_wait - waited)
            if not deadline.allows(delay):
                break  # no retry can finish before the run's deadline
            if delay > 0:
                time.sleep(delay)
                waited += delay
        reason = redact(self._reason(what, failures, time.monotonic() - started))
        if failures[-1].kind == "permission":
            raise PermissionDenied(reason, failures[-1].permission)
        if failures[-1].kind == "setup":
            raise SetupError(reason)
        raise SourceError(reason)

    def _reason(self, what: str, failures: list[_Failure], elapsed: float) -> str:
        last = failures[-1]
        n = len(failures)
        if n == 1:
            text = last.reason
        elif last.kind == "rate_limit" and all(f.kind == "rate_limit" for f in failures):
            text = f"{last.reason} {n} times; gave up after {elapsed:.1f} s"
        else:
            text = f"{last.reason} ({n} attempts; gave up after {elapsed:.1f} s)"
        return f"{text} (while {what})"

    def _classify(self, exc: stripe.StripeError) -> _Failure:
        status = exc.http_status
        rid = f"; Stripe request {exc.request_id}" if getattr(exc, "request_id", None) else ""
        message = _short(exc.user_message or "")
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        may_retry = headers.get("stripe-should-retry") != "false"
        if isinstance(exc, stripe.APIConnectionError) or status is None:
            return self._network(exc)
        if status == 429 or isinstance(exc, stripe.RateLimitError):
            return _Failure("Stripe rate-limited us (429)", may_retry, "rate_limit", retry_after(headers))
        if status >= 500:
            return _Failure(f"Stripe answered {status} (server error{rid})", may_retry, "server")
        if status == 401:
            return _Failure(
                f"Stripe rejected the API key (401): it is invalid, revoked or expired — check {self.key_name}",
                False, "setup",
            )
        if status == 403:
            perm = _PERMISSION_RX.search(exc.user_message or "")
            if perm:
                return _Failure(
                    f"the Stripe key lacks the '{perm.group(1)}' permission (403) — add it to the restricted key "
                    f"in {self.key_name}",
                    False, "permission", permission=perm.group(1),
                )
            return _Failure(f"Stripe refused the request (403): {message}", False, "permission")
        if isinstance(exc, stripe.APIError) and "Invalid response" in (exc.user_message or ""):
            return _Failure(f"Stripe answered HTTP {status} with a body that is not Stripe's JSON", False, "other")
        return _Failure(f"Stripe refused the request ({status}): {message}", False, "other")

    def _network(self, exc: stripe.StripeError) -> _Failure:
        cause = exc.__cause__
        text = str(cause or exc)
        if isinstance(exc, ReadOnlyRefusal):  # by its type: its text says "refused" too
            return _Failure(text, False, "other")
        if isinstance(cause, requests.exceptions.ConnectTimeout):
            return _Failure(f"could not connect to Stripe at {self.host} within {self._connect_timeout:g} s", True, "network")
        if isinstance(cause, requests.exceptions.Timeout):
            if deadline.expired():
                return _Failure("Stripe did not answer before the run's deadline", False, "network")
            return _Failure(f"Stripe did not answer within {self.timeout:g} s", False, "network")
        if "refused" in text.lower():  # retried, then a setup mistake: the base URL points nowhere
            return _Failure(f"could not connect to Stripe at {self.host} (connection refused)", True, "setup")
        if any(s in text for s in ("RemoteDisconnected", "Connection aborted", "reset by peer", "IncompleteRead")):
            return _Failure("Stripe closed the connection without answering", True, "network")
        if any(s in text for s in ("NameResolution", "Name or service not known", "nodename nor servname")):
            return _Failure(f"could not resolve Stripe's host {self.host}", True, "setup")
        return _Failure(f"could not reach Stripe at {self.host} (network error)", True, "network")

    def _parse(self, what: str, fn: Callable[[], T]) -> T:
        """Turn Stripe's JSON into our types; a shape we cannot read is a clear error, not a traceback."""
        try:
            return fn()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SourceError(f"Stripe's answer for {what} was not in the expected shape ({type(exc).__name__}: "
                              f"{redact(_short(str(exc)))})") from None


# ---------------------------------------------------------------------- helpers


def _is_missing(exc: stripe.StripeError) -> bool:
    # AuthenticationError & co. leave `exc.code` None; the body's code is on `exc.error`
    code = exc.code or getattr(getattr(exc, "error", None), "code", None)
    return exc.http_status == 404 and code == "resource_missing"


def _expand_limit(permission: str) -> str:
    """The limit note for an invoice detail a key may not read."""
    if permission == "rak_coupon_read":
        return f"the Stripe key lacks '{permission}': coupon details on invoices were not read (only coupon ids)"
    if permission == "rak_promotion_code_read":
        return (f"the Stripe key lacks '{permission}': promotion codes on invoices were not read "
                "(only their promo_ ids, not the codes customers typed)")
    if permission:
        return f"the Stripe key lacks '{permission}': coupon and promotion code details on invoices were not read"
    return "Stripe refused to expand coupons and promotion codes on invoices (403): only their ids were read"


def _settlement_unread(permission: str) -> str:
    who = f"the Stripe key lacks '{permission}'" if permission else "Stripe refused to expand it (403)"
    return f"{who}, so the amount the account received (the charge's balance transaction) was not read"


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(value: str) -> str:
    """A value for Stripe's search query language: single-quoted, with ' and \\ escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _plain(obj: Any) -> dict[str, Any]:
    """StripeObject -> plain dicts (a StripeObject is not a dict since v15: no `.get`)."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    if isinstance(obj, dict):
        return obj
    # an answer that is not a JSON object (a proxy's list, a bare string) is Stripe's garbage, not our bug
    raise SourceError(f"Stripe answered with a JSON {type(obj).__name__} where an object was expected")


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value is not None else None


def _id(value: Any) -> str | None:
    """An expandable field: an id, or the expanded object."""
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


def _account(raw: dict[str, Any]) -> StripeAccount:
    dashboard = (raw.get("settings") or {}).get("dashboard") or {}
    profile = raw.get("business_profile") or {}
    return StripeAccount(
        id=raw["id"], name=dashboard.get("display_name") or profile.get("name"), email=raw.get("email"), source="api"
    )


def _customer(raw: dict[str, Any], match: str) -> StripeCustomer:
    return StripeCustomer(
        id=raw["id"],
        email=raw.get("email"),
        name=raw.get("name"),
        livemode=bool(raw.get("livemode")),
        created=_ts(raw["created"]),
        metadata={str(k): str(v) for k, v in (raw.get("metadata") or {}).items()},
        match=match,  # type: ignore[arg-type]
    )


def _coupon(raw: dict[str, Any]) -> StripeCoupon:
    pct = raw.get("percent_off")
    return StripeCoupon(
        id=raw["id"],
        name=raw.get("name"),
        percent_off=float(pct) if pct is not None else None,
        amount_off=raw.get("amount_off"),
        currency=raw.get("currency"),
        valid=raw.get("valid"),
    )


def _promotion_code(raw: dict[str, Any]) -> StripePromotionCode:
    promotion = raw.get("promotion") or {}
    return StripePromotionCode(
        id=raw["id"], code=raw["code"], coupon_id=_id(promotion.get("coupon")), active=bool(raw.get("active", True))
    )


def _discount(raw: Any) -> StripeDiscount:
    if isinstance(raw, str):  # not expanded
        return StripeDiscount(id=raw)
    coupon = (raw.get("source") or {}).get("coupon")
    promo = raw.get("promotion_code")
    return StripeDiscount(
        id=raw["id"],
        coupon=_coupon(coupon) if isinstance(coupon, dict) else (StripeCoupon(id=coupon) if coupon else None),
        promotion_code=_promotion_code(promo) if isinstance(promo, dict) else None,
        promotion_code_id=_id(promo),
    )


def _invoice(raw: dict[str, Any]) -> StripeInvoice:
    parent = raw.get("parent") or {}
    sub = (parent.get("subscription_details") or {}).get("subscription")
    pis: list[str] = []
    chs: list[str] = []
    types: list[str] = []
    for pay in ((raw.get("payments") or {}).get("data") or []):
        payment = pay.get("payment") or {}
        if payment.get("type"):
            types.append(str(payment["type"]))
        if (pi := _id(payment.get("payment_intent"))) is not None:
            pis.append(pi)
        if (ch := _id(payment.get("charge"))) is not None:
            chs.append(ch)
    return StripeInvoice(
        id=raw["id"],
        customer=_id(raw["customer"]) or "",
        status=raw.get("status") or "unknown",
        currency=raw["currency"],
        amount_due=raw["amount_due"],
        amount_paid=raw["amount_paid"],
        subtotal=raw["subtotal"],
        total=raw["total"],
        total_discount_amount=sum(int(d.get("amount") or 0) for d in raw.get("total_discount_amounts") or []),
        starting_balance=int(raw.get("starting_balance") or 0),
        amount_paid_off_stripe=int(raw.get("amount_paid_off_stripe") or 0),
        paid_out_of_band=raw.get("paid_out_of_band"),  # older API versions only
        collection_method=raw.get("collection_method"),
        billing_reason=raw.get("billing_reason"),
        livemode=bool(raw.get("livemode")),
        created=_ts(raw["created"]),
        paid_at=_ts((raw.get("status_transitions") or {}).get("paid_at")),
        customer_email=raw.get("customer_email"),
        subscription_id=_id(sub),
        discounts=tuple(_discount(d) for d in raw.get("discounts") or []),
        payment_intent_ids=tuple(pis),
        charge_ids=tuple(chs),
        payment_types=tuple(types),
    )


def _settlement(raw: Any) -> Settlement | None:
    """An expanded balance transaction; None when not expanded (an id) or not settled yet (null)."""
    if not isinstance(raw, dict):
        return None
    rate = raw.get("exchange_rate")
    return Settlement(amount=int(raw["amount"]), currency=raw["currency"],
                      exchange_rate=float(rate) if rate is not None else None)


def _charge(raw: dict[str, Any], settlement_unread: str | None = None) -> StripeCharge:
    return StripeCharge(
        id=raw["id"],
        customer=_id(raw.get("customer")),
        amount=raw["amount"],
        amount_captured=raw.get("amount_captured") or 0,
        amount_refunded=raw.get("amount_refunded") or 0,
        currency=raw["currency"],
        status=raw["status"],
        paid=bool(raw.get("paid")),
        captured=raw.get("captured"),
        refunded=bool(raw.get("refunded")),
        disputed=bool(raw.get("disputed")),
        livemode=bool(raw.get("livemode")),
        created=_ts(raw["created"]),
        failure_message=raw.get("failure_message"),
        billing_email=(raw.get("billing_details") or {}).get("email"),
        receipt_email=raw.get("receipt_email"),
        payment_intent=_id(raw.get("payment_intent")),
        invoice=_id(raw.get("invoice")),
        settlement=_settlement(raw.get("balance_transaction")),
        settlement_unread=settlement_unread,
    )


def _checkout_session(raw: dict[str, Any]) -> StripeCheckoutSession:
    details = raw.get("customer_details") or {}
    return StripeCheckoutSession(
        id=raw["id"],
        customer=_id(raw.get("customer")),
        customer_email=details.get("email") or raw.get("customer_email"),
        mode=raw.get("mode") or "payment",
        status=raw.get("status"),
        payment_status=raw.get("payment_status"),
        amount_total=raw.get("amount_total"),
        currency=raw.get("currency"),
        client_reference_id=raw.get("client_reference_id"),
        metadata={str(k): str(v) for k, v in (raw.get("metadata") or {}).items()},
        customer_creation=raw.get("customer_creation"),
        payment_intent=_id(raw.get("payment_intent")),
        invoice=_id(raw.get("invoice")),
        subscription=_id(raw.get("subscription")),
        payment_link=_id(raw.get("payment_link")),
        livemode=bool(raw.get("livemode")),
        created=_ts(raw["created"]),
    )


def _payment_intent(raw: dict[str, Any]) -> StripePaymentIntent:
    error = raw.get("last_payment_error") or {}
    action = raw.get("next_action") or {}
    return StripePaymentIntent(
        id=raw["id"],
        customer=_id(raw.get("customer")),
        status=raw["status"],
        amount=int(raw.get("amount") or 0),
        currency=raw.get("currency") or "usd",
        livemode=bool(raw.get("livemode")),
        created=_ts(raw["created"]),
        latest_charge=_id(raw.get("latest_charge")),
        error_code=error.get("decline_code") or error.get("code"),
        error_message=error.get("message"),
        next_action=action.get("type"),
    )


def _subscription(raw: dict[str, Any]) -> StripeSubscription:
    return StripeSubscription(
        id=raw["id"],
        customer=_id(raw["customer"]) or "",
        status=raw["status"],
        livemode=bool(raw.get("livemode")),
        created=_ts(raw["created"]),
        trial_end=_ts(raw.get("trial_end")),
    )


# The parsers under public names: the sweep (checks/sweep/) reads its listings into the same typed
# facts as a run, through the same code.
parse_customer = _customer
parse_invoice = _invoice
parse_charge = _charge
parse_checkout_session = _checkout_session
