"""`fpcheck index [status|refresh] [--json]`: the promoter-campaign index, for operators.

status: where it is kept, how many campaigns, how old, whether a build is running, the last error.
refresh: read every page now (waiting for it), then print the status.  Exit 1 when the last read
failed (status) or the refresh failed; 0 otherwise.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from checks.campaign_index import CampaignIndexer
from checks.settings import load_settings
from checks.sources import SourceError


def _age(when: datetime | None) -> float | None:
    return round((datetime.now(UTC) - when).total_seconds(), 1) if when else None


def status_dict(ix: CampaignIndexer) -> dict[str, Any]:
    st = ix.status()
    return {
        "store": ix.store.where,
        "campaigns": st.count,
        "pages": st.pages,
        "read_at": st.read_at.isoformat() if st.read_at else None,
        "age_s": _age(st.read_at),
        "fresh_for_s": ix.ttl,
        "read_seconds": st.read_seconds,
        "building": st.building_since is not None,
        "building_pages": st.building_pages if st.building_since else None,
        "last_error": st.last_error,
        "last_error_at": st.last_error_at.isoformat() if st.last_error_at else None,
    }


def _text(d: dict[str, Any]) -> str:
    lines = [f"promoter-campaign index ({d['store']})"]
    if d["campaigns"] is None:
        lines.append("  not built yet (the next check builds it, or run `fpcheck index refresh`)")
    else:
        state = "fresh" if d["age_s"] is not None and d["age_s"] < d["fresh_for_s"] else "stale, refreshed on the next check"
        lines.append(f"  {d['campaigns']:,} promoter campaigns in {d['pages']} page(s), read {d['age_s']:.0f} s ago "
                     f"in {d['read_seconds']} s ({state})")
    if d["building"]:
        lines.append(f"  being built now: {d['building_pages']} page(s) read so far")
    if d["last_error"]:
        lines.append(f"  last error ({d['last_error_at']}): {d['last_error']}")
    return "\n".join(lines)


def run_index(action: str, as_json: bool = False) -> int:
    from checks.engine import Engine

    engine = Engine(load_settings())
    ix = engine.campaigns
    failed = False
    try:
        if action == "refresh":
            try:
                ix.refresh()
            except SourceError as exc:
                print(f"fpcheck: the promoter campaigns could not be read: {exc}", file=sys.stderr)
                failed = True
        d = status_dict(ix)
    except Exception as exc:  # the store itself (Redis down, a broken cache dir): one line, no traceback
        print(f"fpcheck: the promoter-campaign index in {ix.store.where} could not be read "
              f"({type(exc).__name__})", file=sys.stderr)
        return 1
    print(json.dumps(d) if as_json else _text(d))
    return 1 if failed or (action == "status" and d["last_error"] and d["campaigns"] is None) else 0
