"""The engine's configuration, from the environment and a `.env` file (see README and .env.example)."""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Literal

from pydantic import SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from checks.facts import CheckConfig, Mode
from checks.setting_values import (
    clean_secret,
    firstpromoter_key_problem,
    http_url,
    key_mode,
    seconds,
    stripe_key_problem,
)

DEFAULT_STRIPE_API_BASE = "https://api.stripe.com"
DEFAULT_FP_API_BASE = "https://api.firstpromoter.com/api/v2/company"
DEFAULT_FP_V1_API_BASE = "https://firstpromoter.com/api/v1"

class ConfigError(ValueError):
    """Missing or malformed configuration; `str(exc)` is one line naming the setting, never its value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = DEFAULT_STRIPE_API_BASE
    stripe_other_mode_api_key: SecretStr | None = None
    firstpromoter_api_key: SecretStr | None = None
    firstpromoter_account_id: str | None = None
    firstpromoter_api_base: str = DEFAULT_FP_API_BASE
    # a FirstPromoter v1 ("legacy") account: its V1 API key instead of the V2 key and Account ID (README)
    firstpromoter_v1_api_key: SecretStr | None = None
    firstpromoter_v1_api_base: str = DEFAULT_FP_V1_API_BASE
    fpcheck_expected_stripe_account: str | None = None
    fpcheck_expected_stripe_mode: Literal["live", "test"] | None = None
    # seconds: one upstream call (read timeout), and the whole run
    fpcheck_timeout: float = 8.0
    fpcheck_deadline: float = 20.0
    # seconds that account-level facts (Stripe account, promoter campaigns) stay cached
    fpcheck_cache_ttl: float = 300.0
    fpcheck_redis_url: str | None = None
    # the time zone sweep dates and the digest's schedule are read in (an IANA name); UTC when unset
    fpcheck_tz: str | None = None
    # where terminal runs share the promoter-campaign index without Redis (default: the user's cache dir)
    fpcheck_cache_dir: str | None = None
    # read by bot/logs.py before anything else (so that even settings errors are logged privately);
    # declared here so that a value it does not know is refused like any other bad setting
    fpcheck_log_level: Literal["debug", "info", "warning", "error"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_placeholders(cls, data: object) -> object:
        """A value still as `.env.example` shows it (`rk_live_...`) is a setting not filled in yet."""
        if isinstance(data, dict):
            for name, value in data.items():
                if isinstance(value, str) and ("..." in value or "…" in value):
                    raise ValueError(f"{str(name).upper()} is still the placeholder from .env.example: put the real "
                                     "value there, or remove the line")
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: object, info: ValidationInfo) -> object:
        # the engine's own fields: `fpcheck serve`'s settings add the bot's (bot/slack/settings.py),
        # which keep their own rules for a blank value
        if info.field_name not in Settings.model_fields:
            return v
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator(
        "stripe_api_key", "stripe_other_mode_api_key", "firstpromoter_api_key", "firstpromoter_account_id",
        "fpcheck_expected_stripe_account", "fpcheck_redis_url", "firstpromoter_v1_api_key", mode="before",
    )
    @classmethod
    def _clean(cls, v: object) -> object:
        return clean_secret(v)

    @field_validator("stripe_api_base", "firstpromoter_api_base", "firstpromoter_v1_api_base", mode="before")
    @classmethod
    def _url(cls, v: object, info: ValidationInfo) -> object:
        if v is None or (isinstance(v, str) and not v.strip()):
            return {"stripe_api_base": DEFAULT_STRIPE_API_BASE,
                    "firstpromoter_v1_api_base": DEFAULT_FP_V1_API_BASE}.get(info.field_name or "", DEFAULT_FP_API_BASE)
        return http_url(v)

    @field_validator("fpcheck_timeout", "fpcheck_deadline")
    @classmethod
    def _positive_seconds(cls, v: float) -> float:
        return seconds(v, zero_ok=False)

    @field_validator("fpcheck_cache_ttl")
    @classmethod
    def _ttl(cls, v: float) -> float:
        return seconds(v, zero_ok=True)

    @field_validator("fpcheck_expected_stripe_mode", "fpcheck_log_level", mode="before")
    @classmethod
    def _lower_mode(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check_keys(self) -> Settings:
        for name in ("stripe_api_key", "stripe_other_mode_api_key"):
            secret = getattr(self, name)
            problem = stripe_key_problem(secret.get_secret_value()) if secret is not None else None
            if problem:
                raise ValueError(
                    f"{name.upper()} {problem}; it must be a secret or restricted key (sk_live_, sk_test_, "
                    "rk_live_ or rk_test_)"
                )
        fp_problem = firstpromoter_key_problem(self._secret(self.firstpromoter_api_key) or "")
        if fp_problem:
            raise ValueError(f"FIRSTPROMOTER_API_KEY {fp_problem}")
        v1_problem = firstpromoter_key_problem(self._secret(self.firstpromoter_v1_api_key) or "")
        if v1_problem:
            raise ValueError(f"FIRSTPROMOTER_V1_API_KEY {v1_problem.replace('V2 API key', 'V1 (legacy) API key')}")
        main, other = self.stripe_key_mode, key_mode(self._secret(self.stripe_other_mode_api_key))
        if main and other and main == other:
            raise ValueError(f"STRIPE_OTHER_MODE_API_KEY must be a {'test' if main == 'live' else 'live'} key")
        url = self.fpcheck_redis_url
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("FPCHECK_REDIS_URL: must start with redis://, rediss:// or unix://")
        acct = self.fpcheck_expected_stripe_account
        if acct and not re.match(r"^acct_[A-Za-z0-9]+$", acct):
            raise ValueError("FPCHECK_EXPECTED_STRIPE_ACCOUNT must look like acct_1AbC...")
        return self

    @staticmethod
    def _secret(s: SecretStr | None) -> str | None:
        return s.get_secret_value() if s is not None else None

    def secret_values(self) -> list[str]:
        """The configured secrets, for the log filter to hide wherever they appear."""
        values = [self.stripe_api_key, self.stripe_other_mode_api_key, self.firstpromoter_api_key,
                  self.firstpromoter_v1_api_key]
        return [v.get_secret_value() for v in values if v is not None] + [self.fpcheck_redis_url or ""]

    @property
    def firstpromoter_v1(self) -> bool:
        """A v1 ("legacy") account: FIRSTPROMOTER_V1_API_KEY set and no V2 key (checks/fp_kind.py)."""
        return self.firstpromoter_v1_api_key is not None and self.firstpromoter_api_key is None

    @property
    def stripe_key_mode(self) -> Mode | None:
        return key_mode(self._secret(self.stripe_api_key))

    def check_config(self) -> CheckConfig:
        return CheckConfig(
            expected_stripe_account=self.fpcheck_expected_stripe_account,
            expected_stripe_mode=self.fpcheck_expected_stripe_mode,
            other_mode_configured=self.stripe_other_mode_api_key is not None,
        )

    def require_upstreams(self) -> None:
        """Raise ConfigError naming every missing setting the engine needs to run."""
        missing = [
            name
            for name, value in (
                ("STRIPE_API_KEY", self.stripe_api_key),
                ("FIRSTPROMOTER_API_KEY", self.firstpromoter_api_key),
                ("FIRSTPROMOTER_ACCOUNT_ID", self.firstpromoter_account_id),
            )
            if value is None and not (self.firstpromoter_v1 and name.startswith("FIRSTPROMOTER_"))
        ]
        if missing:
            raise ConfigError(f"missing setting(s): {', '.join(missing)} (see README, Configuration)")

    def require_sweepable(self, what: str = "fpcheck sweep") -> None:
        """Raise ConfigError for a v1 account: a sweep (and the digest and watch built on it) finds
        commissions by their Stripe ids, a search FirstPromoter's v1 API does not have."""
        self.require_upstreams()
        if self.firstpromoter_v1:
            raise ConfigError(v1_cannot_sweep(what))


def v1_cannot_sweep(what: str) -> str:
    return (f"{what} needs a FirstPromoter v2 account (FIRSTPROMOTER_API_KEY and FIRSTPROMOTER_ACCOUNT_ID): "
            "it finds commissions by their Stripe ids, which FirstPromoter's v1 API cannot search; "
            "on v1, check people one at a time (fpcheck check EMAIL)")


def config_error(exc: ValidationError, first_of: Container[str] = ()) -> ConfigError:
    """The first problem of a settings ValidationError as one line naming the setting; a problem of a
    field in `first_of` before any other.  The offending value is never echoed: it may be a secret."""
    errors = exc.errors(include_input=False, include_url=False)
    first = next((e for e in errors if e["loc"] and e["loc"][0] in first_of), errors[0])
    where = ".".join(str(p) for p in first.get("loc", ())).upper()
    msg = first.get("msg", "invalid").removeprefix("Value error, ")
    return ConfigError(f"{where}: {msg}" if where else msg)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and .env), as a one-line ConfigError when malformed."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise config_error(exc) from None
