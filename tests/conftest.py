"""Shared fixtures: the seeded sandbox (Stripe and FirstPromoter stand-ins on 127.0.0.1)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Loopback traffic must never go through a proxy, and tests must not read a developer's .env.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
os.environ.setdefault("STRIPE_SUPPRESS_NOTICES", "true")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    from checks.sandbox.runner import Sandbox

    with Sandbox() as sb:
        yield sb


@pytest.fixture
def clean_sandbox(sandbox):  # type: ignore[no-untyped-def]
    """The session sandbox with no faults, no latency and an empty request log."""
    sandbox.stripe.clear_faults()
    sandbox.fp.clear_faults()
    sandbox.stripe.reset_log()
    sandbox.fp.reset_log()
    yield sandbox
    sandbox.stripe.clear_faults()
    sandbox.fp.clear_faults()
