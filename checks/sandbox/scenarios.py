"""The sandbox's seeded cases: one customer per way the guide's chain breaks, plus healthy ones.

This table holds only what both stand-ins must agree on (emails, Stripe ids, FirstPromoter ids).
`stripe_seed.py` and `fp_seed.py` build each side's objects from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Credentials the stand-ins accept.  They are not secrets: they only open the local sandbox.
STRIPE_TEST_KEY = "sk_test_fpcheckSandbox0000000000"
STRIPE_LIVE_KEY = "sk_live_fpcheckSandbox0000000000"  # sees the live-mode data set
STRIPE_RESTRICTED_KEY = "rk_test_fpcheckSandbox0000000000"  # read-only; /v1/account answers 403
# read-only and without the Coupons and Promotion codes permissions (scenario restricted-key)
STRIPE_NOCOUPON_KEY = "rk_test_fpcheckNoCoupons00000"
STRIPE_ACCOUNT_ID = "acct_1FpcheckSandbox01"
STRIPE_ACCOUNT_NAME = "Acme Analytics (sandbox)"
FP_API_KEY = "fp_sandbox_key_0000000000000000"
FP_ACCOUNT_ID = "acc_sandbox01"

# Promoter campaigns in the sandbox's FirstPromoter account (id -> tracking coupon).
PC_ANA = 1001  # Ana Promoter, Main Campaign; coupon "ANA20" is a real Stripe Coupon id
PC_BEN = 1002  # Ben Promoter; coupon "PARTNER20" is a promotion code's code, not a Coupon id
PC_CLEO = 1003  # Cleo Promoter; coupon "SHARED10", shared with Dan's campaign
PC_DAN = 1004  # Dan Promoter; coupon "SHARED10"
PROMOTER_CAMPAIGN_COUPONS: dict[int, str | None] = {
    PC_ANA: "ANA20",
    PC_BEN: "PARTNER20",
    PC_CLEO: "SHARED10",
    PC_DAN: "SHARED10",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    email: str  # what support types; the referral's email unless `referral` is None
    breaks: str | None  # the check id this case makes fail (or warn), None for healthy ones
    story: str  # one line: what is wrong, in the guide's words
    # Stripe side (test mode unless live_only)
    stripe_customer_id: str | None = None  # None: no Stripe customer carries the email
    stripe_email: str | None = None  # the email on the Stripe customer, when it differs in case
    live_only: bool = False  # the customer exists only in live mode
    # FirstPromoter side
    referral: bool = True  # a referral exists
    referral_state: str = "signup"  # signup (lead), active (customer), pending, ...
    referral_uid: str | None = None
    promoter_campaign_id: int = PC_ANA
    entry_source: str = "cookie"
    commission_event_id: str | None = None  # a commission FP recorded for this Stripe id
    # Per-scenario settings the demo applies (e.g. a different expected Stripe account)
    env: dict[str, str] = field(default_factory=dict)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "healthy", "healthy@example.com", None,
        "Referral converted: customer since 3 days ago, commission recorded for the paid invoice.",
        stripe_customer_id="cus_DemoHealthy01", referral_state="active",
        referral_uid="cus_DemoHealthy01", commission_event_id="in_DemoHealthy01",
    ),
    Scenario(
        "one-time", "one-time@example.com", None,
        "One-time purchase: a succeeded charge, no invoice; converted, commission recorded.",
        stripe_customer_id="cus_DemoOneTime01", referral_state="active",
        commission_event_id="ch_DemoOneTime01",
    ),
    Scenario(
        "wrong-account", "wrong-account@example.com", "stripe.account",
        "FirstPromoter is connected to another Stripe account than the one that took the payment.",
        stripe_customer_id="cus_DemoWrongAcct1",
        env={"FPCHECK_EXPECTED_STRIPE_ACCOUNT": "acct_1OtherCompany999"},
    ),
    Scenario(
        "live-only", "live-only@example.com", "stripe.mode",
        "The customer paid in live mode; the key and FirstPromoter's integration are in test mode.",
        stripe_customer_id="cus_DemoLiveOnly01", live_only=True,
    ),
    Scenario(
        "no-referral", "no-referral@example.com", "fp.referral",
        "Paid in Stripe, but FirstPromoter never tracked the signup (no referral).",
        stripe_customer_id="cus_DemoNoReferr01", referral=False,
    ),
    Scenario(
        "pending-referral", "pending@example.com", "fp.referral",
        "The referral is waiting for approval (state pending), so sales are not credited.",
        stripe_customer_id="cus_DemoPending001", referral_state="pending",
    ),
    Scenario(
        "email-mismatch", "email-mismatch@example.com", "lead.email",
        "The customer paid under another email; no Stripe customer carries the referral's email.",
        stripe_customer_id=None,
    ),
    Scenario(
        "case-variant", "case@example.com", "lead.email",
        "The Stripe customer's email differs only in letter case (Stripe's filter is case-sensitive).",
        stripe_customer_id="cus_DemoCaseVar001", stripe_email="Case@Example.com",
    ),
    Scenario(
        "duplicate-customers", "dupe@example.com", "lead.email",
        "Two Stripe customers share the email: one paid, the other carries fp_uid.",
        stripe_customer_id="cus_DemoDupePaid01", referral_uid="user_7731",
    ),
    Scenario(
        "uid-mismatch", "uid-mismatch@example.com", "lead.uid",
        "The referral's uid is the app's user id, not the Stripe customer id, and no fp_uid is set.",
        stripe_customer_id="cus_DemoUidMism001", referral_uid="user_4821",
    ),
    Scenario(
        "no-payment", "no-payment@example.com", "payment.exists",
        "Only an open (unpaid) invoice exists: no real payment yet.",
        stripe_customer_id="cus_DemoNoPay0001",
    ),
    Scenario(
        "trial", "trial@example.com", "payment.exists",
        "The subscription is trialing: only a $0 trial invoice, no real payment yet.",
        stripe_customer_id="cus_DemoTrial0001",
    ),
    Scenario(
        "full-coupon", "coupon100@example.com", "payment.amount",
        "A 100% coupon (FREE100) made the paid invoice $0.00.",
        stripe_customer_id="cus_DemoFree100001",
    ),
    Scenario(
        "below-minimum", "tiny@example.com", "payment.amount",
        "A $0.40 invoice: below Stripe's minimum charge, marked paid with nothing charged.",
        stripe_customer_id="cus_DemoTiny00001",
    ),
    Scenario(
        "too-early", "too-early@example.com", "payment.timing",
        "Paid seconds ago: FirstPromoter needs about 2 minutes to convert the lead.",
        stripe_customer_id="cus_DemoTooEarly01", referral_uid="cus_DemoTooEarly01",
    ),
    Scenario(
        "promo-code-coupon", "promo-code@example.com", "coupon.id",
        "The promoter's tracking coupon is the promotion code PARTNER20, not the Coupon id behind it.",
        stripe_customer_id="cus_DemoPromoCode1", promoter_campaign_id=PC_BEN, entry_source="coupon",
    ),
    Scenario(
        "shared-coupon", "shared-coupon@example.com", "coupon.unique",
        "The tracking coupon SHARED10 is set on two promoters' campaigns.",
        stripe_customer_id="cus_DemoShared0001", promoter_campaign_id=PC_CLEO, entry_source="coupon",
    ),
    Scenario(
        "missing-commission", "missing-commission@example.com", "fp.commission",
        "Everything matches, the payment is a day old, yet FirstPromoter recorded no commission.",
        stripe_customer_id="cus_DemoMissComm01", referral_uid="cus_DemoMissComm01",
    ),
)


def by_name(name: str) -> Scenario:
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)
