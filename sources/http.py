"""The HTTP connector: a source read through its source-exchange API (``sources.api``)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Hashable, Sequence
from typing import Any

import httpx

from sources import wire
from sources.base import (
    BadSourceRequest,
    Condition,
    Page,
    PageRequest,
    Row,
    SourceRefused,
    SourceUnavailable,
    check_request,
)

log = logging.getLogger(__name__)

MAX_KEYS = 10_000
"""Keys the API takes in one look-up; longer look-ups are sent in several requests."""


class HttpConnector:
    """Reads one source over HTTP; every failure to get a sound answer is ``SourceUnavailable``.

    Requests are checked here as SQL checks them (``BadSourceRequest``: the gateway's own
    mistake), so a 400 from the API is the source disagreeing, and is ``SourceRefused``. Answers
    are checked whole before any row leaves: the shape, every value by its column's type, every
    NOT NULL column present, a look-up's rows matching the keys asked, a page no longer than
    asked and in ``id`` order. Nothing garbled reaches the graph, where it would fail a whole query.
    """

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        token: str,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        # A mistyped URL is a configuration error, not a source that happens to be down.
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"the URL of source {source!r} must be http(s)://host[:port]")
        self.source = source
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._timeout = timeout
        # A client passed in belongs to the caller, who closes it.
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()

    def __repr__(self) -> str:
        return f"HttpConnector({self.source!r}, {self.base_url!r})"

    async def lookup(
        self,
        table: str,
        column: str,
        keys: Sequence[Hashable],
        *,
        where: Sequence[Condition] = (),
        per_key: int | None = None,
    ) -> list[Row]:
        """Rows whose ``column`` is among ``keys``, in ``id`` order; ``per_key`` caps each key."""
        codec = wire.codec(self.source, table)
        check_request(codec.kinds, table, (column,), where)
        if not keys:
            return []
        # Each row matches one key, so distinct keys split into chunks never return a row twice.
        distinct = list(dict.fromkeys(keys))
        rows: list[Row] = []
        for start in range(0, len(distinct), MAX_KEYS):
            body = {
                "column": column,
                "keys": distinct[start : start + MAX_KEYS],
                "where": wire.encode_filters(where),
                "per_key": per_key,
            }
            payload = await self._send("POST", f"/v1/tables/{table}/lookup", body)
            rows.extend(self._rows(codec, payload))
        wanted = set(distinct)
        try:
            matched = all(row.get(column) in wanted for row in rows)
        except TypeError:  # an unhashable value where a key belongs
            matched = False
        if not matched:
            raise SourceUnavailable(self.source, "rows for keys not asked for")
        if len(distinct) > MAX_KEYS:
            rows.sort(key=lambda row: row["id"])
        return rows

    async def page(self, table: str, request: PageRequest) -> Page:
        """A keyset page: ``first`` rows after ``after``, or ``last`` rows before ``before``."""
        codec = wire.codec(self.source, table)
        check_request(codec.kinds, table, (), request.where)
        body = {
            "where": wire.encode_filters(request.where),
            "first": request.first,
            "after": request.after,
            "last": request.last,
            "before": request.before,
        }
        payload = await self._send("POST", f"/v1/tables/{table}/page", body)
        rows = self._rows(codec, payload)
        has_next, has_previous = payload.get("has_next"), payload.get("has_previous")
        if not isinstance(has_next, bool) or not isinstance(has_previous, bool):
            raise SourceUnavailable(self.source, "malformed response")
        backwards = request.last is not None and request.first is None
        size = (request.last if backwards else request.first) or 0
        ordered = all(a["id"] < b["id"] for a, b in itertools.pairwise(rows))
        if len(rows) > size or not ordered:
            raise SourceUnavailable(self.source, "a page not as asked")
        return Page(rows, has_next=has_next, has_previous=has_previous)

    async def count(self, table: str, where: Sequence[Condition] = ()) -> int:
        """How many live rows match."""
        codec = wire.codec(self.source, table)
        check_request(codec.kinds, table, (), where)
        body = {"where": wire.encode_filters(where)}
        payload = await self._send("POST", f"/v1/tables/{table}/count", body)
        number = payload.get("count")
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise SourceUnavailable(self.source, "malformed response")
        return number

    async def ping(self) -> None:
        """Ask the API's health endpoint, which asks the database."""
        payload = await self._send("GET", "/v1/health", None)
        if payload.get("status") != "ok":
            raise SourceUnavailable(self.source, "malformed response")
        if payload.get("source") != self.source:
            raise SourceUnavailable(self.source, "the API serves another source")

    async def close(self) -> None:
        """Close the HTTP client, unless the caller gave it."""
        if self._owns_client:
            await self._client.aclose()

    async def _send(self, method: str, path: str, body: Any) -> dict[str, Any]:
        """The one boundary where httpx errors and odd answers become connector errors."""
        try:
            content = None if body is None else wire.dumps(body)
        except TypeError as exc:
            raise BadSourceRequest(f"a key or filter value cannot be sent: {exc}") from None
        try:
            response = await self._client.request(
                method,
                self.base_url + path,
                content=content,
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(self.source, "timed out") from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(self.source, type(exc).__name__) from exc
        if response.status_code == 400:
            # The request passed the gateway's checks: the API is of another version, or broken.
            log.warning("source %s refused a request: %s", self.source, self._message(response))
            raise SourceRefused(self.source, "the API refused the request (HTTP 400)")
        if response.status_code == 401:
            raise SourceUnavailable(self.source, "the API refused the token (HTTP 401)")
        if not response.is_success:
            raise SourceUnavailable(self.source, f"HTTP {response.status_code}")
        try:
            payload = wire.loads(response.content)
        except wire.Malformed as exc:
            raise SourceUnavailable(self.source, "malformed response") from exc
        if not isinstance(payload, dict):
            raise SourceUnavailable(self.source, "malformed response")
        return payload

    def _rows(self, codec: wire.TableCodec, payload: dict[str, Any]) -> list[Row]:
        """Rows of a response, each with the integer ``id`` their order depends on."""
        try:
            rows = codec.rows(payload.get("rows"))
        except wire.Malformed as exc:
            raise SourceUnavailable(self.source, "malformed response") from exc
        if not all(type(row.get("id")) is int for row in rows):
            raise SourceUnavailable(self.source, "malformed response")
        return rows

    @staticmethod
    def _message(response: httpx.Response) -> str:
        """The server's explanation of a 400, or a plain one when it gave none."""
        try:
            message = wire.loads(response.content)["error"]["message"]
        except (wire.Malformed, TypeError, KeyError):
            message = None
        return message if isinstance(message, str) else "the source refused the request"
