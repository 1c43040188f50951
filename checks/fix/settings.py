"""FPCHECK_ALLOW_FIXES and its companions, from the environment and `.env` like every setting.

Off unless asked for: without FPCHECK_ALLOW_FIXES=true nothing writes (planning still works, it only
reads); in Slack only the user ids in FPCHECK_FIX_USERS may apply a fix (empty: nobody).
"""

from __future__ import annotations

import math
import re

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from checks.fix.writer import FirstPromoterWriter
from checks.ratelimit import Limiter
from checks.settings import ConfigError, Settings, config_error

_ID = re.compile(r"^[A-Z0-9]{2,32}$")


class FixSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    fpcheck_allow_fixes: bool = False
    fpcheck_fix_users: str = ""  # comma-separated Slack user ids who may apply a fix
    # seconds after a fix before the report is checked again (FirstPromoter needs ~2 minutes)
    fpcheck_fix_recheck_delay: float = 120.0
    # seconds a fix follows FirstPromoter's import batch before it says "still running"
    fpcheck_fix_batch_wait: float = 20.0

    @field_validator("fpcheck_allow_fixes", mode="before")
    @classmethod
    def _flag(cls, v: object) -> object:
        if v is None or (isinstance(v, str) and not v.strip()):
            return False
        if isinstance(v, str) and v.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("must be true or false")
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("fpcheck_fix_users", mode="before")
    @classmethod
    def _ids(cls, v: object) -> object:
        ids = [p.strip() for p in str(v or "").split(",") if p.strip()]
        bad = [p for p in ids if not (_ID.match(p) and p[0] in "UW")]
        if bad:
            raise ValueError(f"must be comma-separated Slack user ids like U0123ABCD; not one: {bad[0][:40]}")
        return ",".join(ids)

    @field_validator("fpcheck_fix_recheck_delay", "fpcheck_fix_batch_wait")
    @classmethod
    def _seconds(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0 or v > 3600:
            raise ValueError("must be a number of seconds from 0 to 3600")
        return v

    @property
    def fix_users(self) -> frozenset[str]:
        return frozenset(p for p in self.fpcheck_fix_users.split(",") if p)


def load_fix_settings(**values: object) -> FixSettings:
    try:
        return FixSettings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise config_error(exc) from None


def writer_for(settings: Settings, limiter: Limiter | None = None) -> FirstPromoterWriter:
    """The writer on the engine's FirstPromoter settings (and its rate budget)."""
    if settings.firstpromoter_api_key is None or not settings.firstpromoter_account_id:
        raise ConfigError("missing setting(s): FIRSTPROMOTER_API_KEY, FIRSTPROMOTER_ACCOUNT_ID")
    return FirstPromoterWriter(settings.firstpromoter_api_key.get_secret_value(), settings.firstpromoter_account_id,
                               settings.firstpromoter_api_base, timeout=settings.fpcheck_timeout, limiter=limiter)
