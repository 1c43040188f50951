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
FP_V1_API_KEY = "fpv1_sandbox_key_00000000000000"  # the v1 ("legacy") stand-in's key (sandbox/fp_v1_server.py)

# Promoter campaigns in the sandbox's FirstPromoter account (id -> tracking coupon).
PC_ANA = 1001  # Ana Promoter, Main Campaign; coupon "ANA20" is a real Stripe Coupon id
PC_BEN = 1002  # Ben Promoter; coupon "PARTNER20" is a promotion code's code, not a Coupon id
PC_CLEO = 1003  # Cleo Promoter; coupon "SHARED10", shared with Dan's campaign
PC_DAN = 1004  # Dan Promoter; coupon "SHARED10"
PC_EVE = 1005  # Eve Promoter, Main Campaign; coupon "EVE15" is a real Stripe Coupon id (15% off)
PROMOTER_CAMPAIGN_COUPONS: dict[int, str | None] = {
    PC_ANA: "ANA20",
    PC_BEN: "PARTNER20",
    PC_CLEO: "SHARED10",
    PC_DAN: "SHARED10",
    PC_EVE: "EVE15",
}


# A commission recorded about 90 s after a payment a day ago (days before the seed's now).
_PAID_A_DAY_AGO = 1 - 90 / 86_400


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
    commission_status: str = "approved"  # pending | approved | denied
    commission_fraud_check: str | None = "no_suspicion"  # e.g. same_ip_suspicion
    referral_age_days: float = 10.0  # when the referral was created
    customer_since_days: float | None = None  # when it converted (None: 3 days ago if active)
    commission_age_days: float | None = None  # when the commission was recorded (None: at conversion)
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
    Scenario(
        "commission-denied", "commission-denied@example.com", "fp.commission",
        "FirstPromoter recorded the commission for yesterday's $29.00 invoice, then it was denied.",
        stripe_customer_id="cus_DemoComDenied1", referral_state="active", referral_uid="cus_DemoComDenied1",
        commission_event_id="in_DemoComDenied1", commission_status="denied", commission_age_days=_PAID_A_DAY_AGO,
    ),
    Scenario(
        "commission-fraud", "commission-fraud@example.com", "fp.commission",
        "The commission for yesterday's $29.00 invoice is held as pending: FirstPromoter's fraud check "
        "flagged the same IP as the promoter's.",
        stripe_customer_id="cus_DemoComFraud01", referral_state="active", referral_uid="cus_DemoComFraud01",
        commission_event_id="in_DemoComFraud01", commission_status="pending",
        commission_fraud_check="same_ip_suspicion", commission_age_days=_PAID_A_DAY_AGO,
    ),
    Scenario(
        "paid-out-of-band", "out-of-band@example.com", "payment.amount",
        "The $29.00 invoice was sent and marked paid outside Stripe (a payment record): no charge, "
        "nothing FirstPromoter can credit.",
        stripe_customer_id="cus_DemoOutOfBand1", referral_uid="cus_DemoOutOfBand1",
    ),
    Scenario(
        "deleted-uid-customer", "deleted-uid@example.com", "lead.uid",
        "The referral's uid names a Stripe customer that was deleted; the person paid as a new customer "
        "with the same email.",
        stripe_customer_id="cus_DemoDelNew00001", referral_uid="cus_DemoDeleted0001",
    ),
    Scenario(
        "paid-other-mode", "other-mode@example.com", "stripe.mode",
        "The email is a customer in test mode (no payments) and in live mode, where it paid $29.00 "
        "yesterday; the key and FirstPromoter's integration are in test mode.",
        stripe_customer_id="cus_DemoOtherMode1",
    ),
    Scenario(
        "other-promoter-coupon", "eve-coupon@example.com", "coupon.id",
        "Ana's referral paid with Eve's tracking coupon EVE15: the coupon points at another promoter.",
        stripe_customer_id="cus_DemoEveCoupon1",
    ),
    Scenario(
        "incomplete-subscription", "incomplete@example.com", "payment.exists",
        "The subscription is incomplete: its first invoice waits for 3D Secure (requires_action).",
        stripe_customer_id="cus_DemoIncomplete1", referral_uid="cus_DemoIncomplete1",
    ),
    Scenario(
        "declined-payment", "declined@example.com", "payment.exists",
        "The first payment was declined (insufficient funds): the subscription is incomplete, the "
        "invoice open.",
        stripe_customer_id="cus_DemoDeclined001", referral_uid="cus_DemoDeclined001",
    ),
    Scenario(
        "checkout-expired", "checkout-expired@example.com", "payment.exists",
        "The customer opened a subscription Checkout two days ago and left: the session expired unpaid.",
        stripe_customer_id="cus_DemoCoExpired01", referral_uid="cus_DemoCoExpired01",
    ),
    # ---- real accounts: the person's whole trail (stripe_seed.py and fp_seed.py seed each one)
    Scenario(
        "unknown-id", "cus_DoesNotExist123", "fp.referral",
        "A typo or another account's id: nothing in Stripe and no referral match the query.",
        referral=False,
    ),
    Scenario(
        "uid-customer", "uid-customer@example.com", None,
        "The referral's uid names another Stripe customer (a work email) that paid; the one with "
        "the referral's email never paid. Converted, commission recorded.",
        stripe_customer_id="cus_DemoUidEmail01", referral_state="active", referral_uid="cus_DemoUidOther01",
        commission_event_id="in_DemoUidOther01", customer_since_days=2,
    ),
    Scenario(
        "many-customers", "many@example.com", "lead.email",
        "Seven Stripe customers share the email; only the oldest one paid, and nothing links it to the "
        "referral (no uid, no fp_uid): FirstPromoter cannot tell which customer is the lead.",
        stripe_customer_id="cus_DemoMany000001",
    ),
    Scenario(
        "guest-checkout", "guest@example.com", "lead.email",
        "Paid $49.00 through Checkout in payment mode as a guest: no Stripe customer, so FirstPromoter "
        "cannot match the payment to the lead.",
        stripe_customer_id=None,
    ),
    Scenario(
        "paid-before-referral", "paid-before@example.com", "payment.timing",
        "Paid 5 days ago; the referral was added by hand 2 days ago, after the payment.",
        stripe_customer_id="cus_DemoPaidBefore1", entry_source="manual_admin", referral_age_days=2,
    ),
    Scenario(
        "coupon-no-referral", "coupon-only@example.com", "coupon.id",
        "No referral: the invoice used promotion code PARTNER20, which Ben's campaign has as its "
        "tracking coupon instead of the Coupon id Z4OV52SU.",
        stripe_customer_id="cus_DemoCouponOnly1", referral=False,
    ),
    Scenario(
        "fp-tid-no-referral", "fp-tid@example.com", "fp.referral",
        "No referral, yet the Checkout Session that paid carries fp_tid: FirstPromoter should have "
        "tracked it (wrong account or mode, or webhooks).",
        stripe_customer_id="cus_DemoFpTid00001", referral=False,
    ),
    Scenario(
        "yen-small", "yen@example.com", "payment.amount",
        "A one-time ¥60 payment settled as $0.40: below FirstPromoter's $0.50 minimum.",
        stripe_customer_id="cus_DemoYenSmall01",
    ),
    Scenario(
        "exact-minimum", "fifty-cents@example.com", "payment.amount",
        "A one-time payment of exactly $0.50: FirstPromoter's articles disagree whether that tracks.",
        stripe_customer_id="cus_DemoFiftyCent1",
    ),
    Scenario(
        "renewal-missed", "renewal@example.com", "fp.commission",
        "A customer for 40 days: the first invoice earned a commission, yesterday's renewal did not.",
        stripe_customer_id="cus_DemoRenewal001", referral_state="active", referral_uid="cus_DemoRenewal001",
        commission_event_id="in_DemoRenewal001", referral_age_days=41, customer_since_days=40,
        commission_age_days=35,
    ),
    Scenario(
        "restricted-key", "restricted@example.com", None,
        "Healthy (coupon ANA20, commission recorded), read with a restricted key that lacks the Coupons "
        "and Promotion codes permissions.",
        stripe_customer_id="cus_DemoRestrict01", referral_state="active", referral_uid="cus_DemoRestrict01",
        commission_event_id="in_DemoRestrict01", entry_source="coupon",
        env={"STRIPE_API_KEY": STRIPE_NOCOUPON_KEY},
    ),
)


def by_name(name: str) -> Scenario:
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(name)
