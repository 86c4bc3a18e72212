"""Load a release into its CKAN DataStore table, changing only the rows that changed.

Every published row carries a record id (``spec.RECORD_ID``), the table's primary key. A load
compares the release's checked CSV with the table by record id and applies the difference:
rows inserted, rows updated (any cell changed) and rows deleted. The difference is taken from
the release rather than from the source's exchange columns (``cd_operation``, ``cd_time``)
alone, because the gate changes rows the source did not: a k-anonymity class growing past k
brings its rows in, an approval withdrawn takes a provider's rows out.

Two loaders, one result:

- ``CopyLoader`` (``CKAN_DATASTORE_WRITE_URL`` set) works in the DataStore database the way
  ckanext-xloader does: PostgreSQL ``COPY`` of the CSV into a staging table, the full-text
  index computed there side by side, then the delete, update and insert as three statements
  in one transaction, so readers see the old table or the new one. It streams: memory does
  not grow with the rows.
- ``ApiLoader`` needs only the API token: it reads the table's current rows through
  ``datastore_search``, then sends ``datastore_upsert`` and ``datastore_records_delete``
  batches. It holds the current rows in memory and is for portals the publisher cannot reach
  with a database connection.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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
    insert in one transaction.

    The rows are first copied into an unlogged staging table (``_jianguan_<resource id>``),
    whose ``_full_text`` is computed by ``workers`` connections side by side (CKAN's trigger
    computes it row by row, and it is most of a load's cost); the one transaction then moves
    what changed into the table, its ``_full_text`` already set (the trigger leaves such rows
    alone). The staging table goes at the end, or at the start of the next load if a run died.
    """

    def __init__(self, url: str, *, workers: int = 2) -> None:
        self.url = url
        self.workers = workers

    def load(self, resource_id: str, columns: Sequence[str], path: Path) -> Changes:
        staging = sql.Identifier(f"_jianguan_{resource_id}")
        try:
            try:
                self._stage(resource_id, columns, path, staging)
                return self._apply(resource_id, columns, staging)
            finally:
                with psycopg.connect(self.url, connect_timeout=10, autocommit=True) as db:
                    db.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging))
        except psycopg.OperationalError as exc:
            raise PortalError("*", f"the DataStore database is unavailable: {exc}") from None
        except psycopg.Error as exc:
            raise PortalError("*", f"loading the DataStore table failed: {exc}") from None

    def _stage(
        self, resource_id: str, columns: Sequence[str], path: Path, staging: sql.Identifier
    ) -> None:
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        key = sql.Identifier(RECORD_ID)
        with psycopg.connect(self.url, connect_timeout=10) as db, db.cursor() as cur:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging))
            cur.execute(
                sql.SQL(
                    "CREATE UNLOGGED TABLE {s} AS SELECT {n}, _full_text FROM {t} WITH NO DATA"
                ).format(s=staging, n=names, t=sql.Identifier(resource_id))
            )
            cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN _n bigserial").format(staging))
            copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true)")
            with path.open("rb") as handle, cur.copy(copy.format(staging, names)) as into:
                while chunk := handle.read(1 << 20):
                    into.write(chunk)
            cur.execute(
                sql.SQL("SELECT {k} FROM {s} GROUP BY {k} HAVING count(*) > 1 LIMIT 1").format(
                    k=key, s=staging
                )
            )
            twice = cur.fetchone()
            if twice is not None:
                raise PortalError("*", f"record id {twice[0]} occurs twice in {path.name}")
        # What CKAN's full-text trigger computes (the row's texts in column order, joined by
        # spaces), without its row-to-JSON round trip, a share of the rows per connection.
        fill = sql.SQL(
            "UPDATE {s} SET _full_text = to_tsvector(concat_ws(' ', {n})) WHERE _n %% {w} = %s"
        ).format(s=staging, n=names, w=sql.Literal(self.workers))

        def one_share(share: int) -> None:
            with psycopg.connect(self.url, connect_timeout=10) as db:
                db.execute(fill, (share,))

        with ThreadPoolExecutor(self.workers, thread_name_prefix="full-text") as pool:
            list(pool.map(one_share, range(self.workers)))

    def _apply(self, resource_id: str, columns: Sequence[str], staging: sql.Identifier) -> Changes:
        table = sql.Identifier(resource_id)
        names = sql.SQL(", ").join(map(sql.Identifier, columns))
        key = sql.Identifier(RECORD_ID)
        values = sql.SQL(", ").join(sql.SQL("i.") + sql.Identifier(c) for c in columns)
        current = sql.SQL(", ").join(sql.SQL("t.") + sql.Identifier(c) for c in columns)
        with psycopg.connect(self.url, connect_timeout=10) as db, db.cursor() as cur:
            cur.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table))
            cur.execute(sql.SQL("ANALYZE {}").format(staging))
            cur.execute(
                sql.SQL(
                    "DELETE FROM {t} t WHERE NOT EXISTS (SELECT FROM {s} i WHERE i.{k} = t.{k})"
                ).format(t=table, s=staging, k=key)
            )
            deleted = cur.rowcount
            cur.execute(
                sql.SQL(
                    "UPDATE {t} t SET ({n}, _full_text) = ({v}, i._full_text) FROM {s} i "
                    "WHERE i.{k} = t.{k} AND ({c}) IS DISTINCT FROM ({v})"
                ).format(t=table, n=names, v=values, c=current, k=key, s=staging)
            )
            updated = cur.rowcount
            cur.execute(
                sql.SQL(
                    "INSERT INTO {t} ({n}, _full_text) SELECT {v}, i._full_text FROM {s} i "
                    "WHERE NOT EXISTS (SELECT FROM {t} t WHERE t.{k} = i.{k})"
                ).format(t=table, n=names, v=values, k=key, s=staging)
            )
            inserted = cur.rowcount
            # The row count CKAN caches for datastore_search's total.
            cur.execute("SELECT update_cached_table_row_count(%s)", (resource_id,))
        return Changes(inserted, updated, deleted)


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
