"""`fpcheck serve --check`: one cheap read to every dependency, one line each (ok, or the problem).

Slack: auth.test (token and scopes).  Stripe: the account behind each key.  FirstPromoter: the
promoter campaigns (the key and the account id together).  Redis, when FPCHECK_REDIS_URL is set: a
ping.  Each read is bounded by FPCHECK_TIMEOUT and FPCHECK_DEADLINE and never retried: this is a
diagnosis, and a retry would only hide a flaky dependency.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

from slack_sdk import WebClient

from bot.slack.settings import SlackSettings
from checks import deadline
from checks.settings import ConfigError, Settings
from checks.sources import SourceError

log = logging.getLogger("fpcheck.doctor")


class Line(NamedTuple):
    ok: bool
    text: str


def check_slack(client: WebClient, slack: SlackSettings) -> tuple[Line, dict[str, object]]:
    from bot.slack.preflight import preflight

    try:
        identity = preflight(client)
    except ConfigError as exc:
        return Line(False, str(exc)), {}
    mode = "Socket Mode" if slack.mode == "socket" else "HTTP"
    return Line(True, f"Slack ok: bot {identity.get('user')} in workspace {identity.get('team')}, {mode}"), identity


def check_stripe(settings: Settings, *, other: bool = False) -> Line:
    from checks.sources.stripe import StripeReader
    from checks.wiring import stripe_reader

    reader = stripe_reader(settings, StripeReader, other=other, retries=0)
    label = "Stripe (other mode)" if other else "Stripe"
    try:
        with deadline.bound(deadline.Deadline(settings.fpcheck_deadline)):
            account = reader.account()
    except SourceError as exc:
        return Line(False, f"{label}: {exc}")
    finally:
        reader.close()
    how = " (from the restricted key's permission error)" if account.source == "permission_error" else ""
    return Line(True, f"{label} ok: {reader.key_mode} key of account {account.id}{how}")


def check_firstpromoter(settings: Settings) -> Line:
    from checks.sources.firstpromoter import FirstPromoterReader
    from checks.wiring import firstpromoter_reader

    try:
        with (
            firstpromoter_reader(settings, FirstPromoterReader, retries=0) as reader,
            deadline.bound(deadline.Deadline(settings.fpcheck_deadline)),
        ):
            campaigns = reader.promoter_campaigns()
    except SourceError as exc:
        return Line(False, f"FirstPromoter: {exc}")
    return Line(True, f"FirstPromoter ok: account {settings.firstpromoter_account_id}, "
                      f"{len(campaigns)} promoter campaign(s) readable")


def check_redis(url: str, timeout: float) -> Line:
    from checks.cache import shared_redis

    try:
        shared_redis(url, required=True, timeout=min(2.0, timeout))
    except ConfigError as exc:  # never echoes the URL: it may hold a password
        return Line(False, str(exc))
    return Line(True, "Redis ok: FPCHECK_REDIS_URL answers (shared event dedupe, cache and history)")


def engine_lines(settings: Settings) -> list[Line]:
    """What `fpcheck doctor` says of Stripe, FirstPromoter and Redis, one line each (the App Home
    shows the same lines)."""
    lines: list[Line] = []
    if settings.stripe_api_key is None:
        lines.append(Line(False, "Stripe: STRIPE_API_KEY is not set (a restricted read-only key: see README)"))
    else:
        lines.append(_guarded("Stripe", lambda: check_stripe(settings)))
    if settings.stripe_other_mode_api_key is not None:
        lines.append(_guarded("Stripe (other mode)", lambda: check_stripe(settings, other=True)))
    lines.append(_guarded("FirstPromoter", lambda: firstpromoter_line(settings)))
    if settings.fpcheck_redis_url:
        url = settings.fpcheck_redis_url
        lines.append(_guarded("Redis", lambda: check_redis(url, settings.fpcheck_timeout)))
    return lines


def firstpromoter_line(settings: Settings) -> Line:
    """The FirstPromoter line: a v1 key's kind found by trying (checks/fp_kind.py), a missing v2
    setting named, or the v2 read (with a hint when a rejected key is a v1 key)."""
    missing = [n for n, v in (("FIRSTPROMOTER_API_KEY", settings.firstpromoter_api_key),
                              ("FIRSTPROMOTER_ACCOUNT_ID", settings.firstpromoter_account_id)) if v is None]
    if settings.firstpromoter_v1:
        from checks.fp_kind import detect_v1_key

        found = detect_v1_key(settings)
        return Line(found.ok, found.text)
    if missing:
        return Line(False, f"FirstPromoter: {' and '.join(missing)} not set (Settings → Integrations → "
                           "Manage API Keys)")
    line = check_firstpromoter(settings)
    if not line.ok and "(401)" in line.text:
        from checks.fp_kind import rejected_v2_hint

        line = Line(False, line.text + rejected_v2_hint(settings))
    if line.ok and settings.firstpromoter_v1_api_key is not None:
        line = Line(True, line.text + "; FIRSTPROMOTER_V1_API_KEY is set but not used: the V2 key is")
    return line


def _guarded(label: str, read: Callable[[], Line]) -> Line:
    try:
        return read()
    except Exception as exc:  # a bug or a library's surprise: one line, never a broken doctor or home
        log.warning("%s could not be checked (%s)", label, type(exc).__name__)
        return Line(False, f"{label}: could not be checked ({type(exc).__name__})")


def check_all(slack: SlackSettings, settings: Settings, client: WebClient) -> tuple[list[Line], dict[str, object]]:
    slack_line, identity = check_slack(client, slack)
    lines = [slack_line, check_stripe(settings)]
    if settings.stripe_other_mode_api_key is not None:
        lines.append(check_stripe(settings, other=True))
    lines.append(check_firstpromoter(settings))
    if settings.fpcheck_redis_url:
        lines.append(check_redis(settings.fpcheck_redis_url, settings.fpcheck_timeout))
    return lines, identity
