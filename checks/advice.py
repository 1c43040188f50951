"""What the checks tell people to do in FirstPromoter, in one place: the screens and the guide's fixes.

Suggestions only: fpcheck never writes to FirstPromoter or Stripe.
"""

from __future__ import annotations

FP_INTEGRATION_PATH = 'Settings → Integrations → "Integrations with third-parties" → "Update" under Stripe'
FP_INTEGRATION = f"In FirstPromoter, open {FP_INTEGRATION_PATH}"
FP_INTEGRATION_LC = f"in FirstPromoter open {FP_INTEGRATION_PATH}"
STRIPE_ACCOUNT_PATH = "Settings → Account details → Account ID"
ADD_BY_HAND = "To credit this sale now, add the referral by hand in FirstPromoter under the right promoter, then "


def import_events_hint(customer_id: str | None) -> str:
    """The guide's fix for a sale FirstPromoter missed."""
    cus = customer_id or "the Stripe customer id (cus_…)"
    return f'set the referral\'s uid to {cus} in FirstPromoter and use "Import Stripe Events" on it to bring in the missed sales'
