"""Every documented state of the objects that decide whether FirstPromoter credits a sale, and what
fpcheck concludes for each: the one table the checks judge states by.

Values come from the `stripe` SDK's typed fields (their `Literal` types) and FirstPromoter's v2
OpenAPI enums; tests/test_states.py reads both and fails when a documented value is missing here,
so a value Stripe adds fails CI, not a customer.  Conditions on numbers and flags ("0", "> 0",
"true") are rows too.  A value the table does not know is `unknown(...)`: the check that reads it
warns and names it, never passes (`judge`).  `docs/states.md` is rendered from this table
(`python -m checks.states`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Effect(StrEnum):
    COUNTS = "counts"  # FirstPromoter credits it: money moved, the referral can earn, the commission earns
    WAITS = "waits"  # not yet: it may still count later (a trial, a payment processing)
    BLOCKS = "blocks"  # FirstPromoter does not credit it
    REVERSES = "reverses"  # credited, then taken back (refunds, disputes)
    NEUTRAL = "neutral"  # no bearing on attribution by itself
    OPEN = "open"  # the guide and the docs leave the answer open: the report says so
    UNKNOWN = "unknown"  # not in this table: a warning that names it


@dataclass(frozen=True)
class State:
    obj: str  # "invoice", "charge", "payment_intent", "subscription", "checkout_session", "customer",
    # "invoice_payment", "dispute", "referral", "commission", "promoter_campaign"
    field: str
    value: str
    effect: Effect
    check: str  # the check that judges it
    says: str  # the words the report uses for it (they appear in the report when it decides)
    fix: str = ""  # what to do about it, when something can be done
    source: str = ""  # where the value is documented

    @property
    def blocks(self) -> bool:
        return self.effect in (Effect.BLOCKS, Effect.UNKNOWN)


_SDK = "stripe SDK 16.1 Literal"
_FP = "FirstPromoter v2 OpenAPI enum"
_BASIL = "Stripe API before 2025-03-31 (removed in Basil; now amount_paid_off_stripe and payment_record)"
_HC = "FirstPromoter help center 8971433 / integrations/billing/stripe.mdx"
_ADD_BY_HAND = "To reward this sale, add the commission by hand in FirstPromoter."
_FLAG = (
    "FirstPromoter flags it as possible fraud ({value}); its docs do not say whether a flagged {obj} is held "
    "or credited"
)

E = Effect
_ROWS: tuple[State, ...] = (
    # ---------------------------------------------------------------- Stripe invoice
    State("invoice", "status", "draft", E.BLOCKS, "payment.exists", "a draft (not finalized)",
          "It has not been sent yet; it converts the lead once finalized and paid.", _SDK),
    State("invoice", "status", "open", E.BLOCKS, "payment.exists", "open (not paid yet)",
          "The lead converts once it is paid.", _SDK),
    State("invoice", "status", "paid", E.COUNTS, "payment.exists", "paid", "", _SDK),
    State("invoice", "status", "uncollectible", E.BLOCKS, "payment.exists",
          "uncollectible (Stripe stopped trying to collect it)",
          "Nothing was collected; it converts the lead only if it is paid later.", _SDK),
    State("invoice", "status", "void", E.BLOCKS, "payment.exists", "void (cancelled)",
          "A voided invoice is never paid: there is no sale to credit.", _SDK),
    State("invoice", "paid_out_of_band", "true", E.BLOCKS, "payment.amount", "paid outside Stripe",
          "FirstPromoter hears of payments made through Stripe; an invoice marked paid outside Stripe "
          "collected nothing through it. " + _ADD_BY_HAND, _BASIL),
    State("invoice", "paid_out_of_band", "false", E.NEUTRAL, "payment.amount", "", "", _BASIL),
    State("invoice", "amount_paid_off_stripe", "> 0", E.BLOCKS, "payment.amount", "paid outside Stripe",
          "FirstPromoter hears of payments made through Stripe; the part paid outside Stripe is no Stripe "
          "payment. " + _ADD_BY_HAND, _SDK + " (Invoice.amount_paid_off_stripe)"),
    State("invoice", "amount_paid_off_stripe", "0", E.NEUTRAL, "payment.amount", "", "", _SDK),
    State("invoice", "amount_paid", "0", E.BLOCKS, "payment.amount", "amount_paid 0",
          "Nothing to fix in the integration: FirstPromoter skips invoices with amount_paid 0. " + _ADD_BY_HAND,
          _HC),
    State("invoice", "amount_paid", "< $0.50", E.BLOCKS, "payment.amount", "below FirstPromoter's $0.50 minimum",
          "Nothing to fix in the integration. " + _ADD_BY_HAND, _HC),
    State("invoice", "amount_paid", "= $0.50", E.OPEN, "payment.amount", "exactly $0.50",
          "FirstPromoter's articles disagree on exactly $0.50 (\"greater than $0.5\" and \"$0.5 or above\").", _HC),
    State("invoice", "amount_paid", "> $0.50", E.COUNTS, "payment.amount", "above FirstPromoter's $0.50 minimum",
          "", _HC),
    State("invoice", "total", "0", E.BLOCKS, "payment.amount", "ignores $0 payments",
          "Nothing to fix in the integration: 100% coupons and empty invoices do not track. " + _ADD_BY_HAND, _HC),
    State("invoice", "amount_due", "0", E.NEUTRAL, "payment.amount", "",
          "Judged through amount_paid: a credit balance that covers the invoice leaves amount_paid 0.", _SDK),
    State("invoice", "starting_balance", "< 0", E.NEUTRAL, "payment.amount", "credit balance",
          "Judged through amount_paid: only what was charged counts.", _SDK),
    State("invoice", "starting_balance", "0", E.NEUTRAL, "payment.amount", "", "", _SDK),
    State("invoice", "starting_balance", "> 0", E.NEUTRAL, "payment.amount", "", "", _SDK),
    *(
        State("invoice", "billing_reason", v, E.COUNTS, "payment.exists", "",
              "FirstPromoter credits every invoice paid through Stripe (invoice.payment_succeeded); whether the "
              "campaign rewards it depends on the campaign's reward settings.", _SDK)
        for v in ("subscription_create", "subscription_cycle", "subscription_update", "subscription_threshold",
                  "subscription", "manual", "quote_accept", "automatic_pending_invoice_item_invoice")
    ),
    State("invoice", "billing_reason", "upcoming", E.BLOCKS, "payment.exists", "a preview of an upcoming invoice",
          "An upcoming invoice is not a payment; the lead converts when it is paid.", _SDK),
    State("invoice", "billing_reason", "subscription_create, $0", E.WAITS, "payment.exists", "trial invoice",
          "The lead converts on the first paid invoice after the trial.", _HC),
    State("invoice", "collection_method", "charge_automatically", E.NEUTRAL, "payment.exists", "", "", _SDK),
    State("invoice", "collection_method", "send_invoice", E.NEUTRAL, "payment.exists", "",
          "Counts once the customer pays it through Stripe; marked paid outside Stripe it does not.", _SDK),
    State("invoice_payment", "payment.type", "charge", E.COUNTS, "payment.amount", "", "", _SDK),
    State("invoice_payment", "payment.type", "payment_intent", E.COUNTS, "payment.amount", "", "", _SDK),
    State("invoice_payment", "payment.type", "payment_record", E.BLOCKS, "payment.amount", "paid outside Stripe",
          "A payment record is a payment made outside Stripe: FirstPromoter gets no Stripe payment for it. "
          + _ADD_BY_HAND, _SDK),
    State("invoice_payment", "status", "paid", E.COUNTS, "payment.exists", "", "", "Stripe API docs (InvoicePayment)"),
    State("invoice_payment", "status", "open", E.NEUTRAL, "payment.exists", "",
          "Judged through the invoice's status.", "Stripe API docs (InvoicePayment)"),
    State("invoice_payment", "status", "canceled", E.NEUTRAL, "payment.exists", "",
          "Judged through the invoice's status.", "Stripe API docs (InvoicePayment)"),
    # ---------------------------------------------------------------- Stripe charge
    State("charge", "status", "succeeded", E.COUNTS, "payment.exists", "succeeded", "", _SDK),
    State("charge", "status", "pending", E.WAITS, "payment.exists", "still pending",
          "Wait until it succeeds (bank debits take days); the lead converts then.", _SDK),
    State("charge", "status", "failed", E.BLOCKS, "payment.exists", "failed",
          "The customer has to pay again.", _SDK),
    State("charge", "paid", "true", E.NEUTRAL, "payment.exists", "", "Judged through the charge's status.", _SDK),
    State("charge", "paid", "false", E.NEUTRAL, "payment.exists", "", "Judged through the charge's status.", _SDK),
    State("charge", "captured", "true", E.COUNTS, "payment.exists", "", "", _SDK),
    State("charge", "captured", "false", E.BLOCKS, "payment.exists", "authorised but not captured",
          "Capture it in Stripe to take the money; the lead converts then.", _SDK),
    State("charge", "refunded", "false", E.NEUTRAL, "payment.amount", "", "", _SDK),
    State("charge", "refunded", "true", E.REVERSES, "payment.amount", "refunded",
          "Nothing to fix: FirstPromoter records a refund as a negative commission (charge.refunded).", _HC),
    State("charge", "amount_refunded", "0", E.NEUTRAL, "payment.amount", "", "", _SDK),
    State("charge", "amount_refunded", "> 0", E.REVERSES, "payment.amount", "refunded",
          "FirstPromoter records a refund as a negative commission (charge.refunded).", _HC),
    State("charge", "disputed", "false", E.NEUTRAL, "payment.amount", "", "", _SDK),
    State("charge", "disputed", "true", E.REVERSES, "payment.amount", "disputed",
          "FirstPromoter records a dispute as a refund when it is opened (charge.dispute.created); its docs do "
          "not say whether a dispute won later restores the commission.", _HC),
    State("charge", "balance_transaction", "settled", E.NEUTRAL, "payment.amount", "settled as", "", _SDK),
    State("charge", "balance_transaction", "null", E.OPEN, "payment.amount", "not settled it yet",
          "Convert the amount to USD yourself: FirstPromoter tracks payments above $0.50.", _SDK),
    State("charge", "balance_transaction", "not readable", E.OPEN, "payment.amount", "could not be read",
          "Grant the key read access to balance transactions, or convert the amount to USD yourself.", _SDK),
    # ---------------------------------------------------------------- Stripe refund (charge.amount_refunded)
    *(
        State("refund", "status", v, E.NEUTRAL, "payment.amount", "",
              "Judged through the charge's amount_refunded; FirstPromoter records a refund when Stripe sends "
              "charge.refunded.", "Stripe API docs (Refund.status; the SDK types it as a plain string)")
        for v in ("pending", "requires_action", "succeeded", "failed", "canceled")
    ),
    # ---------------------------------------------------------------- Stripe dispute (charge.disputed)
    *(
        State("dispute", "status", v, E.REVERSES, "payment.amount", "disputed",
              "FirstPromoter reverses the commission when the dispute opens; whether a won dispute restores it "
              "is not documented.", _SDK)
        for v in ("warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
                  "under_review", "won", "lost", "prevented", "appeal_needs_response", "appeal_under_review")
    ),
    # ---------------------------------------------------------------- Stripe PaymentIntent
    State("payment_intent", "status", "succeeded", E.COUNTS, "payment.exists", "succeeded", "", _SDK),
    State("payment_intent", "status", "processing", E.WAITS, "payment.exists", "still processing",
          "Wait until it succeeds (bank debits take days); the lead converts then.", _SDK),
    State("payment_intent", "status", "requires_payment_method", E.BLOCKS, "payment.exists",
          "needs a new payment method (the last attempt failed)",
          "The customer has to pay again with another card or method.", _SDK),
    State("payment_intent", "status", "requires_confirmation", E.BLOCKS, "payment.exists",
          "was never confirmed", "The checkout did not finish: the customer has to complete the payment.", _SDK),
    State("payment_intent", "status", "requires_action", E.BLOCKS, "payment.exists",
          "waits for the customer to authenticate (e.g. 3D Secure)",
          "The customer has to complete the authentication (Stripe emails a link for invoices).", _SDK),
    State("payment_intent", "status", "requires_capture", E.BLOCKS, "payment.exists",
          "authorised but not captured", "Capture it in Stripe to take the money.", _SDK),
    State("payment_intent", "status", "canceled", E.BLOCKS, "payment.exists", "was canceled",
          "No money was taken: the customer has to pay again.", _SDK),
    State("payment_intent", "last_payment_error", "set", E.BLOCKS, "payment.exists", "last attempt failed", "", _SDK),
    State("payment_intent", "last_payment_error", "null", E.NEUTRAL, "payment.exists", "", "", _SDK),
    State("payment_intent", "next_action", "set", E.BLOCKS, "payment.exists", "waits for the customer", "", _SDK),
    State("payment_intent", "next_action", "null", E.NEUTRAL, "payment.exists", "", "", _SDK),
    # ---------------------------------------------------------------- Stripe subscription
    State("subscription", "status", "trialing", E.WAITS, "payment.exists", "trialing",
          "The lead converts on the first paid invoice after the trial; nothing to fix now.", _SDK),
    State("subscription", "status", "active", E.COUNTS, "payment.exists", "active", "", _SDK),
    State("subscription", "status", "incomplete", E.BLOCKS, "payment.exists",
          "incomplete (its first payment did not go through)",
          "The customer has to complete the first payment (Stripe keeps it open for 23 hours).", _SDK),
    State("subscription", "status", "incomplete_expired", E.BLOCKS, "payment.exists",
          "incomplete_expired (its first payment never went through)",
          "The subscription expired unpaid: there is no sale; the customer has to subscribe again.", _SDK),
    State("subscription", "status", "past_due", E.NEUTRAL, "payment.exists", "past_due (a renewal failed)",
          "Earlier paid invoices still count; the failed renewal counts once paid.", _SDK),
    State("subscription", "status", "unpaid", E.NEUTRAL, "payment.exists", "unpaid (renewals stopped being paid)",
          "Earlier paid invoices still count; the open ones count once paid.", _SDK),
    State("subscription", "status", "paused", E.NEUTRAL, "payment.exists",
          "paused (its trial ended without a payment method)",
          "No invoice is made while paused; the lead converts on the first paid invoice after it resumes.", _SDK),
    State("subscription", "status", "canceled", E.NEUTRAL, "payment.exists", "canceled",
          "Earlier paid invoices still count; FirstPromoter records the cancellation.", _SDK),
    # ---------------------------------------------------------------- Stripe Checkout Session
    State("checkout_session", "status", "complete", E.COUNTS, "payment.exists", "complete", "", _SDK),
    State("checkout_session", "status", "open", E.BLOCKS, "payment.exists", "still open (not completed)",
          "The customer left checkout before paying: there is no sale yet.", _SDK),
    State("checkout_session", "status", "expired", E.BLOCKS, "payment.exists", "expired without payment",
          "The customer abandoned checkout: there is no sale.", _SDK),
    State("checkout_session", "payment_status", "paid", E.COUNTS, "payment.exists", "paid", "", _SDK),
    State("checkout_session", "payment_status", "unpaid", E.WAITS, "payment.exists", "unpaid",
          "An asynchronous payment method (a bank debit) may still succeed; wait for it.", _SDK),
    State("checkout_session", "payment_status", "no_payment_required", E.BLOCKS, "payment.exists",
          "no payment required", "Nothing was charged (a free order or a trial): FirstPromoter ignores $0 payments.",
          _SDK),
    State("checkout_session", "mode", "payment", E.NEUTRAL, "payment.exists", "", "", _SDK),
    State("checkout_session", "mode", "subscription", E.NEUTRAL, "payment.exists", "", "", _SDK),
    State("checkout_session", "mode", "setup", E.BLOCKS, "payment.exists", "setup mode (saves a payment method, "
          "takes no payment)", "A setup session is never a sale.", _SDK),
    State("checkout_session", "customer_creation", "always", E.NEUTRAL, "lead.email", "", "", _SDK),
    State("checkout_session", "customer_creation", "if_required", E.NEUTRAL, "lead.email", "",
          "In payment mode no Stripe customer is made: a guest payment (see lead.email).", _SDK),
    # ---------------------------------------------------------------- Stripe customer
    State("customer", "deleted", "true", E.BLOCKS, "lead.uid", "was deleted in Stripe",
          "A deleted customer makes no new payments: point the referral's uid at the customer who pays now.",
          "Stripe API docs (deleted customer)"),
    State("customer", "deleted", "false", E.NEUTRAL, "lead.uid", "", "", "Stripe API docs"),
    # ---------------------------------------------------------------- FirstPromoter referral
    State("referral", "state", "signup", E.COUNTS, "fp.referral", "lead", "", _FP),
    State("referral", "state", "active", E.COUNTS, "fp.referral", "customer", "", _FP),
    State("referral", "state", "cancelled", E.OPEN, "fp.referral", "cancelled",
          "A cancelled referral that was a customer keeps earning on new payments only if FirstPromoter "
          "re-activates it; its docs do not say.", _FP),
    State("referral", "state", "pending", E.BLOCKS, "fp.referral", "waiting for an admin's approval (state pending)",
          "In FirstPromoter open Referrals, find it and approve it.", _FP + "; help center 8975249"),
    State("referral", "state", "moved", E.BLOCKS, "fp.referral", "was moved to another promoter or campaign "
          "(state moved)", "Look for the referral's new record under the promoter or campaign it was moved to.",
          _FP + "; help center 8975249"),
    State("referral", "state", "denied", E.BLOCKS, "fp.referral", "was denied (state denied)",
          "If the denial was a mistake, enable the referral again in FirstPromoter (Referrals → select it → Enable).",
          _FP),
    State("referral", "state", "disabled", E.BLOCKS, "fp.referral", "is disabled",
          "If it should earn commissions again, enable the referral in FirstPromoter (Referrals → select it → Enable).",
          "help center 8975249 (\"no further sales will be tracked\"; the API's enum does not list it)"),
    State("referral", "state", "subscribed", E.OPEN, "fp.referral", "subscribed",
          "FirstPromoter does not document how a subscriber (before signup) converts.", _FP),
    State("referral", "state", "refunded", E.OPEN, "fp.referral", "refunded",
          "FirstPromoter does not document whether a refunded referral earns on new payments.", _FP),
    State("referral", "fraud_check", "no_suspicion", E.NEUTRAL, "fp.referral", "", "", _FP),
    *(
        State("referral", "fraud_check", v, E.OPEN, "fp.referral", "flagged as possible fraud",
              _FLAG.format(value=v, obj="referral") + "; review it in FirstPromoter.", _FP)
        for v in ("same_ip_suspicion", "same_promoter_email", "ad_source")
    ),
    State("referral", "customer_since", "set", E.COUNTS, "fp.referral", "customer", "", _FP),
    State("referral", "customer_since", "null", E.NEUTRAL, "fp.referral", "lead", "", _FP),
    State("referral", "is_expired", "false", E.NEUTRAL, "fp.referral", "", "", _FP),
    State("referral", "is_expired", "true", E.OPEN, "fp.referral", "expired",
          "FirstPromoter marks the referral as expired and does not document what that changes.", _FP),
    *(
        State("referral", "entry_source", v, E.NEUTRAL, "fp.referral", "", "", _FP)
        for v in ("api", "coupon", "cookie", "manual_admin", "manual_affiliate")
    ),
    # ---------------------------------------------------------------- FirstPromoter commission
    State("commission", "status", "approved", E.COUNTS, "fp.commission", "approved", "", _FP),
    State("commission", "status", "pending", E.COUNTS, "fp.commission", "pending",
          "Pending commissions are approved by an admin (or automatically after the campaign's hold period).", _FP),
    State("commission", "status", "denied", E.BLOCKS, "fp.commission", "denied",
          "A denied commission earns nothing. If the denial was a mistake, approve it in FirstPromoter "
          "(Commissions → select it → Approve).", _FP),
    State("commission", "fraud_check", "no_suspicion", E.NEUTRAL, "fp.commission", "", "", _FP),
    *(
        State("commission", "fraud_check", v, E.OPEN, "fp.commission", "flagged as possible fraud",
              _FLAG.format(value=v, obj="commission") + "; review it in FirstPromoter and approve or deny it.", _FP)
        for v in ("same_ip_suspicion", "same_promoter_email", "ad_source")
    ),
    State("commission", "amount", "0", E.BLOCKS, "fp.commission", "an amount of 0",
          "The campaign's reward gave nothing for this sale: check the reward settings of the promoter's campaign.",
          _FP),
    State("commission", "amount", "> 0", E.COUNTS, "fp.commission", "", "", _FP),
    State("commission", "is_paid", "true", E.NEUTRAL, "fp.commission", "paid out", "", _FP),
    State("commission", "is_paid", "false", E.NEUTRAL, "fp.commission", "", "", _FP),
    State("commission", "commission_type", "sale", E.COUNTS, "fp.commission", "", "", _FP),
    State("commission", "commission_type", "custom", E.NEUTRAL, "fp.commission", "custom",
          "A custom commission is not tied to a sale: it counts for a payment only when its event id names it.", _FP),
    *(
        State("commission", "unit", v, E.NEUTRAL, "fp.commission", "", "", _FP)
        for v in ("cash", "credits", "points", "free_months", "mon_discount", "discount_per")
    ),
    # ---------------------------------------------------------------- FirstPromoter promoter campaign
    State("promoter_campaign", "state", "accepted", E.COUNTS, "fp.referral", "", "", _FP),
    State("promoter_campaign", "state", "blocked", E.BLOCKS, "fp.referral", "blocked",
          "FirstPromoter does not credit sales to a blocked promoter (\"promoter is banned\"); unblock the "
          "promoter in FirstPromoter if that was a mistake.", _FP + "; /track/sale 404 text"),
    State("promoter_campaign", "state", "rejected", E.OPEN, "fp.referral", "rejected",
          "FirstPromoter does not document whether a rejected promoter's referrals still earn.", _FP),
    State("promoter_campaign", "state", "pending", E.OPEN, "fp.referral", "not approved yet",
          "FirstPromoter does not document whether a promoter awaiting approval earns; approve the promoter "
          "in FirstPromoter.", _FP),
    State("promoter_campaign", "state", "inactive", E.OPEN, "fp.referral", "inactive",
          "FirstPromoter does not document whether an inactive promoter campaign earns.", _FP),
    State("promoter_campaign", "state", "not_set", E.OPEN, "fp.referral", "no state",
          "FirstPromoter does not document this state.", _FP + " (promoters.json)"),
)

TABLE: dict[tuple[str, str, str], State] = {(s.obj, s.field, s.value): s for s in _ROWS}
if len(TABLE) != len(_ROWS):  # a row written twice would silently shadow the other
    raise ValueError("checks/states.py: a state is listed twice")


def values(obj: str, field: str) -> list[str]:
    """The documented values of one field, in the table's order."""
    return [s.value for s in _ROWS if s.obj == obj and s.field == field]


def unknown(obj: str, field: str, value: str, check: str) -> State:
    """A value fpcheck has no row for: the check warns and names it."""
    return State(obj, field, value, Effect.UNKNOWN, check,
                 f"fpcheck does not know {obj.replace('_', ' ')} {field} {value!r}",
                 "Check it in the Stripe or FirstPromoter dashboard; fpcheck may need an update for it.")


def judge(obj: str, field: str, value: object, check: str) -> State:
    """The row for this value (booleans as "true"/"false", None as "null"), or an unknown state."""
    text = "null" if value is None else ("true" if value is True else "false" if value is False else str(value))
    return TABLE.get((obj, field, text)) or unknown(obj, field, text, check)


def render() -> str:
    """The table as Markdown (docs/states.md)."""
    lines = [
        "# The states fpcheck judges",
        "",
        "Generated from `checks/states.py` (`python -m checks.states > docs/states.md`). Effects: counts (FirstPromoter",
        "credits it), waits (not yet), blocks (FirstPromoter does not credit it), reverses (credited, then taken back),",
        "neutral (no bearing by itself), open (the docs leave it open: the report says so). A value not listed is",
        "reported as a warning that names it.",
        "",
        f"{len(_ROWS)} states.",
        "",
        "| object | field | value | effect | check | the report says | fix / note | documented in |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in _ROWS:
        cells = (s.obj, s.field, f"`{s.value}`", s.effect.value, f"`{s.check}`", s.says, s.fix, s.source)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
