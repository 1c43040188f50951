"""Readers of the upstream APIs.  Read-only, always."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

T_co = TypeVar("T_co", covariant=True)


class SourceError(Exception):
    """An upstream call failed.  `str(exc)` is a reason a support engineer understands and
    never contains a key or token."""


class SetupError(SourceError):
    """A failure that is the configuration's, not the upstream's mood: a key the upstream rejects, an
    account id it does not know, a host that cannot be reached or resolved.  A terminal run says it in
    one line and exits 2 rather than reporting checks that could not run."""


class PermissionDenied(SourceError):
    """An upstream's refusal for want of a permission (Stripe's restricted-key 403): the key lacks `permission` (as Stripe's message names it, or
    None when the message names none)."""

    def __init__(self, reason: str, permission: str | None) -> None:
        super().__init__(reason)
        self.permission = permission


class Listed(tuple[T_co, ...], Generic[T_co]):
    """What a list read returned, plus what bounded it.

    A plain tuple of the items (so `Listed(x) == tuple(x)` and every tuple use keeps working) with
    `.limits`: sentences a support engineer reads, e.g. "read the newest 300 invoices of cus_X;
    older ones were not examined".  Empty when nothing bounded the read: then "none found" is
    really none.
    """

    limits: tuple[str, ...]

    def __new__(cls, items: Iterable[Any] = (), limits: Iterable[str] = ()) -> Listed[Any]:
        obj = super().__new__(cls, items)
        # dict.fromkeys: the same note from two reads (exact and lower-cased email) is said once
        obj.limits = tuple(dict.fromkeys(limits))
        return obj

    def __repr__(self) -> str:
        return f"Listed({tuple(self)!r}, limits={self.limits!r})" if self.limits else f"Listed({tuple(self)!r})"
