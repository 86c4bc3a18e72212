"""docs/data-standard.md is generated from the tables and documents every field."""

from __future__ import annotations

from pathlib import Path

from standard.document import render
from standard.registry import SOURCES

DOC = Path(__file__).parents[2] / "docs" / "data-standard.md"


def test_committed_document_matches_the_tables() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/data-standard.md is out of date: run `jianguan docs data-standard`"
    )


def test_every_field_has_a_chinese_name_and_appears() -> None:
    text = render()
    for source in SOURCES.values():
        for name, model in source.tables.items():
            assert f"### `{name}`" in text
            for column in model.__table__.columns:  # type: ignore[attr-defined]
                assert column.info.get("zh"), f"{name}.{column.name} has no Chinese name"
                assert f"| `{column.name}` | {column.info['zh']} |" in text
