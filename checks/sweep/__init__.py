"""`fpcheck sweep`: every payment of a window that FirstPromoter should have credited but did not.

The sweep reads each upstream listing once (Stripe's paid invoices, charges and Checkout Sessions
of the window; FirstPromoter's referrals, commissions and promoter campaigns), joins them in memory
(`join.py`), and runs the per-person diagnosis (`checks.engine.Engine.check`) only on candidates.
"""
