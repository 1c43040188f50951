"""What a check run produces: results, a verdict and the report (the `--json` contract)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

C = TypeVar("C")
SCHEMA_VERSION = 1
GUIDE_URL = "https://help.firstpromoter.com/en/articles/8971433-possible-stripe-integration-issues"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    ERROR = "error"


class Frozen(BaseModel):
    """Value objects: equal when their fields are equal, so tests compare whole results."""

    model_config = ConfigDict(frozen=True)


class Evidence(Frozen):
    """One thing a check saw: a label, the value, and where to look at it (a dashboard link)."""

    label: str
    value: str
    url: str | None = None


class Outcome(Frozen):
    """What a check's function returns; the registry adds the check's id and title."""

    status: Status
    summary: str
    evidence: tuple[Evidence, ...] = ()
    remediation: str | None = None
    # The check whose warning this failure is most likely due to (the verdict names that check); a
    # failure that names its own check is the cause itself, whatever failed before it.
    # Not part of the JSON: the verdict carries it.
    cause: str | None = Field(default=None, exclude=True)
    # A missing commission's own words ("FirstPromoter recorded no commission for in_…"), and whether
    # the reason after them is only fpcheck's fallback: checks/reconcile.py names the cause another
    # check found instead, so the report never contradicts itself.
    symptom: str | None = Field(default=None, exclude=True)
    fallback: bool = Field(default=False, exclude=True)


def decide(cases: Iterable[Callable[[C], Outcome | None]], seen: C) -> Outcome:
    """A check written as ordered small cases: the first one that decides (returns an outcome)."""
    for case in cases:
        out = case(seen)
        if out is not None:
            return out
    raise AssertionError("no case decided: the last case of a check must always decide")


class Result(Frozen):
    id: str
    title: str
    status: Status
    summary: str
    evidence: tuple[Evidence, ...] = ()
    remediation: str | None = None
    cause: str | None = Field(default=None, exclude=True)  # see Outcome.cause
    symptom: str | None = Field(default=None, exclude=True)  # see Outcome.symptom
    fallback: bool = Field(default=False, exclude=True)


class Verdict(Frozen):
    status: Status
    check: str | None
    summary: str


class Report(Frozen):
    schema_version: int = SCHEMA_VERSION
    query: str
    verdict: Verdict
    checks: tuple[Result, ...]
    duration_ms: int = 0
    guide_url: str = GUIDE_URL
    fp_api_version: Literal["v1", "v2"] = "v2"  # the FirstPromoter API read (checks/fp_version.py)
    calls: dict[str, int] = Field(default_factory=dict)
    # a configuration mistake the reads ran into (not part of the JSON): a terminal says it in one line
    setup_error: str | None = Field(default=None, exclude=True)

    def result(self, check_id: str) -> Result | None:
        return next((r for r in self.checks if r.id == check_id), None)

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json")


def verdict_for(results: tuple[Result, ...] | list[Result], total: int | None = None) -> Verdict:
    """The most likely cause is the first check that fails, in the guide's causal order.  When that
    failure is the symptom itself (a payment without commission) and it names the warning it most
    likely comes from, the verdict names that check.  `total`: how many checks exist; a partial run
    (`--only`) says how many ran and never "Every check passed"."""
    verdict = _verdict(results)
    ran = len(results)
    if total is None or ran >= total or verdict.status is Status.FAIL:
        return verdict
    ids = ", ".join(r.id for r in results)
    partial = f"only {ran} of the {total} checks ran ({ids}); the other {total - ran} were not run"
    if verdict.status is Status.PASS:
        return verdict.model_copy(update={"summary": f"The {ran} check(s) asked for passed: {partial}."})
    return verdict.model_copy(update={"summary": f"{verdict.summary} Note: {partial}."})


def _verdict(results: tuple[Result, ...] | list[Result]) -> Verdict:
    first_fail = next((r for r in results if r.status is Status.FAIL and r.cause == r.id), None)
    first_fail = first_fail or next((r for r in results if r.status is Status.FAIL), None)
    if first_fail is not None:
        by_id = {r.id: r for r in results}
        cause = by_id.get(first_fail.cause or "")
        if cause is not None and cause.status in (Status.WARN, Status.FAIL):
            return Verdict(status=Status.FAIL, check=cause.id, summary=first_fail.summary)
        return Verdict(status=Status.FAIL, check=first_fail.id, summary=first_fail.summary)
    errors = [r for r in results if r.status is Status.ERROR]
    if errors:
        names = ", ".join(r.id for r in errors)
        return Verdict(
            status=Status.ERROR,
            check=None,
            summary=f"No check failed, but {len(errors)} could not run ({names}): see their reasons.",
        )
    warns = [r for r in results if r.status is Status.WARN]
    if warns:
        return Verdict(
            status=Status.WARN,
            check=None,
            summary=f"No check failed; {len(warns)} warning(s), first: {warns[0].summary}",
        )
    return Verdict(status=Status.PASS, check=None, summary="Every check passed.")
