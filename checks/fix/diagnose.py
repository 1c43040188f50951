"""The report and the facts it was judged from, for a plan (Engine.check keeps only the report)."""

from __future__ import annotations

from checks.engine import Engine
from checks.facts import Facts, Query
from checks.model import Report


def diagnose(engine: Engine, query: Query) -> tuple[Report, Facts]:
    """What `Engine.check` does, keeping the facts: a plan is made from exactly what the report saw."""
    return engine.diagnose(query)
