"""The promoter-campaign index: every promoter campaign of the FirstPromoter account, with the
lookups the coupon checks need (which campaigns carry a coupon, a campaign by id).

It is read in the background and shared between runs (checks/campaign_index.py), so a run may see
it while it is still being built: `complete` is False then, and the checks decide only what the
campaigns read so far can decide, saying how far the reading got (`progress`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import PrivateAttr, model_validator

from checks.model import Frozen


class FPPerson(Frozen):
    id: int
    email: str | None = None
    name: str | None = None


class FPCampaign(Frozen):
    id: int
    name: str | None = None


class PromoterCampaign(Frozen):
    id: int
    campaign_id: int | None = None
    promoter_id: int | None = None
    state: str | None = None
    coupon: str | None = None  # tracking coupon: should be a Stripe Coupon id
    display_coupon: str | None = None  # what the promoter shares (a promotion code's code)
    promoter: FPPerson | None = None
    campaign: FPCampaign | None = None


def _fold(coupon: str | None) -> str:
    return (coupon or "").strip().casefold()


class CampaignIndex(Frozen):
    campaigns: tuple[PromoterCampaign, ...] = ()
    complete: bool = True  # False: still being read; lookups see only the pages read so far
    pages_read: int = 0
    read_at: datetime | None = None  # when the listing was read (complete) or started (partial)
    # when `complete` is False: about how long until a run would find it whole
    retry_in_s: float | None = None
    # campaigns another process has read so far (its pages are not shared until it is done)
    read_elsewhere: int = 0

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        # a plain list of campaigns is a complete index (what tests and older callers hand over)
        return {"campaigns": data} if isinstance(data, list | tuple) else data

    _by_id: dict[int, PromoterCampaign] = PrivateAttr(default_factory=dict)
    _by_coupon: dict[str, list[PromoterCampaign]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        for pc in self.campaigns:
            self._by_id[pc.id] = pc
            if _fold(pc.coupon):
                self._by_coupon.setdefault(_fold(pc.coupon), []).append(pc)

    @property
    def count(self) -> int:
        return len(self.campaigns)

    def by_id(self, campaign_id: int) -> PromoterCampaign | None:
        return self._by_id.get(campaign_id)

    def owners(self, coupons: list[str], exclude: int | None = None) -> list[PromoterCampaign]:
        """Promoter campaigns (other than `exclude`) whose tracking coupon is one of `coupons`,
        compared without letter case or surrounding spaces."""
        seen: dict[int, PromoterCampaign] = {}
        for c in coupons:
            for pc in self._by_coupon.get(_fold(c), ()):
                if pc.id != exclude:
                    seen.setdefault(pc.id, pc)
        return list(seen.values())

    def progress(self) -> str:
        """"the promoter-campaign index is still being built: 4,200 campaigns (42 pages) read so far;
        run again in about 10 s"."""
        when = f"about {max(1, round(self.retry_in_s))} s" if self.retry_in_s else "a minute"
        return (
            f"the promoter-campaign index is still being built: {max(self.count, self.read_elsewhere):,} campaigns "
            f"({self.pages_read} page{'s' if self.pages_read != 1 else ''}) read so far; run again in {when}"
        )


def campaign_index(facts: Any) -> CampaignIndex | None:
    """The run's index, or None when it could not be read."""
    got = facts.fp.promoter_campaigns
    return got.value if got.ok else None


def campaign_by_id(facts: Any, campaign_id: int) -> PromoterCampaign | None:
    index = campaign_index(facts)
    return index.by_id(campaign_id) if index is not None else None


def coupon_owners(facts: Any, coupons: list[str], exclude: int | None = None) -> list[PromoterCampaign]:
    index = campaign_index(facts)
    return index.owners(coupons, exclude) if index is not None else []


def still_building(facts: Any) -> CampaignIndex | None:
    """The index when it is only partly read (the checks say so), else None."""
    index = campaign_index(facts)
    return index if index is not None and not index.complete else None
