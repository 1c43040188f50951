"""Start-up check of the Slack token: auth.test answers and the app has every scope the code needs."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.app import REQUIRED_SCOPES
from checks.settings import ConfigError

log = logging.getLogger("fpcheck.serve")  # the start-up log, as before the split


def granted_scopes(headers: dict[str, Any]) -> set[str] | None:
    """The scopes in auth.test's x-oauth-scopes header; None when Slack did not send it."""
    value = next((v for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if value is None:
        return None
    if isinstance(value, list | tuple):
        value = ",".join(value)
    return {s.strip() for s in str(value).split(",") if s.strip()}


def preflight(client: WebClient) -> dict[str, Any]:
    """auth.test: the token works and the app has every scope the code needs.  Raises ConfigError."""
    try:
        resp = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error")
        status = getattr(exc.response, "status_code", None)
        if not isinstance(error, str) or not re.match(r"^[a-z0-9_]{1,80}$", error):
            # not Slack's JSON at all: a proxy's page, or SLACK_API_BASE_URL pointing elsewhere
            raise ConfigError(
                f"the Slack API at {client.base_url} answered HTTP {status} with something that is not "
                "Slack's JSON (an HTML page?): check SLACK_API_BASE_URL and any proxy in between"
            ) from None
        raise ConfigError(
            f"Slack rejected SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-) again "
            "from the app's OAuth & Permissions page"
        ) from None
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(f"cannot reach the Slack API at {client.base_url} ({reason})") from None
    scopes = granted_scopes(dict(resp.headers))
    if scopes is None:
        log.warning("Slack did not list the token's scopes; skipping the scope check")
    else:
        missing = sorted(REQUIRED_SCOPES - scopes)
        if missing:
            raise ConfigError(
                f"the Slack app is missing the bot scope(s) {', '.join(missing)}: add them under OAuth & "
                "Permissions (they are in app.yaml), then reinstall the app to the workspace"
            )
    return {k: resp.get(k) for k in ("team", "team_id", "user", "user_id", "bot_id")}
