"""The Slack face's configuration: tokens, transport and the optional allow-lists.

Read from the environment (and `.env`), like the engine's settings.  Token values are SecretStr so a
repr or a validation error never shows them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from checks.setting_values import clean_secret
from checks.settings import ConfigError, config_error

DEFAULT_SLACK_API_BASE_URL = "https://slack.com/api/"
_ID = re.compile(r"^[A-Z0-9]{2,32}$")  # Slack ids: C0123ABC, G..., D..., U..., W...


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None  # xoxb-: after "Install to Workspace"
    slack_signing_secret: SecretStr | None = None  # HTTP mode: Basic Information -> Signing Secret
    slack_app_token: SecretStr | None = None  # xapp- with connections:write: turns Socket Mode on
    slack_api_base_url: str = DEFAULT_SLACK_API_BASE_URL
    port: int = 3000
    # comma-separated Slack ids; empty means everyone / everywhere
    fpcheck_allowed_channels: str = ""
    fpcheck_allowed_users: str = ""

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: object) -> object:
        # blank is unset; surrounding whitespace stripped; control or non-ASCII characters refused
        return clean_secret(v)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError(
                "must be a bot token (starts with xoxb-; OAuth & Permissions -> Bot User OAuth Token)"
            )
        return v

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError(
                "must be an app-level token (starts with xapp-; Basic Information -> App-Level Tokens, "
                "scope connections:write)"
            )
        return v

    @field_validator("slack_api_base_url", mode="before")
    @classmethod
    def _base_url(cls, v: object) -> object:
        if v is None or (isinstance(v, str) and not v.strip()):
            return DEFAULT_SLACK_API_BASE_URL
        if isinstance(v, str):
            v = v.strip()
            if not re.match(r"^https?://", v):
                raise ValueError("must start with http:// or https://")
            # slack_sdk joins base_url and the method name with urljoin: without the slash, /api is lost
            return v if v.endswith("/") else v + "/"
        return v

    @field_validator("port")
    @classmethod
    def _port_range(cls, v: int) -> int:
        if not 0 <= v <= 65535:
            raise ValueError("must be between 0 and 65535")
        return v

    @field_validator("fpcheck_allowed_channels", "fpcheck_allowed_users", mode="before")
    @classmethod
    def _id_list(cls, v: object) -> object:
        if v is None:
            return ""
        if isinstance(v, str):
            ids = [p.strip() for p in v.split(",") if p.strip()]
            bad = [p for p in ids if not _ID.match(p)]
            if bad:
                raise ValueError(
                    f"must be comma-separated Slack ids like C0123ABCD; not an id: {bad[0][:40]}"
                )
            return ",".join(ids)
        return v

    # ------------------------------------------------------------------ derived
    @property
    def mode(self) -> Literal["socket", "http"]:
        return "socket" if self.slack_app_token is not None else "http"

    @property
    def allowed_channels(self) -> frozenset[str]:
        return frozenset(p for p in self.fpcheck_allowed_channels.split(",") if p)

    @property
    def allowed_users(self) -> frozenset[str]:
        return frozenset(p for p in self.fpcheck_allowed_users.split(",") if p)

    def bot_token(self) -> str:
        if self.slack_bot_token is None:
            raise ConfigError(
                "missing setting SLACK_BOT_TOKEN (the xoxb- Bot User OAuth Token; see README, Slack)"
            )
        return self.slack_bot_token.get_secret_value()

    def bot_token_or_none(self) -> str | None:
        return self.slack_bot_token.get_secret_value() if self.slack_bot_token else None

    def signing_secret(self) -> str | None:
        return self.slack_signing_secret.get_secret_value() if self.slack_signing_secret else None

    def app_token(self) -> str | None:
        return self.slack_app_token.get_secret_value() if self.slack_app_token else None

    def require_transport(self) -> None:
        """Raise ConfigError unless the chosen transport has what it needs."""
        self.bot_token()
        if self.mode == "http" and self.slack_signing_secret is None:
            raise ConfigError(
                "missing setting SLACK_SIGNING_SECRET (needed in HTTP mode; or set SLACK_APP_TOKEN for Socket Mode)"
            )


def load_slack_settings(**overrides: object) -> SlackSettings:
    """SlackSettings from the environment (and .env); a one-line ConfigError when malformed."""
    try:
        return SlackSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise config_error(exc) from None
