"""Render ``docs/data-standard.md`` from the table definitions, so the document cannot drift."""

from __future__ import annotations

from typing import Any

from standard.divisions import LISTS, official_divisions
from standard.exchange import EXCHANGE_COLUMNS, ExchangeRecord, column_kind, limits
from standard.registry import SOURCES, filters

CHECKS = {
    "uscc": "统一社会信用代码 (GB 32100-2015, mod 31 check character)",
    "id_number": "公民身份号码 (GB 11643-1999, ISO 7064 MOD 11-2, plausible birth date)",
    "division_code": "行政区划代码 (in the province's official list, `standard/divisions/`)",
    "matter_code": "监管事项目录编码 (14 digits)",
    "item_code": "检查实施清单编码 (18-character USCC + type digit 1-5 + digits)",
    "mobile": "手机号码 (11 digits starting 13-19; +86 is dropped)",
    "batch_code": "批次号 (YYYYMMDD + 5-digit sequence)",
    "industry_code": "国民经济行业代码 (GB/T 4754: section letter + up to 4 digits)",
}

INTRO = """\
# The unified data standard (统一数据标准)

Generated from the table definitions by `jianguan docs data-standard`; a test fails when this
file and the code differ. Do not edit by hand.

Every record belongs to one of four **sources**, each in its own database
(`JIANGUAN_<SOURCE>_DATABASE_URL`): no table of one source lives in another's database.

## Columns every record carries (交换控制字段)

The exchange control columns follow the national "Internet+Regulation" exchange tables. A record
is identified by **(provider, `cd_id`)**: pushing the same `cd_id` again updates it, and
`cd_operation = d` deletes it (the row stays, marked deleted, so that history is kept).
`received_at`, the delay and lateness columns and `content_hash` are set by the data centre; a
record that tries to set them is rejected. Instants without a UTC offset are read as Beijing time.

A record is **late** (逾期报送, R4) when it was received more than 5 Chinese working days after it
was produced; see [working-days.md](working-days.md) for how days are counted.

{common}

Types: *text(n)* at most n characters; *date* `YYYY-MM-DD`; *instant* ISO 8601
(`2026-03-31T09:30:00+08:00`); *list(≤m × text(n))* a JSON array of at most m text values of at
most n characters each (in CSV: values separated by `;`); *object(≤n chars)* a JSON object
whose JSON text is at most n characters; *decimal* a number. Every text, list and object field
has its maximum: a longer value is rejected at ingest, naming the field and both lengths.
Division codes (行政区划代码) must be in the official list of the province the data centre serves
(`JIANGUAN_PROVINCE_CODE`); a code with the right prefix that names no division is rejected.
Shipped: {divisions}.

Where a field lists allowed values, the Chinese label is
accepted too (`在用` for `in_use`).
Fields marked **PI** hold personal information (PIPL): they are masked for readers without a grant
and never published as open data. Fields marked **PI (person)** are personal where the party is
a natural person (their name, or free text that names them) and masked then.

"""


def _divisions() -> str:
    lists = (official_divisions(path.stem) for path in sorted(LISTS.glob("*.toml")))
    return "; ".join(
        f"{d.province} {d.name} ({d.edition}, as of {d.as_of.isoformat()}, {len(d.names)} codes)"
        for d in lists
    )


def _pi(info: dict[str, Any]) -> str:
    if info.get("personal"):
        return "PI"
    return "PI (person)" if info.get("personal_if") else ""


def _type(column: Any) -> str:
    kind = column_kind(column)
    if kind == "decimal":
        return f"decimal({column.type.precision},{column.type.scale})"
    if kind == "text":
        return f"text({limits(column)[0]})"
    if kind == "list":
        length, items = limits(column)
        return f"list(≤{items} × text({length}))"
    if kind == "object":
        return f"object(≤{limits(column)[0]} chars)"
    return kind


def _rule(info: dict[str, Any]) -> str:
    if "choices" in info:
        return "; ".join(f"`{k}` {v}" for k, v in info["choices"].items())
    if "check" in info:
        return CHECKS[info["check"]]
    return ""


def _rows(columns: list[Any]) -> str:
    lines = [
        "| field | 中文名 | type | required | rule | PI | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for column in columns:
        info = column.info
        required = (
            "set by centre" if not info.get("ingest", True) else ("" if column.nullable else "yes")
        )
        lines.append(
            f"| `{column.name}` | {info.get('zh', '')} | {_type(column)} | {required} | "
            f"{_rule(info)} | {_pi(info)} | {info.get('en', '')} |"
        )
    return "\n".join(lines)


def _facts(model: type[ExchangeRecord]) -> str:
    """What the table declares about itself besides its columns: filters, subject, joins."""
    lines = [f"- 列表筛选 Filters: {', '.join(f'`{c}`' for c in filters(model))}"]
    if model.__subject__ is not None:
        lines.append(f"- 主体字段 Subject column (policy rule `subject`): `{model.__subject__}`")
    for j in model.__joins__:
        shape = "all" if j.many else "the newest"
        lines.append(
            f"- 关联 `{j.field}` — {j.zh}: {shape} `{j.target}` rows whose `{j.remote}` "
            f"equals `{j.local}`"
        )
    return "\n".join(lines)


def render() -> str:
    """The whole document."""
    any_table = next(iter(SOURCES["supervision"].tables.values())).__table__  # type: ignore[attr-defined]
    common = [any_table.columns[name] for name in EXCHANGE_COLUMNS]
    parts = [INTRO.format(common=_rows(common), divisions=_divisions())]
    for source in SOURCES.values():
        parts.append(f"## Source `{source.name}` — {source.zh}\n")
        for name, model in source.tables.items():
            table = model.__table__  # type: ignore[attr-defined]
            own = [c for c in table.columns if c.name not in EXCHANGE_COLUMNS]
            doc = (model.__doc__ or "").strip()
            zh = getattr(model, "__doc_zh__", "")
            parts.append(f"### `{name}` — {zh}\n\n{doc}\n\n{_rows(own)}\n\n{_facts(model)}\n")
    return "\n".join(parts).rstrip() + "\n"
