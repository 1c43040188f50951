"""Guide step "Checking Stripe Account Connection": the Stripe account our key reads is the one
FirstPromoter is connected to.

FirstPromoter's API does not tell which account it is connected to, so the expected account is
configuration (FPCHECK_EXPECTED_STRIPE_ACCOUNT).  Without it we can only show what we see and say
where to compare, which is a warning, never a pass.
"""

from __future__ import annotations

from checks.advice import FP_INTEGRATION, STRIPE_ACCOUNT_PATH
from checks.facts import Facts
from checks.links import Dashboard
from checks.model import Evidence, Outcome, Status

# Where the guide says to look (our words): FirstPromoter's Stripe integration screen, Stripe's account id.


def check_account(facts: Facts) -> Outcome:
    acct = facts.stripe.account.value
    assert acct is not None  # the registry answers for an account that was not read (needs)
    dash = Dashboard.of(facts)
    seen = f"{acct.id} ({acct.name})" if acct.name else acct.id
    evidence = [Evidence(label="Stripe account behind fpcheck's key", value=seen, url=dash.account_settings())]
    if acct.source == "permission_error":
        evidence.append(
            Evidence(
                label="How we know",
                value=(
                    "the key is restricted and may not read /v1/account; Stripe named the account "
                    "in its 403 answer"
                ),
            )
        )
    expected = facts.config.expected_stripe_account
    if expected is None:
        return Outcome(
            status=Status.WARN,
            summary=(
                f"fpcheck reads Stripe account {seen}, but cannot tell which account FirstPromoter is "
                "connected to (FirstPromoter's API does not say): compare them by hand."
            ),
            evidence=tuple(evidence),
            remediation=(
                f"{FP_INTEGRATION} and note the connected account ID. In Stripe, {STRIPE_ACCOUNT_PATH} of the "
                f"account that takes the payments should be the same; fpcheck sees {acct.id}. If they differ, "
                "reconnect FirstPromoter to the account that takes the payments. Then set "
                "FPCHECK_EXPECTED_STRIPE_ACCOUNT to the connected account ID so fpcheck compares it for you."
            ),
        )
    evidence.append(Evidence(label="Account FirstPromoter is connected to (configured)", value=expected))
    if expected != acct.id:
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"FirstPromoter is connected to Stripe account {expected}, but this customer's data is in "
                f"{seen}: FirstPromoter never sees these payments."
            ),
            evidence=tuple(evidence),
            remediation=(
                f"{FP_INTEGRATION} and read the connected account ID. If it is {expected}, reconnect the "
                f"integration to the Stripe account that takes the payments: {acct.id} (in Stripe, "
                f"{STRIPE_ACCOUNT_PATH}). If FirstPromoter is in fact connected to {acct.id}, correct "
                "FPCHECK_EXPECTED_STRIPE_ACCOUNT instead."
            ),
        )
    return Outcome(
        status=Status.PASS,
        summary=f"fpcheck reads Stripe account {seen}, the account FirstPromoter is connected to.",
        evidence=tuple(evidence),
    )
