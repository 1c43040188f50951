"""FPCHECK_DEADLINE bounds the `fpcheck check` process, whatever the per-call timeout: a real CLI
process against upstreams that accept connections and never answer, timed from outside."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from checks import deadline
from checks.sources import SourceError
from checks.sources.firstpromoter import FirstPromoterReader
from tests.test_cli import fpcheck


class Silent:
    """A loopback server that accepts every connection, reads what it is sent and never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        for c in self.held:
            c.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    s = Silent()
    yield s
    s.close()


def timed(*args: str, env: dict[str, str]) -> tuple[float, object]:
    t0 = time.monotonic()
    p = fpcheck(*args, env=env, timeout=120)
    return time.monotonic() - t0, p


@pytest.mark.parametrize("hung", ["firstpromoter", "both"])
def test_the_process_exits_within_the_deadline_whatever_the_timeout(clean_sandbox, silent, hung) -> None:
    env = {**clean_sandbox.env(), "FPCHECK_DEADLINE": "2", "FPCHECK_TIMEOUT": "60"}
    env["FIRSTPROMOTER_API_BASE"] = silent.url + "/api/v2/company"
    if hung == "both":
        env["STRIPE_API_BASE"] = silent.url
    wall, p = timed("check", "jane@example.com", "--json", env=env)
    assert wall < 3.0, f"the process took {wall:.1f} s with a 2 s deadline"
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    report = json.loads(p.stdout)
    referral = next(c for c in report["checks"] if c["id"] == "fp.referral")
    assert referral["status"] == "error" and "deadline" in referral["summary"]


def test_a_short_deadline_stops_retries_of_a_failing_upstream(clean_sandbox) -> None:
    # FirstPromoter answers 503 after 0.5 s: without the deadline each read would retry for seconds
    clean_sandbox.fp.inject(status=503, body={"message": "down"}, delay=0.5)
    env = {**clean_sandbox.env(), "FPCHECK_DEADLINE": "1.5", "FPCHECK_TIMEOUT": "30"}
    wall, p = timed("check", "jane@example.com", env=env)
    assert wall < 2.5 and p.returncode == 1, (wall, p.stderr)


def test_a_reader_clamps_its_timeout_and_starts_nothing_after_the_deadline(silent) -> None:
    reader = FirstPromoterReader("key", "acc", silent.url, timeout=60, retries=5)
    with deadline.bound(deadline.Deadline(0.5)):
        t0 = time.monotonic()
        with pytest.raises(SourceError, match="deadline"):
            reader.promoter_campaigns()
        assert time.monotonic() - t0 < 1.0
        with pytest.raises(SourceError, match="deadline passed"):
            reader.promoter_campaigns()
    assert reader.calls == 1  # the second read never left


def test_the_stripe_readers_own_fan_out_keeps_the_deadline(silent) -> None:
    from checks.sources.stripe import StripeReader

    reader = StripeReader("sk_test_abc123", silent.url, timeout=60, retries=3)
    with deadline.bound(deadline.Deadline(0.5)):
        t0 = time.monotonic()
        with pytest.raises(SourceError, match="deadline"):
            reader.customers_by_email("jane@example.com")  # lists and a search, on threads of its own
        assert time.monotonic() - t0 < 1.0
