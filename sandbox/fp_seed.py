"""The FirstPromoter side of every sandbox scenario (sandbox/scenarios.py).

Ids are fixed so the Stripe side and tests can name them.  Beside the scenarios it adds look-alike
noise a real account has: referrals whose emails contain a scenario's email (so a `?q=` search
returns more than the one person), other commissions, and 129 more promoter campaigns so listing
all 134 takes two pages at `per_page=100`.
"""

from __future__ import annotations

import time

from sandbox.fp_server import FirstPromoterStandIn
from sandbox.scenarios import (
    PC_ANA,
    PC_BEN,
    PC_CLEO,
    PC_DAN,
    PC_EVE,
    PROMOTER_CAMPAIGN_COUPONS,
    SCENARIOS,
)

DAY = 86_400.0
MAIN_CAMPAIGN_ID = 301
PARTNER_CAMPAIGN_ID = 302

# promoter id, email, name, promoter campaign id, display coupon (what the promoter shares)
PROMOTERS: tuple[tuple[int, str, str, int, str], ...] = (
    (2001, "ana@promoters.example", "Ana Promoter", PC_ANA, "ANA20OFF"),
    (2002, "ben@promoters.example", "Ben Promoter", PC_BEN, "PARTNER20"),
    (2003, "cleo@promoters.example", "Cleo Promoter", PC_CLEO, "SHARED10"),
    (2004, "dan@promoters.example", "Dan Promoter", PC_DAN, "SHARED10"),
    (2005, "eve@promoters.example", "Eve Promoter", PC_EVE, "EVE15"),
)

REFERRAL_ID_BASE = 5001  # scenario i (in SCENARIOS order, counting only those with a referral) -> 5001 + i
COMMISSION_ID_BASE = 7001
# 129 + the 5 above = 134 promoter campaigns: two pages of 100, and 2 x 67 (tests page by 67)
FILLER_PROMOTER_CAMPAIGNS = 129
FILLER_PC_ID_BASE = 1101
FILLER_PROMOTER_ID_BASE = 3001

COMMISSION_AMOUNT = 580  # cents: 20% of a $29.00 sale
SALE_AMOUNT = 2900
DENIED_AFTER = 4 * 3600.0  # a denied commission was denied this long after it was recorded


def seed_firstpromoter(standin: FirstPromoterStandIn, now: float | None = None) -> None:
    now = time.time() if now is None else now
    standin.add_campaign("Main Campaign", id=MAIN_CAMPAIGN_ID, color="#EC4899")
    standin.add_campaign("Partner Program", id=PARTNER_CAMPAIGN_ID, color="#3B82F6")

    for pid, email, name, pcid, display in PROMOTERS:
        standin.add_promoter(email, name, id=pid, joined_at=now - 200 * DAY)
        standin.add_promoter_campaign(
            pid, id=pcid, campaign_id=MAIN_CAMPAIGN_ID, coupon=PROMOTER_CAMPAIGN_COUPONS[pcid],
            display_coupon=display, ref_token=name.split()[0].lower(), created_at=now - 180 * DAY,
        )

    # Other promoters in the partner campaign; every other one has no tracking coupon at all.
    for i in range(FILLER_PROMOTER_CAMPAIGNS):
        pid = FILLER_PROMOTER_ID_BASE + i
        standin.add_promoter(f"partner{i:03d}@promoters.example", f"Partner {i:03d}", id=pid,
                             joined_at=now - 150 * DAY)
        coupon = f"PARTNER{i:03d}" if i % 2 == 0 else None
        standin.add_promoter_campaign(
            pid, id=FILLER_PC_ID_BASE + i, campaign_id=PARTNER_CAMPAIGN_ID, coupon=coupon,
            display_coupon=f"{coupon}OFF" if coupon else None, ref_token=f"partner{i:03d}",
            created_at=now - 150 * DAY + i * 60,
        )

    referral_id = REFERRAL_ID_BASE
    commission_id = COMMISSION_ID_BASE
    for s in SCENARIOS:
        if not s.referral:
            continue
        converted = None
        if s.referral_state == "active":
            converted = now - (s.customer_since_days if s.customer_since_days is not None else 3) * DAY
        standin.add_referral(
            s.email, id=referral_id, uid=s.referral_uid, state=s.referral_state,
            promoter_campaign_id=s.promoter_campaign_id, entry_source=s.entry_source,
            created_at=now - s.referral_age_days * DAY, customer_since=converted,
        )
        if s.commission_event_id:
            recorded = now - s.commission_age_days * DAY if s.commission_age_days is not None else None
            created = recorded if recorded is not None else (converted or now - DAY) + 90
            standin.add_commission(
                s.commission_event_id, referral_id=referral_id, id=commission_id, status=s.commission_status,
                amount=COMMISSION_AMOUNT, sale_amount=SALE_AMOUNT, unit="cash", created_at=created,
                fraud_check=s.commission_fraud_check,
                status_updated_at=created + DENIED_AFTER if s.commission_status == "denied" else None,
            )
            commission_id += 1
        referral_id += 1

    # Noise: emails that contain a scenario's email, and sales that belong to other people.
    noise = [
        ("showcase@example.com", "cus_Showcase00001", "active", PC_ANA),
        ("xhealthy@example.com", None, "signup", PC_BEN),
        ("other.customer@example.org", "user_1001", "active", PC_DAN),
    ]
    for i, (email, uid, state, pcid) in enumerate(noise):
        rid = 6001 + i
        since = now - 20 * DAY if state == "active" else None
        standin.add_referral(email, id=rid, uid=uid, state=state, promoter_campaign_id=pcid,
                             created_at=now - 30 * DAY, customer_since=since)
        if since is not None:
            standin.add_commission(f"in_OtherSale{i:05d}", referral_id=rid, id=7901 + i,
                                   created_at=since + 90)
