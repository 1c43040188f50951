"""The Stripe stand-in's `GET /v1/events`: a payment seeded or added records its events, listed
newest first with Stripe's filters and paging, in fixtures3's "event" shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox import scenarios as sc
from sandbox.stripe_server import DAY, StripeStandIn

T = int(time.time()) - 3600


@pytest.fixture(scope="module")
def api() -> Iterator[StripeStandIn]:
    s = StripeStandIn()
    s.add_customer("cus_EvA", "a@example.com", created=T - 600)
    s.add_invoice("in_EvA", "cus_EvA", created=T - 20, paid_at=T, subtotal=2900)  # charge + 2 invoice events
    s.add_invoice("in_EvOpen", "cus_EvA", created=T + 5, status="open", subtotal=2900)  # no event
    s.add_charge("ch_EvB", None, 500, created=T + 10, billing_email="b@example.com")
    s.add_charge("ch_EvDeclined", None, 500, created=T + 11, status="failed")  # no event
    s.add_checkout_session("cs_EvC", email="c@example.com", created=T + 20, amount_total=700)
    s.add_charge("ch_EvOld", None, 500, created=T - 31 * DAY)  # older than Stripe keeps events
    with s:
        yield s


def ok(s: StripeStandIn, key: str = sc.STRIPE_TEST_KEY, **params: Any) -> dict[str, Any]:
    r = requests.get(s.url + "/v1/events", params=params, headers={"Authorization": f"Bearer {key}"}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def test_payments_record_their_events_newest_first_last_30_days(api: StripeStandIn) -> None:
    got = ok(api, limit=100)["data"]
    assert [(e["type"], e["data"]["object"]["id"]) for e in got] == [
        ("checkout.session.completed", "cs_EvC"),
        ("charge.succeeded", "ch_EvB"),
        ("invoice.paid", "in_EvA"),
        ("invoice.payment_succeeded", "in_EvA"),
        ("charge.succeeded", "ch_EvA"),
    ]
    assert all(e["id"].startswith("evt_") and e["object"] == "event" for e in got)
    assert got[2]["created"] == T and got[0]["data"]["object"]["status"] == "complete"


def test_the_event_has_stripes_shape() -> None:
    # the keys of fixtures3's "event" (stripe-mock, API 2026-10-28.endive)
    s = StripeStandIn()
    e = s.record_event("charge.succeeded", s.add_charge("ch_Shape", None, 500, created=T), created=T)
    assert set(e) == {"api_version", "created", "data", "id", "livemode", "object", "pending_webhooks", "request",
                      "type"}
    assert set(e["data"]) == {"object"} and set(e["request"]) == {"id", "idempotency_key"}
    assert e["data"]["object"]["id"] == "ch_Shape" and e["livemode"] is False


def test_filters_and_paging(api: StripeStandIn) -> None:
    assert {e["type"] for e in ok(api, type="invoice.*")["data"]} == {"invoice.paid", "invoice.payment_succeeded"}
    both = ok(api, **{"types[]": ["charge.succeeded", "checkout.session.completed"]})["data"]
    assert [e["data"]["object"]["id"] for e in both] == ["cs_EvC", "ch_EvB", "ch_EvA"]
    assert [e["data"]["object"]["id"] for e in ok(api, **{"created[gte]": T + 10})["data"]] == ["cs_EvC", "ch_EvB"]
    first = ok(api, limit=2)
    assert first["has_more"] and len(first["data"]) == 2
    rest = ok(api, limit=100, starting_after=first["data"][-1]["id"])["data"]
    assert len(rest) == 3 and rest[0]["type"] == "invoice.paid"
    newer = ok(api, limit=100, ending_before=rest[0]["id"])["data"]
    assert [e["id"] for e in newer] == [e["id"] for e in first["data"]]


def test_bad_filters_and_the_permission(api: StripeStandIn) -> None:
    h = {"Authorization": f"Bearer {sc.STRIPE_TEST_KEY}"}
    r = requests.get(api.url + "/v1/events", params={"type": "a", "types[]": "b"}, headers=h, timeout=5)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = requests.get(api.url + "/v1/events", params={"types[]": [f"t{i}" for i in range(21)]}, headers=h, timeout=5)
    assert r.status_code == 400
    api.add_key("rk_test_noevents")
    api.restrict("rk_test_noevents", "rak_event_read")
    r = requests.get(api.url + "/v1/events", headers={"Authorization": "Bearer rk_test_noevents"}, timeout=5)
    assert r.status_code == 403 and "rak_event_read" in r.json()["error"]["message"]
