"""What the fetch plan (checks/gather.py) and the campaign index need from each upstream's reader: the reads, not the class.

The concrete readers (checks/sources/stripe.py, checks/sources/firstpromoter.py) satisfy these; a test
or another source can stand in with anything that has the same methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from checks.facts import (
    Commission,
    Mode,
    PromoterCampaign,
    ReferralLookup,
    StripeAccount,
    StripeCharge,
    StripeCheckoutSession,
    StripeCustomer,
    StripeInvoice,
    StripePaymentIntent,
    StripeSubscription,
    TrackingCoupon,
)


class Counted(Protocol):
    @property
    def calls(self) -> int:
        """HTTP requests sent so far (every attempt counts)."""
        ...


class StripeSource(Counted, Protocol):
    @property
    def key_mode(self) -> Mode | None: ...

    def account(self) -> StripeAccount: ...

    def customer(self, customer_id: str, match: str = "id") -> StripeCustomer | None: ...

    def customers_by_email(self, email: str) -> Sequence[StripeCustomer]: ...

    def customers_by_fp_uid(self, uid: str) -> Sequence[StripeCustomer]: ...

    def invoices(self, customer_id: str, paid_since: datetime | None = None) -> Sequence[StripeInvoice]: ...

    def charges(self, customer_id: str) -> Sequence[StripeCharge]: ...

    def charges_for_payment_intent(self, payment_intent: str) -> Sequence[StripeCharge]: ...

    def checkout_sessions(self, email: str) -> Sequence[StripeCheckoutSession]: ...

    def subscriptions(self, customer_id: str) -> Sequence[StripeSubscription]: ...

    def payment_intents(self, customer_id: str) -> Sequence[StripePaymentIntent]: ...

    def tracking_coupon(self, value: str) -> TrackingCoupon: ...


class FirstPromoterSource(Counted, Protocol):
    def find_referral(self, email: str | None, uids: Sequence[str] = ()) -> ReferralLookup: ...

    def promoter_campaigns(self) -> tuple[PromoterCampaign, ...]: ...

    def promoter_campaign_page(self, page: int) -> tuple[tuple[PromoterCampaign, ...], bool]: ...

    def commissions(self, q: str) -> tuple[Commission, ...]: ...
