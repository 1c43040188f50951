"""A dict that counts its changes, so a stand-in can keep a listing's order between pages.

The stand-ins hold a month of objects (100,000 invoices) and used to filter and sort all of them
for every listing page.  They now keep each kind's listing order (`sandbox/stripe_server.py`'s
`_Index`, `sandbox/fp_server.py`'s `_by_id`) and build it again only when the dict holding that
kind changed: any insertion, replacement or removal bumps `version`.  A change inside an object
(a status, a referral's state) needs nothing: filters read the objects as they are.  Only an
object's sort key changed in place (Stripe's `created`, FirstPromoter's `id`) is not seen; call
the stand-in's `reindex()` after doing that.
"""

from __future__ import annotations

from typing import Any


class VersionedDict(dict):  # type: ignore[type-arg]
    """A dict whose `version` grows on every insertion, replacement or removal."""

    version: int = 0

    def _bump(self) -> None:
        self.version += 1

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self._bump()

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self._bump()

    def pop(self, *args: Any) -> Any:
        try:
            return super().pop(*args)
        finally:
            self._bump()

    def popitem(self) -> Any:
        try:
            return super().popitem()
        finally:
            self._bump()

    def clear(self) -> None:
        super().clear()
        self._bump()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._bump()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self._bump()
        return super().setdefault(key, default)

    def __ior__(self, other: Any) -> VersionedDict:
        self.update(other)
        return self


def version_of(store: Any) -> int | None:
    """The store's version, or None for a plain dict (whose changes cannot be seen: rebuild)."""
    return store.version if isinstance(store, VersionedDict) else None
