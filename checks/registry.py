"""The rule registry: `@rule(...)` registers a check; `run(facts)` runs them in the guide's order.

Modelled on Django's system checks (one register decorator, stable ids), plus what Django lacks:
a pass status, facts a rule needs (a failed read becomes `error` without running the rule), and
one rule crashing never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from checks.facts import Facts
from checks.model import Outcome, Result, Status

log = logging.getLogger(__name__)

RuleFunc = Callable[[Facts], Outcome]

@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    order: int
    needs: tuple[str, ...]
    func: RuleFunc


_RULES: dict[str, Rule] = {}


def rule(check_id: str, *, title: str, order: int, needs: Iterable[str] = ()) -> Callable[[RuleFunc], RuleFunc]:
    """Register a rule.  `needs` names facts (`"stripe.invoices"`); if one of them could not be
    read, the check reports `error` with that reason and the function is not called."""

    def register(func: RuleFunc) -> RuleFunc:
        if check_id in _RULES and _RULES[check_id].func is not func:
            raise ValueError(f"check id {check_id!r} registered twice")
        unknown = [n for n in needs if Facts.label(n) is None]
        if unknown:
            raise ValueError(f"{check_id}: unknown facts {unknown}")
        _RULES[check_id] = Rule(check_id, title, order, tuple(needs), func)
        return func

    return register


def all_rules() -> list[Rule]:
    import checks.rules  # noqa: F401  (importing the package registers every rule)

    return sorted(_RULES.values(), key=lambda r: r.order)


def run_rule(r: Rule, facts: Facts) -> Result:
    for need in r.needs:
        fetched = facts.fetch(need)
        if fetched.error is not None:
            return Result(
                id=r.id,
                title=r.title,
                status=Status.ERROR,
                summary=f"Could not read {Facts.label(need)}: {fetched.error}",
            )
    try:
        out = r.func(facts)
    except Exception as exc:  # one rule crashing never hides the others
        log.exception("check %s crashed", r.id)
        return Result(
            id=r.id,
            title=r.title,
            status=Status.ERROR,
            summary=f"This check crashed ({type(exc).__name__}); the other checks are unaffected.",
        )
    return Result(id=r.id, title=r.title, **out.model_dump(), cause=out.cause)


def run(facts: Facts, only: Iterable[str] | None = None) -> tuple[Result, ...]:
    wanted = set(only) if only else None
    return tuple(run_rule(r, facts) for r in all_rules() if wanted is None or r.id in wanted)
