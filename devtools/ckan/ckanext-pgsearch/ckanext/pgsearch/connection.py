"""What CKAN calls on a ``pysolr.Solr``, kept in one table of CKAN's own PostgreSQL database."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import pysolr
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .sql import Compiler, indexed_fields
from .syntax import Bool, QuerySyntaxError, minimum_should_match, parse

TABLE = "pgsearch_document"
_CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    index_id   text PRIMARY KEY,     -- Solr's uniqueKey in CKAN's schema
    doc        jsonb NOT NULL,       -- the document as CKAN sent it (Solr's stored fields)
    fields     jsonb NOT NULL,       -- field -> list of strings, copy fields added (indexed)
    indexed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {TABLE}_fields ON {TABLE} USING gin (fields jsonb_path_ops);
"""
_CREATE_LOCK = 0x70677365  # advisory lock key: two processes starting at once create it once
NOT_STORED = frozenset({"text", "urls", "permission_labels", "title_ngram", "name_ngram"})

_ready: set[str] = set()  # engine URLs whose table exists (checked once per process)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _as_int(value: Any, default: int) -> int:
    return default if value in (None, "") else int(value)


@contextlib.contextmanager
def _syntax_errors() -> Iterator[None]:
    """Queries we cannot read fail as Solr's do, so CKAN answers with its search errors."""
    try:
        yield
    except QuerySyntaxError as exc:
        raise pysolr.SolrError(f"org.apache.solr.search.SyntaxError: {exc}") from exc


class PgSolr:
    """The subset of ``pysolr.Solr`` that CKAN uses: add, delete, search, commit, ping."""

    def __init__(
        self, engine: Engine, *, decoder: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ) -> None:
        self.engine = engine
        self.decoder = decoder
        self.url = f"pgsearch:{engine.url.database}/{TABLE}"  # CKAN puts it in error messages

    # -- the table -----------------------------------------------------------------------------

    def _run(self, work: Callable[[Connection], Any]) -> Any:
        """Run ``work`` in a transaction; the table is made on first use (and after a db clean)."""
        key = str(self.engine.url)
        if key not in _ready:
            self._create()
            _ready.add(key)
        try:
            with self.engine.begin() as conn:
                return work(conn)
        except sa.exc.DBAPIError as exc:  # CKAN turns SolrError into its search errors
            if getattr(exc.orig, "pgcode", None) != "42P01":  # undefined_table
                raise pysolr.SolrError(f"pgsearch: {exc.orig}") from exc
        self._create()  # `ckan db clean` dropped it under a running process
        with self.engine.begin() as conn:
            return work(conn)

    def _create(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK})
            conn.exec_driver_sql(_CREATE)

    # -- writes --------------------------------------------------------------------------------

    def add(self, docs: Iterable[dict[str, Any]], commit: bool | None = None, **_: Any) -> str:
        rows = []
        for doc in docs:
            if not doc.get("index_id"):
                raise pysolr.SolrError("[doc] missing required field: index_id")
            doc = dict(doc)
            doc.setdefault("indexed_ts", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
            stored = json.dumps(doc, default=str)
            rows.append(
                {
                    "index_id": str(doc["index_id"]),
                    "doc": stored,
                    "fields": json.dumps(indexed_fields(json.loads(stored))),
                }
            )
        statement = sa.text(
            f"INSERT INTO {TABLE} (index_id, doc, fields)"
            " VALUES (:index_id, CAST(:doc AS jsonb), CAST(:fields AS jsonb))"
            " ON CONFLICT (index_id) DO UPDATE"
            " SET doc = excluded.doc, fields = excluded.fields, indexed_at = now()"
        )
        if rows:
            self._run(lambda conn: conn.execute(statement, rows))
        return "ok"

    def delete(
        self,
        id: str | list[str] | None = None,  # pysolr's keyword
        q: str | None = None,
        commit: bool | None = None,
        **_: Any,
    ) -> str:
        if id is None and q is None:
            raise ValueError('You must specify "id" or "q".')
        if id is not None:
            ids = [str(one) for one in _as_list(id)]
            statement = sa.text(f"DELETE FROM {TABLE} WHERE index_id = ANY(:ids)")
            self._run(lambda conn: conn.execute(statement, {"ids": ids}))
        if q is not None:
            compiler = Compiler(default_fields=("text",))
            with _syntax_errors():
                where = compiler.where(parse(q, default_and=False))
            statement = sa.text(f"DELETE FROM {TABLE} WHERE {where}")
            self._run(lambda conn: conn.execute(statement, compiler.params))
        return "ok"

    def commit(self, **_: Any) -> str:
        return "ok"  # every add and delete is committed when it returns

    def optimize(self, **_: Any) -> str:
        return "ok"

    def ping(self, **_: Any) -> str:
        self._run(lambda conn: conn.execute(sa.text(f"SELECT count(*) FROM {TABLE}")))
        return '{"status":"OK"}'

    # -- reads ---------------------------------------------------------------------------------

    def _where(self, q: str, params: dict[str, Any], compiler: Compiler) -> str:
        """WHERE for ``q`` and every ``fq``, read as Solr's standard or dismax parser reads them."""
        default_and = str(params.get("q.op", "OR")).upper() == "AND"
        dismax = params.get("defType") in ("dismax", "edismax")
        if dismax:  # words search every ``qf`` field; ``mm`` says how many optional words match
            fields = str(params.get("qf") or params.get("df") or "text").split()
            compiler.default_fields = tuple(re.sub(r"\^.*$", "", name) for name in fields)
            node = parse(q, default_and=False)
            if isinstance(node, Bool):
                optional = sum(1 for occur, _ in node.clauses if occur == "should")
                mm = minimum_should_match(str(params.get("mm", "100%")), optional)
                node = Bool(node.clauses, minimum_should=mm)
        else:
            compiler.default_fields = (str(params.get("df") or "text"),)
            node = parse(q, default_and=default_and)
        conditions = [compiler.where(node)]
        compiler.default_fields = (str(params.get("df") or "text"),)
        for fq in _as_list(params.get("fq")):
            if str(fq).strip():
                conditions.append(compiler.where(parse(str(fq), default_and=default_and)))
        return " AND ".join(conditions)

    def search(self, q: str = "*:*", search_handler: str | None = None, **params: Any) -> Any:
        compiler = Compiler(default_fields=("text",))
        with _syntax_errors():
            where = self._where(q.strip() or "*:*", params, compiler)
            order_by = compiler.order_by(str(params.get("sort") or "score desc"))
        rows = _as_int(params.get("rows"), 10)
        start = _as_int(params.get("start"), 0)
        facet_fields = _as_list(params.get("facet.field"))
        if str(params.get("facet", "false")).lower() != "true":
            facet_fields = []
        limit = _as_int(params.get("facet.limit"), 100)
        mincount = _as_int(params.get("facet.mincount"), 0)

        def read(conn: Connection) -> tuple[int, list[dict[str, Any]], dict[str, list[Any]]]:
            bound = compiler.params
            hits = conn.execute(sa.text(f"SELECT count(*) FROM {TABLE} WHERE {where}"), bound)
            docs: list[dict[str, Any]] = []
            if rows > 0:
                page = sa.text(
                    f"SELECT doc FROM {TABLE} WHERE {where} ORDER BY {order_by}"
                    " LIMIT :rows OFFSET :start"
                )
                docs = [
                    row[0] for row in conn.execute(page, {**bound, "rows": rows, "start": start})
                ]
            facets: dict[str, list[Any]] = {}
            for name in facet_fields:
                counts = sa.text(
                    f"SELECT x, count(DISTINCT index_id) AS n FROM {TABLE},"
                    " jsonb_array_elements_text(fields -> :facet) AS v(x)"
                    f" WHERE {where} GROUP BY x HAVING count(DISTINCT index_id) >= :mincount"
                    ' ORDER BY n DESC, x COLLATE "C"' + (" LIMIT :limit" if limit >= 0 else "")
                )
                result = conn.execute(
                    counts, {**bound, "facet": name, "mincount": mincount, "limit": limit}
                )
                facets[name] = [item for row in result for item in (row[0], row[1])]
            return int(hits.scalar_one()), docs, facets

        hits, docs, facets = self._run(read)
        return pysolr.Results(
            {
                "response": {"numFound": hits, "start": start, "docs": self._project(docs, params)},
                "facet_counts": {"facet_fields": facets},
            }
        )

    def _project(self, docs: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
        """Only the stored fields ``fl`` asks for (all of them for ``*`` or no ``fl``)."""
        wanted = set(re.split(r"[\s,]+", str(params.get("fl") or "*").strip())) - {""}
        out = []
        for doc in docs:
            if "*" in wanted:
                picked = {key: value for key, value in doc.items() if key not in NOT_STORED}
            else:
                picked = {key: doc[key] for key in wanted if key in doc and key not in NOT_STORED}
            if "score" in wanted:
                picked["score"] = 1.0
            out.append(self.decoder(picked) if self.decoder else picked)
        return out
