"""Log lines are private at the default level: emails masked, secrets hidden, whatever logs them."""

from __future__ import annotations

import io
import logging

from bot import logs


def test_emails_and_secret_shapes_are_masked() -> None:
    line = ("message='Request to Stripe api' url=http://x/v1/customers?email=jane.doe%40example.com "
            "body=user=jürgen@münchen.de&token=xoxb-123-456-abc Bearer fpv2key999 rk_live_Abc123 whsec_s3cr3t")
    masked = logs.mask(line)
    for secret in ("jane.doe", "ürgen@", "xoxb-123", "fpv2key999", "rk_live_Abc123", "whsec_s3cr3t"):
        assert secret not in masked, secret
    assert "j***%40example.com" in masked and "j***@münchen.de" in masked


def test_any_library_logging_through_a_configured_handler_is_masked(monkeypatch) -> None:
    monkeypatch.delenv(logs.LEVEL_VAR, raising=False)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("some.library")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logs.PRIVACY.hide(["a5e6f7signingsecret"])
        handler.addFilter(logs.PRIVACY)
        logger.warning("rejected body=%s sig=%s", "text=jane@example.com", "a5e6f7signingsecret")
        try:
            raise ValueError("customer jane@example.com")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "jane@" not in text and "a5e6f7signingsecret" not in text
    assert "j***@example.com" in text and "[secret hidden]" in text


def test_the_stripe_sdk_request_log_is_held_back_unless_debug(monkeypatch) -> None:
    monkeypatch.delenv(logs.LEVEL_VAR, raising=False)
    touched = [logging.getLogger(n) for n in ("", *logs.CHATTY)]
    before = [lg.level for lg in touched]
    try:
        logs.configure([], default=logging.INFO)
        assert not logging.getLogger("stripe").isEnabledFor(logging.INFO)
    finally:
        for lg, lvl in zip(touched, before, strict=True):
            lg.setLevel(lvl)
    assert logs.level(logging.INFO) == logging.INFO
    monkeypatch.setenv(logs.LEVEL_VAR, "debug")
    assert logs.level(logging.INFO) == logging.DEBUG and logs.debug_requested()
