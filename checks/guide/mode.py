"""Guide step "Mode Configuration": live and test agree.

Three things must be in the same mode: fpcheck's key, the customer's Stripe objects, and
FirstPromoter's integration (one mode at a time; FirstPromoter's API does not say which, so it is
configured as FPCHECK_EXPECTED_STRIPE_MODE).  With a key for the other mode configured too, we can
also tell a customer who exists only in the other mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.advice import FP_INTEGRATION, FP_INTEGRATION_LC
from checks.facts import Facts, Mode
from checks.links import Dashboard
from checks.model import Evidence, Outcome, Status, decide
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


@dataclass
class _Modes:
    facts: Facts
    key: Mode  # fpcheck's key
    expected: Mode | None  # FirstPromoter's integration, as configured
    dash: Dashboard
    evidence: list[Evidence]

    @property
    def other(self) -> Mode:
        return _other(self.key)

    def out(self, status: Status, summary: str, remediation: str | None = None) -> Outcome:
        return Outcome(status=status, summary=summary, evidence=tuple(self.evidence), remediation=remediation)

    def reconnect(self, then: str) -> str:
        return (f"If real sales happen in {self.other} mode, connect FirstPromoter in {self.other} mode: "
                f"{FP_INTEGRATION_LC}, disconnect and reconnect Stripe in {self.other} mode (it tracks one mode at a "
                f"time), then point fpcheck at a {self.other} key. {then}")


def _key_against_integration(m: _Modes) -> Outcome | None:
    if m.expected is None or m.expected == m.key:
        return None
    return m.out(
        Status.FAIL,
        f"FirstPromoter's Stripe integration is in {m.expected} mode, but fpcheck's key (and so everything it read) "
        f"is {m.key} mode.",
        f"If your sales happen in {m.expected} mode, give fpcheck a {m.expected} key (STRIPE_API_KEY) and run again. "
        f"If FirstPromoter should track {m.key} mode instead, {FP_INTEGRATION_LC}, disconnect and reconnect it in "
        f"{m.key} mode (it tracks one mode at a time), or correct FPCHECK_EXPECTED_STRIPE_MODE.",
    )


def _objects_in_another_mode(m: _Modes) -> Outcome | None:
    modes = _object_modes(m.facts)
    odd = sorted(i for i, mode in modes.items() if mode != m.key)
    if not odd:
        return None
    m.evidence += [Evidence(label="Object in the other mode", value=i, url=m.dash.obj(i, live=modes[i] == "live"))
                   for i in odd[:5]]
    return m.out(Status.FAIL, f"fpcheck's key is {m.key} mode, but {', '.join(odd[:5])} "
                 f"{'is' if len(odd) == 1 else 'are'} {m.other} mode.",
                 "Use one key per mode; make sure STRIPE_API_KEY and the objects you look at are the same mode.")


def _the_other_mode(m: _Modes) -> Outcome | None:
    """With a key for the other mode: the person exists only there, or paid only there."""
    other = m.facts.stripe.other_mode_customers
    if not m.facts.config.other_mode_configured:
        return None
    if other.error:
        m.evidence.append(Evidence(label=f"Customers in {m.other} mode", value=f"could not be read: {other.error}"))
        return None
    if not other.ok or not other.value:
        return None
    m.evidence += [Evidence(label=f"Customer in {m.other} mode", value=f"{c.id} ({c.email})" if c.email else c.id,
                            url=m.dash.customer(c.id, live=c.livemode)) for c in other.value]
    customers = m.facts.stripe.customers.value or ()
    there = ", ".join(c.id for c in other.value)
    if not customers:
        fp_mode = m.expected or m.key
        summary = (
            f"The customer exists only in {m.other} mode ({there}); fpcheck's key and FirstPromoter's integration "
            f"are {m.key} mode, so FirstPromoter never sees that payment." if m.expected else
            f"The customer exists only in {m.other} mode ({there}), while fpcheck's key is {m.key} mode; "
            "FirstPromoter sees only the payments of the one mode it is connected in."
        )
        return m.out(Status.FAIL, summary,
                     m.reconnect(f"If you are testing in {fp_mode} mode, make the test purchase in {fp_mode} mode."))
    elsewhere = other_mode_payments(m.facts)
    if not elsewhere or payments(m.facts):
        return None
    here = ", ".join(c.id for c in customers)
    whose = " and FirstPromoter's integration are" if m.expected else " is"
    return m.out(
        Status.FAIL,
        f"The person exists in both modes ({m.key}: {here}; {m.other}: {there}) and paid only in {m.other} mode "
        f"({'; '.join(elsewhere[:3])}), while fpcheck's key{whose} {m.key} mode: FirstPromoter sees only the "
        "payments of the one mode it is connected in.",
        m.reconnect(f"If you are testing in {m.key} mode, make the test purchase in {m.key} mode."),
    )


def _one_mode(m: _Modes) -> Outcome | None:
    m.evidence += [Evidence(label=f"Customer ({m.key} mode)", value=c.id, url=m.dash.customer(c.id, live=c.livemode))
                   for c in m.facts.stripe.customers.value or ()]
    modes = _object_modes(m.facts)
    seen = f"{len(modes)} customer object(s) read are {m.key} mode" if modes else "no customer objects to compare"
    if m.expected is None:
        return m.out(
            Status.WARN,
            f"fpcheck's key is {m.key} mode and {seen}, but FirstPromoter's integration mode is not configured, so it "
            "was not compared.",
            f'{FP_INTEGRATION}: a "test mode" badge there means it tracks test mode only, otherwise live. It must be '
            f"{m.key} mode for these payments. Set FPCHECK_EXPECTED_STRIPE_MODE to that mode so fpcheck compares it "
            "for you.",
        )
    return m.out(Status.PASS, f"Everything is in {m.key} mode: fpcheck's key, FirstPromoter's integration, and {seen}.")


# stripe.mode: the first case that decides, in this order
_MODE_CASES = (_key_against_integration, _objects_in_another_mode, _the_other_mode, _one_mode)


def check_mode(facts: Facts) -> Outcome:
    key_mode = facts.stripe.key_mode
    expected = facts.config.expected_stripe_mode
    evidence = [
        Evidence(label="fpcheck's Stripe key", value=f"{key_mode or 'unknown'} mode"),
        Evidence(label="FirstPromoter's Stripe integration (configured)",
                 value=f"{expected} mode" if expected else "not configured (FPCHECK_EXPECTED_STRIPE_MODE)"),
    ]
    if key_mode is None:
        return Outcome(status=Status.SKIP, evidence=tuple(evidence),
                       summary="The mode of fpcheck's Stripe key is unknown, so modes cannot be compared.")
    modes = _Modes(facts, key_mode, expected, Dashboard.of(facts), evidence)
    return decide(_MODE_CASES, modes)
