"""The snapshot of facts one run reads from Stripe and FirstPromoter.

Readers fill it once per run; checks are pure functions of it.  A fact that could not be read
is a `Fetch` with `error` set (a reason a support engineer understands, never a secret); a fact
that was not read because something it depends on is missing has `skipped` set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import Field

# the promoter-campaign types live with their index; importable from here as before
from checks.campaigns import CampaignIndex, FPCampaign, FPPerson, PromoterCampaign  # noqa: F401
from checks.model import Frozen

T = TypeVar("T")

Mode = Literal["live", "test"]


class Fetch(Frozen, Generic[T]):
    """One fact as read: its value, or why it could not be read (error) or was not read (skipped)."""

    value: T | None = None
    error: str | None = None
    skipped: str | None = None
    # What bounded the read although it succeeded ("stopped after 300 invoices of cus_…", "the key
    # lacks rak_coupon_read: coupon details not read").  Rules show these in their evidence and never
    # turn what was not examined into "none".
    limits: tuple[str, ...] = ()
    # With `error`: the permission the key lacks, when that is why it failed ("" when unnamed)
    denied: str | None = None
    # With `error`: the configuration is wrong (a key rejected, an unknown account id, a host that
    # cannot be reached), not the upstream (checks/sources SetupError)
    setup: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.skipped is None

    @classmethod
    def of(cls, value: T, limits: tuple[str, ...] = ()) -> Fetch[T]:
        return cls(value=value, limits=limits)

    @classmethod
    def failed(cls, reason: str) -> Fetch[T]:
        return cls(error=reason)

    @classmethod
    def not_read(cls, reason: str) -> Fetch[T]:
        return cls(skipped=reason)


def fact(label: str, not_read: str = "not read") -> Any:
    """A fetched fact's field: `label` names it in "Could not read <label>: ..." reasons; until a reader
    fills it, it is not read for the reason given."""
    return Field(default=Fetch.not_read(not_read), title=label)


# ---------------------------------------------------------------- the question asked


class Query(Frozen):
    raw: str
    email: str | None = None  # as typed (case kept); compare case-insensitively
    customer_id: str | None = None  # cus_...


class CheckConfig(Frozen):
    """Settings the checks need (pure data; no secrets)."""

    expected_stripe_account: str | None = None  # FPCHECK_EXPECTED_STRIPE_ACCOUNT
    expected_stripe_mode: Mode | None = None  # FPCHECK_EXPECTED_STRIPE_MODE
    other_mode_configured: bool = False  # STRIPE_OTHER_MODE_API_KEY is set


# ---------------------------------------------------------------- Stripe


class StripeAccount(Frozen):
    id: str
    name: str | None = None  # settings.dashboard.display_name or business_profile.name
    email: str | None = None
    # "api": read from GET /v1/account; "permission_error": parsed out of a restricted key's 403
    source: Literal["api", "permission_error"] = "api"


class StripeCustomer(Frozen):
    id: str
    email: str | None = None
    name: str | None = None
    livemode: bool = False
    created: datetime
    metadata: dict[str, str] = {}
    # how we found it: exact email match, a case variant of the email, by the id asked about, by
    # metadata.fp_uid equal to the referral's uid, or because the referral's uid is this cus_ id
    match: Literal["exact", "case_variant", "id", "fp_uid", "uid"] = "exact"
    # Stripe answers a deleted customer's id with {id, deleted: true} and nothing else; its invoices
    # and charges remain listable
    deleted: bool = False

    @property
    def fp_uid(self) -> str | None:
        return self.metadata.get("fp_uid")

    @property
    def fp_tid(self) -> str | None:
        return self.metadata.get("fp_tid")


class StripeCoupon(Frozen):
    id: str
    name: str | None = None
    percent_off: float | None = None
    amount_off: int | None = None  # minor units of `currency`
    currency: str | None = None
    valid: bool | None = None


class StripePromotionCode(Frozen):
    id: str  # promo_...
    code: str  # what customers type
    coupon_id: str | None = None  # promotion.coupon
    active: bool = True


class StripeDiscount(Frozen):
    id: str  # di_...
    coupon: StripeCoupon | None = None  # source.coupon, expanded
    promotion_code: StripePromotionCode | None = None  # expanded when a code was used
    # the promo_ id when a code was used, also when the key may not read promotion codes (then
    # `promotion_code` is None)
    promotion_code_id: str | None = None


class StripeInvoice(Frozen):
    id: str
    customer: str
    status: Literal["draft", "open", "paid", "uncollectible", "void"] | str
    currency: str
    amount_due: int
    amount_paid: int
    subtotal: int
    total: int
    total_discount_amount: int = 0  # sum of total_discount_amounts[].amount
    starting_balance: int = 0  # negative: the customer's credit, applied before charging
    amount_paid_off_stripe: int = 0  # paid outside Stripe (current API)
    paid_out_of_band: bool | None = None  # the same, in API versions before 2025-03-31
    collection_method: str | None = None  # charge_automatically, send_invoice
    billing_reason: str | None = None
    livemode: bool = False
    created: datetime
    paid_at: datetime | None = None  # status_transitions.paid_at
    customer_email: str | None = None
    subscription_id: str | None = None  # parent.subscription_details.subscription
    discounts: tuple[StripeDiscount, ...] = ()
    # from `payments` (expanded): the PaymentIntent / Charge ids that paid it
    payment_intent_ids: tuple[str, ...] = ()
    charge_ids: tuple[str, ...] = ()
    # each invoice payment's payment.type (charge, payment_intent, payment_record: paid outside Stripe)
    payment_types: tuple[str, ...] = ()

    @property
    def paid_through_stripe(self) -> int:
        """What Stripe itself collected: amount_paid less what was marked paid outside Stripe."""
        if self.paid_out_of_band or (self.payment_types and all(t == "payment_record" for t in self.payment_types)):
            return 0
        return max(0, self.amount_paid - self.amount_paid_off_stripe)

    @property
    def off_stripe(self) -> bool:
        """Some or all of it was marked paid without money moving through Stripe."""
        return self.paid_through_stripe < self.amount_paid


class Settlement(Frozen):
    """A charge's balance transaction: what the account received, in its settlement currency."""

    amount: int  # minor units of `currency`
    currency: str
    exchange_rate: float | None = None


class StripeCharge(Frozen):
    id: str  # ch_...
    customer: str | None = None
    amount: int
    amount_captured: int = 0
    amount_refunded: int = 0
    currency: str
    status: Literal["succeeded", "pending", "failed"] | str
    paid: bool = False
    captured: bool | None = None  # None: not in the answer (older shapes); judged by amount_captured
    refunded: bool = False
    disputed: bool = False
    livemode: bool = False
    created: datetime
    failure_message: str | None = None
    billing_email: str | None = None  # billing_details.email
    receipt_email: str | None = None
    payment_intent: str | None = None
    invoice: str | None = None  # older API versions / expanded shapes; None for one-time sales
    # balance_transaction, expanded: None when not read (see `settlement_unread`) or not settled yet
    settlement: Settlement | None = None
    settlement_unread: str | None = None  # why the settlement could not be read (a missing permission)


class StripeCheckoutSession(Frozen):
    """A Checkout Session (Checkout or a Payment Link).  In payment mode Stripe creates no Customer by
    default (`customer_creation: if_required`): then `customer` is None and the buyer is only in
    `customer_details.email`."""

    id: str  # cs_...
    customer: str | None = None
    customer_email: str | None = None  # customer_details.email
    mode: str = "payment"  # payment, subscription, setup
    status: str | None = None  # open, complete, expired
    payment_status: str | None = None  # paid, unpaid, no_payment_required
    amount_total: int | None = None
    currency: str | None = None
    client_reference_id: str | None = None
    metadata: dict[str, str] = {}
    customer_creation: str | None = None  # always, if_required
    payment_intent: str | None = None
    invoice: str | None = None
    subscription: str | None = None
    payment_link: str | None = None
    livemode: bool = False
    created: datetime

    @property
    def fp_tid(self) -> str | None:
        return self.metadata.get("fp_tid")

    @property
    def guest(self) -> bool:
        return self.customer is None


class StripePaymentIntent(Frozen):
    """A payment attempt: why an invoice or a checkout is not paid (declined, waiting for 3D Secure)."""

    id: str  # pi_...
    customer: str | None = None
    status: str  # requires_payment_method, requires_confirmation, requires_action, processing, ...
    amount: int
    currency: str
    livemode: bool = False
    created: datetime
    latest_charge: str | None = None
    error_code: str | None = None  # last_payment_error.decline_code or .code
    error_message: str | None = None  # last_payment_error.message
    next_action: str | None = None  # next_action.type


class StripeSubscription(Frozen):
    id: str
    customer: str
    status: str  # trialing, active, incomplete, past_due, canceled, ...
    livemode: bool = False
    created: datetime
    trial_end: datetime | None = None


class TrackingCoupon(Frozen):
    """What Stripe knows about the value in a promoter campaign's `coupon` field."""

    value: str
    coupon: StripeCoupon | None = None  # GET /v1/coupons/{value}: found means it is a Coupon id
    promotion_codes: tuple[StripePromotionCode, ...] = ()  # promotion codes whose `code` is value


class StripeFacts(Frozen):
    key_mode: Mode | None = None  # from the key prefix (sk_/rk_ + live/test)
    account: Fetch[StripeAccount] = fact("the Stripe account")
    customers: Fetch[tuple[StripeCustomer, ...]] = fact("Stripe customers")
    invoices: Fetch[tuple[StripeInvoice, ...]] = fact("Stripe invoices")
    charges: Fetch[tuple[StripeCharge, ...]] = fact("Stripe charges")
    subscriptions: Fetch[tuple[StripeSubscription, ...]] = fact("Stripe subscriptions")
    # payment attempts of the person's customers: why a payment did not go through
    payment_intents: Fetch[tuple[StripePaymentIntent, ...]] = fact("Stripe PaymentIntents")
    # customers with the query's email (or id) under the other mode's key, when that key is configured
    other_mode_customers: Fetch[tuple[StripeCustomer, ...]] = fact("Stripe customers in the other mode", "STRIPE_OTHER_MODE_API_KEY is not set")
    # what those customers paid in the other mode (paid invoices and succeeded charges)
    other_mode_invoices: Fetch[tuple[StripeInvoice, ...]] = fact("Stripe invoices in the other mode", "no customer in the other mode")
    other_mode_charges: Fetch[tuple[StripeCharge, ...]] = fact("Stripe charges in the other mode", "no customer in the other mode")
    # Checkout Sessions whose customer_details.email is the person's email: guest payments, fp_tid,
    # client_reference_id
    checkout_sessions: Fetch[tuple[StripeCheckoutSession, ...]] = fact("Stripe Checkout Sessions")
    # succeeded charges behind guest Checkout Sessions (customer null), by their PaymentIntent
    guest_charges: Fetch[tuple[StripeCharge, ...]] = fact("the charges of guest Checkout payments", "no guest Checkout Session")
    # keyed by the tracking coupon value of the referral's promoter campaign (and of the invoice)
    tracking_coupon: Fetch[TrackingCoupon] = fact("the tracking coupon in Stripe", "no tracking coupon to look up")


# ---------------------------------------------------------------- FirstPromoter


class ReferralCampaignLink(Frozen):
    """`referral.promoter_campaign`: who referred this person, in which campaign."""

    id: int
    campaign_id: int | None = None
    promoter_id: int | None = None
    promoter: FPPerson | None = None
    campaign: FPCampaign | None = None


class Referral(Frozen):
    id: int
    email: str | None = None
    uid: str | None = None
    state: str | None = None  # signup, active, cancelled, pending, moved, denied, subscribed, refunded
    entry_source: str | None = None  # api, coupon, cookie, manual_admin, manual_affiliate
    created_at: datetime | None = None
    customer_since: datetime | None = None
    fraud_check: str | None = None
    is_expired: bool | None = None
    promoter_campaign: ReferralCampaignLink | None = None

    @property
    def is_customer(self) -> bool:
        return self.customer_since is not None


class ReferralLookup(Frozen):
    referral: Referral | None  # None: not in FirstPromoter
    found_by: Literal["email", "uid", "customer_id", "search"] | None = None
    tried: tuple[str, ...] = ()  # e.g. ("email", "uid:cus_123", "search")


class Commission(Frozen):
    id: int
    status: str | None = None  # pending, approved, denied
    fraud_check: str | None = None  # no_suspicion, same_ip_suspicion, same_promoter_email, ad_source
    is_paid: bool | None = None
    commission_type: str | None = None  # sale, custom
    event_id: str | None = None  # the Stripe invoice id (subscriptions) or charge id (one-time)
    amount: int | None = None
    sale_amount: int | None = None
    unit: str | None = None
    created_at: datetime | None = None
    referral_email: str | None = None
    referral_id: int | None = None
    referral_uid: str | None = None


class FPFacts(Frozen):
    referral: Fetch[ReferralLookup] = fact("the FirstPromoter referral")
    promoter_campaigns: Fetch[CampaignIndex] = fact("FirstPromoter promoter campaigns")
    commissions: Fetch[tuple[Commission, ...]] = fact("FirstPromoter commissions")
    # which API was read: "v1" (legacy; no import_events, no batches: no Fix button) or "v2" (checks/fp_version.py)
    api_version: Literal["v1", "v2"] = "v2"


# ---------------------------------------------------------------- the snapshot


class Facts(Frozen):
    query: Query
    now: datetime  # timezone-aware UTC; the moment the facts were read
    config: CheckConfig = CheckConfig()
    stripe: StripeFacts = StripeFacts()
    fp: FPFacts = FPFacts()

    def setup_problem(self) -> str | None:
        """The first configuration mistake a read ran into (a key rejected, an account id unknown, a
        host unreachable, the key refused the customers themselves), or None."""
        for part in (self.stripe, self.fp):
            for name in type(part).model_fields:
                got = getattr(part, name)
                if isinstance(got, Fetch) and got.error and (got.setup or (name == "customers" and got.denied is not None)):
                    return got.error
        return None

    def fetch(self, path: str) -> Fetch:
        """`facts.fetch("stripe.invoices")`: a fact by its dotted name (used by the registry)."""
        obj: object = self
        for part in path.split("."):
            obj = getattr(obj, part)
        if not isinstance(obj, Fetch):
            raise TypeError(f"{path} is not a fetched fact")
        return obj

    @classmethod
    def label(cls, path: str) -> str | None:
        """The human name a fetched fact declares (`fact("Stripe invoices")`); None for no such fact."""
        model: object = cls
        title = None
        for part in path.split("."):
            fields = getattr(model, "model_fields", None)
            if not isinstance(fields, dict) or part not in fields:
                return None
            model, title = fields[part].annotation, fields[part].title
        return title
