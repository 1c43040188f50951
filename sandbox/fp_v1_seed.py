"""The FirstPromoter v1 side of the sandbox scenarios: the same records as v2 (sandbox/fp_seed.py).

Seeding goes through the v2 stand-in's records (same ids, emails, coupons, commissions) and the v1
stand-in serves them in v1's shapes: a scenario means the same person in both, so a check's verdict
can be compared between the two APIs.
"""

from __future__ import annotations

from sandbox.fp_seed import seed_firstpromoter
from sandbox.fp_server import FirstPromoterStandIn
from sandbox.fp_v1_server import FirstPromoterV1StandIn


def seed_firstpromoter_v1(standin: FirstPromoterV1StandIn, now: float | None = None) -> None:
    records = FirstPromoterStandIn()  # never started: only its seeded records are used
    seed_firstpromoter(records, now=now)
    standin.load_from(records)
