"""One module per step of FirstPromoter's troubleshooting guide; importing this package registers
every check.  To add a check: write a small module with an `@check(...)` function and import it here."""

from checks.guide import account, commission, coupon, lead, mode, payment, referral  # noqa: F401
