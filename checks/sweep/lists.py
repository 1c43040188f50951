"""Whole-window listings for the sweep, on top of the per-person readers (same retries, limits, GET only).

Stripe lists are cursor-paged, newest first; to read a month in seconds the window is cut into
time slices (`created[gte]`/`created[lte]`) paged side by side.  FirstPromoter lists are
page-numbered with no total, so pages are asked for a few at a time until a short one comes back.
No listing stops at a row count: a programme of any size is read whole, within the sweep's deadline
(checks/deadline.py, bound by the sweep).  A page that fails (a timeout, a 5xx, a 429 after its wait)
is asked for again, with backoff, while the deadline allows.  A listing that still fails part-way
raises `PartialList` carrying what was read, so the sweep can say what it covered instead of
guessing the rest.

FirstPromoter's rows are cut down as each page arrives (`keep`) to what the join needs: a
programme's referrals are read whole, and their full rows would hold far more than uid and email.

Each Stripe page is read as Stripe's JSON (not the SDK's objects), parsed into the engine's typed
facts (checks/facts.py, by the parsers of checks/sources/stripe.py) as it arrives, and the
customers it expanded are kept once each by id: a listing is a `Listing`, never the raw objects.
The sweep's own listings are slim: each typed fact is cut at once to what the join reads
(join.SlimInvoice, SlimCharge, SlimCustomer), and the charges, listed once the invoices are in,
keep none that paid one of those invoices.  The referrals go into SQLite (store.py).

Stripe filters lists by `created` only, and a payment's time is when it was paid: an invoice or a
Checkout Session created before the window may be paid inside it.  So those two are listed from a
look-back before the window, and the join keeps what was paid inside (join.build_payments).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

import requests

from checks import deadline
from checks.campaigns import PromoterCampaign
from checks.facts import StripeCharge, StripeCheckoutSession, StripeInvoice
from checks.sources import PermissionDenied, SetupError, SourceError
from checks.sources.firstpromoter import FirstPromoterReader, promoter_campaign_fields
from checks.sources.stripe import (
    PAGE_SIZE,
    StripeReader,
    parse_charge,
    parse_checkout_session,
    parse_customer,
    parse_invoice,
)
from checks.sweep.join import SlimCharge, SlimCustomer, SlimInvoice

T = TypeVar("T")
SLIM: dict[type, Callable[[Any], Any]] = {StripeInvoice: SlimInvoice, StripeCharge: SlimCharge}

# Depth 3 at most: the discount's coupon id and promotion code (for the tracking-coupon join),
# the customer (email, metadata fp_uid / fp_tid) and how the invoice was paid (to tell invoice
# charges from charges without an invoice).
INVOICE_EXPAND = ["data.customer", "data.discounts", "data.discounts.promotion_code", "data.payments"]
# An invoice is paid after it was created: an hour later for a renewal, weeks later when Smart
# Retries retry a failed renewal or a sent invoice has 30 days' terms.  Stripe offers no `paid_at`
# filter, so invoices are listed from this long before the window: a monthly cycle and a few days.
# One paid later still is not read, and its charge is taken for a one-time sale (the diagnosis
# clears it if a commission names the invoice).
PAID_LOOKBACK = timedelta(days=35)
# A Checkout Session is completed before it expires, at most 24 h after it was created.
SESSION_LOOKBACK = timedelta(days=1)
# Loop bounds only, far past any real account: the sweep's deadline is what ends a long listing.
MAX_STRIPE_PAGES = 100_000  # per slice: 10 million objects
MAX_FP_PAGES = 100_000  # 10 million rows per listing
FP_WAVE = 4  # FirstPromoter pages asked for at once
# A Stripe slice's unread part is cut in two only when it spans this many seconds at least, and a
# listing is cut this many times at most (a bound on the loop; a month needs a few dozen).
MIN_SPLIT = 3600
MAX_SPLITS = 1000
SPLIT_OBJECTS = 4 * 100  # ... and holds about four pages of objects still to read
SPLIT_POLL = 0.25  # seconds between looks for a slice to cut while one is free
MAX_TURNS = 1_000_000
# A page that failed is asked for again this many times at most (each reader attempt has its own
# retries too), waiting PAGE_BACKOFF, doubling, between tries, and never past the sweep's deadline.
PAGE_TRIES = 4
PAGE_BACKOFF = 0.5
PAGE_BACKOFF_CAP = 4.0


@dataclass
class Listing(Generic[T]):
    """What a Stripe listing read: its objects, typed, and the customers they expanded, by id.

    With `slim`, each object is parsed into its typed fact and at once cut down to what the join
    reads (join.SlimInvoice, SlimCharge, SlimCustomer): a month's listing is held until the join.
    `drop`: objects (typed) not to keep at all (an invoice's charge, once the invoices are read)."""

    items: list[Any] = field(default_factory=list)
    customers: dict[str, Any] = field(default_factory=dict)
    slim: bool = False
    drop: Callable[[Any], bool] | None = None

    def __len__(self) -> int:
        return len(self.items)

    def add(self, raw: dict[str, Any], parse: Callable[[dict[str, Any]], T]) -> None:
        """One raw object, parsed (a shape the parsers cannot read raises KeyError, TypeError, ...)."""
        item: Any = parse(raw)
        if self.drop is not None and self.drop(item):
            return
        self.items.append(SLIM[type(item)](item) if self.slim and type(item) in SLIM else item)
        customer = raw.get("customer")
        # a deleted customer ({id, deleted}) has no email or metadata to join on
        if isinstance(customer, dict) and not customer.get("deleted") and customer.get("id") not in self.customers:
            typed = parse_customer(customer, "id")
            if not self.slim:
                self.customers[typed.id] = typed
            elif typed.fp_uid or typed.fp_tid or (typed.email and not getattr(item, "customer_email", None)):
                # slim: only a customer that tells the join more than the object it paid (an
                # invoice carries its customer's email; metadata fp_uid / fp_tid are the customer's)
                self.customers[typed.id] = SlimCustomer(typed)

    def like(self) -> Listing[T]:
        """An empty Listing that keeps objects the way this one does."""
        return Listing(slim=self.slim, drop=self.drop)

    def extend(self, other: Listing[T]) -> None:
        self.items += other.items
        self.customers.update(other.customers)


class PartialList(SourceError):
    """A listing stopped part-way; `rows` is what was read before `reason` (a Listing for Stripe,
    FirstPromoter's rows as they came)."""

    def __init__(self, what: str, rows: Listing[Any] | list[dict[str, Any]], reason: str) -> None:
        super().__init__(f"{what}: stopped after {len(rows):,} rows: {reason}")
        self.rows = rows
        self.reason = reason


def retrying(fn: Callable[[], T], tries: int = PAGE_TRIES, base: float = PAGE_BACKOFF) -> T:
    """fn(), asked again after a failure the upstream may get over (a timeout, a 5xx, a 429: the
    limiter already holds every sender for its Retry-After), while the deadline allows.  A refused
    permission, a wrong setup or a passed deadline is final."""
    delay = base
    for attempt in range(1, tries + 1):
        try:
            return fn()
        except (PermissionDenied, SetupError, deadline.DeadlinePassed):
            raise
        except SourceError:
            if attempt == tries or not deadline.allows(delay):
                raise
        time.sleep(delay)
        delay = min(delay * 2, PAGE_BACKOFF_CAP)
    raise AssertionError("unreachable")  # the loop returns or raises


class _Slice:
    """One time slice of a Stripe listing, read newest first, whose older unread part another
    reader may take over (`split`).  Stripe's cursor is not carried across a change of filters:
    a slice cut from below reads its remaining range again from its oldest second, without a
    cursor, and skips the objects of that second it already has."""

    def __init__(self, a: int, b: int) -> None:
        self._lock = threading.Lock()
        self.a, self.b = a, b
        self.oldest: int | None = None  # `created` of the oldest object read so far
        self._at_oldest: set[str] = set()  # ids read whose `created` is `oldest`
        self._cut = False
        self.newest: int | None = None  # `created` of the newest object read (density is reckoned from it)
        self._read = 0

    def bounds(self) -> tuple[int, int, bool]:
        """(gte, lte, restart) for the next page: restart after a cut, from the oldest second read."""
        with self._lock:
            if self._cut and self.oldest is not None:
                self._cut = False
                self.b = self.oldest
                return self.a, self.b, True
            return self.a, self.b, False

    def seen(self, data: list[Any]) -> list[Any]:
        """The objects of a page this slice has not read and still owns: after a restart, that
        second's may come again; a page asked for before a cut may reach into the part given away."""
        fresh = []
        with self._lock:
            for raw in data:
                created = raw.get("created") if isinstance(raw, dict) else None
                oid = raw.get("id") if isinstance(raw, dict) else None
                if isinstance(created, int) and (created < self.a or (created == self.oldest and oid in self._at_oldest)):
                    continue
                fresh.append(raw)
                if isinstance(created, int) and isinstance(oid, str):
                    self.newest = max(self.newest or created, created)
                    if self.oldest is None or created < self.oldest:
                        self.oldest, self._at_oldest = created, {oid}
                    elif created == self.oldest:
                        self._at_oldest.add(oid)
            self._read += len(fresh)
        return fresh

    def unread(self) -> float:
        """About how many objects this slice has still to read, from how dense what it read was
        (0 before its first page: nothing known to cut)."""
        with self._lock:
            if self.oldest is None or self.newest is None:
                return 0.0
            covered = max(self.newest - self.oldest, 1)
            return self._read / covered * max(0, self.oldest - self.a)

    def split(self) -> _Slice | None:
        """Give the older half of what is unread to a new slice; None when too little is left to
        be worth a slice's extra (short) last page."""
        if self.unread() < SPLIT_OBJECTS:
            return None
        with self._lock:
            if self.oldest is None or self.oldest - self.a < MIN_SPLIT:
                return None
            mid = self.a + (self.oldest - self.a) // 2
            older = _Slice(self.a, mid)
            self.a, self._cut = mid + 1, True
            return older


def slices(start: int, end: int, n: int) -> list[tuple[int, int]]:
    """[start, end] in n contiguous, non-overlapping integer-second slices."""
    n = max(1, min(n, end - start + 1))
    step = (end - start + 1) / n
    bounds = [start + round(i * step) for i in range(n)] + [end + 1]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(n) if bounds[i] <= bounds[i + 1] - 1]


class SweepStripe(StripeReader):
    """Listing pages are read as Stripe's JSON (`StripeClient.raw_request`: the same HTTP client,
    GET guard, rate limit and errors), not as the SDK's objects, which cost ten times the parsing
    and are turned back into dicts anyway."""

    def _raw_list(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        page = self._client.raw_request("get", path, **params).data
        if not isinstance(page, dict):
            raise SourceError(f"Stripe answered with a JSON {type(page).__name__} where an object was expected")
        return page

    def window_list(
        self, what: str, path: str, params: dict[str, Any], start: int, end: int,
        pool: ThreadPoolExecutor, parts: int, parse: Callable[[dict[str, Any]], T],
        on_page: Callable[[int], None] | None = None, keep: Listing[T] | None = None,
    ) -> Listing[T]:
        """Every object of `path` created in [start, end], in `parts` time slices read side by side;
        kept as `keep` (an empty Listing) keeps them: typed facts unless it is slim.

        A month's objects are seldom spread evenly (a look-back with few invoices, a billing day
        with most of them), so when a slice is done the unread part of the busiest one is cut in
        two and the older half read beside it (`_Slice.split`): `parts` slices stay in flight
        until the end instead of one slow slice reading alone."""
        proto: Listing[T] = keep if keep is not None else Listing()
        running: dict[Future[Listing[T]], _Slice] = {}

        def start_slice(sl: _Slice) -> None:
            running[pool.submit(self._slice, what, path, params, sl, parse, on_page, proto)] = sl

        for a, b in slices(start, end, parts):
            start_slice(_Slice(a, b))
        rows: Listing[T] = proto.like()
        failures: list[str] = []

        def take(fut: Future[Listing[T]]) -> None:
            try:
                rows.extend(fut.result())
            except PartialList as exc:
                assert isinstance(exc.rows, Listing)
                rows.extend(exc.rows)
                failures.append(exc.reason)
            except SourceError as exc:
                failures.append(str(exc))

        splits = 0
        # bounded: each turn waits SPLIT_POLL at most, and the sweep's deadline ends every read
        for _ in range(MAX_TURNS):
            if not running:
                break
            done, _ = wait(running, timeout=SPLIT_POLL, return_when=FIRST_COMPLETED)
            for fut in done:
                running.pop(fut)
                take(fut)
            # a slice is free (done, or done before the others had read a page): cut the busiest
            while not failures and len(running) < parts and splits < MAX_SPLITS:
                busiest = max(running.values(), key=_Slice.unread, default=None)
                older = busiest.split() if busiest is not None else None
                if older is None:
                    break
                splits += 1
                start_slice(older)
        for fut in running:  # past MAX_TURNS: the slices still running are read to their end
            take(fut)
        if failures:
            raise PartialList(what, rows, failures[0])
        return rows

    def _slice(
        self, what: str, path: str, params: dict[str, Any], sl: _Slice,
        parse: Callable[[dict[str, Any]], T], on_page: Callable[[int], None] | None, proto: Listing[T],
    ) -> Listing[T]:
        out: Listing[T] = proto.like()
        after: str | None = None
        for _ in range(MAX_STRIPE_PAGES):
            a, b, restart = sl.bounds()
            if restart:
                after = None  # cut from below: read [a, oldest seen] afresh (its second's objects once)
            p = {**params, "created": {"gte": a, "lte": b}, "limit": PAGE_SIZE,
                 **({"starting_after": after} if after else {})}
            try:
                page = retrying(lambda p=p: self._call(what, lambda: self._raw_list(path, p)))
            except SourceError as exc:
                raise PartialList(what, out, str(exc)) from None
            data = page.get("data")
            if not isinstance(data, list):
                raise PartialList(what, out, f"Stripe's answer was not a list (while {what})")
            fresh = sl.seen(data)
            try:
                for raw in fresh:
                    self._parse(what, lambda raw=raw: out.add(raw, parse))
            except SourceError as exc:
                raise PartialList(what, out, str(exc)) from None
            if on_page:
                on_page(len(fresh))
            if not page.get("has_more") or not data:
                return out
            after = data[-1]["id"]
        raise PartialList(what, out, f"more than {MAX_STRIPE_PAGES} pages in one slice")

    def paid_invoices(self, start: int, end: int, pool: ThreadPoolExecutor, parts: int,
                      on_page: Callable[[int], None] | None = None, keep: Listing[Any] | None = None,
                      ) -> Listing[StripeInvoice]:
        return self.window_list("listing paid invoices", "/v1/invoices",
                                {"status": "paid", "expand": INVOICE_EXPAND}, start, end, pool, parts,
                                parse_invoice, on_page, keep)

    def charges_in(self, start: int, end: int, pool: ThreadPoolExecutor, parts: int,
                   on_page: Callable[[int], None] | None = None, keep: Listing[Any] | None = None,
                   ) -> Listing[StripeCharge]:
        return self.window_list("listing charges", "/v1/charges",
                                {"expand": ["data.customer"]}, start, end, pool, parts, parse_charge, on_page, keep)

    def checkout_sessions_in(self, start: int, end: int, pool: ThreadPoolExecutor, parts: int,
                             on_page: Callable[[int], None] | None = None) -> Listing[StripeCheckoutSession]:
        return self.window_list("listing Checkout Sessions", "/v1/checkout/sessions",
                                {"status": "complete"}, start, end, pool, parts, parse_checkout_session, on_page)


def sold_ids(invoices: Listing[Any]) -> set[str]:
    """The Stripe ids of the sales the invoices read are (join.build_payments: a charge naming one
    is that invoice's, never a sale of its own)."""
    out: set[str] = set()
    for inv in invoices.items:
        if inv.status == "paid" and inv.amount_paid > 0:
            out.add(inv.id)
            out.update(inv.payment_intent_ids, inv.charge_ids)
        else:
            out.add(inv.id)
    return out


class SweepFP(FirstPromoterReader):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # three listings read FP_WAVE pages each at once: more than requests' default pool of 10
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=4 * FP_WAVE * 3)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def campaign(self, row: dict[str, Any]) -> PromoterCampaign | None:
        """A promoter campaign as the promoter-campaign index holds it; None when it cannot be read
        (the sweep then leaves the index to read its own)."""
        try:
            return self._model(PromoterCampaign, promoter_campaign_fields(row), "promoter campaign")
        except SourceError:
            return None

    def all_rows(
        self, path: str, params: dict[str, Any], pool: ThreadPoolExecutor,
        on_page: Callable[[int], None] | None = None,
        keep: Callable[[dict[str, Any]], T | None] | None = None, into: Any = None,
    ) -> Any:
        """Every row of a page-numbered listing, FP_WAVE pages at a time, until a short page; each
        row as `keep` cuts it down (None: dropped), as the page arrives.  With `into` (a store with
        `add_page`, e.g. store.Referrals), each page goes there whole and the store is returned."""
        out: Any = into if into is not None else []
        page = 1
        previous: list[dict[str, Any]] | None = None
        what = f"listing FirstPromoter {path}"

        def read(n: int) -> list[dict[str, Any]]:
            return retrying(lambda: self._rows(
                self._get(path, {**params, "page": n, "per_page": self.per_page}, label=path), path))

        while page <= MAX_FP_PAGES:
            futures = [pool.submit(read, n) for n in range(page, min(page + FP_WAVE, MAX_FP_PAGES + 1))]
            try:
                for fut in futures:
                    try:
                        rows = fut.result()
                    except SourceError as exc:
                        raise PartialList(what, out, str(exc)) from None
                    if previous is not None and rows == previous and rows:
                        return out  # the server ignored `page`
                    if into is not None:
                        into.add_page(rows)
                    elif keep is None:
                        out += rows
                    else:
                        out += [k for r in rows if (k := keep(r)) is not None]
                    if on_page:
                        on_page(len(rows))
                    if len(rows) < self.per_page:
                        return out
                    previous = rows
            finally:
                for f in futures:
                    f.cancel()  # past the end, or after a failure: the rest of the wave is not needed
            page += FP_WAVE
        raise PartialList(what, out, f"more than {MAX_FP_PAGES} pages")
