"""Two checks never contradict each other.

Each check judges its own step of the guide; the missing commission (`fp.commission`) is the symptom
they explain.  When that check could only fall back on "the integration did not receive it" (its
`symptom` is set), but another check failed or warned, the report names that check as the likely
cause instead: the verdict and the commission's words then agree, and the Fix points to one screen.
"""

from __future__ import annotations

from checks.model import Result, Status


def _point_to(symptom: Result, cause: Result, certain: bool) -> Result:
    lead = "the likely cause is what" if certain else "a possible cause is what"
    verb = "reports" if certain else "warns about"
    return symptom.model_copy(
        update={
            "summary": f"{symptom.symptom}; {lead} {cause.id} {verb} (see {cause.id}): {cause.summary}",
            "remediation": f"See {cause.id} and do what it says first; then run fpcheck again.",
            "cause": cause.id,
            "fallback": False,
        }
    )


def reconcile(results: tuple[Result, ...]) -> tuple[Result, ...]:
    out = list(results)
    for i, r in enumerate(out):
        if r.status is not Status.FAIL or not r.symptom:
            continue
        others = [o for o in out if o.id != r.id]
        failed = next((o for o in others if o.status is Status.FAIL), None)
        if failed is not None and r.cause != failed.id:
            # the verdict names the first failure in the guide's order: so must the symptom
            out[i] = _point_to(r, failed, certain=True)
            continue
        warned = next((o for o in others if o.status is Status.WARN), None)
        if failed is None and r.fallback and warned is not None:
            out[i] = _point_to(r, warned, certain=False)
    return tuple(out)
