"""Settings, read once from ``JIANGUAN_*`` environment variables into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SOURCES = ("supervision", "complaints", "credit", "gov_services")
"""The four sources; each has its own database (R3, R5)."""

CLIENT_OPERATIONS = Path(__file__).parents[1] / "client" / "persisted"
"""The partner client's operations as it sends them: always on the persisted allow-list."""

Environment = Literal["development", "production"]
UsccLegacy = Literal["reject", "warn"]


class SettingsError(ValueError):
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
    persisted_queries: tuple[Path, ...] = (CLIENT_OPERATIONS,)
    persisted_only: bool = False
    public_cache_seconds: int = 60

    def __post_init__(self) -> None:
        urls = {name: _default_url(self.var_dir, name) for name in SOURCES}
        unknown = set(self.source_urls) - set(SOURCES)
        if unknown:
            raise SettingsError(f"unknown source(s) {sorted(unknown)}; sources are {SOURCES}")
        urls.update({k: normalise_database_url(v) for k, v in self.source_urls.items()})
        object.__setattr__(self, "source_urls", urls)
        reads = {name: urls[name] for name in SOURCES}
        unknown = set(self.read_urls) - set(SOURCES)
        if unknown:
            raise SettingsError(f"unknown source(s) {sorted(unknown)}; sources are {SOURCES}")
        reads.update({k: normalise_database_url(v) for k, v in self.read_urls.items()})
        object.__setattr__(self, "read_urls", reads)

    def database_url(self, source: str) -> str:
        """The database URL of one source."""
        try:
            return self.source_urls[source]
        except KeyError:
            raise SettingsError(f"unknown source {source!r}; sources are {SOURCES}") from None

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
            for name in SOURCES
            if (url := get(f"{name.upper()}_DATABASE_URL")) is not None
        }
        reads = {name: url for name in SOURCES if (url := get(f"{name.upper()}_URL")) is not None}
        holidays = get("HOLIDAYS_FILE")
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
            persisted_queries=(
                CLIENT_OPERATIONS,
                *(Path(p) for p in (get("PERSISTED_QUERIES") or "").split(os.pathsep) if p),
            ),
            persisted_only=_flag(get("PERSISTED_ONLY"), "PERSISTED_ONLY"),
            public_cache_seconds=_int(
                get("PUBLIC_CACHE_SECONDS"), 60, "PUBLIC_CACHE_SECONDS", minimum=0
            ),
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
