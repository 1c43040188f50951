"""What `fpcheck serve` reads: the engine's settings (checks/settings.py) and the bot's parts: the
Slack face (tokens, transport, allow-lists), the scheduled digest and the payment watch.

`ServeSettings` is the one BaseSettings of a serve process, loaded once from the environment (and
`.env`): its fields are the engine's and those of the parts, each declared once, in its part.  The
parts are plain models, so a face can be built from explicit values (tests, benches).  Token values
are SecretStr so a repr or a validation error never shows them.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_settings import SettingsConfigDict

from bot.service import Limits
from checks.fix.settings import FixSettings
from checks.setting_values import clean_secret
from checks.settings import ConfigError, Settings, config_error

DEFAULT_SLACK_API_BASE_URL = "https://slack.com/api/"
SLACK_REPLY_ORIGIN = "https://hooks.slack.com"  # every response_url Slack hands out is on this host
DEFAULT_HTTP_WORKERS = 1  # one process: without FPCHECK_REDIS_URL the event dedupe is per process
DEFAULT_HTTP_THREADS = 8
DEFAULT_HEALTH_HOST = "127.0.0.1"
_ID = re.compile(r"^[A-Z0-9]{2,32}$")  # Slack ids: C0123ABC, G..., D..., U..., W...


class SlackSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    slack_bot_token: SecretStr | None = None  # xoxb-: after "Install to Workspace"
    slack_signing_secret: SecretStr | None = None  # HTTP mode: Basic Information -> Signing Secret
    slack_app_token: SecretStr | None = None  # xapp- with connections:write: turns Socket Mode on
    slack_api_base_url: str = DEFAULT_SLACK_API_BASE_URL
    slack_app_id: str | None = None  # Basic Information -> App ID: requests for another app are refused
    port: int = 3000
    # HTTP mode under gunicorn: worker processes, and threads in each answering Slack's requests
    # (the checks run on the app's own pool)
    fpcheck_http_workers: int = DEFAULT_HTTP_WORKERS
    fpcheck_http_threads: int = DEFAULT_HTTP_THREADS
    # Socket Mode: /healthz on this port (unset: no health listener)
    fpcheck_health_port: int | None = None
    # loopback by default: only a check on the same host (the image's HEALTHCHECK) needs it; a probe
    # from outside the container's network namespace (e.g. a Kubernetes kubelet) needs 0.0.0.0
    fpcheck_health_host: str = DEFAULT_HEALTH_HOST
    # comma-separated Slack ids; empty means everyone / everywhere
    fpcheck_allowed_channels: str = ""
    fpcheck_allowed_users: str = ""
    # who may run /fpcheck sweep (it posts many customers' emails and payments); empty: whoever may check
    fpcheck_sweep_users: str = ""
    # checks one person, and one channel, may ask for in any minute (0: no limit); one person's burst
    # would otherwise hold everyone else's report for its length
    fpcheck_user_limit: int = 10
    fpcheck_channel_limit: int = 30

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", mode="before")
    @classmethod
    def _clean_token(cls, v: object) -> object:
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

    @field_validator("slack_app_id", mode="before")
    @classmethod
    def _app_id(cls, v: object) -> object:
        text = "" if v is None else str(v).strip()
        if text and not (_ID.match(text) and text.startswith("A")):
            raise ValueError("must be the app's id, like A0123ABCD (Basic Information -> App ID)")
        return text or None

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

    @field_validator("fpcheck_http_workers", "fpcheck_http_threads", mode="before")
    @classmethod
    def _positive_count(cls, v: object, info: ValidationInfo) -> object:
        if v is None or (isinstance(v, str) and not v.strip()):
            return cls.model_fields[info.field_name or ""].default
        text = str(v).strip()
        if isinstance(v, bool) or not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
            raise ValueError("must be a whole number of at least 1")
        return int(text)

    @field_validator("fpcheck_user_limit", "fpcheck_channel_limit", mode="before")
    @classmethod
    def _limit(cls, v: object, info: ValidationInfo) -> object:
        if v is None or (isinstance(v, str) and not v.strip()):
            return cls.model_fields[info.field_name or ""].default
        text = str(v).strip()
        if isinstance(v, bool) or not re.fullmatch(r"[0-9]+", text):
            raise ValueError("must be a whole number of checks a minute (0: no limit)")
        return int(text)

    @field_validator("fpcheck_health_port", mode="before")
    @classmethod
    def _health_port(cls, v: object) -> object:
        text = "" if v is None else str(v).strip()
        if not text:
            return None
        if isinstance(v, bool) or not re.fullmatch(r"[0-9]+", text) or int(text) > 65535:
            raise ValueError("must be a port number from 0 to 65535 (or unset: no health listener)")
        return int(text)

    @field_validator("fpcheck_health_host", mode="before")
    @classmethod
    def _health_host(cls, v: object) -> object:
        if v is None or (isinstance(v, str) and not v.strip()):
            return DEFAULT_HEALTH_HOST
        return v.strip() if isinstance(v, str) else v

    @field_validator("fpcheck_allowed_channels", "fpcheck_allowed_users", "fpcheck_sweep_users", mode="before")
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

    @property
    def sweep_users(self) -> frozenset[str]:
        """Who may sweep; empty: the same people as may check (allowed_users)."""
        return frozenset(p for p in self.fpcheck_sweep_users.split(",") if p)

    @property
    def limits(self) -> Limits | None:
        """The per-person and per-channel limits a minute; None when both are off."""
        if not (self.fpcheck_user_limit or self.fpcheck_channel_limit):
            return None
        return Limits(per_user=self.fpcheck_user_limit, per_channel=self.fpcheck_channel_limit)

    @property
    def reply_origins(self) -> tuple[str, ...]:
        """Where a request's response_url may point: Slack's own https://hooks.slack.com, and the
        host of SLACK_API_BASE_URL when that is not Slack's (a stand-in the operator chose)."""
        if self.slack_api_base_url == DEFAULT_SLACK_API_BASE_URL:
            return (SLACK_REPLY_ORIGIN,)
        base = urlsplit(self.slack_api_base_url)
        return (SLACK_REPLY_ORIGIN, f"{base.scheme}://{base.netloc}".lower())

    @property
    def app_id(self) -> str | None:
        """This app's id when the settings say it: SLACK_APP_ID, else inside the app-level token
        (xapp-1-A0123ABCD-…); None: requests are not checked for it."""
        parts = (self.app_token() or "").split("-")
        in_token = parts[2] if len(parts) > 3 and _ID.match(parts[2]) and parts[2].startswith("A") else None
        return self.slack_app_id or in_token

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


def load_slack_settings(**values: object) -> SlackSettings:
    """The Slack part alone, from `values` (tests and benches build a face this way; `fpcheck serve`
    reads the environment once, with `load_serve_settings`); a one-line ConfigError when malformed."""
    try:
        return SlackSettings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise config_error(exc) from None


class StateFileSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # the digest's and the watch's state without Redis
    fpcheck_state_file: str = ".fpcheck-state.json"


class DigestSettings(StateFileSettings):
    """The scheduled digest (bot/digest.py); its schedule is read in the engine's FPCHECK_TZ."""

    fpcheck_sweep_channel: str | None = None
    fpcheck_sweep_cron: str | None = None

    @property
    def digest_channel(self) -> str | None:
        """The channel the digest posts in; None: no digest."""
        return (self.fpcheck_sweep_channel or "").strip() or None


class WatchSettings(StateFileSettings):
    """The payment watch (bot/watch.py).  A delay or interval that is not a number is kept as None
    and named by `validate_watch`, which `serve` calls after the Slack and engine settings and the
    transport are checked, the order it has always named problems in."""

    fpcheck_watch_channel: str | None = None
    fpcheck_watch_delay: float | None = 300.0  # seconds after a payment before checking it
    fpcheck_watch_interval: float | None = 60.0  # seconds between two polls of Stripe's events

    @field_validator("fpcheck_watch_delay", "fpcheck_watch_interval", mode="wrap")
    @classmethod
    def _not_a_number_is_none(cls, v: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(v)
        except ValidationError:
            return None

    @property
    def watch_channel(self) -> str | None:
        """The channel the watch alerts in; None: no watch."""
        return (self.fpcheck_watch_channel or "").strip() or None

    def validate_watch(self) -> None:
        """ConfigError naming a delay or interval that is not a number; with the watch on, one out of range."""
        delay, interval = self.fpcheck_watch_delay, self.fpcheck_watch_interval
        if delay is None or interval is None:
            unread = [name for name, v in (("FPCHECK_WATCH_DELAY", delay), ("FPCHECK_WATCH_INTERVAL", interval))
                      if v is None]
            raise ConfigError(f"{', '.join(unread)}: give a number of seconds")
        if self.watch_channel is None:
            return
        if not 150 <= delay <= 86_400:
            raise ConfigError("FPCHECK_WATCH_DELAY: give seconds between 150 (FirstPromoter needs ~2 minutes) "
                              "and 86400")
        if not 5 <= interval <= 3600:
            raise ConfigError("FPCHECK_WATCH_INTERVAL: give seconds between 5 and 3600")


class ServeSettings(Settings, SlackSettings, DigestSettings, WatchSettings, FixSettings):
    """Everything `fpcheck serve` reads, in one load: the engine, the Slack face, the digest, the watch,
    the fix flow."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")


def load_serve_settings(**overrides: object) -> ServeSettings:
    """The environment (and .env) read once for the whole serve process; a one-line ConfigError when
    malformed, naming a Slack setting first (they have always been checked before the engine's)."""
    try:
        return ServeSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise config_error(exc, first_of=SlackSettings.model_fields) from None
