"""`fpcheck doctor`: everything that is configured, checked with one cheap read each, one line each.

With or without Slack: Stripe (both keys when the other mode's is set), FirstPromoter, Redis when
FPCHECK_REDIS_URL is set, and, when Slack is configured, the bot token (auth.test) and the Socket
Mode token (apps.connections.open). A setting not filled in is a line too, not a traceback.
Exit 0 when every line is ok, 2 when one is not (a setup mistake).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bot import logs

SLACK_VARS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")


def add_parser(sub: Any) -> None:
    sub.add_parser("doctor", help="check every configured setting, key and connection (one line each)")


def _slack_configured() -> bool:
    if any((os.environ.get(k) or "").strip() for k in SLACK_VARS):
        return True
    if os.path.isfile(".env"):
        from dotenv import dotenv_values

        return any((v or "").strip() for k, v in dotenv_values(".env").items() if k in SLACK_VARS)
    return False


def cmd_doctor(_args: argparse.Namespace) -> int:
    from bot.slack.doctor import Line, engine_lines
    from checks.settings import load_settings

    slack = _slack_configured()
    if slack:
        from bot.slack.settings import load_serve_settings

        settings: Any = load_serve_settings()
        logs.hide(settings.bot_token_or_none(), settings.app_token(), settings.signing_secret())
    else:
        settings = load_settings()
    logs.hide(*settings.secret_values())
    lines: list[Line] = engine_lines(settings)
    if slack:
        lines += _slack_lines(settings)
    else:
        lines.append(Line(True, "Slack: not configured (fpcheck serve needs SLACK_BOT_TOKEN; see README, Slack)"))
    for line in lines:
        print(f"{'✓' if line.ok else '✗'} {line.text}")
    return 0 if all(line.ok for line in lines) else 2


def _slack_lines(settings: Any) -> list[Any]:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    from bot.slack.app import make_client
    from bot.slack.doctor import Line, check_slack

    if settings.bot_token_or_none() is None:
        return [Line(False, "Slack: SLACK_BOT_TOKEN is not set (OAuth & Permissions → Bot User OAuth Token)")]
    lines = [check_slack(make_client(settings), settings)[0]]
    token = settings.app_token()
    if token is None:
        if settings.signing_secret() is None:
            lines.append(Line(False, "Slack: neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP) is set"))
        return lines
    try:
        WebClient(base_url=settings.slack_api_base_url, timeout=settings.fpcheck_timeout
                  ).apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = exc.response.get("error", "an error") if exc.response is not None else "an error"
        lines.append(Line(False, f"Slack Socket Mode: SLACK_APP_TOKEN was refused ({error}): an app-level token "
                                 "with connections:write (Basic Information → App-Level Tokens)"))
    except (SlackClientError, OSError) as exc:
        lines.append(Line(False, f"Slack Socket Mode: could not reach Slack ({type(exc).__name__})"))
    else:
        lines.append(Line(True, "Slack Socket Mode ok: SLACK_APP_TOKEN opens a connection"))
    return lines


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cmd_doctor(argparse.Namespace()))
