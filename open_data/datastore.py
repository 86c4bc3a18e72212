"""Load a release into its CKAN DataStore table, changing only the rows that changed.

Every published row carries a record id (``spec.RECORD_ID``), the table's primary key. A load
compares the release's checked CSV with the table by record id and applies the difference:
rows inserted, rows updated (any cell changed) and rows deleted. The difference is taken from
the release rather than from the source's exchange columns (``cd_operation``, ``cd_time``)
alone, because the gate changes rows the source did not: a k-anonymity class growing past k
brings its rows in, an approval withdrawn takes a provider's rows out.

Two loaders, one result:

- ``CopyLoader`` (``CKAN_DATASTORE_WRITE_URL`` set) works in the DataStore database the way
  ckanext-xloader does: PostgreSQL ``COPY`` of the CSV into a staging table, then the
  delete, update and insert as three statements in one transaction, so readers see the old
  table or the new one. The full-text vectors of the rows that changed are computed by
  PostgreSQL's parallel workers. It streams: memory does not grow with the rows.
- ``ApiLoader`` needs only the API token: it reads the table's current rows through
  ``datastore_search``, then sends ``datastore_upsert`` and ``datastore_records_delete``
  batches. It holds the current rows in memory and is for portals the publisher cannot reach
  with a database connection.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql

from open_data.errors import PortalError
from open_data.spec import RECORD_ID

BATCH = 5_000  # rows per DataStore API call
PAGE = 32_000  # CKAN's default ckan.datastore.search.rows_max


@dataclass(frozen=True, slots=True)
class Changes:
    """What a load did to the table."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def __str__(self) -> str:
        return f"+{self.inserted} ~{self.updated} -{self.deleted}"


class Loader(Protocol):
    """Brings a DataStore table to the rows of a CSV file (header: the table's columns)."""

    def load(self, resource_id: str, columns: Sequence[str], path: Path) -> Changes: ...


def csv_rows(path: Path) -> Iterator[tuple[str | None, ...]]:
    """The CSV's rows after its header, an empty cell read as null (as COPY reads it)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for cells in reader:
            yield tuple(cell or None for cell in cells)


class CopyLoader:
    """COPY into the DataStore database (``ckan.datastore.write_url``), then delete, update,
    insert in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.seconds: dict[str, float] = {}  # per phase of the loads so far (for benchmarks)

    def load(self, resource_id: str, columns: Sequence[str], path: Path) -> Changes:
        try:
            with psycopg.connect(self.url, connect_timeout=10) as db, db.cursor() as cur:
                return _merge(cur, resource_id, columns, path, self.seconds)
        except psycopg.OperationalError as exc:
            raise PortalError("*", f"the DataStore database is unavailable: {exc}") from None
        except psycopg.Error as exc:
            raise PortalError("*", f"loading the DataStore table failed: {exc}") from None


def _merge(
    cur: psycopg.Cursor[Any],
    resource_id: str,
    columns: Sequence[str],
    path: Path,
    seconds: dict[str, float],
) -> Changes:
    """The load, in the connection's one transaction (committed when the ``with`` ends).

    The rows land in two unlogged tables made and dropped inside the transaction (no other
    session ever sees them): ``incoming``, the CSV as COPY reads it, and ``changed``, the rows to
    insert or update with their ``_full_text``, computed by PostgreSQL's parallel workers. That
    tsvector is the costliest part of a load, and a temporary table would keep it serial."""
    table = sql.Identifier(resource_id)
    incoming = sql.Identifier(f"_jg_incoming_{resource_id}")
    changed = sql.Identifier(f"_jg_changed_{resource_id}")
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    key = sql.Identifier(RECORD_ID)
    values = sql.SQL(", ").join(sql.SQL("i.") + sql.Identifier(c) for c in columns)
    current = sql.SQL(", ").join(sql.SQL("t.") + sql.Identifier(c) for c in columns)
    # What CKAN's full-text trigger computes (the row's texts in column order, joined by
    # spaces; it leaves a row whose _full_text is set alone), without its row-to-JSON
    # round trip per row.
    full_text = sql.SQL("to_tsvector(concat_ws(' ', {}))").format(values)

    def run(query: str, **parts: sql.Composable) -> int:
        cur.execute(sql.SQL(query).format(t=table, i=incoming, c=changed, k=key, **parts))
        return cur.rowcount

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started

    run("LOCK TABLE {t} IN EXCLUSIVE MODE")
    # Parallel workers for the tsvectors even where the planner would think them not worth it.
    cur.execute("SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0")
    with phase("staging"):
        run("CREATE UNLOGGED TABLE {i} AS SELECT {n} FROM {t} WITH NO DATA", n=names)
        copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true)").format(incoming, names)
        with path.open("rb") as handle, cur.copy(copy) as into:
            while chunk := handle.read(1 << 20):
                into.write(chunk)
        run("SELECT {k} FROM {i} GROUP BY {k} HAVING count(*) > 1 LIMIT 1")
        twice = cur.fetchone()
        if twice is not None:
            raise PortalError("*", f"record id {twice[0]} occurs twice in {path.name}")
        run("ANALYZE {i}")
    with phase("full-text vectors"):
        run(
            "CREATE UNLOGGED TABLE {c} AS SELECT {v}, {f} AS _full_text, t.{k} IS NULL AS fresh "
            "FROM {i} i LEFT JOIN {t} t ON t.{k} = i.{k} "
            "WHERE t.{k} IS NULL OR ({cur}) IS DISTINCT FROM ({v})",
            v=values,
            f=full_text,
            cur=current,
        )
    with phase("delete and update"):
        deleted = run("DELETE FROM {t} t WHERE NOT EXISTS (SELECT FROM {i} i WHERE i.{k} = t.{k})")
        updated = run(
            "UPDATE {t} t SET ({n}, _full_text) = ({v}, i._full_text) FROM {c} i "
            "WHERE NOT i.fresh AND i.{k} = t.{k}",
            n=names,
            v=values,
        )
    # Into an empty table (a first load, or every row replaced), the indexes but the primary
    # key's are built once after the insert instead of grown row by row: CKAN's full-text index
    # (GiST or GIN, as the portal is configured) and the record id's unique index, from their
    # definitions in the catalogue. For a million rows: insert 13 s and builds 25 s, against
    # 41–52 s for the insert growing them. Dropping them locks readers out until the commit;
    # an empty table has nothing for readers to lose.
    cur.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(table))
    empty = cur.fetchone() == (False,)
    rebuilt = _secondary_indexes(cur, resource_id) if empty else []
    for name, _ in rebuilt:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    with phase("insert"):
        inserted = run(
            "INSERT INTO {t} ({n}, _full_text) SELECT {v}, i._full_text FROM {c} i WHERE i.fresh",
            n=names,
            v=values,
        )
    with phase("indexes"):
        for _, definition in rebuilt:
            cur.execute(definition)
    run("DROP TABLE {i}, {c}")
    # The row count CKAN caches for datastore_search's total.
    cur.execute("SELECT update_cached_table_row_count(%s)", (resource_id,))
    return Changes(inserted, updated, deleted)


def _secondary_indexes(cur: psycopg.Cursor[Any], resource_id: str) -> list[tuple[str, str]]:
    """A DataStore table's indexes but those of its constraints (the primary key): name and
    definition, to recreate them."""
    cur.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = current_schema() AND t.relname = %s "
        "AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
        "ORDER BY i.relname",
        (resource_id,),
    )
    return [(str(name), str(definition)) for name, definition in cur.fetchall()]


class ApiLoader:
    """The DataStore API only: the current rows are read, the difference sent in batches."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self.call = call  # CkanPortal._call: retries, clear errors

    def _current(self, resource_id: str, columns: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        rows: dict[str, tuple[Any, ...]] = {}
        offset = 0
        while True:
            found = self.call(
                "datastore_search",
                resource_id=resource_id,
                fields=list(columns),
                sort=RECORD_ID,
                limit=PAGE,
                offset=offset,
                include_total=False,
            )
            for record in found["records"]:
                rows[record[RECORD_ID]] = tuple(
                    None if record[c] in (None, "") else record[c] for c in columns
                )
            if len(found["records"]) < PAGE:
                return rows
            offset += PAGE

    def load(self, resource_id: str, columns: Sequence[str], path: Path) -> Changes:
        current = self._current(resource_id, columns)
        at = columns.index(RECORD_ID)
        seen: set[str] = set()
        batch: list[dict[str, Any]] = []
        inserted = updated = 0
        for row in csv_rows(path):
            record_id = str(row[at])
            if record_id in seen:
                raise PortalError("*", f"record id {record_id} occurs twice in {path.name}")
            seen.add(record_id)
            before = current.pop(record_id, None)
            if before == row:
                continue
            inserted += before is None
            updated += before is not None
            batch.append(dict(zip(columns, row, strict=True)))
            if len(batch) == BATCH:
                self._upsert(resource_id, batch)
                batch = []
        if batch:
            self._upsert(resource_id, batch)
        gone = sorted(current)
        for start in range(0, len(gone), BATCH):
            self.call(
                "datastore_records_delete",
                resource_id=resource_id,
                filters={RECORD_ID: gone[start : start + BATCH]},
                force=True,
            )
        return Changes(inserted, updated, len(gone))

    def _upsert(self, resource_id: str, records: list[dict[str, Any]]) -> None:
        self.call(
            "datastore_upsert",
            resource_id=resource_id,
            records=records,
            method="upsert",
            force=True,
        )
