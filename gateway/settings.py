"""Settings, read once from ``JIANGUAN_*`` environment variables into a typed object."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from standard.divisions import NoDivisionList, official_divisions
from standard.errors import Misconfigured
from standard.source_names import SOURCE_NAMES

CLIENT_OPERATIONS = Path(__file__).parents[1] / "client" / "persisted"
"""The partner client's operations as it sends them: always on the persisted allow-list."""

Environment = Literal["development", "production"]
UsccLegacy = Literal["reject", "warn"]


class SettingsError(Misconfigured):
    """An environment variable holds a value the gateway cannot use."""


def _default_url(var_dir: Path, name: str) -> str:
    return f"sqlite+aiosqlite:///{var_dir / f'{name}.db'}"


def normalise_database_url(url: str) -> str:
    """Pick the async driver for a plain ``postgresql://`` or ``sqlite://`` URL."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway and the CLI read from the environment."""

    environment: Environment = "development"
    var_dir: Path = Path("var")
    source_urls: Mapping[str, str] = field(default_factory=dict)
    redis_url: str | None = None
    holidays_file: Path | None = None
    uscc_legacy: UsccLegacy = "reject"
    province_code: str = "610000"
    late_after_working_days: int = 5
    ingest_batch_size: int = 5000
    read_urls: Mapping[str, str] = field(default_factory=dict)
    source_api_token: str | None = field(default=None, repr=False)
    source_timeout: float = 3.0
    request_timeout: float = 10.0
    # A push of 1,000 records (the most one call takes) of the short complaint in partners.md
    # is 399 KB; real complaint texts are longer. Documents have their own, smaller limit.
    max_body_bytes: int = 1_048_576
    otel_endpoint: str | None = None
    persisted_queries: tuple[Path, ...] = (CLIENT_OPERATIONS,)
    persisted_only: bool = False
    public_cache_seconds: int = 60
    gateway_url: str = ""
    password_max_age_days: int = 90
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    token_minutes: int = 15
    rate_limit: str = "600/minute"
    auth_rate_limit: str = "30/minute"
    audit_retention_days: int = 180
    audit_checkpoint_every: int = 1000
    audit_key_file: Path | None = None
    pseudonym_key_file: Path | None = None
    ckan_url: str | None = None  # CKAN_URL: the open-data portal
    ckan_api_token: str | None = field(default=None, repr=False)  # CKAN_API_TOKEN
    # CKAN_DATASTORE_WRITE_URL: the DataStore database (CKAN's ckan.datastore.write_url), for
    # loading tables with COPY; without it the publisher loads through the DataStore API.
    ckan_datastore_write_url: str | None = field(default=None, repr=False)
    # Addresses (or networks) of the reverse proxies in front: only their X-Forwarded-For is
    # believed, so per-address limits count the real caller, not the proxy.
    trusted_proxies: tuple[str, ...] = ()
    # Bearer token Prometheus must send for /metrics; without one, /metrics is not served.
    metrics_token: str | None = field(default=None, repr=False)
    # Run the background jobs (webhook delivery, overdue marking, reminders) inside the serving
    # process. From the environment: yes on the embedded default (SQLite: the queue is in
    # memory, no other process could share it); on PostgreSQL `jianguan jobs worker` runs them,
    # unless JIANGUAN_JOBS_IN_PROCESS=true (one machine, one process).
    jobs_in_process: bool = False

    def __post_init__(self) -> None:
        urls = {name: _default_url(self.var_dir, name) for name in SOURCE_NAMES}
        unknown = set(self.source_urls) - set(SOURCE_NAMES)
        if unknown:
            raise SettingsError(f"unknown source(s) {sorted(unknown)}; sources are {SOURCE_NAMES}")
        urls.update({k: normalise_database_url(v) for k, v in self.source_urls.items()})
        object.__setattr__(self, "source_urls", urls)
        reads = {name: urls[name] for name in SOURCE_NAMES}
        unknown = set(self.read_urls) - set(SOURCE_NAMES)
        if unknown:
            raise SettingsError(f"unknown source(s) {sorted(unknown)}; sources are {SOURCE_NAMES}")
        reads.update({k: normalise_database_url(v) for k, v in self.read_urls.items()})
        object.__setattr__(self, "read_urls", reads)
        gateway = self.gateway_url or _default_url(self.var_dir, "gateway")
        object.__setattr__(self, "gateway_url", normalise_database_url(gateway))
        try:
            official_divisions(self.province_code)
        except NoDivisionList as exc:
            raise SettingsError(f"JIANGUAN_PROVINCE_CODE: {exc}") from None
        if self.audit_retention_days < 180:
            raise SettingsError(
                "JIANGUAN_AUDIT_RETENTION_DAYS must be at least 180 (Cybersecurity Law, 6 months)"
            )

    @property
    def gateway_on_postgres(self) -> bool:
        return self.gateway_url.startswith("postgresql")

    def database_url(self, source: str) -> str:
        """The database URL of one source."""
        try:
            return self.source_urls[source]
        except KeyError:
            raise SettingsError(f"unknown source {source!r}; sources are {SOURCE_NAMES}") from None

    def read_url(self, source: str) -> str:
        """Where the gateway reads ``source``: its database, or its source-exchange HTTP API."""
        self.database_url(source)  # names an unknown source clearly
        return self.read_urls[source]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``JIANGUAN_*`` variables; unset ones keep their defaults."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"JIANGUAN_{name}")
            return value if value else None

        environment = get("ENVIRONMENT") or "development"
        if environment not in ("development", "production"):
            raise SettingsError(
                f"JIANGUAN_ENVIRONMENT must be 'development' or 'production', not {environment!r}"
            )
        legacy = get("USCC_LEGACY") or "reject"
        if legacy not in ("reject", "warn"):
            raise SettingsError(f"JIANGUAN_USCC_LEGACY must be 'reject' or 'warn', not {legacy!r}")
        urls = {
            name: url
            for name in SOURCE_NAMES
            if (url := get(f"{name.upper()}_DATABASE_URL")) is not None
        }
        reads = {
            name: url for name in SOURCE_NAMES if (url := get(f"{name.upper()}_URL")) is not None
        }
        holidays = get("HOLIDAYS_FILE")
        gateway_url = normalise_database_url(get("DATABASE_URL") or "")
        on_postgres = gateway_url.startswith("postgresql")
        in_process = get("JOBS_IN_PROCESS")
        if in_process is not None and not on_postgres and not _flag(in_process, "JOBS_IN_PROCESS"):
            raise SettingsError(
                "JIANGUAN_JOBS_IN_PROCESS=false needs JIANGUAN_DATABASE_URL on PostgreSQL: on"
                " SQLite the job queue is in the serving process's memory"
            )
        return cls(
            environment=environment,  # type: ignore[arg-type]  # checked above
            var_dir=Path(get("VAR_DIR") or "var"),
            source_urls=urls,
            redis_url=get("REDIS_URL"),
            holidays_file=Path(holidays) if holidays else None,
            uscc_legacy=legacy,  # type: ignore[arg-type]  # checked above
            province_code=get("PROVINCE_CODE") or "610000",
            late_after_working_days=_int(
                get("LATE_AFTER_WORKING_DAYS"), 5, "LATE_AFTER_WORKING_DAYS"
            ),
            ingest_batch_size=_int(get("INGEST_BATCH_SIZE"), 5000, "INGEST_BATCH_SIZE"),
            read_urls=reads,
            source_api_token=get("SOURCE_API_TOKEN"),
            source_timeout=_seconds(get("SOURCE_TIMEOUT"), 3.0, "SOURCE_TIMEOUT"),
            request_timeout=_seconds(get("REQUEST_TIMEOUT"), 10.0, "REQUEST_TIMEOUT"),
            max_body_bytes=_int(get("MAX_BODY_BYTES"), 1_048_576, "MAX_BODY_BYTES", minimum=16_384),
            otel_endpoint=_http_url(get("OTEL_ENDPOINT"), "OTEL_ENDPOINT"),
            persisted_queries=(
                CLIENT_OPERATIONS,
                *(Path(p) for p in (get("PERSISTED_QUERIES") or "").split(os.pathsep) if p),
            ),
            persisted_only=_flag(get("PERSISTED_ONLY"), "PERSISTED_ONLY"),
            public_cache_seconds=_int(
                get("PUBLIC_CACHE_SECONDS"), 60, "PUBLIC_CACHE_SECONDS", minimum=0
            ),
            gateway_url=gateway_url,
            password_max_age_days=_int(get("PASSWORD_MAX_AGE_DAYS"), 90, "PASSWORD_MAX_AGE_DAYS"),
            lockout_attempts=_int(get("LOCKOUT_ATTEMPTS"), 5, "LOCKOUT_ATTEMPTS"),
            lockout_minutes=_int(get("LOCKOUT_MINUTES"), 15, "LOCKOUT_MINUTES"),
            session_idle_minutes=_int(get("SESSION_IDLE_MINUTES"), 30, "SESSION_IDLE_MINUTES"),
            session_max_hours=_int(get("SESSION_MAX_HOURS"), 12, "SESSION_MAX_HOURS"),
            token_minutes=_int(get("TOKEN_MINUTES"), 15, "TOKEN_MINUTES"),
            rate_limit=_rate(get("RATE_LIMIT"), "600/minute", "RATE_LIMIT"),
            auth_rate_limit=_rate(get("AUTH_RATE_LIMIT"), "30/minute", "AUTH_RATE_LIMIT"),
            audit_retention_days=_int(
                get("AUDIT_RETENTION_DAYS"), 180, "AUDIT_RETENTION_DAYS", minimum=180
            ),
            audit_checkpoint_every=_int(
                get("AUDIT_CHECKPOINT_EVERY"), 1000, "AUDIT_CHECKPOINT_EVERY"
            ),
            audit_key_file=Path(key) if (key := get("AUDIT_KEY_FILE")) else None,
            pseudonym_key_file=Path(p) if (p := get("PSEUDONYM_KEY_FILE")) else None,
            ckan_url=env.get("CKAN_URL") or None,
            ckan_api_token=env.get("CKAN_API_TOKEN") or None,
            ckan_datastore_write_url=env.get("CKAN_DATASTORE_WRITE_URL") or None,
            trusted_proxies=_networks(get("TRUSTED_PROXIES"), "TRUSTED_PROXIES"),
            metrics_token=_token(get("METRICS_TOKEN"), "METRICS_TOKEN"),
            jobs_in_process=_flag(in_process, "JOBS_IN_PROCESS") if on_postgres else True,
        )


def _int(value: str | None, default: int, name: str, *, minimum: int = 1) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"JIANGUAN_{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise SettingsError(f"JIANGUAN_{name} must be at least {minimum}, not {number}")
    return number


def _rate(value: str | None, default: str, name: str) -> str:
    from gateway.ratelimit import BadRate, parse_rate

    text = value or default
    try:
        return parse_rate(text)
    except BadRate:
        raise SettingsError(
            f"JIANGUAN_{name} must be a rate such as '600/minute', not {text!r}"
        ) from None


def _seconds(value: str | None, default: float, name: str) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"JIANGUAN_{name} must be a number of seconds, not {value!r}") from None
    if not 0 < number <= 600:
        raise SettingsError(f"JIANGUAN_{name} must be between 0 and 600 seconds, not {number}")
    return number


def _flag(value: str | None, name: str) -> bool:
    if value is None:
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"JIANGUAN_{name} must be true or false, not {value!r}")


def _http_url(value: str | None, name: str) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise SettingsError(f"JIANGUAN_{name} must be an http(s):// URL, not {value!r}")
    return value


def _networks(value: str | None, name: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks (CIDR), each checked, in canonical form."""
    if value is None:
        return ()
    found = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        try:
            found.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise SettingsError(
                f"JIANGUAN_{name}: {entry!r} is not an IP address or network such as"
                " '10.0.0.5' or '10.0.0.0/24'"
            ) from None
    return tuple(found)


def _token(value: str | None, name: str) -> str | None:
    # A short token can be guessed; the value itself never goes into the message.
    if value is not None and len(value) < 16:
        raise SettingsError(f"JIANGUAN_{name} must be at least 16 characters long")
    return value
