"""Shared fixtures: the seeded sandbox (Stripe and FirstPromoter stand-ins on 127.0.0.1)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Loopback traffic must never go through a proxy, and tests must not read a developer's .env.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
os.environ.setdefault("STRIPE_SUPPRESS_NOTICES", "true")


@pytest.fixture(autouse=True)
def own_cache_dir(tmp_path_factory, monkeypatch) -> None:
    """Every test starts with its own on-disk promoter-campaign index (never the developer's), and
    so do the `fpcheck` processes it starts (they inherit the environment)."""
    monkeypatch.setenv("FPCHECK_CACHE_DIR", str(tmp_path_factory.mktemp("fpcheck-cache")))


@pytest.fixture(scope="session")
def sandbox() -> Iterator[object]:
    from sandbox.runner import Sandbox

    with Sandbox() as sb:
        yield sb


@pytest.fixture
def clean_sandbox(sandbox):  # type: ignore[no-untyped-def]
    """The session sandbox with no faults, no latency, an empty request log, and Stripe data
    seeded within the last minute (the too-early payment must still be too early)."""
    import time

    if time.time() - sandbox.seeded_at > 45:
        sandbox.refresh_stripe()
    sandbox.stripe.clear_faults()
    sandbox.fp.clear_faults()
    sandbox.stripe.reset_log()
    sandbox.fp.reset_log()
    yield sandbox
    sandbox.stripe.clear_faults()
    sandbox.fp.clear_faults()


def start_redis(workdir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """A real redis-server on 127.0.0.1 (scripts/test.sh installs it), on a free port, no disk:
    its URL and its process (the caller stops it)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: run scripts/test.sh (it installs it) or apt-get install redis-server"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise AssertionError("redis-server did not start") from None
            time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/0", proc


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real redis-server for the session."""
    url, proc = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def stripe_seed_now() -> float | None:
    """When the Stripe stand-in's scenarios are seeded; None is now.  A module may override it."""
    return None


@pytest.fixture(scope="module")
def seeded(stripe_seed_now: float | None) -> Iterator[object]:
    """A Stripe stand-in of its own for a module, seeded with every scenario."""
    from sandbox.stripe_seed import seed_stripe
    from sandbox.stripe_server import StripeStandIn

    standin = StripeStandIn()
    seed_stripe(standin, now=stripe_seed_now)
    with standin:
        yield standin


@pytest.fixture
def api(seeded):  # type: ignore[no-untyped-def]
    """That stand-in with no faults and an empty request log."""
    seeded.clear_faults()
    seeded.reset_log()
    yield seeded
    seeded.clear_faults()
