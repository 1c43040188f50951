"""The fetch plan: read everything one run needs from Stripe and FirstPromoter, concurrently.

Independent reads start at once; a read that depends on another starts as soon as that one is
in.  Every read is bounded by its HTTP timeout and the whole run by a deadline.  A failed read
becomes `Fetch(error=...)` in the snapshot; it never raises through to the checks.

Chains of dependent calls (what bounds the run's wall time):
  email:  customers -> invoices | charges | subscriptions
          Checkout Sessions -> the charges of guest payments
          referral (-> by uid, only when the email misses) -> tracking coupon
                   -> the customer its uid names / customers with that fp_uid -> their money
  cus_:   customer -> (customers with that email, referral, commissions) -> ...
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from checks import deadline as run_deadline
from checks.cache import Cache
from checks.campaigns import CampaignIndex
from checks.facts import (
    CheckConfig,
    Facts,
    Fetch,
    FPFacts,
    Query,
    Referral,
    ReferralLookup,
    StripeAccount,
    StripeCharge,
    StripeCustomer,
    StripeFacts,
    TrackingCoupon,
)
from checks.sources import Listed, PermissionDenied, SetupError, SourceError
from checks.sources.protocols import FirstPromoterSource, StripeSource
from checks.sources.stripe import MAX_PAGES, PAGE_SIZE
from checks.trail import session_paid

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_CUSTOMERS = 20  # per run: invoices, charges and subscriptions are read for at most this many
MAX_GUEST = 10  # guest Checkout payments whose charges are read
MONEY = ("invoices", "charges", "subscriptions", "payment_intents")
MAX_OTHER_MODE = 5  # customers of the other mode whose payments are read
# how far before the referral's creation a long invoice history is read (a payment just before it
# is the "paid before the referral existed" case)
HISTORY_MARGIN = timedelta(days=31)
LIST_BOUND = MAX_PAGES * PAGE_SIZE


def fmt_day(t: datetime) -> str:
    return t.strftime("%Y-%m-%d")


class Gatherer:
    def __init__(
        self,
        *,
        stripe: StripeSource,
        fp: FirstPromoterSource,
        other_mode: StripeSource | None,
        cache: Cache,
        cache_ttl: float,
        cache_scope: str,
        pool: ThreadPoolExecutor,
        deadline: float,
        config: CheckConfig,
        campaigns: Callable[[], CampaignIndex],
    ) -> None:
        self.stripe, self.fp, self.other_mode = stripe, fp, other_mode
        self.cache, self.ttl = cache, cache_ttl
        # cache keys are scoped by a hash of the credentials, so two configurations never share facts
        self.scope = hashlib.sha256(cache_scope.encode()).hexdigest()[:16]
        self.pool = pool
        bound = run_deadline.current()  # the caller's (e.g. a Slack command's) may end sooner
        self.deadline_at = min(time.monotonic() + deadline, bound.at if bound else float("inf"))
        self.deadline = deadline
        self.config = config
        self.campaigns = campaigns  # the shared promoter-campaign index (checks/campaign_index.py)

    # ------------------------------------------------------------------ helpers
    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        # each read runs in a copy of this context, so the readers see the run's deadline
        return self.pool.submit(contextvars.copy_context().run, fn, *args)

    def _result(self, fut: Future[T]) -> Fetch[T]:
        """The future's value as a Fetch, waiting no longer than the run's deadline."""
        remaining = max(0.0, self.deadline_at - time.monotonic())
        try:
            return Fetch.of(fut.result(timeout=remaining))
        except FutureTimeout:
            fut.cancel()
            return Fetch.failed(f"no answer within the run's {self.deadline:g} s deadline")
        except PermissionDenied as exc:
            return Fetch(error=str(exc), denied=exc.permission or "")
        except SetupError as exc:
            return Fetch(error=str(exc), setup=True)
        except SourceError as exc:
            return Fetch.failed(str(exc))
        except Exception as exc:  # a bug must not take the report down with it
            log.exception("unexpected error while reading upstream data")
            return Fetch.failed(f"unexpected error ({type(exc).__name__}); see the log")

    def _cached(self, key: str, kind: Any, load: Callable[[], T]) -> T:
        return self.cache.get_or_load(f"{self.scope}:{key}", load, self.ttl, kind)

    def _listed(self, fut: Future[Any]) -> Fetch[Any]:
        """A list read as a Fetch, keeping what bounded it (`Listed.limits`)."""
        got = self._result(fut)
        if got.ok and isinstance(got.value, Listed):
            return Fetch.of(tuple(got.value), limits=got.value.limits)
        if got.ok and got.value is not None:
            return Fetch.of(tuple(got.value))
        return got

    # ------------------------------------------------------------------ the plan
    def gather(self, query: Query) -> Facts:
        now = datetime.now(UTC)
        account_f = self._submit(self._cached, "stripe.account", StripeAccount, self.stripe.account)
        campaigns_f = self._submit(self.campaigns)

        # 1. who is this?  The Stripe customers and the email to look up in FirstPromoter.
        email = query.email
        by_id: Fetch[StripeCustomer | None] | None = None
        other_f: Future[Any] | None = None
        if query.customer_id:
            if self.other_mode is not None:
                other_f = self._submit(self._other_by_id, query.customer_id)
            by_id = self._result(self._submit(self.stripe.customer, query.customer_id))
            if by_id.ok and by_id.value is not None:
                email = by_id.value.email

        referral_f = self._submit(self.fp.find_referral, email, ()) if email else None
        commissions_f = self._submit(self.fp.commissions, email) if email else None
        customers_f = self._submit(self.stripe.customers_by_email, email) if email else None
        sessions_f = self._submit(self.stripe.checkout_sessions, email) if email else None
        if email and self.other_mode is not None and other_f is None:
            other_f = self._submit(self.other_mode.customers_by_email, email)

        customers = self._customers(query, by_id, customers_f)

        # 2. their money: read for every customer as soon as it is known (the first ones now)
        money = _Money(self)
        money.start(customers.value or ())

        # 3. the referral: by email, then (only on a miss) by the customer ids, fp_uid values and the
        #    cus_ id asked about (which may be a referral's uid although Stripe does not know it)
        referral = self._referral(email, referral_f, customers, query.customer_id)
        ref = referral.value.referral if referral.ok and referral.value else None

        # 4. the people FirstPromoter follows: the customer the referral's uid names, the customers
        #    whose metadata.fp_uid is that uid, and the referral's own email when it differs
        customers, sessions_f = self._followed(ref, email, customers, sessions_f)
        money.start(customers.value or ())
        commissions = self._commissions(commissions_f, referral, email)
        sessions = self._listed(sessions_f) if sessions_f is not None else Fetch.not_read("no email to look Checkout Sessions up by")
        guest_charges = self._guest_charges(sessions)

        # 5. the tracking coupon of the referral's promoter campaign, as Stripe knows it.
        campaigns = self._result(campaigns_f)
        coupon_value = _tracking_coupon_value(referral, campaigns)
        tracking = (
            self._result(
                self._submit(
                    self._cached,
                    f"stripe.coupon:{coupon_value}",
                    TrackingCoupon,
                    lambda: self.stripe.tracking_coupon(coupon_value),
                )
            )
            if coupon_value
            else Fetch.not_read("the referral's promoter campaign has no tracking coupon")
        )

        other_customers = self._result(other_f) if other_f is not None else StripeFacts().other_mode_customers
        stripe_facts = StripeFacts(
            key_mode=self.stripe.key_mode,
            account=self._result(account_f),
            customers=customers,
            other_mode_customers=other_customers,
            **self._other_mode_money(other_customers),
            tracking_coupon=tracking,
            checkout_sessions=sessions,
            guest_charges=guest_charges,
            **money.facts(customers, ref),
        )
        fp_facts = FPFacts(referral=referral, promoter_campaigns=campaigns, commissions=commissions)
        return Facts(query=query, now=now, config=self.config, stripe=stripe_facts, fp=fp_facts)

    # ------------------------------------------------------------------ steps
    def _other_mode_money(self, others: Fetch[Any]) -> dict[str, Fetch[Any]]:
        """What the person paid in the other mode: a customer in both modes may have paid only there."""
        found = [c for c in (others.value or ()) if others.ok][:MAX_OTHER_MODE]
        if self.other_mode is None or not found:
            return {}
        mode = self.other_mode
        invoices = [self._submit(mode.invoices, c.id) for c in found]
        charges = [self._submit(mode.charges, c.id) for c in found]

        def collect(futures: list[Future[Any]]) -> Fetch[Any]:
            items: list[Any] = []
            limits: list[str] = []
            for fut in futures:
                got = self._listed(fut)
                if got.error:
                    return got
                items += got.value or ()
                limits += got.limits
            return Fetch.of(tuple(items), limits=tuple(dict.fromkeys(limits)))

        return {"other_mode_invoices": collect(invoices), "other_mode_charges": collect(charges)}

    def _other_by_id(self, customer_id: str) -> tuple[StripeCustomer, ...]:
        assert self.other_mode is not None
        found = self.other_mode.customer(customer_id)
        return (found,) if found is not None else ()

    def _customers(
        self,
        query: Query,
        by_id: Fetch[StripeCustomer | None] | None,
        customers_f: Future[tuple[StripeCustomer, ...]] | None,
    ) -> Fetch[tuple[StripeCustomer, ...]]:
        found: list[StripeCustomer] = []
        limits: tuple[str, ...] = ()
        if by_id is not None:
            if by_id.error:
                return Fetch(error=by_id.error, denied=by_id.denied, setup=by_id.setup)
            if by_id.value is not None:
                found.append(by_id.value)
        if customers_f is not None:
            by_email = self._listed(customers_f)
            if by_email.error and not found:
                return by_email
            limits = by_email.limits
            found += [c for c in by_email.value or () if c.id not in {f.id for f in found}]
        return Fetch.of(tuple(found), limits=limits)

    def _followed(
        self,
        ref: Referral | None,
        email: str | None,
        customers: Fetch[tuple[StripeCustomer, ...]],
        sessions_f: Future[Any] | None,
    ) -> tuple[Fetch[tuple[StripeCustomer, ...]], Future[Any] | None]:
        """Add the customers FirstPromoter follows for this referral to those found by email."""
        if ref is None or customers.error:
            return customers, sessions_f
        known = list(customers.value or ())
        ids = {c.id for c in known}
        futures: list[Future[Any]] = []
        uid = (ref.uid or "").strip()
        if uid.startswith("cus_") and uid not in ids:
            futures.append(self._submit(self.stripe.customer, uid, "uid"))
        if uid and not any(c.fp_uid == uid for c in known):
            futures.append(self._submit(self.stripe.customers_by_fp_uid, uid))
        other_email = ref.email if ref.email and (not email or ref.email.casefold() != email.casefold()) else None
        if other_email:
            futures.append(self._submit(self.stripe.customers_by_email, other_email))
            if sessions_f is None:
                sessions_f = self._submit(self.stripe.checkout_sessions, other_email)
        limits = list(customers.limits)
        for fut in futures:
            got = self._result(fut)
            if not got.ok:
                limits.append(f"some customers FirstPromoter may follow could not be read: {got.error}")
                continue
            value = got.value
            more = (value,) if isinstance(value, StripeCustomer) else tuple(value or ())
            limits += list(getattr(value, "limits", ()))
            for c in more:
                if c.id not in ids:
                    known.append(c)
                    ids.add(c.id)
        return Fetch.of(tuple(known), limits=tuple(dict.fromkeys(limits))), sessions_f

    def _guest_charges(self, sessions: Fetch[Any]) -> Fetch[tuple[StripeCharge, ...]]:
        """The charges behind paid guest Checkout Sessions (no customer to list them by)."""
        guest = [s for s in sessions.value or () if s.guest and session_paid(s) and s.payment_intent]
        if not guest:
            return Fetch.not_read("no guest Checkout payment")
        futures = [self._submit(self.stripe.charges_for_payment_intent, s.payment_intent) for s in guest[:MAX_GUEST]]
        out: list[StripeCharge] = []
        limits: list[str] = []
        if len(guest) > MAX_GUEST:
            limits.append(f"read the charges of {MAX_GUEST} of {len(guest)} guest Checkout payments")
        for fut in futures:
            got = self._listed(fut)
            if got.error:
                return Fetch.failed(got.error)
            out += got.value or ()
            limits += got.limits
        return Fetch.of(tuple(out), limits=tuple(limits))

    def _referral(
        self,
        email: str | None,
        referral_f: Future[ReferralLookup] | None,
        customers: Fetch[tuple[StripeCustomer, ...]],
        asked_id: str | None = None,
    ) -> Fetch[ReferralLookup]:
        first = self._result(referral_f) if referral_f is not None else None
        if first is not None and (first.error or (first.value and first.value.referral)):
            return first
        uids: list[str] = [asked_id] if asked_id else []
        for c in customers.value or ():
            uids.append(c.id)
            if c.fp_uid:
                uids.append(c.fp_uid)
        uids = list(dict.fromkeys(uids))
        if not uids:
            if first is not None:
                return first
            return Fetch.not_read("no email or Stripe customer to look the referral up by")
        again = self._result(self._submit(self.fp.find_referral, None, tuple(uids)))
        if again.ok and again.value is not None and first is not None and first.value is not None:
            tried = first.value.tried + again.value.tried
            return Fetch.of(again.value.model_copy(update={"tried": tried}))
        return again

    def _commissions(
        self, commissions_f: Future[Any] | None, referral: Fetch[ReferralLookup], email: str | None
    ) -> Fetch[Any]:
        first = self._result(commissions_f) if commissions_f is not None else None
        ref = referral.value.referral if referral.ok and referral.value else None
        ref_email = ref.email if ref else None
        if ref_email and (email is None or ref_email.lower() != email.lower()):
            # found by uid under another email: FirstPromoter files its commissions under that one
            again = self._result(self._submit(self.fp.commissions, ref_email))
            if first is None or not first.ok:
                return again
            if again.ok:
                seen = {c.id for c in first.value or ()}
                return Fetch.of(tuple(first.value or ()) + tuple(c for c in again.value or () if c.id not in seen))
        if first is None:
            return Fetch.not_read("no email to search commissions by")
        return first


def _tracking_coupon_value(
    referral: Fetch[ReferralLookup], campaigns: Fetch[CampaignIndex]
) -> str | None:
    ref = referral.value.referral if referral.ok and referral.value else None
    if ref is None or ref.promoter_campaign is None or not campaigns.ok or campaigns.value is None:
        return None
    pc = campaigns.value.by_id(ref.promoter_campaign.id)
    return (pc.coupon or None) if pc else None


class _Money:
    """Invoices, charges and subscriptions of each customer, read as soon as the customer is known,
    for at most MAX_CUSTOMERS customers (the rest is said, never taken for "no payment")."""

    def __init__(self, g: Gatherer) -> None:
        self.g = g
        self.futures: dict[str, dict[str, Future[Any]]] = {}  # customer id -> kind -> future
        self.skipped: list[str] = []

    def start(self, customers: tuple[StripeCustomer, ...]) -> None:
        readers = {"invoices": self.g.stripe.invoices, "charges": self.g.stripe.charges,
                   "subscriptions": self.g.stripe.subscriptions, "payment_intents": self.g.stripe.payment_intents}
        for c in customers:
            if c.id in self.futures or c.id in self.skipped:
                continue
            if len(self.futures) >= MAX_CUSTOMERS:
                self.skipped.append(c.id)
                continue
            self.futures[c.id] = {kind: self.g._submit(fn, c.id) for kind, fn in readers.items()}

    def _history(self, ref: Referral | None) -> dict[str, Future[Any]]:
        """For a customer whose newest invoice pages did not reach back to the referral's creation,
        its paid invoices since then: what the diagnosis needs of a long history, and no more."""
        since = ref.created_at - HISTORY_MARGIN if ref is not None and ref.created_at else None
        if since is None:
            return {}
        out: dict[str, Future[Any]] = {}
        for cid, per in self.futures.items():
            got = self.g._listed(per["invoices"])
            full = got.ok and len(got.value or ()) >= LIST_BOUND  # the newest pages ran out before the end
            if full and min(i.created for i in got.value or ()) > since:
                out[cid] = self.g._submit(self.g.stripe.invoices, cid, since)
        return out

    def facts(self, customers: Fetch[tuple[StripeCustomer, ...]], ref: Referral | None = None) -> dict[str, Fetch[Any]]:
        history = self._history(ref)
        if not self.futures:
            reason = customers.error and f"Stripe customers could not be read: {customers.error}"
            # no customer: none of their invoices exist (guest payments are read apart, by email)
            return {k: Fetch.failed(reason) if reason else Fetch.of(()) for k in MONEY}
        cap = (
            (f"the payments of {len(self.skipped)} more customers with this email were not read "
             f"({', '.join(self.skipped[:5])}{'…' if len(self.skipped) > 5 else ''}): fpcheck reads "
             f"{MAX_CUSTOMERS} customers at most",)
            if self.skipped else ()
        )
        out: dict[str, Fetch[Any]] = {}
        for kind in MONEY:
            items: list[Any] = []
            limits: list[str] = list(cap)
            failed: Fetch[Any] | None = None
            for cid, per in self.futures.items():
                got = self.g._listed(per[kind])
                if got.error:
                    failed = failed or got
                    continue
                items += got.value or ()
                if kind == "invoices" and cid in history:
                    older = self.g._listed(history[cid])
                    if older.ok:
                        seen = {i.id for i in got.value or ()}
                        items += [i for i in older.value or () if i.id not in seen]
                        since = fmt_day(ref.created_at - HISTORY_MARGIN) if ref and ref.created_at else ""
                        limits += [
                            f"older invoices of {cid} than its newest pages: only the paid ones since {since} were read"
                        ] + list(older.limits)
                        continue
                limits += got.limits
            out[kind] = failed if failed is not None else Fetch.of(tuple(items), limits=tuple(dict.fromkeys(limits)))
        return out
