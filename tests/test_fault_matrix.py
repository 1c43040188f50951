"""The fault matrix for the two upstreams the engine reads: for Stripe and FirstPromoter, and for
each fault (timeout, connection refused, 500, 429 with and without Retry-After, malformed JSON,
401, 403), the report still arrives within its deadline, the checks that do not depend on the
failed upstream still pass, the failed ones say error with a reason a person understands, retries
are bounded, and no key appears in the report or the log."""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest

from checks.engine import Engine
from checks.model import Report, Status
from checks.query import parse_query
from sandbox import scenarios as sc

EMAIL = "missing-commission@example.com"  # every check but fp.commission passes when all is well
INDEPENDENT = {
    # checks that need nothing from the named upstream
    "stripe": {"fp.referral", "coupon.unique"},
    "firstpromoter": {"stripe.account", "stripe.mode", "payment.exists", "payment.amount", "payment.timing"},
}
DEPENDENT = {"stripe": "payment.exists", "firstpromoter": "fp.referral"}
# words a support engineer can act on, per fault
REASON = {
    "timeout": ("within", "answer"),
    "refused": ("connect", "refused", "reach"),
    "500": ("500",),
    "429-retry-after": ("429", "rate"),
    "429": ("429", "rate"),
    "malformed": ("expected", "json", "shape", "understand", "malformed", "not"),
    "401": ("401", "key"),
    "403": ("403", "permission", "rights"),
}
FAULTS = list(REASON)
SECRETS = (sc.STRIPE_TEST_KEY, sc.STRIPE_LIVE_KEY, sc.FP_API_KEY)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: connections are refused


def apply(sandbox, upstream: str, fault: str) -> dict[str, object]:
    """Make `upstream` misbehave; return settings overrides the fault needs."""
    standin = sandbox.stripe if upstream == "stripe" else sandbox.fp
    if fault == "timeout":
        standin.inject(".*", delay=1.5)
        return {"fpcheck_timeout": 0.3, "fpcheck_deadline": 6}
    if fault == "refused":
        url = f"http://127.0.0.1:{closed_port()}"
        return {"stripe_api_base": url} if upstream == "stripe" else {"firstpromoter_api_base": url + "/api/v2/company"}
    if fault == "500":
        standin.inject(".*", status=500, body={"error": {"type": "api_error", "message": "Internal error"}})
    elif fault == "429-retry-after":
        standin.inject(".*", status=429, body={"error": {"message": "Too many requests"}}, headers={"Retry-After": "0.2"})
    elif fault == "429":
        standin.inject(".*", status=429, body={"error": {"message": "Too many requests"}})
    elif fault == "malformed":
        standin.inject(".*", malformed=True)
    elif fault == "401":
        bad = "sk_test_revokedInMatrix000000000" if upstream == "stripe" else "fp_revoked_in_matrix_0000000000"
        if upstream == "stripe":
            standin.add_key(bad)
        standin.revoke(bad)
        return {"stripe_api_key": bad, "stripe_other_mode_api_key": None} if upstream == "stripe" else {
            "firstpromoter_api_key": bad
        }
    elif fault == "403":
        if upstream == "stripe":
            standin.inject(
                ".*",
                status=403,
                body={
                    "error": {
                        "type": "invalid_request_error",
                        "message": "The provided key 'sk_test_****0000' does not have the required permissions "
                        "for this endpoint on account 'acct_1FpcheckSandbox01'. Having the 'rak_customer_read' "
                        "permission would allow this request to continue.",
                    }
                },
            )
        else:
            standin.forbid(".*")
    return {}


def run(sandbox, **overrides: object) -> Report:
    return Engine(sandbox.settings(**overrides)).check(parse_query(EMAIL))


@pytest.fixture
def baseline(clean_sandbox) -> dict[str, Status]:
    report = run(clean_sandbox)
    return {r.id: r.status for r in report.checks}


@pytest.mark.parametrize("upstream", ["stripe", "firstpromoter"])
@pytest.mark.parametrize("fault", FAULTS)
def test_fault(clean_sandbox, baseline, caplog, upstream: str, fault: str) -> None:
    caplog.set_level(logging.DEBUG)
    overrides = apply(clean_sandbox, upstream, fault)
    clean_sandbox.stripe.reset_log()
    clean_sandbox.fp.reset_log()
    started = time.monotonic()
    try:
        report = run(clean_sandbox, **overrides)
    finally:
        clean_sandbox.stripe.clear_faults()
        clean_sandbox.fp.clear_faults()
    elapsed = time.monotonic() - started
    statuses = {r.id: r.status for r in report.checks}

    # the asker gets the whole report, in bounded time
    assert len(report.checks) == 11
    assert elapsed < 8
    # what does not need the failed upstream is unaffected
    for check in INDEPENDENT[upstream]:
        assert statuses[check] is baseline[check] is Status.PASS, (check, report.result(check).summary)
    # what needs it says error, with a reason to act on
    failed = report.result(DEPENDENT[upstream])
    assert failed.status is Status.ERROR, failed
    name = "Stripe" if upstream == "stripe" else "FirstPromoter"
    assert name in failed.summary
    assert any(word in failed.summary.lower() for word in REASON[fault]), failed.summary
    assert report.verdict.status in (Status.ERROR, Status.FAIL)
    # retries are bounded: a handful of attempts per read, not a storm
    standin = clean_sandbox.stripe if upstream == "stripe" else clean_sandbox.fp
    assert len(standin.calls()) <= 40
    # no key in the report or in any log line
    text = json.dumps(report.to_json_dict()) + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (*SECRETS, "revokedInMatrix", "fp_revoked_in_matrix"):
        assert secret not in text
