"""`fpcheck serve --check`: one cheap read to every dependency, one line each (ok, or the problem).

Slack: auth.test (token and scopes).  Stripe: the account behind each key.  FirstPromoter: the
promoter campaigns (the key and the account id together).  Redis, when FPCHECK_REDIS_URL is set: a
ping.  Each read is bounded by FPCHECK_TIMEOUT and FPCHECK_DEADLINE and never retried: this is a
diagnosis, and a retry would only hide a flaky dependency.
"""

from __future__ import annotations

from typing import NamedTuple

from slack_sdk import WebClient

from bot.slack.settings import SlackSettings
from checks import deadline
from checks.settings import ConfigError, Settings
from checks.sources import SourceError


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
    return Line(True, "Redis ok: FPCHECK_REDIS_URL answers (shared event dedupe and cache)")


def check_all(slack: SlackSettings, settings: Settings, client: WebClient) -> tuple[list[Line], dict[str, object]]:
    slack_line, identity = check_slack(client, slack)
    lines = [slack_line, check_stripe(settings)]
    if settings.stripe_other_mode_api_key is not None:
        lines.append(check_stripe(settings, other=True))
    lines.append(check_firstpromoter(settings))
    if settings.fpcheck_redis_url:
        lines.append(check_redis(settings.fpcheck_redis_url, settings.fpcheck_timeout))
    return lines, identity
