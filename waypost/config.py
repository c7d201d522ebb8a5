"""Settings: one typed object built from ``WAYPOST_*`` environment variables.

Settings are parsed strictly (a bad value names its variable) and passed
explicitly; nothing below the CLI reads ``os.environ``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from waypost.errors import ConfigurationError

Seconds = Annotated[tuple[float, ...], NoDecode]


def _parse_delays(value: object) -> object:
    """Accept ``"60,60,60"`` (the environment form) as well as a sequence."""
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",") if part.strip()]
        return tuple(float(part) for part in parts)
    return value


class Settings(BaseSettings):
    """Every tunable of waypost. Defaults follow the vendors' documents."""

    model_config = SettingsConfigDict(env_prefix="WAYPOST_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./waypost.db"
    sqlite_synchronous: str = "NORMAL"
    """WAL ``synchronous``: NORMAL survives a process crash, FULL also a power loss."""
    sqlite_lock_timeout: float = Field(default=5.0, ge=0)
    """How long a write waits for another process's lock on the SQLite file before it
    fails as unavailable (503); the event loop serves everything else meanwhile."""
    database_retry_max: float = Field(default=5.0, gt=0)
    """The longest pause between a background loop's tries while the database is
    unavailable: after an outage, work resumes within this many seconds."""
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    """Base of links waypost hands out; default: the address ``serve`` listens on."""
    http_header_timeout: float = Field(default=10.0, gt=0)
    """Seconds for a request's whole head to arrive, from the connection's opening or the
    previous response (a head is a few hundred bytes: one round trip for a real client)."""
    http_body_timeout: float = Field(default=60.0, gt=0)
    """Seconds for a request's whole body to arrive, from the end of its head."""

    # Observability.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, gt=0, lt=65536)
    """Where ``worker`` serves ``/metrics``, ``/healthz`` and ``/readyz``; none if unset
    (``serve`` and ``api`` serve them on their own port)."""
    readiness_timeout: float = Field(default=2.0, gt=0)
    """How long ``/readyz`` waits for the database before answering 503."""
    log_format: str = Field(default="text", pattern="^(text|json)$")
    """``json``: one JSON object per log line; ``text``: human-readable lines."""

    # Delivery (Bringg: 3 retries, 1 minute apart; Bring Event Cast: 30 min, 30 min, 1 h).
    retry_delays: Seconds = (60.0, 60.0, 60.0)
    eventcast_retry_delays: Seconds = (1800.0, 1800.0, 3600.0)
    allow_private_targets: bool = False
    ca_bundle: str | None = None
    connect_timeout: float = Field(default=10.0, gt=0)
    request_timeout: float = Field(default=30.0, gt=0)
    ack_timeout: float = Field(default=30.0, gt=0)
    lease_seconds: float = Field(default=60.0, gt=0)
    poll_interval: float = Field(default=0.2, gt=0)
    dispatch_concurrency: int = Field(default=256, gt=0)
    dispatch_batch_size: int = Field(default=500, gt=0)
    per_host_connections: int = Field(default=64, gt=0)
    response_excerpt_bytes: int = Field(default=2048, ge=0)

    # Secrets at rest and outgoing mail.
    secret_key: str | None = None
    smtp_url: str | None = None
    smtp_from: str = "waypost@localhost"

    # API limits (Bring Event Cast: 50 concurrent requests per user, 10 on the test endpoint).
    max_concurrent_requests: int = Field(default=50, gt=0)
    max_concurrent_tests: int = Field(default=10, gt=0)
    rate_limit_per_second: float = Field(default=1000.0, gt=0)
    rate_limit_burst: int = Field(default=2000, gt=0)

    # Subscriptions.
    subscription_lifetime_days: int = Field(default=30, gt=0)
    idempotency_hours: int = Field(default=24, gt=0)

    # Reports (Bringg: a range of at most 31 days; the CSV link is valid 30 days).
    report_max_days: int = Field(default=31, gt=0)
    report_poll_interval: float = Field(default=1.0, gt=0)
    report_lease_seconds: float = Field(default=300.0, gt=0)
    report_link_seconds: float = Field(default=30 * 86400.0, gt=0)
    """How long a report's signed CSV URL works (the seed: 30 days)."""
    session_hours: int = Field(default=12, gt=0)
    """Lifetime of an ``authentication_token`` from ``POST /tokens``."""

    @field_validator("retry_delays", "eventcast_retry_delays", mode="before")
    @classmethod
    def _delays(cls, value: object) -> object:
        return _parse_delays(value)

    @field_validator("retry_delays", "eventcast_retry_delays")
    @classmethod
    def _non_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay < 0 for delay in value):
            raise ValueError("delays must be non-negative seconds")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus explicit overrides (CLI flags).

    A malformed variable raises ``ConfigurationError`` naming ``WAYPOST_<KEY>``.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"WAYPOST_{str(error['loc'][0]).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from exc
