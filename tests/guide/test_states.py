"""The state table (checks/states.py) covers every value Stripe and FirstPromoter document.

Stripe's values are read from the installed `stripe` SDK's typed fields (their `Literal` types), so
a value a new SDK adds fails here, not at a customer.  FirstPromoter's come from its v2 OpenAPI
specs in the shared reference folder (skipped, and listed as skipped, when they are absent).
"""

from __future__ import annotations

import json
import os
import typing
from pathlib import Path
from typing import Any

import pytest
import stripe
from factories import commission, customer, facts, invoice, referral, results, subscription
from stripe.checkout import Session

from checks import states
from checks.model import Status

SPECS = Path(
    os.environ.get(
        "FPCHECK_FP_SPECS",
        Path(__file__).resolve().parents[3] / "shared" / "reference" / "firstpromoter" / "openapi-v2",
    )
)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "states.md"


def literals(cls: type, field: str) -> list[str]:
    """The `Literal[...]` values in a stripe SDK class's annotation of `field`."""
    out: list[str] = []

    def walk(t: Any) -> None:
        if typing.get_origin(t) is typing.Literal:
            out.extend(str(a) for a in typing.get_args(t))
        else:
            for a in typing.get_args(t):
                walk(a)

    walk(cls.__annotations__[field])
    return out


STRIPE_FIELDS = [
    (stripe.Invoice, "status", "invoice"),
    (stripe.Invoice, "billing_reason", "invoice"),
    (stripe.Invoice, "collection_method", "invoice"),
    (stripe.Charge, "status", "charge"),
    (stripe.PaymentIntent, "status", "payment_intent"),
    (stripe.Subscription, "status", "subscription"),
    (Session, "status", "checkout_session"),
    (Session, "payment_status", "checkout_session"),
    (Session, "mode", "checkout_session"),
    (Session, "customer_creation", "checkout_session"),
    (stripe.Dispute, "status", "dispute"),
    (stripe.InvoicePayment.Payment, "type", "invoice_payment"),
]


@pytest.mark.parametrize("cls, field, obj", STRIPE_FIELDS, ids=lambda x: getattr(x, "__name__", x))
def test_every_value_the_stripe_sdk_types_is_in_the_table(cls: type, field: str, obj: str) -> None:
    documented = literals(cls, field)
    assert documented, f"{cls.__name__}.{field} has no Literal values: the SDK changed its types"
    row_field = "payment.type" if obj == "invoice_payment" else field
    missing = [v for v in documented if v not in states.values(obj, row_field)]
    assert missing == [], f"checks/states.py has no row for {obj} {row_field} {missing}"


def _enum(spec: str, *path: str) -> list[str]:
    file = SPECS / f"openapi-v2-{spec}.json"
    if not file.exists():
        pytest.skip(f"FirstPromoter OpenAPI spec not found at {file} (set FPCHECK_FP_SPECS)")
    node: Any = json.loads(file.read_text())
    for part in path:
        node = node[part]
    return [v for v in node["enum"] if v is not None]


FP_FIELDS = [
    ("referrals", ("components", "schemas", "Referral", "properties", "state"), "referral", "state"),
    ("referrals", ("components", "schemas", "Referral", "properties", "entry_source"), "referral", "entry_source"),
    ("referrals", ("components", "schemas", "Referral", "properties", "fraud_check"), "referral", "fraud_check"),
    ("commissions", ("components", "schemas", "Commission", "properties", "status"), "commission", "status"),
    ("commissions", ("components", "schemas", "Commission", "properties", "fraud_check"), "commission", "fraud_check"),
    ("commissions", ("components", "schemas", "Commission", "properties", "unit"), "commission", "unit"),
    ("commissions", ("components", "schemas", "Commission", "properties", "commission_type"), "commission",
     "commission_type"),
    ("promoter-campaigns", ("components", "schemas", "PromoterCampaign", "properties", "state"), "promoter_campaign",
     "state"),
    ("promoters", ("components", "schemas", "Promoter", "properties", "promoter_campaigns", "items", "properties",
                   "state"), "promoter_campaign", "state"),
]


@pytest.mark.parametrize("spec, path, obj, field", FP_FIELDS, ids=lambda x: x if isinstance(x, str) else None)
def test_every_value_firstpromoters_openapi_enumerates_is_in_the_table(spec: str, path: tuple[str, ...], obj: str,
                                                                       field: str) -> None:
    missing = [v for v in _enum(spec, *path) if v not in states.values(obj, field)]
    assert missing == [], f"checks/states.py has no row for {obj} {field} {missing}"


def test_an_unknown_value_is_never_a_pass() -> None:
    row = states.judge("invoice", "status", "settled_elsewhere", "payment.exists")
    assert row.effect is states.Effect.UNKNOWN and row.blocks
    assert row.says == "fpcheck does not know invoice status 'settled_elsewhere'"


def test_an_unknown_invoice_status_is_a_warning_that_names_it() -> None:
    r = results(facts(customers=(customer(),), invoices=(invoice(status="settled_elsewhere"),)))["payment.exists"]
    assert r.status is Status.WARN
    assert "fpcheck does not know invoice status 'settled_elsewhere'" in r.summary


def test_an_unknown_subscription_status_beside_a_payment_warns() -> None:
    out = results(facts(customers=(customer(),), invoices=(invoice(),),
                        subscriptions=(subscription(status="hibernating"),)))
    assert out["payment.exists"].status is Status.WARN
    assert "fpcheck does not know subscription status 'hibernating'" in out["payment.exists"].summary


def test_an_unknown_commission_status_is_not_taken_for_earning() -> None:
    ref = referral(state="active", uid="cus_A")
    out = results(facts(customers=(customer(),), invoices=(invoice(),), referral_=ref,
                        commissions=(commission("in_A", status="on_hold"),)))
    assert out["fp.commission"].status is Status.FAIL
    assert "fpcheck does not know commission status 'on_hold'" in out["fp.commission"].summary


def test_an_unknown_referral_state_warns_naming_it() -> None:
    out = results(facts(customers=(customer(),), invoices=(invoice(),), referral_=referral(state="frozen")))
    assert out["fp.referral"].status is Status.WARN
    assert "fpcheck does not know referral state 'frozen'" in out["fp.referral"].summary


def test_the_rendered_table_in_docs_is_current() -> None:
    assert DOCS.read_text() == states.render(), "run: python -m checks.states > docs/states.md"


def test_a_shops_own_client_reference_id_is_not_a_tid() -> None:
    """FirstPromoter's script sets client_reference_id only on Payment Links; an API Checkout Session's
    client_reference_id is the shop's own order reference."""
    from factories import session

    def referral_check(**kw: object) -> str:
        cs = session("cs_O", customer="cus_A", payment_intent=None, invoice="in_A", mode="subscription",
                     client_reference_id="order-1234", **kw)  # type: ignore[arg-type]
        return results(facts(customers=(customer(),), invoices=(invoice(),), sessions=(cs,), referral_=None))[
            "fp.referral"].summary

    assert "order-1234" not in referral_check() and "probably never tracked" in referral_check()
    assert "client_reference_id order-1234" in referral_check(payment_link="plink_1")


def test_a_deleted_customer_asked_about_with_no_referral_is_named_as_deleted() -> None:
    gone = customer("cus_Gone", None, deleted=True)
    out = results(facts(None, customer_id="cus_Gone", customers=(gone,), invoices=(), referral_=None))
    assert out["fp.referral"].status is Status.FAIL
    assert "Stripe customer cus_Gone was deleted in Stripe" in out["fp.referral"].summary


def test_undocumented_billing_reasons_and_entry_sources_are_named() -> None:
    out = results(facts(customers=(customer(),), invoices=(invoice(billing_reason="robot_renewal"),),
                        referral_=referral(entry_source="telepathy")))
    assert out["payment.exists"].status is Status.WARN
    assert "fpcheck does not know invoice billing_reason 'robot_renewal'" in out["payment.exists"].summary
    assert out["fp.referral"].status is Status.WARN
    assert "fpcheck does not know referral entry_source 'telepathy'" in out["fp.referral"].summary
