"""Guide step "Matching Leads": FirstPromoter finds the lead for a Stripe payment by the customer's
email (before the first payment), or by the referral's uid = the Stripe customer id or the
customer's `metadata.fp_uid`.

Stripe's email filter is case-sensitive, and one email can belong to several Stripe customers:
both make the match uncertain, so they are warnings that name the customers.
"""

from __future__ import annotations

from dataclasses import dataclass

from checks import money, states
from checks.advice import import_events_hint
from checks.facts import Facts, Referral, StripeCustomer
from checks.links import Dashboard
from checks.model import Evidence, Outcome, Status, decide
from checks.trail import (
    Payment,
    customers_with_email,
    fmt_time,
    found_referral,
    guest_payments,
    lead_doubts,
    match_commissions,
    payments,
    target_email,
    uid_customers,
)


def _customer_ev(dash: Dashboard, c: StripeCustomer, note: str = "") -> Evidence:
    value = f"{c.id} ({'deleted in Stripe' if c.deleted else c.email or 'no email'})" + (f" {note}" if note else "")
    return Evidence(label="Stripe customer", value=value, url=dash.customer(c.id, live=c.livemode))


def _payer_notes(facts: Facts) -> dict[str, str]:
    """customer id -> "paid in_… $29.00" for customers with a payment that collected money."""
    notes: dict[str, str] = {}
    for p in reversed(payments(facts)):
        if p.customer and p.paid > 0 and p.customer not in notes:
            notes[p.customer] = f"paid {p.id} {money.fmt(p.paid, p.currency)}"
    return notes


@dataclass
class _Lead:
    """What lead.email compares, read once: the lead's email and the Stripe customers carrying it."""

    facts: Facts
    dash: Dashboard
    ref: Referral | None
    email: str | None
    customers: tuple[StripeCustomer, ...]  # every customer read (by email, id, uid, fp_uid)
    found: list[StripeCustomer]  # those carrying the email, ignoring case
    payers: dict[str, str]  # customer id -> what it paid
    evidence: list[Evidence]

    def out(self, status: Status, summary: str, remediation: str | None = None) -> Outcome:
        return Outcome(status=status, summary=summary, evidence=tuple(self.evidence), remediation=remediation)


def _lead(facts: Facts) -> _Lead:
    ref = found_referral(facts)
    email = target_email(facts)
    dash = Dashboard.of(facts)
    evidence: list[Evidence] = []
    if email:
        source = "FirstPromoter referral's email" if ref and ref.email else "Email asked about"
        evidence.append(Evidence(label=source, value=email))
    if facts.fp.referral.error:
        evidence.append(Evidence(label="Note", value="the FirstPromoter referral could not be read; compared with the email asked about"))
    found = customers_with_email(facts, email) if email else []
    payers = _payer_notes(facts)
    for c in found:
        notes = [payers[c.id]] if c.id in payers else []
        if c.fp_uid:
            notes.append(f"fp_uid {c.fp_uid}")
        if c.email != email:
            notes.append("email differs in letter case")
        evidence.append(_customer_ev(dash, c, "; ".join(notes)))
    return _Lead(facts, dash, ref, email, tuple(facts.stripe.customers.value or ()), found, payers, evidence)


def _no_lead(x: _Lead) -> Outcome | None:
    every = tuple(_customer_ev(x.dash, c) for c in x.customers)
    if x.ref is None and not x.facts.fp.referral.error:
        return Outcome(status=Status.SKIP, summary="No lead email to compare with: no FirstPromoter referral (see fp.referral).",
                       evidence=every)
    if not x.email:
        first = f"; Stripe customer {x.customers[0].id} has {x.customers[0].email or 'no email'}." if x.customers else "."
        return Outcome(status=Status.SKIP, evidence=every, summary=(
            "No email to compare: no FirstPromoter referral was found and the query was not an email" + first))
    return None


def _only_in_the_other_mode(x: _Lead) -> Outcome | None:
    other = x.facts.stripe.other_mode_customers
    email = (x.email or "").casefold()
    elsewhere = [c for c in ((other.value or ()) if other.ok else ()) if c.email and c.email.casefold() == email]
    if x.found or not elsewhere:
        return None
    mode = "live" if elsewhere[0].livemode else "test"
    in_mode = f"{x.facts.stripe.key_mode} mode " if x.facts.stripe.key_mode else ""
    x.evidence += [_customer_ev(x.dash, c) for c in elsewhere]
    return x.out(Status.SKIP, f"No {in_mode}Stripe customer carries {x.email}; it exists only in {mode} mode "
                 f"({', '.join(c.id for c in elsewhere)}): see stripe.mode.")


def _paid_as_a_guest(x: _Lead) -> Outcome | None:
    guests = guest_payments(x.facts)
    if x.found or not guests:
        return None
    # a guest payment some commission names was credited after all (added by hand, as the fix
    # says): the later guest payments are still at risk, so a warning, not a pass
    credited = match_commissions(x.facts)
    lost = [g for g in guests if g.id not in credited]
    if lost:
        return _guest(x.facts, x.email or "", lost, x.evidence)
    p = guests[-1]
    x.evidence += [Evidence(label="Credited all the same", value=f"{g.id}: commission #{credited[g.id].commission.id}")
                   for g in guests[-5:]]
    return x.out(
        Status.WARN,
        f"{x.email} paid as a guest (no Stripe customer), which FirstPromoter cannot match by itself; "
        f"{'each guest payment has' if len(guests) > 1 else 'the payment has'} a commission all the same "
        f"(the latest, {p.id}: commission #{credited[p.id].commission.id}, {credited[p.id].how}), "
        "so it was most likely added by hand. "
        "The next guest payment will be missed the same way.",
        "Make checkout create a customer (customer_creation: always on Checkout Sessions; Payment Links: "
        "\"Create customers\" on), so FirstPromoter matches later payments by itself.",
    )


def _nobody_carries_it(x: _Lead) -> Outcome | None:
    if x.found:
        return None
    ref, email, customers = x.ref, x.email, x.customers
    linked = [c for c in customers if ref and ref.uid and ref.uid in (c.id, c.fp_uid) and not c.deleted]
    x.evidence += [_customer_ev(x.dash, c, f"(found by {c.match})") for c in customers]
    if linked:
        return x.out(
            Status.WARN,
            f"No Stripe customer carries {email}, but {linked[0].id} ({linked[0].email or 'no email'}) is "
            "linked to the referral by uid, so FirstPromoter can still match it (see lead.uid).",
            f"To be safe, change the email of Stripe customer {linked[0].id} to {email}, or the referral's "
            "email in FirstPromoter to the one the customer paid with.",
        )
    seen = (" (the customers found by id or fp_uid have " + ", ".join(c.email or "no email" for c in customers) + ")"
            if customers else "")
    return x.out(
        Status.FAIL,
        f"No Stripe customer carries {email}{seen}: the person probably paid under another email, so "
        "FirstPromoter cannot match the payment to the lead.",
        "Find the Stripe customer this person paid as (search Stripe by name or card). Then either change "
        f"that customer's email to {email} before further payments, or "
        + import_events_hint(customers[0].id if len(customers) == 1 else None)
        + " (or put the referral's uid in that customer's metadata as fp_uid).",
    )


def _the_uid_settles_it(x: _Lead) -> Outcome | None:
    """Several customers or another letter case do not matter when the paying one is linked by uid."""
    linked = [c for c in uid_customers(x.facts, x.ref) if c.id in x.payers]
    doubtful = len(x.found) > 1 or any(c.email != x.email for c in x.found)
    if not (doubtful and linked) or lead_doubts(x.facts, linked[-1].id):
        return None
    c = linked[-1]
    how = "is the referral's uid" if c.id == (x.ref.uid if x.ref else None) else "carries the referral's uid as fp_uid"
    return x.out(Status.PASS, f"The paying Stripe customer {c.id} {how}, so FirstPromoter matches its payments by uid, "
                 f"whatever the other customers with {x.email} or the email's letter case.")


def _several_customers(x: _Lead) -> Outcome | None:
    if len(x.found) < 2:
        return None
    described = []
    for c in x.found:
        bits = [x.payers[c.id]] if c.id in x.payers else ["no payment"]
        if c.fp_uid:
            bits.append(f"carries fp_uid {c.fp_uid}")
        if c.email != x.email:
            bits.append(f"spelled {c.email}")
        described.append(f"{c.id} ({', '.join(bits)})")
    payer = next((c for c in x.found if c.id in x.payers), None)
    uid = x.ref.uid if x.ref else None
    fix_uid = (f"put the referral's uid ({uid}) in the metadata of {payer.id} as fp_uid, or "
               if payer and uid and not uid.startswith("cus_") else "")
    who = f" ({payer.id})" if payer else ""
    return x.out(
        Status.WARN,
        f"{len(x.found)} Stripe customers carry {x.email}: {'; '.join(described)}. FirstPromoter may match "
        "the payment to the wrong one.",
        f"Make sure FirstPromoter links the customer who pays{who}: {fix_uid}"
        + import_events_hint(payer.id if payer else None)
        + "; then archive or clean up the duplicate customers so later payments are unambiguous.",
    )


def _letter_case(x: _Lead) -> Outcome | None:
    c = next((c for c in x.found if c.email != x.email), None)
    if c is None:
        return None
    return x.out(
        Status.WARN,
        f"Stripe customer {c.id} has {c.email}, the FirstPromoter referral has {x.email}: they differ only "
        "in letter case, and Stripe's email matching is case-sensitive, so the lead may not be matched.",
        f"Make the two spellings identical: change the Stripe customer's email to {x.email} (or the "
        f"referral's email to {c.email}). For payments already made, " + import_events_hint(c.id) + ".",
    )


def _same_email(x: _Lead) -> Outcome | None:
    c = x.found[0]
    return x.out(Status.PASS, f"Stripe customer {c.id} carries {x.email}, the same email as the FirstPromoter lead.")


# lead.email: the first case that decides, in this order
_EMAIL_CASES = (_no_lead, _only_in_the_other_mode, _paid_as_a_guest, _nobody_carries_it, _the_uid_settles_it,
                _several_customers, _letter_case, _same_email)


def check_email(facts: Facts) -> Outcome:
    return decide(_EMAIL_CASES, _lead(facts))


def check_uid(facts: Facts) -> Outcome:
    ref = found_referral(facts)
    if ref is None:
        return Outcome(status=Status.SKIP, summary="No FirstPromoter referral, so no uid to compare (see fp.referral).")
    if not ref.uid:
        return Outcome(
            status=Status.SKIP,
            summary="The referral has no uid, so FirstPromoter matches it by email alone (see lead.email).",
        )
    dash = Dashboard.of(facts)
    customers = tuple(facts.stripe.customers.value or ())
    uid = ref.uid
    evidence = [Evidence(label="Referral uid", value=uid)]
    if not customers:
        return Outcome(
            status=Status.SKIP,
            summary=f"No Stripe customer to compare the referral's uid {uid} with (see lead.email).",
            evidence=tuple(evidence),
        )
    for c in customers:
        evidence.append(_customer_ev(dash, c, f"fp_uid {c.fp_uid}" if c.fp_uid else "no fp_uid"))
    by_id = next((c for c in customers if c.id == uid), None)
    if by_id is not None and by_id.deleted:
        row = states.judge("customer", "deleted", True, "lead.uid")
        payers = [c for c in customers if not c.deleted and c.id in _payer_notes(facts)]
        now_pays = f" {payers[-1].id} pays now." if payers else ""
        target = payers[-1].id if payers else None
        return Outcome(
            status=Status.FAIL,
            summary=(
                f"The referral's uid {uid} names a Stripe customer that {row.says}: FirstPromoter follows that "
                f"customer id, and a deleted customer makes no new payments.{now_pays}"
            ),
            evidence=tuple(evidence),
            remediation=f"{row.fix} " + (
                f"In FirstPromoter {import_events_hint(target)}." if target else
                "Find the customer the person pays as now, then " + import_events_hint(None) + "."
            ),
        )
    if by_id is not None:
        return Outcome(
            status=Status.PASS,
            summary=f"The referral's uid {uid} is the Stripe customer id, so FirstPromoter matches its payments.",
            evidence=tuple(evidence),
        )
    by_meta = next((c for c in customers if c.fp_uid == uid), None)
    if by_meta is not None:
        payers = _payer_notes(facts)
        note = ""
        if by_meta.id not in payers and payers:
            note = f" (that customer has no payment; {', '.join(payers)} paid: see lead.email)"
        return Outcome(
            status=Status.PASS,
            summary=f"The referral's uid {uid} equals metadata.fp_uid of Stripe customer {by_meta.id}{note}.",
            evidence=tuple(evidence),
        )
    seen = "; ".join(f"{c.id} ({'fp_uid ' + c.fp_uid if c.fp_uid else 'no fp_uid'})" for c in customers)
    target = customers[0].id if len(customers) == 1 else None
    where = target or "the paying customer"
    return Outcome(
        status=Status.FAIL,
        summary=(
            f"The referral's uid {uid} is neither the Stripe customer id nor its metadata.fp_uid (seen: {seen}), "
            "so FirstPromoter cannot match the payment by uid."
        ),
        evidence=tuple(evidence),
        remediation=(
            f"Either {import_events_hint(target)}, or add "
            f"fp_uid = {uid} to the metadata of Stripe customer {where} (Stripe → Customers → Metadata) so "
            "later payments match."
        ),
    )


def _guest(facts: Facts, email: str, guests: list[Payment], evidence: list[Evidence]) -> Outcome:
    """Paid through Checkout or a Payment Link without a Stripe customer being created."""
    p = guests[-1]
    s = p.session
    where = f"Checkout Session {s.id}" if s else p.label
    link = " (a Payment Link)" if s and s.payment_link else ""
    evidence += [
        Evidence(
            label="Guest payment",
            value=f"{q.id} {money.fmt(q.paid, q.currency)} on {fmt_time(q.when)}"
            + (f" via {q.session.id}" if q.session and q.session.id != q.id else ""),
        )
        for q in guests[-5:]
    ]
    return Outcome(
        status=Status.FAIL,
        summary=(
            f"{email} paid as a guest: {where}{link} took {money.fmt(p.paid, p.currency)} on {fmt_time(p.when)} "
            "without creating a Stripe customer (customer_creation if_required, Stripe's default in payment "
            "mode). FirstPromoter cannot match a payment with no customer to the lead."
        ),
        evidence=tuple(evidence),
        remediation=(
            "Make checkout create a customer (customer_creation: always on Checkout Sessions; Payment Links: "
            "\"Create customers\" on), and pass the visitor's fp_tid in the session's metadata.fp_tid (Checkout) or "
            "as client_reference_id (Payment Links; FirstPromoter's script adds it to buy.stripe.com links). "
            "Import Stripe Events needs a Stripe customer, so add this sale's commission by hand in FirstPromoter."
        ),
    )
