"""The check registry: `@check(...)` registers a check; `run(facts)` runs them in the guide's order.

Modelled on Django's system checks (one register decorator, stable ids), plus what Django lacks:
a pass status, facts a check needs (a failed read becomes `error` and a fact not read `skip`,
without calling the check's function), and one check crashing never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from checks.facts import Facts
from checks.model import Outcome, Result, Status

log = logging.getLogger(__name__)

CheckFunc = Callable[[Facts], Outcome]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    order: int
    needs: tuple[str, ...]
    func: CheckFunc


_CHECKS: dict[str, Check] = {}


def check(check_id: str, *, title: str, order: int, needs: Iterable[str] = ()) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check.  `needs` names facts (`"stripe.invoices"`); if one of them could not be
    read, the check reports `error` with that reason, and if one was not read (nothing to read it
    by), `skip` with why; either way the function is not called."""

    def register(func: CheckFunc) -> CheckFunc:
        if check_id in _CHECKS and _CHECKS[check_id].func is not func:
            raise ValueError(f"check id {check_id!r} registered twice")
        unknown = [n for n in needs if Facts.label(n) is None]
        if unknown:
            raise ValueError(f"{check_id}: unknown facts {unknown}")
        _CHECKS[check_id] = Check(check_id, title, order, tuple(needs), func)
        return func

    return register


def all_checks() -> list[Check]:
    import checks.guide  # noqa: F401  (importing the package registers every check)

    return sorted(_CHECKS.values(), key=lambda r: r.order)


def run_check(r: Check, facts: Facts) -> Result:
    for need in r.needs:
        fetched = facts.fetch(need)
        if fetched.error is not None:
            return Result(
                id=r.id,
                title=r.title,
                status=Status.ERROR,
                summary=f"Could not read {Facts.label(need)}: {fetched.error}",
            )
    for need in r.needs:  # a fact not read (nothing to read it by) means nothing to check yet
        fetched = facts.fetch(need)
        if fetched.skipped is not None:
            label = Facts.label(need) or need
            return Result(
                id=r.id,
                title=r.title,
                status=Status.SKIP,
                summary=f"{label[0].upper()}{label[1:]} {'were' if label.endswith('s') else 'was'} not read: {fetched.skipped}.",
            )
    try:
        out = r.func(facts)
    except Exception as exc:  # one check crashing never hides the others
        log.exception("check %s crashed", r.id)
        return Result(
            id=r.id,
            title=r.title,
            status=Status.ERROR,
            summary=f"This check crashed ({type(exc).__name__}); the other checks are unaffected.",
        )
    return Result(id=r.id, title=r.title, **out.model_dump(), cause=out.cause, symptom=out.symptom,
                  fallback=out.fallback)


def run(facts: Facts, only: Iterable[str] | None = None) -> tuple[Result, ...]:
    from checks.reconcile import reconcile

    wanted = set(only) if only else None
    return reconcile(tuple(run_check(r, facts) for r in all_checks() if wanted is None or r.id in wanted))
