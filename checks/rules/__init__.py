"""One module per step of FirstPromoter's troubleshooting guide; importing this package registers
every rule.  To add a rule: write a small module with an `@rule(...)` function and import it here."""

from checks.rules import account, commission, coupon, lead, mode, payment, referral  # noqa: F401
