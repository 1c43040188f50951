"""Repairs through FirstPromoter's API, planned from a report's diagnosis (off unless asked for).

plan.py holds the plan as data; planner.py makes one from a report and its facts; writer.py is the
one FirstPromoter client that may write; apply.py reads the preconditions again and applies a plan;
settings.py is FPCHECK_ALLOW_FIXES and its companions.  Nothing here ever writes to Stripe.
"""
