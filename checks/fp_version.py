"""Which FirstPromoter API a run read (v2, the guide's, or v1 "legacy"), and what v1 cannot say.

`facts.fp.api_version` and `report.fp_api_version` are the flag ("v1" | "v2"); a fix flow reads it:
v1 has no `import_events` and no batch API, so there is no Fix button in v1 mode, only the steps.

A field v1 does not report is "not examined", never "none": the v1 reader leaves it None and the
checks that would need it ask `unreported(facts, field)` for the words to say instead.
"""

from __future__ import annotations

from typing import Any, Literal

ApiVersion = Literal["v1", "v2"]

GUIDE_URL_V1 = "https://help.firstpromoter.com/en/articles/5872407-possible-stripe-integration-issues"

# field -> why it was not examined (said as "FirstPromoter's v1 API does not report …")
V1_UNREPORTED: dict[str, str] = {
    "entry_source": "how a lead came in (entry_source: coupon, cookie, api…)",
    "is_expired": "whether a lead is expired",
    "promoter_campaign.state": "the v2 promoter-campaign state (accepted, blocked…) of a promotion",
    "commission.fraud_check": "a reward's fraud check",
    "commission.is_paid": "whether a reward was paid out",
    "commission.commission_type": "a reward's type (sale or custom)",
    "search": "a search of leads (leads are looked up by exact email, then uid)",
}

# which fact each unreported field belongs to: said in that fact's limits ("Not examined")
_FACT_OF = {
    "entry_source": "referral",
    "is_expired": "referral",
    "search": "referral",
    "promoter_campaign.state": "promoter_campaigns",
    "commission.fraud_check": "commissions",
    "commission.is_paid": "commissions",
    "commission.commission_type": "commissions",
}


def api_version(facts: Any) -> ApiVersion:
    return getattr(getattr(facts, "fp", None), "api_version", "v2")


def is_v1(facts: Any) -> bool:
    return api_version(facts) == "v1"


def unreported(facts: Any, field: str) -> str | None:
    """"FirstPromoter's v1 API does not report how a lead came in (…)" when this run read v1, else None."""
    if not is_v1(facts) or field not in V1_UNREPORTED:
        return None
    return f"FirstPromoter's v1 API does not report {V1_UNREPORTED[field]}"


def mark(facts: Any, version: ApiVersion) -> Any:
    """The facts with `fp.api_version` set; for v1, each FirstPromoter fact read also says (in its
    limits) what v1 does not report, so no check takes it for "none"."""
    if version != "v1":
        return facts
    fp = facts.fp
    update: dict[str, Any] = {"api_version": "v1"}
    for name in ("referral", "promoter_campaigns", "commissions"):
        got = getattr(fp, name)
        if got.ok:
            notes = tuple(f"FirstPromoter's v1 API does not report {V1_UNREPORTED[f]}" for f, n in _FACT_OF.items() if n == name)
            update[name] = got.model_copy(update={"limits": tuple(dict.fromkeys((*got.limits, *notes)))})
    return facts.model_copy(update={"fp": fp.model_copy(update=update)})


def guide_url(version: ApiVersion, default: str) -> str:
    return GUIDE_URL_V1 if version == "v1" else default
