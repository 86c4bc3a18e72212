"""Settings come from JIANGUAN_* variables, once, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import Settings, SettingsError


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings.from_env({})
    assert settings.environment == "development"
    assert settings.database_url("complaints") == "sqlite+aiosqlite:///var/complaints.db"
    assert settings.read_url("complaints") == settings.database_url("complaints")
    assert settings.persisted_only is False and settings.public_cache_seconds == 60


def test_variables_are_read_and_urls_get_their_driver() -> None:
    settings = Settings.from_env(
        {
            "JIANGUAN_ENVIRONMENT": "production",
            "JIANGUAN_CREDIT_DATABASE_URL": "postgresql://u@db/credit",
            "JIANGUAN_COMPLAINTS_URL": "http://complaints.internal:8101",
            "JIANGUAN_SOURCE_TIMEOUT": "1.5",
            "JIANGUAN_PERSISTED_ONLY": "true",
            "JIANGUAN_PERSISTED_QUERIES": "/etc/a:/etc/b",
            "JIANGUAN_PUBLIC_CACHE_SECONDS": "0",
            "JIANGUAN_SOURCE_API_TOKEN": "s3cret-token",
        }
    )
    assert settings.database_url("credit") == "postgresql+asyncpg://u@db/credit"
    assert settings.read_url("complaints") == "http://complaints.internal:8101"
    assert settings.source_timeout == 1.5 and settings.persisted_only
    assert settings.persisted_queries[1:] == (Path("/etc/a"), Path("/etc/b"))
    assert settings.public_cache_seconds == 0
    assert "s3cret" not in repr(settings)  # secrets never end up in logs through repr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"JIANGUAN_ENVIRONMENT": "staging"}, "JIANGUAN_ENVIRONMENT"),
        ({"JIANGUAN_USCC_LEGACY": "maybe"}, "JIANGUAN_USCC_LEGACY"),
        ({"JIANGUAN_INGEST_BATCH_SIZE": "0"}, "at least 1"),
        ({"JIANGUAN_INGEST_BATCH_SIZE": "many"}, "whole number"),
        ({"JIANGUAN_SOURCE_TIMEOUT": "-1"}, "between 0 and 600"),
        ({"JIANGUAN_PERSISTED_ONLY": "perhaps"}, "true or false"),
        ({"JIANGUAN_PUBLIC_CACHE_SECONDS": "-5"}, "at least 0"),
    ],
)
def test_bad_values_name_the_variable(variables: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(variables)


def test_unknown_source() -> None:
    with pytest.raises(SettingsError, match="unknown source"):
        Settings().database_url("weather")
