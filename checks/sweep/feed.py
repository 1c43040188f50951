"""Which payments may be diagnosed before the referral listing ends.

The listing of every referral is the sweep's longest read on a big programme (FirstPromoter's
300 calls a minute), while Stripe's listings and FirstPromoter's commissions are in well before
it.  Once those are in, a payment that no commission names is a candidate as soon as a referral
with its email is read (join.py's rule), and its diagnosis can run at once: its referral lookup
by email is answered from the rows already held (known.answers_now), the first such row in
FirstPromoter's order being already there.

So a payment is *ready* when a referral row read so far holds exactly the email its diagnosis
looks up.  Every other candidate (found by uid, by a tracking coupon, by a tid, or by an email in
another letter case) is diagnosed once the listing is whole, as before.  The final join (run.py)
still decides what the sweep reports; this only lets diagnoses start earlier.  More referrals only
ever add matches, so a payment started here is always one of the final candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from checks.sweep.join import Payment


class Feed:
    def __init__(self, payments: Iterable[Payment], commissions: Iterable[dict[str, Any]]) -> None:
        credited = {c["event_id"] for c in commissions if isinstance(c.get("event_id"), str)}
        # the uncredited payments by the email their diagnosis looks up (known.KnownFP strips it);
        # most emails have one payment in a month, so a list only where there are more
        self._by_email: dict[str, Payment | list[Payment]] = {}
        for p in payments:
            if p.email and p.email.strip() and not (p.event_ids & credited):
                key = p.email.strip()
                had = self._by_email.setdefault(key, p)
                if had is not p:
                    self._by_email[key] = [*had, p] if isinstance(had, list) else [had, p]

    def rows(self, emails: Iterable[tuple[int, str | None]]) -> list[Payment]:
        """The payments these referral rows (store.emails_after) make ready, each only once."""
        out: list[Payment] = []
        for _, email in emails:
            got = self._by_email.pop(email, None) if email else None
            if got is not None:
                out += got if isinstance(got, list) else [got]
        return out
