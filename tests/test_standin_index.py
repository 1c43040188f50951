"""The stand-ins' listing indexes (sandbox/versioned.py): on a seeded month, every page (created
ranges, filters, `starting_after` / `ending_before` cursors, `has_more`) is exactly what filtering
and sorting the whole month gives, and objects added, replaced or removed after the index was built
are listed as they are now."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sandbox import scenarios as sc
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.stripe_server import StripeStandIn

NOW = int(time.time())
INVOICES = 3_000
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def month() -> Iterator[tuple[StripeStandIn, FirstPromoterStandIn]]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    seed_month(stripe, fp, invoices=INVOICES, referrals=1_600, commissions=500, lost=30, now=NOW)
    with stripe, fp:
        yield stripe, fp


def get(s: StripeStandIn, path: str, **params: Any) -> requests.Response:
    return requests.get(s.url + path, params=params, headers={"Authorization": f"Bearer {sc.STRIPE_TEST_KEY}"},
                        timeout=30)


def ids(body: Obj) -> list[str]:
    return [o["id"] for o in body["data"]]


def brute(objs: list[Obj], keep: Callable[[Obj], bool] = lambda o: True, lo: int | None = None,
          hi: int | None = None) -> list[Obj]:
    """How the stand-in listed before its index: filter the month, then sort it newest first
    (among equal `created`, the later-added first)."""
    hits = [o for o in objs if keep(o) and (lo is None or o["created"] >= lo) and (hi is None or o["created"] <= hi)]
    return sorted(reversed(hits), key=lambda o: o["created"], reverse=True)


def walk(s: StripeStandIn, path: str, limit: int, **params: Any) -> tuple[list[str], list[bool]]:
    """Every page by `starting_after`: the ids in order and each page's has_more."""
    got, more, after = [], [], None
    while True:
        body = get(s, path, limit=limit, **params, **({"starting_after": after} if after else {})).json()
        got += ids(body)
        more.append(body["has_more"])
        if not body["has_more"]:
            return got, more
        after = body["data"][-1]["id"]


def test_a_created_range_paged_by_starting_after_is_the_brute_force_listing(month) -> None:
    stripe, _ = month
    ds = stripe.data["test"]
    invs = list(ds.invoices.values())
    lo, hi = sorted(o["created"] for o in invs)[INVOICES // 4], sorted(o["created"] for o in invs)[3 * INVOICES // 4]
    want = [o["id"] for o in brute(invs, lambda o: o["status"] == "paid", lo, hi)]
    got, more = walk(stripe, "/v1/invoices", 100, status="paid", **{"created[gte]": lo, "created[lte]": hi})
    assert got == want and len(want) > 1_000
    assert more == [True] * (len(more) - 1) + [False]
    # gt/lt are exclusive, and `expand[]` still expands the page's objects
    want = [o["id"] for o in brute(invs, lo=lo + 1, hi=hi - 1)]
    body = get(stripe, "/v1/invoices", limit=100, **{"created[gt]": lo, "created[lt]": hi,
                                                      "expand[]": ["data.customer", "data.payments"]}).json()
    assert ids(body) == want[:100] and body["has_more"]
    assert all(o["customer"]["object"] == "customer" and o["payments"]["object"] == "list" for o in body["data"])


def test_ending_before_and_a_filter_page_backwards_like_the_brute_force_listing(month) -> None:
    stripe, _ = month
    charges = list(stripe.data["test"].charges.values())
    want = [o["id"] for o in brute(charges)]
    for at, limit in ((1_500, 37), (20, 100), (100, 100), (1, 5)):
        body = get(stripe, "/v1/charges", limit=limit, ending_before=want[at]).json()
        assert ids(body) == want[max(0, at - limit):at]
        assert body["has_more"] == (at - limit > 0)
    # a filter: one customer's charges (a page of one), and a cursor that fails the filter is refused
    one = charges[123]
    assert ids(get(stripe, "/v1/charges", customer=one["customer"]).json()) == [one["id"]]
    r = get(stripe, "/v1/charges", customer=one["customer"], starting_after=charges[124]["id"])
    assert r.status_code == 400 and r.json()["error"]["message"] == f"No such charge: '{charges[124]['id']}'"
    # so is a cursor outside the created range
    r = get(stripe, "/v1/charges", starting_after=want[0], **{"created[lt]": charges[0]["created"]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "starting_after"


def test_equal_created_times_keep_the_later_added_first_across_pages(month) -> None:
    stripe, _ = month
    t = NOW - 3 * 86_400 + 7
    for n in range(7):
        stripe.add_customer(f"cus_Tie{n}", f"tie{n}@example.com", created=t)
    got, _ = walk(stripe, "/v1/customers", 2, **{"created": t})
    assert got == [o["id"] for o in brute(list(stripe.data["test"].customers.values()), lo=t, hi=t)]
    assert got[:7] == [f"cus_Tie{n}" for n in reversed(range(7))]
    before = get(stripe, "/v1/customers", limit=3, ending_before="cus_Tie1", **{"created[gte]": t}).json()
    assert ids(before) == ["cus_Tie4", "cus_Tie3", "cus_Tie2"] and before["has_more"]


def test_objects_added_replaced_or_removed_after_the_index_was_built_are_listed_as_they_are(month) -> None:
    stripe, _ = month
    newest = get(stripe, "/v1/invoices", limit=3).json()  # builds the index
    stripe.add_customer("cus_Late", "late@example.com", created=NOW - 86_400)
    stripe.add_invoice("in_Late", "cus_Late", created=NOW - 60, subtotal=2900)
    page = get(stripe, "/v1/invoices", limit=3).json()
    assert ids(page) == ["in_Late", *ids(newest)[:2]]
    # the same id added again (another `created`) moves; a paged walk finds it once, in its new place
    stripe.add_invoice("in_Late", "cus_Late", created=NOW - 29 * 86_400, subtotal=2900)
    invs = list(stripe.data["test"].invoices.values())
    got, _ = walk(stripe, "/v1/invoices", 100, **{"created[gte]": NOW - 30 * 86_400})
    assert got == [o["id"] for o in brute(invs, lo=NOW - 30 * 86_400)] and got.count("in_Late") == 1
    # a deleted customer leaves the customers list and its search
    stripe.delete_customer("cus_Late", at=NOW)
    assert "cus_Late" not in ids(get(stripe, "/v1/customers", limit=100, email="late@example.com").json())
    assert get(stripe, "/v1/customers/search", query="email:'late@example.com'").json()["data"] == []
    # an object's `created` changed in place is seen after reindex()
    inv = stripe.data["test"].invoices["in_Late"]
    inv["created"] = NOW - 5
    stripe.reindex()
    assert ids(get(stripe, "/v1/invoices", limit=1).json()) == ["in_Late"]


def test_firstpromoter_pages_are_by_id_and_see_a_referral_added_later(month) -> None:
    _, fp = month
    headers = {"Authorization": f"Bearer {sc.FP_API_KEY}", "Account-ID": sc.FP_ACCOUNT_ID}

    def page(n: int, **params: Any) -> list[int]:
        r = requests.get(f"{fp.url}/api/v2/company/referrals", params={"page": n, "per_page": 100, **params},
                         headers=headers, timeout=30)
        return [x["id"] for x in r.json()]

    want = sorted(fp.referrals)
    assert page(1) == want[:100] and page(7) == want[600:700]
    rid = fp.add_referral("early@example.com", id=want[0] - 1, created_at=NOW - 86_400)
    assert page(1)[:2] == [rid, want[0]]
    assert page(1, q="early@example.com") == [rid]
    commissions = requests.get(f"{fp.url}/api/v2/company/commissions", params={"page": 3, "per_page": 100},
                               headers=headers, timeout=30).json()
    assert [c["id"] for c in commissions] == sorted(fp.commissions)[200:300]


def test_customer_search_by_an_indexed_clause_is_the_brute_force_search(month) -> None:
    stripe, _ = month
    customers = brute(list(stripe.data["test"].customers.values()))
    tid = next(c for c in customers if c["metadata"].get("fp_tid"))
    stripe.add_customer("cus_Twin", tid["email"].upper(), created=NOW - 7, metadata={"fp_tid": tid["metadata"]["fp_tid"]})
    for query, want in (
        (f"email:'{tid['email']}'", ["cus_Twin", tid["id"]]),  # ignoring case, newest first
        (f"metadata['fp_tid']:'{tid['metadata']['fp_tid']}'", ["cus_Twin", tid["id"]]),
        (f"email:'{tid['email']}' AND metadata['fp_tid']:'nope'", []),
        (f"name:'nobody' AND email:'{tid['email']}'", []),
    ):
        body = get(stripe, "/v1/customers/search", query=query).json()
        assert ids(body) == want, query
