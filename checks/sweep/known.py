"""The candidates' diagnoses, told what the sweep already read.

A candidate's diagnosis (checks/engine.py) looks the person's referral up in FirstPromoter: by
email, then by each uid, then with a `?q=` search.  The sweep has just read every referral of the
programme (`GET /referrals`, the same Referral objects, no filter), so those lookups are answered
from its store (store.Referrals) instead of FirstPromoter: the same answer, `tried` and `found_by`
included, without the calls.  Only where the listing cannot say what FirstPromoter would answer
is it asked: an email known only in another letter case (whether `find_by=email` ignores case is
not documented), or a sweep whose referral listing was not read in full.

The sweep may start a diagnosis while the referral listing is still being read (run.py): the
store then holds a prefix of the listing, and an email found in it is already FirstPromoter's
first answer (`answers_now`).  Any other lookup waits, within the diagnosis's deadline, for the
listing to end; one that ended part-way, or not in time, is asked of FirstPromoter itself.

The other reads of a diagnosis are not the sweep's data: FirstPromoter's commissions by the
person's email (`?q=`, every commission they ever had; the sweep lists those created since the
window began), Stripe's customers by email, their invoices, charges, subscriptions and
PaymentIntents (all of them; the sweep lists the window's).  Those are read as for any report.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from typing import Literal

from checks import deadline
from checks.engine import Engine
from checks.facts import ReferralLookup
from checks.sources.firstpromoter import MAX_UIDS, FirstPromoterReader
from checks.sources.stripe import StripeReader
from checks.sweep.store import Referrals

# The referrals of the sweep being diagnosed, for the engine's runs in this context
KNOWN: contextvars.ContextVar[Referrals | None] = contextvars.ContextVar("fpcheck_sweep_known", default=None)


def answers_now(known: Referrals, email: str | None) -> bool:
    """Whether a lookup by `email` is answered from what the store holds already, even with the
    listing still being read: a row with that exact email is the first one FirstPromoter has."""
    email = (email or "").strip() or None
    return email is not None and known.first("email", email) is not None


def _answers(known: Referrals, email: str | None) -> bool:
    """Whether the store answers a lookup: a listing read whole does, one that stopped part-way
    does not; one still being read does when it holds the email already, else once it ends whole
    (waited for within the diagnosis's deadline: a miss in part of the listing means nothing yet)."""
    if known.whole is not None:
        return known.whole
    return answers_now(known, email) or known.wait(deadline.left(default=60.0) - 1.0) is True


class KnownFP(FirstPromoterReader):
    known: Referrals | None = None

    def find_referral(self, email: str | None, uids: Sequence[str] = ()) -> ReferralLookup:
        known = self.known
        if known is None or not _answers(known, email):
            return super().find_referral(email, uids)  # no whole listing to answer from
        email = (email or "").strip() or None
        distinct = list(dict.fromkeys(u.strip() for u in uids if u and u.strip()))[:MAX_UIDS]
        tried: list[str] = []
        if email:
            tried.append("email")
            row = known.first("email", email)
            if row is not None:
                return ReferralLookup(referral=self._referral(row), found_by="email", tried=tuple(tried))
            if known.first("email_cf", email.casefold()) is not None:
                return super().find_referral(email, uids)  # FirstPromoter's own answer
        for uid in distinct:
            tried.append(f"uid:{uid}")
            row = known.first("uid", uid)
            if row is not None:
                how: Literal["customer_id", "uid"] = "customer_id" if uid.startswith("cus_") else "uid"
                return ReferralLookup(referral=self._referral(row), found_by=how, tried=tuple(tried))
        # the search matches the email in any letter case or one of the uids: no row has either
        term = email or (distinct[0] if distinct else None)
        if term:
            tried.append(f"search:{term}")
        return ReferralLookup(referral=None, tried=tuple(tried))


class SweepEngine(Engine):
    """The engine, its FirstPromoter reader answering referral lookups from KNOWN when it is set."""

    def _readers(self) -> tuple[StripeReader, FirstPromoterReader, StripeReader | None]:
        w = self.wiring
        other = w.stripe(StripeReader, other=True) if self.settings.stripe_other_mode_api_key is not None else None
        fp = w.firstpromoter(KnownFP)
        fp.known = KNOWN.get()
        return w.stripe(StripeReader), fp, other
