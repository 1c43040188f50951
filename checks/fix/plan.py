"""A repair as data: what changes (before → after), which FirstPromoter calls make it, and what must
still be true when it is applied.  Every face shows a plan before anything is written, and applies
exactly the plan it showed (apply.py reads the preconditions again first).

A plan is made only for a cause the report states as a failure; `NoFix` says why there is none and
what to do instead.  Where several Stripe customers could be the payer, the plan lists them as
`candidates` and stays unchosen until a person picks one (`choose`): fpcheck never guesses.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from checks.model import Frozen

PLAN_VERSION = 1


class FixKind(StrEnum):
    SET_UID = "set_uid"  # PUT /referrals/{id} uid = cus_…, then import_events
    IMPORT = "import_events"  # the uid is already the payer's: import_events only
    COMMISSION = "sale_commission"  # a guest payment: POST /commissions
    COUPON = "campaign_coupon"  # PUT /promoter_campaigns/{id} coupon = the Coupon id


class Call(Frozen):
    """One FirstPromoter call, relative to the v2 admin base (`/api/v2/company`)."""

    method: Literal["GET", "PUT", "POST"]
    path: str
    body: dict[str, Any] | None = None

    @property
    def line(self) -> str:
        return f"{self.method} {self.path}"


class Change(Frozen):
    """One thing that will be different afterwards, in words a support engineer checks."""

    what: str  # "referral #5010 uid"
    before: str | None  # None: empty / not there
    after: str


class Expect(Frozen):
    """A precondition read again just before applying; a plan whose world moved on is refused."""

    kind: Literal["referral_uid", "no_commission", "campaign_coupon"]
    id: int  # the referral (referral_uid, no_commission) or the promoter campaign (campaign_coupon)
    value: str | None = None  # the uid or coupon the report saw (None: empty)
    # no_commission: every Stripe id FirstPromoter may file the sale under (invoice, charge, PaymentIntent)
    event_ids: tuple[str, ...] = ()

    @property
    def words(self) -> str:
        if self.kind == "referral_uid":
            return f"referral #{self.id} still has uid {self.value or '(empty)'}"
        if self.kind == "campaign_coupon":
            return f"promoter campaign #{self.id} still has coupon {self.value or '(empty)'}"
        return f"no commission names {', '.join(self.event_ids)}"


class Candidate(Frozen):
    """A Stripe customer that could be the payer."""

    customer_id: str
    email: str | None = None
    paid: str  # "in_… $29.00 on 2026-11-28 10:42 UTC"


class FixPlan(Frozen):
    version: int = PLAN_VERSION
    kind: FixKind
    query: str
    cause: str  # the check whose failure this repairs
    title: str  # one line: what the fix does
    referral_id: int | None = None
    referral_email: str | None = None
    customer: str | None = None  # the payer's cus_ id (SET_UID / IMPORT), once known or chosen
    candidates: tuple[Candidate, ...] = ()  # several could be the payer: a person picks one
    changes: tuple[Change, ...] = ()
    calls: tuple[Call, ...] = ()
    expect: tuple[Expect, ...] = ()
    # sales the repair should credit (SET_UID / IMPORT / COMMISSION) or that stay lost (COUPON)
    sales: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # seconds FirstPromoter takes before the outcome shows (the recheck waits this long)
    settle_s: float = Field(default=120.0, exclude=True)

    @property
    def needs_choice(self) -> bool:
        return self.kind is FixKind.SET_UID and self.customer is None

    def choose(self, customer_id: str) -> FixPlan:
        """The plan with the payer a person picked among `candidates`; ValueError for any other id."""
        if self.kind is not FixKind.SET_UID or not self.candidates:
            raise ValueError("this fix has no customer to choose")
        picked = next((c for c in self.candidates if c.customer_id == customer_id), None)
        if picked is None:
            known = ", ".join(c.customer_id for c in self.candidates)
            raise ValueError(f"{customer_id} is not one of the customers that could be the payer ({known})")
        uid_before = next((e.value for e in self.expect if e.kind == "referral_uid"), None)
        assert self.referral_id is not None
        return set_uid_plan(self, self.referral_id, uid_before, picked.customer_id, (picked.paid,))


class NoFix(Frozen):
    """Why fpcheck will not write anything for this report, and what a person can do instead."""

    query: str
    cause: str | None = None
    reason: str
    steps: str | None = None  # the report's own remediation, when it has one


def referral_path(referral_id: int) -> str:
    return f"/referrals/{referral_id}"


def set_uid_plan(base: FixPlan, referral_id: int, uid_before: str | None, customer: str,
                 sales: tuple[str, ...]) -> FixPlan:
    """SET_UID for a known payer: the uid, then the import; IMPORT when the uid already is it."""
    importing = Call(method="POST", path=f"{referral_path(referral_id)}/import_events")
    expect = (Expect(kind="referral_uid", id=referral_id, value=uid_before),)
    if uid_before == customer:
        return base.model_copy(update={
            "kind": FixKind.IMPORT, "customer": customer, "candidates": (),
            "title": f"Import referral #{referral_id}'s Stripe sales (its uid is already {customer})",
            "changes": tuple(Change(what="commission", before=None, after=f"for {s}") for s in sales),
            "calls": (importing,), "expect": expect, "sales": sales,
        })
    return base.model_copy(update={
        "kind": FixKind.SET_UID, "customer": customer, "candidates": (),
        "title": f"Set referral #{referral_id}'s uid to {customer}, then import its Stripe sales",
        "changes": (Change(what=f"referral #{referral_id} uid", before=uid_before, after=customer),
                    *(Change(what="commission", before=None, after=f"for {s}") for s in sales)),
        "calls": (Call(method="PUT", path=referral_path(referral_id), body={"uid": customer}), importing),
        "expect": expect, "sales": sales,
    })
