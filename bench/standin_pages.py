"""How long the stand-ins take to serve one page, at a seeded month's size (no latency, one at a time).

For each size (paid invoices; referrals half as many, commissions a fifth, 100 lost, as
bench/sweep_series.py seeds them), the median time over HTTP of: the sweep's listing pages (paid
invoices with its four expansions, charges with their customer, complete Checkout Sessions, each
walked by `starting_after` over a created range; FirstPromoter's referral and commission pages), and
the reads a candidate's diagnosis makes (one customer's objects, a customer search, a commission
search).  A page should cost the same at any size: the stand-ins keep each listing's order
(sandbox/versioned.py).
Usage: python bench/standin_pages.py [--sizes 40000,100000] [--repeat 12]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import requests

from checks.sweep.lists import INVOICE_EXPAND
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.month_seed import seed_month
from sandbox.scenarios import FP_ACCOUNT_ID, FP_API_KEY, STRIPE_TEST_KEY
from sandbox.stripe_server import DAY, StripeStandIn


def _median_ms(fn: Any, repeat: int) -> float:
    took = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        took.append(time.perf_counter() - t0)
    return 1000 * statistics.median(took)


def measure(size: int, repeat: int) -> dict[str, float]:
    stripe, fp = StripeStandIn(), FirstPromoterStandIn()
    t0 = time.perf_counter()
    truth = seed_month(stripe, fp, invoices=size, referrals=size // 2, commissions=size // 5, lost=100)
    print(f"{size:,}: seeded in {time.perf_counter() - t0:.0f} s", flush=True)
    a, b = int(truth.start) - 40 * DAY, int(truth.end) + 3600
    out: dict[str, float] = {}
    with stripe, fp, requests.Session() as http:
        s_auth = {"Authorization": f"Bearer {STRIPE_TEST_KEY}"}
        f_auth = {"Authorization": f"Bearer {FP_API_KEY}", "Account-ID": FP_ACCOUNT_ID}

        def stripe_get(path: str, params: dict[str, Any]) -> dict[str, Any]:
            r = http.get(stripe.url + path, params=params, headers=s_auth, timeout=120)
            r.raise_for_status()
            return r.json()  # type: ignore[no-any-return]

        for name, path, params in (
            ("invoice page", "/v1/invoices", {"status": "paid", "expand[]": INVOICE_EXPAND}),
            ("charge page", "/v1/charges", {"expand[]": ["data.customer"]}),
            ("Checkout Session page", "/v1/checkout/sessions", {"status": "complete"}),
        ):
            took, after = [], None
            for _ in range(repeat):  # the first pages of a walk, as the sweep reads them
                p = {**params, "created[gte]": a, "created[lte]": b, "limit": 100,
                     **({"starting_after": after} if after else {})}
                t = time.perf_counter()
                page = stripe_get(path, p)
                took.append(time.perf_counter() - t)
                if not page["has_more"]:
                    break
                after = page["data"][-1]["id"]
            out[name] = 1000 * statistics.median(took)
        cus = "cus_Month0001234"
        email = stripe.data["test"].customers[cus]["email"]
        for name, path, params in (
            ("customers?email=", "/v1/customers", {"email": email}),
            ("customer search", "/v1/customers/search", {"query": f"email:'{email}'"}),
            ("invoices?customer=", "/v1/invoices", {"customer": cus}),
            ("charges?customer=", "/v1/charges", {"customer": cus}),
        ):
            out[name] = _median_ms(lambda path=path, params=params: stripe_get(path, {**params, "limit": 100}), repeat)
        for name, path, params in (
            ("FP referral page", "/referrals", {}),
            ("FP commission page", "/commissions", {"filters[created_at][from]": "2000-01-01"}),
            ("FP commission search", "/commissions", {"q": "member7@example.com"}),
        ):
            pages = iter(range(1, 10 * repeat, 10))
            out[name] = _median_ms(lambda path=path, params=params, pages=pages: http.get(
                f"{fp.url}/api/v2/company{path}", params={**params, "page": next(pages), "per_page": 100},
                headers=f_auth, timeout=120).raise_for_status(), repeat)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="40000,100000")
    ap.add_argument("--repeat", type=int, default=12)
    args = ap.parse_args()
    for size in (int(x) for x in args.sizes.split(",") if x.strip()):
        got = measure(size, args.repeat)
        print(f"{size:,}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in got.items()), flush=True)


if __name__ == "__main__":
    main()
