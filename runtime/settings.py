"""Typed settings, read once at start from the environment and `.env`.

A bad value is reported as one line naming the variable (see `load_settings`), never a traceback.
"""

from __future__ import annotations

import math
import re
import socket
from datetime import time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from storage.categories import TimeLimits
from storage.council import CouncilPolicy
from storage.crypto import PhoneCipher, PhoneKeyError
from storage.digest import DigestPolicy
from storage.escalation import EscalationPolicy
from storage.reminders import ReminderPolicy
from storage.roster import DeskHours, parse_hours
from storage.schedule import parse_clock

SUPPORTED_LOCALES = ("zh_Hans", "en")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/notebook.db"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""


MIN_WEBHOOK_SECRET = 32  # characters of WEBHOOK_SECRET_TOKEN: too long to guess


def normalise_database_url(raw: str) -> str:
    """Accept the URLs people paste (sqlite:///, postgres://) and pick the async drivers."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {raw!r}") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        return str(url.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def parse_weights(value: str) -> tuple[float, float, float]:
    """ "0.1,0.5,0.4" -> the composite's weights of response, resolution and satisfaction."""
    parts = [part.strip() for part in value.split(",")]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if (
        len(numbers) != 3
        or any(n < 0 or not math.isfinite(n) for n in numbers)
        or sum(numbers) <= 0
    ):
        raise ValueError(f"expected three non-negative numbers like 0.1,0.5,0.4, got {value!r}")
    return numbers[0], numbers[1], numbers[2]


class Settings(BaseSettings):
    """Every knob of the bot. Names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = Field(default=None, description="from @BotFather")
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_file_url: str | None = None
    telegram_bot_username: str | None = None
    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_Hans"
    webhook_url: str | None = None
    webhook_secret_token: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_path: str = "telegram"
    # The name this instance writes on the updates it holds (storage/inbox.py), so that after a
    # restart it takes back its own at once. Behind one webhook, give each instance its own.
    instance_name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=100)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    invite_ttl_hours: int = Field(default=168, ge=1)
    # How long the secretary link printed by `community create` / `community secretary-link` works.
    secretary_link_ttl_hours: int = Field(default=72, ge=1)
    # Promised time limits (hours) by class: Beijing 12345 defaults, see DOMAIN.md.
    time_limit_emergency_hours: int = Field(default=2, ge=1)
    time_limit_fire_hazard_hours: int = Field(default=24, ge=1)  # e-bikes charged indoors
    time_limit_utilities_hours: int = Field(default=24, ge=1)
    time_limit_general_hours: int = Field(default=7 * 24, ge=1)
    time_limit_complex_hours: int = Field(default=15 * 24, ge=1)
    max_reports_per_hour: int = Field(default=5, ge=1)
    followup_reminder_days: int = Field(default=3, ge=1)
    # Reminders (local community time) and quiet hours that hold back all but emergencies.
    quiet_hours_start: str = "22:00"
    quiet_hours_end: str = "07:30"
    due_soon_hours: int = Field(default=24, ge=1)
    overdue_nudge_time: str = "09:00"
    escalate_after_hours: int = Field(default=48, ge=1)
    stale_after_days: int = Field(default=3, ge=1)
    agenda_time: str = "08:30"
    digest_weekday: int = Field(default=0, ge=0, le=6)  # 0 = Monday
    digest_time: str = "08:00"
    reminder_scan_minutes: int = Field(default=5, ge=1)
    # Escalation to people (docs/staff.md, "Escalation"): an urgent issue nobody has acted on
    # pages again at this share of its time limit; the new expectation a resident is told after
    # a missed promise (at most); missed promises older than this are not announced; the answer
    # date 转办 proposes (0: the issue's own time limit).
    escalation_repage_fraction: float = Field(default=0.5, gt=0, lt=1)
    escalation_next_answer_hours: int = Field(default=24, ge=1)
    escalation_announce_days: int = Field(default=7, ge=1)
    transfer_answer_hours: int = Field(default=0, ge=0)
    # Files and charts are made in a worker process of the bot's (runtime/offload.py), off the
    # thread that answers every chat; false: on a worker thread of the bot's own process.
    offload_processes: bool = True
    # The three rates (DOMAIN.md): weights of response, resolution and satisfaction in the
    # composite (any three non-negative numbers: 0.1,0.5,0.4 or 30,35,35), how much 基本满意
    # counts, whether "partly solved" counts as resolved; what makes a repeat problem.
    rate_weights: str = "0.1,0.5,0.4"
    satisfaction_basic_factor: float = Field(default=0.9, ge=0, le=1)
    resolution_counts_partly: bool = False
    repeat_min_issues: int = Field(default=3, ge=2)
    repeat_window_days: int = Field(default=28, ge=1)
    # Telegram's limits: about 30 messages/s overall and 20/min per group.
    rate_limit_overall_per_second: float = Field(default=30, gt=0)
    rate_limit_group_per_minute: float = Field(default=20, gt=0)
    rate_limit_chat_per_second: float = Field(default=1, gt=0)
    # The sandbox's web page (python -m bot without a token): http://127.0.0.1:<port>.
    sandbox_port: int = Field(default=8080, ge=0, le=65535)
    # Courtyard council (Shaoxing consultation standard) and the service desk (百通岗).
    council_quick_hours: int = Field(default=48, ge=1)
    council_deep_working_days: int = Field(default=5, ge=1)
    meeting_reminder_time: str = "18:00"  # the evening before a meeting
    desk_morning: str = "08:30-12:00"
    desk_afternoon: str = "14:00-17:30"
    duty_reminder_time: str = "19:00"  # the evening before a desk shift
    # The community office's telephone, printed on posters for people without Telegram.
    office_phone: str = Field(default="", max_length=40)
    # Operations (docs/operations.md): logs, the health endpoint, daily SQLite backups.
    log_format: Literal["text", "json"] = "text"
    health_port: int | None = Field(default=None, ge=0, le=65535)  # polling; see health_server_port
    health_listen: str = "127.0.0.1"
    backup_dir: Path | None = None
    backup_keep: int = Field(default=7, ge=1)
    backup_time: str = "03:30"
    # Privacy (docs/operations.md, "Privacy operations"): retention of closed issues'
    # personal data, phone encryption.
    retention_days: int = Field(default=730, ge=1)
    # Sent and cancelled outbox rows are forgotten this long after (storage/outbox.py: prune).
    outbox_retention_days: int = Field(default=30, ge=1)
    # An update's raw payload (names, Telegram ids, what was written) is kept this long after it
    # was handled, for recovery and a look at a failure; then only what tells a redelivery
    # from a new update stays (storage/inbox.py: `reduce_handled`).
    inbox_payload_hours: int = Field(default=6, ge=1)
    phone_encryption_key: SecretStr | None = None
    # Error reports (bot/error_reports.py): off unless SENTRY_DSN is set; personal data scrubbed.
    sentry_dsn: SecretStr | None = None
    sentry_environment: str | None = None
    # Where people reach the HTTP server's public routes (the calendar feeds, Open311), e.g.
    # https://notebook.example.org; /calendar gives links under it. Unset: no links are given.
    public_url: str | None = None
    # The read-only Open311 GeoReport v2 endpoint (bot/feeds.py): off unless enabled.
    open311_enabled: bool = False

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        head, sep, tail = token.partition(":")
        if not (sep and head.isdigit() and tail):
            raise ValueError("expected the form 123456:ABC… given by @BotFather")
        return SecretStr(token)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator(
        "quiet_hours_start",
        "quiet_hours_end",
        "overdue_nudge_time",
        "agenda_time",
        "digest_time",
        "meeting_reminder_time",
        "duty_reminder_time",
        "backup_time",
    )
    @classmethod
    def _clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @field_validator("rate_weights")
    @classmethod
    def _weights(cls, value: str) -> str:
        parse_weights(value)
        return value

    @field_validator("desk_morning", "desk_afternoon")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"must be one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("sentry_dsn")
    @classmethod
    def _blank_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().strip().startswith(("https://", "http://")):
            raise ValueError("expected the DSN your Sentry project shows (https://…)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("expected an address like https://notebook.example.org")
        return value.strip().rstrip("/")

    @field_validator("health_port", "backup_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("phone_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        try:
            PhoneCipher(value.get_secret_value())
        except PhoneKeyError as exc:
            raise ValueError("not a Fernet key (make one with `python -m bot keygen`)") from exc
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith("https://") and not value.startswith("http://127.0.0.1"):
            raise ValueError("must be an https:// URL that Telegram can reach")
        return value

    def token(self) -> str:
        """The bot token, or SettingsError when a command that talks to Telegram lacks it."""
        if self.telegram_bot_token is None:
            raise SettingsError("TELEGRAM_BOT_TOKEN is not set (see .env.example)")
        return self.telegram_bot_token.get_secret_value()

    @field_validator("webhook_secret_token")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        secret = value.get_secret_value()
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("use 1-256 letters, digits, _ or -")
        if len(secret) < MIN_WEBHOOK_SECRET:
            raise ValueError(
                f"must be at least {MIN_WEBHOOK_SECRET} characters (it has {len(secret)}), "
                "or anyone could guess it and post updates to the bot; make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret_token is None:
            raise PydanticCustomError(
                "webhook_secret", "WEBHOOK_SECRET_TOKEN is required when WEBHOOK_URL is set"
            )
        return self

    @property
    def time_limits(self) -> TimeLimits:
        return TimeLimits(
            emergency=self.time_limit_emergency_hours,
            fire_hazard=self.time_limit_fire_hazard_hours,
            utilities=self.time_limit_utilities_hours,
            general=self.time_limit_general_hours,
            complex=self.time_limit_complex_hours,
        )

    @property
    def reminder_policy(self) -> ReminderPolicy:
        return ReminderPolicy(
            due_soon=timedelta(hours=self.due_soon_hours),
            overdue_nudge_at=parse_clock(self.overdue_nudge_time),
            escalate_after=timedelta(hours=self.escalate_after_hours),
            stale_after=timedelta(days=self.stale_after_days),
            agenda_at=parse_clock(self.agenda_time),
            digest_weekday=self.digest_weekday,
            digest_at=parse_clock(self.digest_time),
        )

    @property
    def escalation_policy(self) -> EscalationPolicy:
        hours = self.transfer_answer_hours
        return EscalationPolicy(
            repage_fraction=self.escalation_repage_fraction,
            next_answer_within=timedelta(hours=self.escalation_next_answer_hours),
            announce_within=timedelta(days=self.escalation_announce_days),
            transfer_answer_within=timedelta(hours=hours) if hours else None,
        )

    @property
    def digest_policy(self) -> DigestPolicy:
        response, resolution, satisfaction = parse_weights(self.rate_weights)
        return DigestPolicy(
            response_weight=response,
            resolution_weight=resolution,
            satisfaction_weight=satisfaction,
            basic_factor=self.satisfaction_basic_factor,
            partly_counts_as_resolved=self.resolution_counts_partly,
            repeat_min_issues=self.repeat_min_issues,
            repeat_window=timedelta(days=self.repeat_window_days),
        )

    @property
    def council_policy(self) -> CouncilPolicy:
        return CouncilPolicy(
            quick_hours=self.council_quick_hours,
            deep_working_days=self.council_deep_working_days,
            meeting_reminder_at=parse_clock(self.meeting_reminder_time),
        )

    @property
    def desk_hours(self) -> DeskHours:
        return DeskHours(
            morning=parse_hours(self.desk_morning),
            afternoon=parse_hours(self.desk_afternoon),
            reminder_at=parse_clock(self.duty_reminder_time),
        )

    @property
    def quiet_hours(self) -> tuple[time, time]:
        return parse_clock(self.quiet_hours_start), parse_clock(self.quiet_hours_end)

    @property
    def health_server_port(self) -> int | None:
        """The port of the bot's HTTP server (bot/health.py): in webhook mode WEBHOOK_PORT, the
        one server of the webhook, /healthz, /metrics and the feeds; when polling HEALTH_PORT,
        where unset or 0 means no server."""
        if self.webhook_url:
            return self.webhook_port
        return self.health_port or None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def file_url(self) -> str:
        if self.telegram_api_file_url:
            return self.telegram_api_file_url
        base = self.telegram_api_base_url
        if base.endswith("/bot"):
            return base[: -len("bot")] + "file/bot"
        return base.rstrip("/") + "/file/bot"

    @property
    def sqlite_path(self) -> Path | None:
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database)


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise SettingsError with one line naming the first bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err["loc"]:  # a rule across several variables: its message names them
            raise SettingsError(str(err["msg"])) from None
        name = str(err["loc"][0]).upper()
        if err["type"] == "missing":
            raise SettingsError(f"{name} is not set (see .env.example)") from None
        message = str(err["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None
