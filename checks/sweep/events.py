"""Stripe's payment events for the payment watch, and the payments they name (GET only).

`GET /v1/events` lists the last 30 days of events, newest first; the watch reads a time range of
the payment types and pages back with `starting_after` (bounded).  Each event names one sale: a
paid invoice, a succeeded charge, or a completed Checkout Session.  `sale_of` files the events of
one sale under one key (the invoice id; a one-time charge's PaymentIntent; the session), so the
several events Stripe sends for one payment give one check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from checks.sources import SourceError
from checks.sources.stripe import PAGE_SIZE, _plain, parse_charge, parse_checkout_session, parse_invoice
from checks.sweep.join import Sale
from checks.sweep.lists import INVOICE_EXPAND, Listing, SweepStripe

PAYMENT_EVENTS = ("invoice.payment_succeeded", "invoice.paid", "charge.succeeded", "checkout.session.completed")
MAX_EVENT_PAGES = 50  # 5,000 events in one read; the watch reads at most an hour at a time

RefKind = Literal["invoice", "charge", "checkout_session"]
Ref = tuple[RefKind, str]
PARSE: dict[RefKind, Callable[[dict[str, Any]], Sale]] = {
    "invoice": parse_invoice, "charge": parse_charge, "checkout_session": parse_checkout_session,
}


class EventsTruncated(SourceError):
    pass


def _id(v: Any) -> str | None:
    if isinstance(v, dict):
        v = v.get("id")
    return v if isinstance(v, str) and v else None


def sale_of(event: dict[str, Any]) -> tuple[str, Ref] | None:
    """(the sale's key, the object to read) for a payment event; None for anything else."""
    obj = (event.get("data") or {}).get("object") or {}
    oid, kind = _id(obj), event.get("type")
    if oid is None:
        return None
    if kind in ("invoice.payment_succeeded", "invoice.paid"):
        return oid, ("invoice", oid)
    if kind == "charge.succeeded":
        return _id(obj.get("payment_intent")) or oid, ("charge", oid)
    if kind == "checkout.session.completed":
        return _id(obj.get("invoice")) or _id(obj.get("payment_intent")) or oid, ("checkout_session", oid)
    return None


class WatchStripe(SweepStripe):
    def payment_events(self, gte: int, lte: int) -> list[dict[str, Any]]:
        """Every payment event created in [gte, lte], newest first."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(MAX_EVENT_PAGES):
            p: dict[str, Any] = {"types": list(PAYMENT_EVENTS), "created": {"gte": gte, "lte": lte},
                                 "limit": PAGE_SIZE, **({"starting_after": after} if after else {})}
            page = _plain(self._call("listing payment events", lambda p=p: self._client.v1.events.list(params=p)))
            data = page.get("data")
            if not isinstance(data, list):
                raise SourceError("Stripe's answer was not a list (while listing payment events)")
            out += data
            if not page.get("has_more") or not data:
                return out
            after = data[-1]["id"]
        raise EventsTruncated(f"more than {MAX_EVENT_PAGES * PAGE_SIZE} payment events between {gte} and {lte}")

    def fetch(self, ref: Ref) -> Listing[Sale] | None:
        """The object as it is now, expanded and typed as the sweep reads it; None when it is gone."""
        kind, oid = ref
        if kind == "invoice":
            expand = [e.removeprefix("data.") for e in INVOICE_EXPAND]
            fn: Any = lambda: self._client.v1.invoices.retrieve(oid, params={"expand": expand})  # noqa: E731
        elif kind == "charge":
            fn = lambda: self._client.v1.charges.retrieve(oid, params={"expand": ["customer"]})  # noqa: E731
        else:
            fn = lambda: self._client.v1.checkout.sessions.retrieve(oid)  # noqa: E731
        got = self._maybe(f"reading {oid}", fn)
        if got is None:
            return None
        raw, one = _plain(got), Listing[Sale]()
        self._parse(f"reading {oid}", lambda: one.add(raw, PARSE[kind]))
        return one

    def invoice_paid_by(self, payment_intent: str) -> str | None:
        """The invoice a PaymentIntent paid, if any (then the invoice is the sale, not the charge)."""
        page = _plain(self._call("reading the invoice payments of a PaymentIntent", lambda: (
            self._client.v1.invoice_payments.list(params={
                "payment": {"type": "payment_intent", "payment_intent": payment_intent}, "limit": 1}))))
        data = page.get("data") or []
        return _id(data[0].get("invoice")) if data else None
