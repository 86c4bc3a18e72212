"""The release gate: k-anonymity suppresses or refuses, and the residual-PII scan finds every
kind of personal number and the source's own values in the final files, and nothing else."""

from __future__ import annotations

import asyncio
import codecs
import csv
import dataclasses
import io
import json
import pickle
import random
import re
import string
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from open_data import pii
from open_data.check import KAnonymity
from open_data.check import check as check_stage
from open_data.datasets import DATASETS
from open_data.errors import PublishError, ReleaseRefused, SpecError
from open_data.files import DataFiles, to_scan
from open_data.json_stream import json_items, json_rows
from open_data.numbers import fraction, luhn
from open_data.pii import Finding, PersonalValues, Scanner
from open_data.release import KReport, Release, rows_of
from open_data.scan import check_release, personal_values_of, scan
from standard.codes import make_id_number, make_mobile, make_uscc, org_check_char, uscc_check_char

TODAY = date(2025, 6, 30)
RNG = random.Random(20250630)
ID = make_id_number(RNG, division="610113", birth=date(1988, 3, 14), female=True)
ID_X = next(
    code
    for code in (
        make_id_number(RNG, division="110105", birth=date(1949, 12, 31), female=False)
        for _ in range(1000)
    )
    if code.endswith("X")
)
MOBILE = "13812345678"


def with_luhn(body: str) -> str:
    """``body`` and the digit that makes it pass Luhn (computed the long way, not via luhn())."""
    for check in "0123456789":
        digits = [int(d) for d in body + check][::-1]
        total = sum(
            d if i % 2 == 0 else (d * 2 if d < 5 else d * 2 - 9) for i, d in enumerate(digits)
        )
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def fail_luhn(card: str) -> str:
    return card[:-1] + str((int(card[-1]) + 1) % 10)


CARD = with_luhn("622202123456789")  # 16 digits, UnionPay
CARD_19 = with_luhn("955880123456789012")  # 19 digits, legacy ICBC debit
USCC_LAW_FIRM = next(  # an all-digit USCC of a law firm (31…): Luhn-valid, to tempt the card rule
    code
    for code in (
        (lambda first17: first17 + uscc_check_char(first17))(f"31610000{org}{org_check_char(org)}")
        for org in (f"{n:08d}" for n in range(10_000_000, 10_100_000))
    )
    if code.isdigit() and luhn(code)
)


def scanner(*values: str, public: tuple[str, ...] = ()) -> Scanner:
    return Scanner(PersonalValues(values, public=public), today=TODAY)


def kinds(text: str, *values: str) -> list[str]:
    return [hit.kind for hit in scanner(*values).hits(text)]


# ---------------------------------------------------------------- patterns, table-driven


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (ID, "id_number"),
        (f"身份证号{ID}，住址保密", "id_number"),
        (f"ID:{ID}abc", "id_number"),
        (ID_X, "id_number"),
        (ID_X.lower(), "id_number"),  # lower-case x
        (f"证件{ID_X[:-1]}x号", "id_number"),
        (f"{ID[:6]} {ID[6:14]} {ID[14:]}", "id_number"),  # 6-8-4 groups
        (f"{ID[:6]}-{ID[6:14]}-{ID[14:]}", "id_number"),
        ("".join(chr(ord(c) + 0xFEE0) for c in ID), "id_number"),  # full-width digits
        (MOBILE, "mobile"),
        (f"联系电话：{MOBILE}。", "mobile"),
        (f"+86{MOBILE}", "mobile"),
        (f"86{MOBILE}", "mobile"),
        (f"0086{MOBILE}", "mobile"),
        (f"+86 {MOBILE}", "mobile"),
        (f"(+86){MOBILE}", "mobile"),
        ("138 1234 5678", "mobile"),
        ("138-1234-5678", "mobile"),
        ("+86 138-1234-5678", "mobile"),
        ("１３８１２３４５６７８", "mobile"),
        (f"{MOBILE}.0", "mobile"),  # a phone number that went through a float
        ("19912345678", "mobile"),
        (CARD, "bank_card"),
        (f"卡号{CARD}，开户行", "bank_card"),
        (CARD_19, "bank_card"),
        (" ".join(CARD[i : i + 4] for i in range(0, 16, 4)), "bank_card"),
        ("-".join(CARD[i : i + 4] for i in range(0, 16, 4)), "bank_card"),
        (with_luhn("411111111111111"), "bank_card"),  # Visa
        (with_luhn("530000000000000"), "bank_card"),  # Mastercard
        (with_luhn("222100000000000"), "bank_card"),  # Mastercard 2-series
        ("zhang.san+tag@mail.example.com.cn", "email"),
        ("邮箱123456@qq.com联系", "email"),
        ("ｚｓ＠ｅｘａｍｐｌｅ．ｃｏｍ", "email"),
    ],
)
def test_each_kind_is_found(text: str, kind: str) -> None:
    assert kinds(text) == [kind]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(ID[:-1] + ("0" if ID[-1] != "0" else "1"), id="id wrong check digit"),
        pytest.param("1" + ID, id="id inside a 19-digit run"),
        pytest.param(ID + "7", id="id followed by a digit"),
        pytest.param("12" + ID + "34", id="id inside a 22-digit run"),
        pytest.param(
            make_id_number(RNG, division="610113", birth=date(2026, 1, 1), female=True),
            id="id born after today",
        ),
        pytest.param("610113" + "18991231" + "0012", id="id born before 1900 (any check)"),
        pytest.param("610113880314002", id="old 15-digit id: not searched by shape"),
        pytest.param("9" + MOBILE, id="mobile inside a 12-digit run"),
        pytest.param(MOBILE + "0", id="mobile followed by a digit"),
        pytest.param("12345678901", id="11 digits starting 12"),
        pytest.param("0.13812345678", id="fraction of a decimal"),
        pytest.param("138 1234 567", id="short 3-4-3 group"),
        pytest.param("029-8888-1234", id="landline"),
        pytest.param(fail_luhn(CARD), id="card failing luhn"),
        pytest.param("1" + CARD, id="card inside a longer run: 17 digits starting 1"),
        pytest.param(CARD + "0000", id="card inside a 20-digit run"),
        pytest.param(with_luhn("1234567890123"), id="14 digits passing luhn"),
        pytest.param(with_luhn("123456789012345"), id="snowflake-like 16 digits starting 1"),
        pytest.param(with_luhn("2024010112304512"), id="timestamp passing luhn"),
        pytest.param(with_luhn("20240101123045"), id="14-digit date-time passing luhn"),
        pytest.param(with_luhn("72345678901234"), id="prefix 7"),
        pytest.param(USCC_LAW_FIRM, id="all-digit luhn-valid USCC"),
        pytest.param("91610100551385082Q", id="USCC"),
        pytest.param("91350100M0001TGQXM", id="legacy USCC"),
        pytest.param("2024-01-01", id="date"),
        pytest.param("2024-01-01 12:30:45", id="date-time"),
        pytest.param("2024-01-01T12:30:45+08:00", id="ISO instant"),
        pytest.param("20240101123045", id="compact date-time"),
        pytest.param("2024010100001", id="batch code"),
        pytest.param("61011300001234", id="matter code"),
        pytest.param("1234567.89", id="amount"),
        pytest.param("99999999999.99", id="large amount"),
        pytest.param("西市监罚〔2024〕1234号", id="decision number"),
        pytest.param("user@localhost", id="e-mail without a dot"),
        pytest.param("@张三 你好", id="mention"),
        pytest.param("a@b.c", id="one-letter top-level domain"),
        pytest.param("138****5678", id="masked mobile"),
        pytest.param("610113***********5", id="masked id"),
        pytest.param("张*", id="masked name"),
    ],
)
def test_look_alikes_are_not_found(text: str) -> None:
    assert kinds(text) == []


def test_usccs_found_as_neither_card_nor_id() -> None:
    assert luhn(USCC_LAW_FIRM) and USCC_LAW_FIRM.isdigit()
    assert kinds(f"{USCC_LAW_FIRM},{make_uscc(RNG)},{make_uscc(RNG, authority='5')}") == []


def test_samples_are_redacted() -> None:
    hits = scanner("张三丰", "西安市雁塔区小寨东路幸福小区").hits(
        f"{ID} {MOBILE} {CARD} zs@example.com 张三丰 西安市雁塔区小寨东路幸福小区"
    )
    samples = {hit.kind: hit.sample for hit in hits}
    assert samples == {
        "id_number": f"{ID[:6]}***********{ID[-1]}",
        "mobile": "138****5678",
        "bank_card": f"{CARD[:4]}********{CARD[-4:]}",
        "email": "z***@example.com",
        "personal_value": "西***",
    }
    assert [h.sample for h in hits if h.kind == "personal_value"] == ["张**", "西***"]


# ---------------------------------------------------------------- personal values


@pytest.mark.parametrize(
    ("values", "text", "found"),
    [
        (["张三"], "投诉人张三反映", ["张三"]),
        (["张三", "张三丰"], "张三丰", ["张三丰"]),  # longest first, no overlap
        (["王五"], "王五和王五", ["王五", "王五"]),
        (
            ["西安市雁塔区小寨东路8号"],
            "地址：西安市雁塔区小寨东路8号院",
            ["西安市雁塔区小寨东路8号"],
        ),
        (["029-88881234"], "座机029-88881234", ["029-88881234"]),
        ([" 李四 "], "李四", ["李四"]),  # values are stripped
        (["ＡＢ公司"], "AB公司", ["AB公司"]),  # and folded like the text
        (["张"], "张三", []),  # one character: skipped
        (["12345"], "订单12345", []),  # a short number identifies nobody
        (["匿名"], "匿名投诉", []),  # placeholders are not personal
        (["李四"], "李", []),
        (["x" * 40], "yy" + "x" * 32 + "yy", ["x" * 32]),  # long values by their first 32
    ],
)
def test_personal_values(values: list[str], text: str, found: list[str]) -> None:
    assert list(PersonalValues(values).find(text)) == found


def test_public_values_go_with_the_values_they_qualify(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "data.csv", ROWS)
    values = PersonalValues(["王小明"], public=["投诉人王小明已签收"])
    assert scan({"csv": path}, dataset="d", personal_values=values)[0].kind == "mobile"
    with pytest.raises(ValueError, match="PersonalValues"):
        scan({"csv": path}, dataset="d", personal_values=values, public_values=["x"])


def test_public_values_are_never_personal() -> None:
    values = PersonalValues(["雁塔区", "李华"], public=["雁塔区", "西安李华食品店"])
    assert len(values) == 1  # 雁塔区 is public vocabulary
    assert list(values.find("雁塔区")) == []
    assert list(values.find("西安李华食品店")) == []  # a public cell is not searched
    assert list(values.find("李华来电")) == ["李华"]


def test_personal_values_come_from_the_tables_personal_columns() -> None:
    rows: list[dict[str, Any]] = [
        {"complainant_name": "张三", "complainant_phone": MOBILE, "content": "投诉", "title": "x"},
        {"complainant_name": None, "complainant_address": "碑林区", "subject_name": "某公司"},
    ]
    got = list(personal_values_of(rows, table="complaints"))
    assert sorted(got) == sorted(["张三", MOBILE, "投诉", "碑林区"])


# ---------------------------------------------------------------- files and rows


COLUMNS = ["division", "month", "note"]
ROWS: list[dict[str, Any]] = [
    {"division": "610113", "month": "2024-03", "note": "已办结"},
    {"division": "610113", "month": "2024-03", "note": f"请回电{MOBILE}"},
    {"division": "610104", "month": "2024-04", "note": "投诉人王小明已签收"},
]


def write_csv(path: Path, rows: list[dict[str, Any]], *, encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else str(row[c]) for c in COLUMNS])
    return path


def write_json(path: Path, rows: list[dict[str, Any]]) -> Path:
    # The publisher's shape: an array, one object a line.
    lines = ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    path.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
    return path


def located(findings: list[Finding]) -> list[tuple[str, str, int, str]]:
    return [(f.resource, f.column, f.row, f.kind) for f in findings]


EXPECTED = [("note", 2, "mobile"), ("note", 3, "personal_value")]  # in ROWS, with 王小明


@pytest.mark.parametrize("fmt", ["csv", "csv-bom", "json", "jsonl"])
def test_findings_name_resource_column_and_row(tmp_path: Path, fmt: str) -> None:
    if fmt == "csv":
        path = write_csv(tmp_path / "data.csv", ROWS)
    elif fmt == "csv-bom":
        path = write_csv(tmp_path / "data-excel.csv", ROWS, encoding="utf-8-sig")
        assert path.read_bytes().startswith(codecs.BOM_UTF8)
    elif fmt == "json":
        path = write_json(tmp_path / "data.json", ROWS)
    else:
        path = tmp_path / "data.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))  # CJK written as escapes
    found = scan({fmt: path}, dataset="complaints", personal_values=["王小明"], today=TODAY)
    assert located(found) == [(fmt, column, row, kind) for column, row, kind in EXPECTED]


def test_rows_are_scanned_like_files() -> None:
    rows = [*ROWS, {"division": 610113, "fine": Decimal("13812345678"), "tags": ["a", CARD]}]
    found = list(scanner("王小明").rows(rows, resource="rows"))
    assert located(found) == [
        ("rows", "note", 2, "mobile"),
        ("rows", "note", 3, "personal_value"),
        ("rows", "fine", 4, "mobile"),
        ("rows", "tags", 4, "bank_card"),
    ]


def test_json_numbers_nested_values_and_odd_shapes_are_scanned(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(
        f'[{{"phone": {MOBILE}, "card": {CARD}, "extra": {{"who": ["{ID}"]}}, "ok": true}},'
        f' ["x", "{MOBILE}"], "{MOBILE}", null]'
    )
    found = scan({"json": path}, dataset="d", today=TODAY)
    assert located(found) == [
        ("json", "phone", 1, "mobile"),
        ("json", "card", 1, "bank_card"),
        ("json", "extra", 1, "id_number"),
        ("json", "#2", 2, "mobile"),
        ("json", "#1", 3, "mobile"),
    ]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_json_items_stream_across_chunk_boundaries(chunk: int) -> None:
    text = '[ {"a": 12345678901234567890, "b": "十二"},\n{"c": [1.5e3, null]} ,\n 7 ]'
    got = list(json_items(io.StringIO(text), chunk=chunk))
    assert got == [{"a": "12345678901234567890", "b": "十二"}, {"c": ["1.5e3", None]}, "7"]
    lines = '{"a": 1}\n{"a": 22}\n'
    assert list(json_items(io.StringIO(lines), chunk=chunk)) == [{"a": "1"}, {"a": "22"}]


def test_csv_cells_beyond_the_header_and_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(f'a,b\n"第一行\n{MOBILE}",x\n1,2,{CARD}\n', encoding="utf-8")
    assert located(scan({"csv": path}, dataset="d")) == [
        ("csv", "a", 1, "mobile"),
        ("csv", "#3", 2, "bank_card"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("data.csv", "a\n\xff\xfe".encode("latin-1"), "cannot be scanned"),
        ("data.json", b'[{"a": 1},', "cannot be scanned"),
        ("data.json", b'{"a": 1} }', "cannot be scanned"),
        ("data.xlsx", b"PK", "not scanned, so not released"),
        ("data", b"", "not scanned, so not released"),
    ],
)
def test_what_cannot_be_scanned_is_not_released(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReleaseRefused, match=reason) as refused:
        scan({"file": path}, dataset="penalties")
    assert refused.value.dataset == "penalties"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReleaseRefused, match="cannot be scanned"):
        check_release({"csv": tmp_path / "gone.csv"}, dataset="d")


def test_clean_release_passes(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "data.csv", [ROWS[0], ROWS[0]])
    check_release({"csv": path}, dataset="d", personal_values=["王小明"], today=TODAY)


def test_refusal_names_dataset_columns_rows_and_count_never_values(tmp_path: Path) -> None:
    rows = [{"division": "610113", "month": "2024-03", "note": f"{MOBILE}"} for _ in range(25)]
    rows[4]["month"] = ID
    files = {
        "csv": write_csv(tmp_path / "data.csv", rows),
        "json": write_json(tmp_path / "data.json", rows),
    }
    with pytest.raises(ReleaseRefused) as refused:
        check_release(files, dataset="complaints", today=TODAY)
    error = refused.value
    message = str(error)
    assert isinstance(error, PublishError)
    assert error.dataset == "complaints"
    assert message.startswith("complaints: 52 piece(s) of personal information found")
    assert "id_number 2, mobile 50" in message
    assert "csv, column 'note', row 1: mobile" in message
    assert "csv, column 'month', row 5: id_number" in message
    assert message.count("column ") == 10
    assert "first 10 of 52" in message
    assert MOBILE not in message and ID not in message and "138****5678" not in message
    assert len(error.findings) == 52
    assert {f.resource for f in error.findings} == {"csv", "json"}


# ---------------------------------------------------------------- k-anonymity


def people(*classes: tuple[str, str, int]) -> list[dict[str, Any]]:
    """Rows: ``size`` rows for each (district, month) class, each with a serial number."""
    rows: list[dict[str, Any]] = []
    for district, month, size in classes:
        for _ in range(size):
            rows.append({"district": district, "month": month, "n": len(rows)})
    return rows


QUASI = ("district", "month")


@dataclasses.dataclass
class Gated:
    """What the ``check`` stage made of a row-level dataset's rows: its report, and the rows
    that stay (as ``write`` keeps them: by number, in the order they passed)."""

    report: KReport
    kept: list[dict[str, Any]]

    def rows(self) -> list[dict[str, Any]]:
        return self.kept


def checked(
    rows: Iterable[dict[str, Any]],
    *,
    dataset: str,
    quasi: Sequence[str],
    k: int = 5,
    on_small: Any = "suppress",
) -> Gated:
    """The ``check`` stage over ``rows`` of a row-level dataset with these quasi-identifiers."""
    spec = dataclasses.replace(
        DATASETS["inspection-results"],
        name=dataset,
        quasi=tuple(quasi),
        k=k,
        on_small=on_small,
        aggregate=None,
        public_by_rule=False,
    )

    async def gated() -> Gated:
        release = await check_stage(Release.of_rows(spec, rows))
        passed = await rows_of(release)
        assert release.k_report is not None
        keep = release.kept or (lambda n: True)
        return Gated(release.k_report, [row for n, row in enumerate(passed) if keep(n)])

    return asyncio.run(gated())


def test_small_classes_are_suppressed_and_exactly_k_is_kept() -> None:
    rows = people(("雁塔区", "2024-03", 5), ("雁塔区", "2024-04", 4), ("碑林区", "2024-03", 7))
    result = checked(rows, dataset="penalties", quasi=QUASI, k=5)
    assert result.report == KReport(
        dataset="penalties",
        quasi=QUASI,
        k=5,
        rows_in=16,
        rows_out=12,
        classes=2,
        suppressed_rows=4,
        suppressed_classes=1,
        k_reached=5,
    )
    kept = list(result.rows())
    assert [r["n"] for r in kept] == [*range(5), *range(9, 16)]
    assert all(row is rows[row["n"]] for row in kept)  # rows pass through untouched


def test_refuse_names_columns_and_sizes_not_values() -> None:
    rows = people(("雁塔区", "2024-03", 6), ("蓝田县", "2024-04", 2), ("周至县", "2024-05", 3))
    with pytest.raises(ReleaseRefused) as refused:
        checked(rows, dataset="penalties", quasi=QUASI, k=5, on_small="refuse")
    message = str(refused.value)
    assert message == (
        "penalties: k-anonymity over (district, month) not reached: 2 class(es) below k=5 hold "
        "5 row(s); the smallest has 2"
    )
    assert refused.value.findings == []


def test_refuse_passes_when_every_class_is_large_enough() -> None:
    rows = people(("雁塔区", "2024-03", 5))
    result = checked(rows, dataset="d", quasi=QUASI, k=5, on_small="refuse")
    assert result.report.k_reached == 5
    assert len(list(result.rows())) == 5


@pytest.mark.parametrize("on_small", ["suppress", "refuse"])
def test_empty_input(on_small: Any) -> None:
    empty: list[dict[str, Any]] = []
    result = checked(empty, dataset="d", quasi=QUASI, on_small=on_small)
    assert result.report.rows_in == result.report.rows_out == result.report.classes == 0
    assert result.report.k_reached is None
    assert list(result.rows()) == []


def test_everything_suppressed_reaches_no_k() -> None:
    result = checked(people(("雁塔区", "2024-03", 4)), dataset="d", quasi=QUASI)
    assert (result.report.rows_out, result.report.k_reached) == (0, None)
    assert list(result.rows()) == []


def test_classes_are_told_apart_as_the_files_show_them() -> None:
    # 1, "1" and Decimal("1.0") are three classes in the JSON file, whatever Python says.
    rows = [{"band": v} for v in (1, 1, "1", "1", Decimal("1.0"), Decimal("1.0"), None, None)]
    report = checked(rows, dataset="d", quasi=["band"], k=2).report
    assert (report.classes, report.k_reached) == (4, 2)


def test_the_gate_decides_on_the_one_pass_it_counted() -> None:
    # The rows are read once (a stream, not re-read): the classes decided on are the classes
    # of the rows released, so a source changing meanwhile cannot make a kept class small.
    stream = iter(people(("雁塔区", "2024-03", 6), ("碑林区", "x", 1)))
    result = checked(stream, dataset="d", quasi=QUASI)
    assert next(stream, None) is None  # read to the end, once
    assert len(list(result.rows())) == 6  # the class of one is not released
    assert (result.report.suppressed_rows, result.report.k_reached) == (1, 6)


def test_a_missing_quasi_identifier_fails_closed() -> None:
    with pytest.raises(SpecError, match="quasi-identifier 'age' is not a column"):
        checked(people(("a", "b", 5)), dataset="d", quasi=["district", "age"])


def test_misuse_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one quasi-identifier"):
        KAnonymity(dataset="d", quasi=())
    with pytest.raises(ValueError, match="k must be at least 1"):
        KAnonymity(dataset="d", quasi=QUASI, k=0)
    with pytest.raises(RuntimeError, match="decide"):
        KAnonymity(dataset="d", quasi=QUASI).kept(("a", "b"))


def test_the_gate_runs_over_an_incremental_source() -> None:
    gate = KAnonymity(dataset="d", quasi=QUASI, k=2)
    rows = people(("a", "1", 2), ("b", "1", 1))
    classes = [gate.count(row) for row in rows]
    assert gate.decide().suppressed_rows == 1
    assert [gate.kept(key) for key in classes] == [True, True, False]


@given(
    st.lists(
        st.tuples(st.sampled_from("ABC"), st.sampled_from("xy"), st.integers(0, 2)), max_size=60
    ),
    st.integers(min_value=1, max_value=7),
)
def test_after_suppression_every_class_has_k_rows(keys: list[tuple[str, str, int]], k: int) -> None:
    rows = [{"a": a, "b": b, "c": c, "n": i} for i, (a, b, c) in enumerate(keys)]
    result = checked(rows, dataset="d", quasi=("a", "b", "c"), k=k)
    kept = list(result.rows())
    sizes = Counter((r["a"], r["b"], r["c"]) for r in kept)
    everything = Counter(keys)
    assert all(size >= k for size in sizes.values())
    assert sizes == {key: n for key, n in everything.items() if n >= k}  # nothing more dropped
    report = result.report
    assert report.rows_in == len(rows) == report.rows_out + report.suppressed_rows
    assert report.rows_out == len(kept) and report.classes == len(sizes)
    assert report.k_reached == min(sizes.values(), default=None)


# ---------------------------------------------------------------- properties of the scan

cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
ascii_printable = st.sampled_from(string.printable)
filler = st.text(st.one_of(cjk, ascii_printable), max_size=12)
# What may touch a number without becoming part of it: not a digit, and not "." (a fraction).
edges = st.sampled_from([" ", "，", "：", "号", "a", "(", ")", "\n", '"', ",", "X", "-", "+"])
seeds = st.integers(min_value=0, max_value=2**32)
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
provinces = st.sampled_from(["11", "31", "44", "51", "61", "65", "81"])


@st.composite
def personal_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A valid ID number (maybe with a lower-case x), mobile or Luhn-valid 16-digit card."""
    rng = random.Random(draw(seeds))
    kind = draw(st.sampled_from(["id_number", "mobile", "bank_card"]))
    if kind == "id_number":
        division = draw(provinces) + f"{draw(st.integers(0, 9999)):04d}"
        code = make_id_number(
            rng, division=division, birth=draw(births), female=draw(st.booleans())
        )
        return kind, code.lower() if draw(st.booleans()) else code
    if kind == "mobile":
        return kind, make_mobile(rng)
    prefix = draw(st.sampled_from(["62", "4", "51", "55", "35", "2720"]))
    body = prefix + "".join(rng.choice(string.digits) for _ in range(15 - len(prefix)))
    return kind, with_luhn(body)


def csv_text(rows: list[list[str]]) -> io.StringIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["甲", "乙", "丙"])
    writer.writerows(rows)
    out.seek(0)
    return out


@given(
    personal_numbers(),
    filler,
    edges,
    edges,
    filler,
    st.integers(0, 4),
    st.integers(0, 2),
    st.text(st.one_of(cjk, st.sampled_from(string.ascii_letters)), max_size=10),
)
def test_a_personal_number_anywhere_in_a_cell_is_found(
    number: tuple[str, str],
    before: str,
    left: str,
    right: str,
    after: str,
    row: int,
    column: int,
    other: str,
) -> None:
    kind, code = number
    if kind == "bank_card":
        # Digits glued to Latin letters are read as a code (XK6101…, a licence number), not
        # a card: the one place the scan gives way, because such codes are everywhere.
        left = " " if left.isascii() and left.isalpha() else left
        right = " " if right.isascii() and right.isalpha() else right
    rows = [[other, other, other] for _ in range(5)]
    rows[row][column] = before + left + code + right + after
    found = list(Scanner(today=TODAY).csv(csv_text(rows), resource="data.csv"))
    assert ("data.csv", "甲乙丙"[column], row + 1, kind) in located(found)


@given(
    st.lists(
        st.lists(
            st.text(st.one_of(cjk, st.sampled_from(string.ascii_letters))), min_size=3, max_size=3
        ),
        max_size=5,
    )
)
def test_text_of_cjk_and_letters_is_never_personal(rows: list[list[str]]) -> None:
    assert list(Scanner(today=TODAY).csv(csv_text(rows), resource="data.csv")) == []


@st.composite
def digit_usccs(draw: st.DrawFn) -> str:
    """A valid USCC whose organisation code is all digits, registered by an authority whose code
    (1 机构编制, 3 司法, 5 民政 …) makes its first two characters look like a province; its county
    code does not end in 19 or 20 (those may read as a birth year: see open_data/pii.py)."""
    head = draw(st.sampled_from("13579NY")) + draw(st.sampled_from("1239"))
    division = draw(provinces) + f"{draw(st.integers(1, 99)):02d}{draw(st.integers(0, 18)):02d}"
    org = f"{draw(st.integers(0, 10**8 - 1)):08d}"
    first17 = f"{head}{division}{org}{org_check_char(org)}"
    return first17 + uscc_check_char(first17)


@given(digit_usccs())
def test_usccs_are_neither_id_numbers_nor_cards(code: str) -> None:
    assert Scanner(today=TODAY).hits(f"统一社会信用代码：{code}") == ()


@given(seeds)
def test_generated_usccs_are_never_personal(seed: int) -> None:
    rng = random.Random(seed)
    codes = [make_uscc(rng), make_uscc(rng, authority="5", category="1", division="610113")]
    assert Scanner(today=TODAY).hits(" ".join(codes)) == ()


def _rows_of(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def test_the_gate_end_to_end(tmp_path: Path) -> None:
    """The check stage over a source, the kept rows written, the written files scanned."""
    source = write_csv(
        tmp_path / "source.csv",
        [
            {"division": d, "month": "2024-03", "note": n}
            for d, n in (
                *[("610113", "已办结")] * 5,
                ("610104", f"回电{MOBILE}"),  # alone in its class: suppressed, so never scanned
            )
        ],
    )
    result = checked(list(_rows_of(source)), dataset="d", quasi=("division", "month"))
    released = write_csv(tmp_path / "data.csv", list(result.rows()))
    assert result.report.suppressed_rows == 1
    check_release({"csv": released}, dataset="d", today=TODAY)


def test_digits_of_a_licence_number_are_not_a_bank_card() -> None:
    """Found by publishing the demo's licence publicity: certificate numbers such as
    XK610100250000001x pass Luhn one time in ten."""
    number = with_luhn("610100250000001")
    assert luhn(number)
    scanner = Scanner()
    assert scanner.hits(f"准予食品经营许可，证书编号XK{number}") == ()
    assert [h.kind for h in scanner.hits(f"卡号 {number}")] == ["bank_card"]


_PIECES = st.sampled_from(
    [ID, ID_X, MOBILE, CARD, CARD_19, USCC_LAW_FIRM, "138-1234-5678", "a.b@example.cn",
     "王小明", "西安市", "雁塔区", "１３８１２３４５６７８", "XK", "1.", "0", " ", "-", ";", "@"]
)  # fmt: skip
_CELLS = st.lists(_PIECES | st.text("0123456789xX王小明区 -.@", max_size=12), max_size=5).map(
    "".join
)


@given(st.lists(_CELLS, min_size=1, max_size=6), st.lists(_CELLS, max_size=4))
@example(["西安市", "x安市"], ["安市"])  # a public cell holding a personal value: not searched
def test_a_row_is_searched_as_each_of_its_cells_would_be(
    cells: list[str], personal: list[str]
) -> None:
    # The scanner searches a row once, its cells joined; what it finds, and where, is what a
    # search of each cell alone finds (Scanner.hits).
    scanner = Scanner(PersonalValues(personal, public=["西安市"]), today=TODAY)
    row = {f"c{i}": text for i, text in enumerate(cells)}
    expected = [
        Finding("r", column, 1, hit.kind, hit.sample)
        for column, text in row.items()
        for hit in scanner.hits(text)
    ]
    assert list(scanner.rows([row], resource="r")) == expected


def test_a_json_twin_of_a_csv_is_searched_where_it_differs(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(f"name,phone,certs\n王*,{MOBILE},a;b\n李*,,c\n")
    rows = [
        {"name": "王*", "phone": MOBILE, "certs": ["a", "b"]},  # as the CSV: searched there
        {"name": "李*", "phone": ID, "certs": ["c"]},  # not in the CSV: searched here
    ]
    (tmp_path / "data.json").write_text(json.dumps(rows, ensure_ascii=False))
    files = {"csv": tmp_path / "data.csv", "json": tmp_path / "data.json"}
    found = scan(files, dataset="d", twins={"json": "csv"}, today=TODAY)
    assert [(f.resource, f.column, f.row, f.kind) for f in found] == [
        ("csv", "phone", 1, "mobile"),
        ("json", "phone", 2, "id_number"),
    ]
    # Without its twin the JSON is searched whole.
    alone = scan({"json": files["json"]}, dataset="d", twins={"json": "csv"}, today=TODAY)
    assert [(f.row, f.kind) for f in alone] == [(1, "mobile"), (2, "id_number")]


def test_every_file_is_searched_for_the_personal_values(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(f"name,phone\n王小明,{MOBILE}\n李*,\n")
    (tmp_path / "other.json").write_text(json.dumps([{"name": "赵*"}, {"note": "张丽华来电"}]))
    files = {"csv": tmp_path / "data.csv", "other": tmp_path / "other.json"}
    with pytest.raises(ReleaseRefused) as refused:
        check_release(files, dataset="d", personal_values=["王小明", "张丽华"], today=TODAY)
    reason = str(refused.value)
    assert "csv, column 'name', row 1: personal_value" in reason
    assert "other, column 'note', row 2: personal_value" in reason
    assert "csv, column 'phone', row 1: mobile" in reason


def test_personal_values_do_not_cross_to_another_process() -> None:
    # Another process salts its string hashes differently: there they would match nothing.
    with pytest.raises(TypeError, match="this process"):
        pickle.dumps(pii.PersonalValues(["王小明"]))


_DIGITS_AND_MARKS = st.lists(
    st.text("0123456789", min_size=1, max_size=20)
    | st.sampled_from([".", "-", " ", "x", "X", "a"]),
    max_size=8,
).map("".join)
_LOOKBEHIND_RUN = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9]{11,}(?:[Xx](?![0-9]))?")


@given(_DIGITS_AND_MARKS)
def test_digit_runs_are_the_maximal_runs_not_after_a_decimal_point(text: str) -> None:
    # The run pattern lost its lookbehinds for speed; it still finds what they found.
    found = [(m.start(), m[0]) for m in pii._RUN.finditer(text) if not fraction(text, m.start())]
    assert found == [(m.start(), m[0]) for m in _LOOKBEHIND_RUN.finditer(text)]


@given(_DIGITS_AND_MARKS)
def test_grouped_numbers_are_only_searched_behind_their_hint(text: str) -> None:
    if pii._GROUPED.search(text):
        assert pii._GROUP_HINT.search(text)


# ---------------------------------------------------------------- the publisher's JSON layout


def _as_json_items(value: Any) -> Any:
    """``value`` with its ints as text, as ``json_items`` gives them."""
    if isinstance(value, dict):
        return {k: _as_json_items(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json_items(v) for v in value]
    return str(value) if type(value) is int else value


def read_both(content: bytes) -> tuple[Any, Any]:
    """What ``json_rows`` and ``json_items`` read in ``content``: the items, or the error."""

    def read(items: Iterator[Any]) -> Any:
        try:
            return _as_json_items(list(items))
        except ValueError as exc:
            return type(exc)

    text = io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline="")
    return read(json_rows(io.BytesIO(content))), read(json_items(text))


LAYOUT = b'[\n{"a":"x","n":12},\n{"a":null,"l":["1",2]},\n{"a":"z"}\n]\n'


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(LAYOUT, id="the layout"),
        pytest.param(b"[\n]\n", id="no rows"),
        pytest.param(codecs.BOM_UTF8 + LAYOUT, id="a BOM"),
        pytest.param(LAYOUT.replace(b"\n", b"\r\n"), id="CRLF: not the layout"),
        pytest.param(LAYOUT.replace(b"[\n", b"["), id="first item on the first line"),
        pytest.param(json.dumps([{"a": 1}, [2, {"b": 3}]], indent=2).encode(), id="pretty"),
        pytest.param(b'{"a": 1}\n{"a": 2}\n', id="JSON Lines"),
        pytest.param(b'[\n{"a":1},\n\n{"a":2}\n]\n', id="a blank line"),
        pytest.param(b'[\n{"a":1},\n{"a":2},\n]\n', id="a comma before ]"),
        pytest.param(b'[\n{"a":1}\n{"a":2}\n]\n', id="a comma missing"),
        pytest.param(b'[\n{"a":1},\n{"a":2}\n]\n{"b":3}\n', id="more after ]"),
        pytest.param(b'[\n{"a":1},\n{"a":2}\n]\n \n', id="blanks after ]"),
        pytest.param(b'[\n{"a":1},\n{"a":2}', id="no ]"),
        pytest.param(b'[\n{"a":1},\n{"a":\n]\n', id="a malformed line"),
        pytest.param(b'[\n{"a":1},\n{"a":1}}\n]\n', id="a line with more than one item"),
        pytest.param(b'[\n{"a":1},\n{"a":"\xff"}\n]\n', id="not UTF-8"),
        pytest.param(b'[\n{"a":NaN},\n{"a":"\\ud800"}\n]\n', id="what only the json module reads"),
    ],
)
def test_json_rows_read_what_json_items_read(content: bytes) -> None:
    rows, items = read_both(content)
    assert rows == items


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"x":1.50}', {"x": "1.50"}),  # orjson: 1.5
        (b'{"x":[1e3]}', {"x": ["1e3"]}),  # orjson: 1000.0
        (b'{"x":{"y":123456789012345678901234}}', {"x": {"y": "123456789012345678901234"}}),
        (b'{"x":-0,"s":"-0"}', {"x": "-0", "s": "-0"}),  # orjson: 0
        (b'{"x":0,"y":-1}', {"x": 0, "y": -1}),  # ints as ints: their str() is their text
    ],
)
def test_json_rows_keep_numbers_as_written(line: bytes, expected: Any) -> None:
    assert list(json_rows(io.BytesIO(b"[\n" + line + b"\n]\n"))) == [expected]


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


@given(
    st.lists(_JSON_VALUES, max_size=5),
    st.booleans(),
    st.sampled_from([b"", b" ", b",", b"\n"]),
    st.integers(0, 4),
)
def test_json_rows_read_any_layout_as_json_items_do(
    items: list[Any], ascii_only: bool, noise: bytes, where: int
) -> None:
    lines = [json.dumps(item, ensure_ascii=ascii_only).encode() for item in items]
    content = b"[\n" + b",\n".join(lines) + b"\n]\n"
    at = [i for i, byte in enumerate(content) if byte == ord("\n")][where % 2 :][:1]
    for i in at:  # a layout broken here and there
        content = content[:i] + noise + content[i:]
    rows, expected = read_both(content)
    assert rows == expected


def write_release(folder: Path, rows: list[dict[str, Any]]) -> dict[str, Path]:
    """The release's files as the publisher writes them (CSV, JSON one row a line)."""
    columns = list(dict.fromkeys(c for row in rows for c in row))
    with DataFiles(folder, columns) as files:
        for row in rows:
            files.add(row)
        files.finish()
        return to_scan(files.hashed())


def test_a_release_and_its_json_twin_are_read_in_one_pass(tmp_path: Path) -> None:
    rows = [
        {"name": "王小明", "phone": MOBILE, "certs": ["a", CARD], "fine": 1.5, "n": -0},
        {"name": "李*", "phone": None, "certs": [], "fine": None, "n": 12},
    ]
    files = write_release(tmp_path, rows)
    found = scan(files, dataset="d", personal_values=["王小明"], twins={"json": "csv"})
    assert located(found) == [
        ("csv", "name", 1, "personal_value"),
        ("csv", "phone", 1, "mobile"),
        ("csv", "certs", 1, "bank_card"),
    ]  # the JSON's values equal the CSV's cells: searched once
    alone = scan({"json": files["json"]}, dataset="d", personal_values=["王小明"])
    assert [(f.column, f.kind) for f in alone] == [(f.column, f.kind) for f in found]


def test_json_values_that_differ_from_the_csv_twin_are_searched(tmp_path: Path) -> None:
    files = write_release(tmp_path, [{"a": "x", "b": "y"}, {"a": "z", "b": "w"}])
    lines = files["json"].read_bytes().split(b"\n")
    lines[1] = b'{"a":"x","b":%s},' % MOBILE.encode()  # a number, as text "x" in the CSV
    lines[2] = b'{"a":1.3812345678e10,"b":"w","c":"%s"}' % ID.encode()  # and a new column
    lines.insert(3, b',{"a":"%s"}' % CARD.encode())  # not the CSV's, nor the layout
    files["json"].write_bytes(b"\n".join(lines))
    found = scan(files, dataset="d", twins={"json": "csv"}, today=TODAY)
    assert located(found) == [
        ("json", "b", 1, "mobile"),
        ("json", "c", 2, "id_number"),  # 1.3812345678e10 is no phone number as written
        ("json", "a", 3, "bank_card"),
    ]


def test_json_numbers_are_compared_with_the_csv_twin_as_written(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("who,n\n王小明;-0,123456789012345678901234\n")
    (tmp_path / "data.json").write_bytes(
        b'[\n{"who":["\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e",-0],"n":123456789012345678901234}\n]\n'
    )
    files = {"csv": tmp_path / "data.csv", "json": tmp_path / "data.json"}
    personal = ["王小明", "123456789012345678901234"]
    assert located(scan(files, dataset="d", personal_values=personal, twins={"json": "csv"})) == [
        ("csv", "who", 1, "personal_value"),
        ("csv", "n", 1, "personal_value"),
    ]
    alone = scan({"json": files["json"]}, dataset="d", personal_values=personal)
    assert located(alone) == [
        ("json", "who", 1, "personal_value"),
        ("json", "n", 1, "personal_value"),
    ]


@pytest.mark.parametrize(
    ("broken", "content", "named"),
    [
        ("json", b'[\n{"a":"x"},\n{"a":\n]\n', "json"),
        ("json", b'[\n{"a":"x"},\n{"a":"\xff"}\n]\n', "json"),
        ("json", None, "json"),  # missing
        ("csv", b"a\nx\n\xff\n", "csv"),
        ("csv", None, "csv"),
    ],
)
def test_a_file_read_with_its_twin_is_refused_in_its_own_name(
    tmp_path: Path, broken: str, content: bytes | None, named: str
) -> None:
    files = write_release(tmp_path, [{"a": "x"}, {"a": "y"}])
    if content is None:
        files[broken].unlink()
    else:
        files[broken].write_bytes(content)
    with pytest.raises(ReleaseRefused, match=f"^d: {named} cannot be scanned"):
        scan(files, dataset="d", twins={"json": "csv"})
    with pytest.raises(ReleaseRefused, match=f"^d: {named} cannot be scanned"):
        check_release(files, dataset="d", twins={"json": "csv"})


def test_short_texts_are_remembered_within_bounds() -> None:
    scanner = Scanner(PersonalValues(["王小明"]), today=TODAY)
    row = {"who": "王小明", "phone": MOBILE}
    assert located(list(scanner.rows([row], resource="r"))) == [
        ("r", "who", 1, "personal_value"),
        ("r", "phone", 1, "mobile"),
    ]
    codes = [{"code": f"c{n}"} for n in range(pii._REMEMBERED + 10)]  # each new: forgotten
    assert list(scanner.rows(codes, resource="r")) == []
    assert len(scanner._known) <= pii._REMEMBERED
    again = list(scanner.rows([row], resource="r"))
    assert [(f.column, f.kind, f.sample) for f in again] == [
        ("who", "personal_value", "王**"),
        ("phone", "mobile", "138****5678"),
    ]


# A 128-hex signature holding a run that reads as a mobile number: chance, in a Digest column.
SIGNATURE = "ab" + "13812345678" + "c" * 115
assert re.fullmatch(r"[0-9a-f]{128}", SIGNATURE)


def test_a_digest_column_is_not_searched_for_numbers_but_every_other_cell_is() -> None:
    rows = [
        ["public_key", "note"],
        [SIGNATURE, SIGNATURE],  # the same text outside a Digest column is searched
        ["13812345678", "x"],  # a Digest column's cell that is no digest is searched too
    ]

    def csv_text(rows: list[list[str]]) -> io.StringIO:
        return io.StringIO("".join(",".join(row) + "\n" for row in rows))

    found = Scanner(today=TODAY, digests={"public_key"}).csv(csv_text(rows), resource="d.csv")
    assert [(f.column, f.row, f.kind) for f in found] == [
        ("note", 1, "mobile"),
        ("public_key", 2, "mobile"),
    ]
    every = Scanner(today=TODAY).csv(csv_text(rows), resource="d.csv")
    assert [(f.column, f.row) for f in every] == [("public_key", 1), ("note", 1), ("public_key", 2)]
