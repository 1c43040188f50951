"""Readers of the upstream APIs.  Read-only, always."""


class SourceError(Exception):
    """An upstream call failed.  `str(exc)` is a reason a support engineer understands and
    never contains a key or token."""
