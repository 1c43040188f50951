"""Logging for both faces: private by default, full detail only when asked for.

At the default level every log line, from fpcheck or any library, goes through `PrivacyFilter`:
customer emails are masked (j***@example.com) and anything shaped like a key, token or secret, or
equal to one of the configured secrets, is replaced.  The chattiest libraries (the Stripe SDK logs
each request URL, with the customer's email in its query; Bolt logs a rejected request's body;
urllib3 logs URLs) are held at WARNING.

`FPCHECK_LOG_LEVEL=debug` turns all of that off: full URLs, bodies and tracebacks, secrets included.
Only for a short investigation (see README, Running it).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

LEVEL_VAR = "FPCHECK_LOG_LEVEL"
CHATTY = ("stripe", "urllib3", "slack_bolt", "slack_sdk", "fpcheck.slack.bolt", "requests", "redis")

_EMAIL = re.compile(r"([^\s@/?&=:;,<>\"'|%]+)(@|%40)([^\s@/?&=<>\"'|%]+\.[^\s@/?&=<>\"'|%]{2,})")
_SHAPES = re.compile(
    r"\b(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]+|whsec_[A-Za-z0-9]+|xox[abpre]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)"
    r"|(?<=Bearer )[^\s\"',]+",
)
_BOLT_NOISE = "`token` will be unused"  # Bolt's notice when SLACK_BOT_TOKEN is set and a client is given


def not_bolt_noise(record: logging.LogRecord) -> bool:
    """A logger filter: Bolt's start-up notice is about a setting fpcheck uses on purpose."""
    return _BOLT_NOISE not in record.getMessage()


def _setting() -> str:
    """FPCHECK_LOG_LEVEL from the environment, else from `.env` (like every other setting)."""
    value = os.environ.get(LEVEL_VAR)
    if value is None and os.path.isfile(".env"):
        from dotenv import dotenv_values

        value = dotenv_values(".env").get(LEVEL_VAR)
    return (value or "").strip()


def debug_requested() -> bool:
    return _setting().lower() == "debug"


def level(default: int) -> int:
    """The log level: FPCHECK_LOG_LEVEL (debug, info, warning, error) or `default`."""
    name = _setting().upper()
    value = logging.getLevelName(name) if name else default
    return value if isinstance(value, int) else default


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret hidden]")
    text = _SHAPES.sub("[secret hidden]", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)[0]}***{m.group(2)}{m.group(3)}", text)


class PrivacyFilter(logging.Filter):
    """Rewrites each record's message (and traceback text) with emails masked and secrets hidden."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def hide(self, values: Iterable[str | None]) -> None:
        known = set(self.secrets) | {v.strip() for v in values if v and len(v.strip()) >= 6}
        self.secrets = sorted(known, key=len, reverse=True)  # longest first: no partial leftovers

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _BOLT_NOISE in message:
            return False
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = mask(message, self.secrets), None
        if record.exc_text:
            record.exc_text = mask(record.exc_text, self.secrets)
        return True


PRIVACY = PrivacyFilter()


class OneLineFormatter(logging.Formatter):
    """For the terminal: a traceback becomes its last line, `(TypeError: ...)`.  The full
    traceback is printed only with FPCHECK_LOG_LEVEL=debug."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not debug_requested():
            exc = record.exc_info[1]
            record = logging.makeLogRecord(record.__dict__)
            record.msg, record.args = f"{record.getMessage()} ({type(exc).__name__}: {str(exc)[:200]})", None
            record.exc_info = record.exc_text = None
        return " ".join(super().format(record).splitlines())


def configure(handlers: Iterable[logging.Handler], *, default: int) -> int:
    """Set the root level and make `handlers` private unless FPCHECK_LOG_LEVEL=debug.  Returns the level."""
    root_level = level(default)
    logging.getLogger().setLevel(root_level)
    if debug_requested():
        return root_level
    for handler in handlers:
        handler.addFilter(PRIVACY)
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root_level))
    return root_level


@contextmanager
def silenced(names: Iterable[str]) -> Iterator[None]:
    """Mute these loggers for a while (unless FPCHECK_LOG_LEVEL=debug), then restore their levels."""
    if debug_requested():
        yield
        return
    loggers = [logging.getLogger(n) for n in names]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, before, strict=True):
            lg.setLevel(lvl)


def hide(*values: str | None) -> None:
    """Configured secrets (keys, tokens, the signing secret) to hide even where no pattern would."""
    PRIVACY.hide(values)
