"""`fpcheck sweep`: every payment of a window that FirstPromoter should have credited but did not.

The sweep reads each upstream listing once (Stripe's paid invoices, charges and Checkout Sessions
of the window, the invoices and sessions from a look-back before it since a payment's time is when
it was paid; FirstPromoter's referrals, commissions and promoter campaigns), keeping of each row only what the
join needs (the referrals in an embedded SQLite store, store.py), joins them (`join.py`), and runs
the per-person diagnosis (`checks.engine.Engine.check`) only on candidates older than
FirstPromoter's ~2 minutes, their referral lookups answered from the rows read (known.py); younger
ones are listed apart as too early to tell.
"""
