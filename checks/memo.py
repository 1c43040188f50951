"""What the checks derive from one snapshot, derived once: a payment list, the commission matches.

The snapshot (`Facts`) is frozen, so what is derived from it never changes; several checks ask for
the same derivation, and a long history must not be walked again for each of them. The memo lives
beside the snapshot (keyed by its identity) and goes with it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_MEMO: dict[int, dict[str, Any]] = {}


def derived(facts: object, name: str, make: Callable[[], T]) -> T:
    """`make()` once per snapshot and name; later calls get the same value."""
    key = id(facts)
    per = _MEMO.get(key)
    if per is None:
        per = _MEMO[key] = {}
        weakref.finalize(facts, _MEMO.pop, key, None)  # forgotten with the snapshot, before its id is reused
    if name not in per:
        per[name] = make()
    return per[name]  # type: ignore[no-any-return]
