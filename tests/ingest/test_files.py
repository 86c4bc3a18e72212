"""Files as departments send them: NDJSON and CSV, UTF-8 with or without BOM, GBK from Excel."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from ingest.readers import FileError, Unreadable, detect_format, read_records
from ingest.service import IngestOptions, ingest_file
from sources.database import SourceDatabases
from standard.tables.complaints import Complaint
from standard.workdays import WorkCalendar
from tests.ingest.factory import RECEIVED, Factory

FIELDS = [
    "cd_id",
    "produced_at",
    "ticket_no",
    "channel",
    "complaint_type",
    "category",
    "title",
    "content",
    "complainant_name",
    "complainant_phone",
    "division_code",
    "status",
]


def csv_text(records: list[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def complaints(n: int) -> list[dict[str, object]]:
    factory = Factory()
    # Chinese labels, as an Excel user would type them.
    return [factory.complaint(i, channel="12345热线", status="已受理") for i in range(n)]


async def run(dbs: SourceDatabases, path: Path, encoding: str = "utf-8"):  # type: ignore[no-untyped-def]
    options = IngestOptions(
        provider="P-12345",
        received_at=RECEIVED,
        calendar=WorkCalendar(),
        settings=dbs._settings,
        file_name=path.name,
        matters=dbs.engine("supervision"),
    )
    return await ingest_file(
        dbs.engine("complaints"), path, table=Complaint, options=options, encoding=encoding
    )


async def names(dbs: SourceDatabases) -> list[str]:
    async with dbs.sessions("complaints")() as session:
        return list(
            (await session.scalars(select(Complaint.title).order_by(Complaint.cd_id))).all()
        )


@pytest.mark.parametrize("bom", [False, True])
async def test_utf8_csv_with_and_without_bom(
    databases: SourceDatabases, tmp_path: Path, bom: bool
) -> None:
    path = tmp_path / "complaints.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + csv_text(complaints(3)).encode())
    report = await run(databases, path)
    assert (report.inserted, report.rejected) == (3, 0), report.errors
    assert await names(databases) == ["餐馆卫生问题"] * 3


async def test_gbk_csv_from_excel(databases: SourceDatabases, tmp_path: Path) -> None:
    path = tmp_path / "complaints.csv"
    path.write_bytes(csv_text(complaints(2)).encode("gbk"))
    report = await run(databases, path, encoding="gbk")
    assert report.inserted == 2
    assert await names(databases) == ["餐馆卫生问题"] * 2


async def test_gbk_file_read_as_utf8_fails_whole_with_a_hint(
    databases: SourceDatabases, tmp_path: Path
) -> None:
    path = tmp_path / "complaints.csv"
    path.write_bytes(csv_text(complaints(3)).encode("gbk"))
    with pytest.raises(FileError) as caught:
        await run(databases, path)
    message = str(caught.value)
    assert "not valid utf-8 at line 2" in message and "--encoding gbk" in message
    assert await names(databases) == []


async def test_bad_byte_late_in_file_stores_nothing(
    databases: SourceDatabases, tmp_path: Path
) -> None:
    path = tmp_path / "complaints.ndjson"
    lines = [orjson.dumps(r) for r in complaints(5)]
    path.write_bytes(b"\n".join(lines) + b"\n\xff\xfe broken\n")
    with pytest.raises(FileError, match="line 6"):
        await run(databases, path)
    assert await names(databases) == []


async def test_csv_row_with_wrong_column_count_is_rejected_alone(
    databases: SourceDatabases, tmp_path: Path
) -> None:
    text = csv_text(complaints(3)).splitlines()
    text[2] = text[2] + ",extra"
    path = tmp_path / "complaints.csv"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    report = await run(databases, path)
    assert (report.inserted, report.rejected) == (2, 1)
    assert report.errors[0].line == 3 and "columns" in report.errors[0].reason


def test_ndjson_lines_are_numbered_and_bad_json_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n{broken\n[1, 2]\n', encoding="utf-8")
    records = list(read_records(path, fmt="ndjson"))
    assert records[0] == (1, {"a": 1})
    assert records[1][0] == 3 and isinstance(records[1][1], Unreadable)
    assert records[2][0] == 4 and "JSON object" in records[2][1].reason  # type: ignore[union-attr]


def test_csv_line_numbers_count_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a,b\n1,"two\nlines"\n3,4\n', encoding="utf-8")
    assert list(read_records(path, fmt="csv")) == [
        (2, {"a": "1", "b": "two\nlines"}),
        (4, {"a": "3", "b": "4"}),
    ]


def test_format_and_encoding_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="--format"):
        detect_format(tmp_path / "data.xlsx")
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(FileError, match="unsupported encoding 'latin-1'"):
        list(read_records(path, fmt="csv", encoding="latin-1"))
