"""The check registry: the catalog's checks (checks/catalog.py) and `run(facts)`, in the guide's order.

Modelled on Django's system checks (stable ids, checks as plain functions) and pip's command table
(one table names each check's module, imported when first needed), plus what Django lacks: a pass
status, facts a check needs (a failed read becomes `error` and a fact not read `skip`, without
calling the check's function), one check crashing never stops the others, and one pass that keeps
two checks from contradicting each other (checks/reconcile.py).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from checks.catalog import CHECKS
from checks.facts import Facts
from checks.model import Evidence, Outcome, Result, Status
from checks.reconcile import reconcile

log = logging.getLogger(__name__)

CheckFunc = Callable[[Facts], Outcome]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    order: int
    needs: tuple[str, ...]
    func: CheckFunc


@cache
def all_checks() -> list[Check]:
    """Every check of the catalog, in its order, its function imported from the module it names."""
    out = []
    for n, row in enumerate(CHECKS, start=1):
        func = getattr(importlib.import_module(row.module), row.function)
        unknown = [f for f in row.needs if Facts.label(f) is None]
        if unknown:
            raise ValueError(f"{row.id}: unknown facts {unknown}")
        out.append(Check(row.id, row.title, n * 10, row.needs, func))
    return out


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
    fields = out.model_dump()
    # what the FirstPromoter API version did not report (checks/fp_version.py): never taken for "none"
    notes = [t for need in r.needs if need.startswith("fp.") for t in facts.fetch(need).limits]
    if notes:
        fields["evidence"] = (*out.evidence, *(Evidence(label="Not examined", value=t) for t in dict.fromkeys(notes)))
    return Result(id=r.id, title=r.title, **fields, cause=out.cause, symptom=out.symptom,
                  fallback=out.fallback)


def run(facts: Facts, only: Iterable[str] | None = None) -> tuple[Result, ...]:
    wanted = set(only) if only else None
    return reconcile(tuple(run_check(r, facts) for r in all_checks() if wanted is None or r.id in wanted))
