"""Which kind of FirstPromoter account a key belongs to, found by trying: FirstPromoter has no
endpoint that says.  A V1 ("legacy") key opens `GET /api/v1/promoters/list` (what FirstPromoter's own
n8n node tries, with `per_page=1`); a V2 key opens `GET /api/v2/company/promoter_campaigns` with its
Account ID; a key either one rejects answers 401 there.

`fpcheck doctor` says what it found in one line.  Reads only, one or two requests, no retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from checks import deadline
from checks.settings import Settings
from checks.sources import SourceError

Kind = Literal["v1", "v2"]


@dataclass(frozen=True)
class Found:
    kind: Kind | None  # None: the key works for neither (or could not be tried)
    ok: bool  # the key is usable where it is configured
    text: str  # one line for `fpcheck doctor`


def _try_v1(settings: Settings, key: str) -> tuple[bool, str]:
    from checks.sources.firstpromoter_v1 import FirstPromoterV1Reader

    try:
        with FirstPromoterV1Reader(key, settings.firstpromoter_v1_api_base, timeout=settings.fpcheck_timeout,
                                   retries=0, per_page=1) as reader:
            reader.promoter_campaign_page(1)
    except SourceError as exc:
        return False, str(exc)
    return True, ""


def _try_v2(settings: Settings, key: str) -> tuple[bool, str]:
    from checks.sources.firstpromoter import FirstPromoterReader

    if not settings.firstpromoter_account_id:
        return False, "no FIRSTPROMOTER_ACCOUNT_ID to try it with"
    try:
        with FirstPromoterReader(key, settings.firstpromoter_account_id, settings.firstpromoter_api_base,
                                 timeout=settings.fpcheck_timeout, retries=0, per_page=1) as reader:
            reader.promoter_campaign_page(1)
    except SourceError as exc:
        return False, str(exc)
    return True, ""


def _rejected(reason: str) -> bool:
    return "(401)" in reason


def detect_v1_key(settings: Settings) -> Found:
    """FIRSTPROMOTER_V1_API_KEY (a legacy account): is it a V1 key, a V2 key put there, or neither?"""
    secret = settings.firstpromoter_v1_api_key
    key = secret.get_secret_value() if secret is not None else ""
    with deadline.bound(deadline.Deadline(settings.fpcheck_deadline)):
        ok, why = _try_v1(settings, key)
        if ok:
            return Found("v1", True, "FirstPromoter ok: FIRSTPROMOTER_V1_API_KEY is a V1 (legacy) key; fpcheck reads "
                                     "the v1 API and links the v1 guide (what v1 does not report: see README)")
        if not _rejected(why):
            return Found(None, False, f"FirstPromoter (v1): {why}")
        as_v2, why_v2 = _try_v2(settings, key)
    if as_v2:
        return Found("v2", False, "FirstPromoter: FIRSTPROMOTER_V1_API_KEY is a V2 key, not a V1 (legacy) one: put it "
                                  "in FIRSTPROMOTER_API_KEY (with FIRSTPROMOTER_ACCOUNT_ID) and remove the V1 setting")
    tried = ("and it could not be tried as a V2 key (no FIRSTPROMOTER_ACCOUNT_ID)" if "ACCOUNT_ID" in why_v2
             else f"nor as a V2 key ({why_v2})" if why_v2 else "nor as a V2 key")
    return Found(None, False, "FirstPromoter accepts FIRSTPROMOTER_V1_API_KEY neither as a V1 (legacy) key (401 from "
                              f"{settings.firstpromoter_v1_api_base}) {tried}: copy the key again from Settings → "
                              "Integrations → Manage API Keys")


def rejected_v2_hint(settings: Settings) -> str:
    """After FIRSTPROMOTER_API_KEY got a 401: is it a V1 key put in the V2 setting?  Words to add, or ""."""
    secret = settings.firstpromoter_api_key
    if secret is None:
        return ""
    with deadline.bound(deadline.Deadline(settings.fpcheck_deadline)):
        ok, _ = _try_v1(settings, secret.get_secret_value())
    if ok:
        return (" — it is a V1 (legacy) key: put it in FIRSTPROMOTER_V1_API_KEY instead (and remove "
                "FIRSTPROMOTER_API_KEY) to check a v1 account")
    return " (it is not a V1 (legacy) key either)"
