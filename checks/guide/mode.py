"""Guide step "Mode Configuration": live and test agree.

Three things must be in the same mode: fpcheck's key, the customer's Stripe objects, and
FirstPromoter's integration (one mode at a time; FirstPromoter's API does not say which, so it is
configured as FPCHECK_EXPECTED_STRIPE_MODE).  With a key for the other mode configured too, we can
also tell a customer who exists only in the other mode.
"""

from __future__ import annotations

from checks.advice import FP_INTEGRATION, FP_INTEGRATION_LC
from checks.facts import Facts, Mode
from checks.links import Dashboard
from checks.model import Evidence, Outcome, Status
from checks.trail import other_mode_payments, payments


def _other(mode: Mode) -> Mode:
    return "test" if mode == "live" else "live"


def _object_modes(facts: Facts) -> dict[str, Mode]:
    """Every customer object we read, id -> its mode (`livemode`)."""
    out: dict[str, Mode] = {}
    s = facts.stripe
    for fetched in (s.customers, s.invoices, s.charges, s.subscriptions):
        if fetched.ok:
            for obj in fetched.value or ():
                out[obj.id] = "live" if obj.livemode else "test"
    return out


def check_mode(facts: Facts) -> Outcome:
    key_mode = facts.stripe.key_mode
    expected = facts.config.expected_stripe_mode
    dash = Dashboard.of(facts)
    evidence = [Evidence(label="fpcheck's Stripe key", value=f"{key_mode or 'unknown'} mode")]
    evidence.append(
        Evidence(
            label="FirstPromoter's Stripe integration (configured)",
            value=f"{expected} mode" if expected else "not configured (FPCHECK_EXPECTED_STRIPE_MODE)",
        )
    )
    if key_mode is None:
        return Outcome(
            status=Status.SKIP,
            summary="The mode of fpcheck's Stripe key is unknown, so modes cannot be compared.",
            evidence=tuple(evidence),
        )

    # 1. fpcheck's key against FirstPromoter's integration
    if expected is not None and expected != key_mode:
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"FirstPromoter's Stripe integration is in {expected} mode, but fpcheck's key (and so "
                f"everything it read) is {key_mode} mode."
            ),
            evidence=tuple(evidence),
            remediation=(
                f"If your sales happen in {expected} mode, give fpcheck a {expected} key "
                f"(STRIPE_API_KEY) and run again. If FirstPromoter should track {key_mode} mode instead, "
                f'{FP_INTEGRATION_LC}, disconnect and reconnect it in {key_mode} mode (it tracks one mode at '
                "a time), or correct FPCHECK_EXPECTED_STRIPE_MODE."
            ),
        )

    # 2. the objects we read carry the key's mode
    modes = _object_modes(facts)
    odd = sorted(i for i, m in modes.items() if m != key_mode)
    if odd:
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"fpcheck's key is {key_mode} mode, but {', '.join(odd[:5])} "
                f"{'is' if len(odd) == 1 else 'are'} {_other(key_mode)} mode."
            ),
            evidence=tuple(evidence)
            + tuple(Evidence(label="Object in the other mode", value=i, url=dash.obj(i, live=modes[i] == "live")) for i in odd[:5]),
            remediation="Use one key per mode; make sure STRIPE_API_KEY and the objects you look at are the same mode.",
        )

    # 3. a customer who exists only in the other mode
    customers = facts.stripe.customers.value or ()
    other = facts.stripe.other_mode_customers
    other_mode = _other(key_mode)
    if facts.config.other_mode_configured and other.ok and other.value:
        for c in other.value:
            evidence.append(
                Evidence(
                    label=f"Customer in {other_mode} mode",
                    value=f"{c.id} ({c.email})" if c.email else c.id,
                    url=dash.customer(c.id, live=c.livemode),
                )
            )
        if not customers:
            fp_mode = expected or key_mode
            ids = ", ".join(c.id for c in other.value)
            if expected:
                summary = (
                    f"The customer exists only in {other_mode} mode ({ids}); fpcheck's key and FirstPromoter's "
                    f"integration are {key_mode} mode, so FirstPromoter never sees that payment."
                )
            else:
                summary = (
                    f"The customer exists only in {other_mode} mode ({ids}), while fpcheck's key is {key_mode} "
                    "mode; FirstPromoter sees only the payments of the one mode it is connected in."
                )
            return Outcome(
                status=Status.FAIL,
                summary=summary,
                evidence=tuple(evidence),
                remediation=(
                    f"If real sales happen in {other_mode} mode, connect FirstPromoter in {other_mode} mode: "
                    f"{FP_INTEGRATION_LC}, disconnect and reconnect Stripe in {other_mode} mode (it tracks one "
                    f"mode at a time), then point fpcheck at a {other_mode} key. If you are testing in "
                    f"{fp_mode} mode, make the test purchase in {fp_mode} mode."
                ),
            )
        elsewhere = other_mode_payments(facts)
        if customers and elsewhere and not payments(facts):
            ids = ", ".join(c.id for c in customers)
            return Outcome(
                status=Status.FAIL,
                summary=(
                    f"The person exists in both modes ({key_mode}: {ids}; {other_mode}: "
                    f"{', '.join(c.id for c in other.value)}) and paid only in {other_mode} mode "
                    f"({'; '.join(elsewhere[:3])}), while fpcheck's key"
                    + (" and FirstPromoter's integration are" if expected else " is")
                    + f" {key_mode} mode: FirstPromoter sees only the payments of the one mode it is connected in."
                ),
                evidence=tuple(evidence),
                remediation=(
                    f"If real sales happen in {other_mode} mode, connect FirstPromoter in {other_mode} mode "
                    f"({FP_INTEGRATION_LC}; it tracks one mode at a time) and point fpcheck at a {other_mode} key. "
                    f"If you are testing in {key_mode} mode, make the test purchase in {key_mode} mode."
                ),
            )
    elif facts.config.other_mode_configured and other.error:
        evidence.append(Evidence(label=f"Customers in {other_mode} mode", value=f"could not be read: {other.error}"))

    for c in customers:
        evidence.append(
            Evidence(label=f"Customer ({key_mode} mode)", value=c.id, url=dash.customer(c.id, live=c.livemode))
        )
    seen = f"{len(modes)} customer object(s) read are {key_mode} mode" if modes else "no customer objects to compare"
    if expected is None:
        return Outcome(
            status=Status.WARN,
            summary=(
                f"fpcheck's key is {key_mode} mode and {seen}, but FirstPromoter's integration mode is not "
                "configured, so it was not compared."
            ),
            evidence=tuple(evidence),
            remediation=(
                f'{FP_INTEGRATION}: a "test mode" badge there means it tracks test mode only, otherwise live. '
                f"It must be {key_mode} mode for these payments. Set FPCHECK_EXPECTED_STRIPE_MODE to that mode "
                "so fpcheck compares it for you."
            ),
        )
    return Outcome(
        status=Status.PASS,
        summary=f"Everything is in {key_mode} mode: fpcheck's key, FirstPromoter's integration, and {seen}.",
        evidence=tuple(evidence),
    )
