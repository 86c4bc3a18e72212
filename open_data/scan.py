"""The residual-PII scan of a release's final files (PIPL Art. 25), which the ``write`` stage
runs before a release leaves its staging folder: any personal information found refuses it.

    check_release(files, dataset=spec.name, personal_values=values, twins={"json": "csv"})

``personal_values_in`` gives a source row's personal values (the ``extract`` stage notes them
as the rows pass); ``scan`` lists every finding where ``check_release`` counts them and
refuses. Files are opened for reading only."""

from __future__ import annotations

import contextlib
import csv
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from open_data.errors import ReleaseRefused
from open_data.json_stream import json_rows
from open_data.pii import Finding, PersonalValues, Scanner
from policies.masking import PERSONAL

SHOWN = 10  # findings named in the message
KEPT = 100  # findings kept on the exception for whoever reviews the refusal


def personal_values_of(rows: Iterable[Mapping[str, Any]], *, table: str) -> Iterator[str]:
    """The values of ``table``'s personal columns (``policies.masking.PERSONAL``) in source rows,
    to feed the residual-PII scan (``personal_values_in`` for one row at a time)."""
    values_in = personal_values_in(table)
    for row in rows:
        yield from values_in(row)


def personal_values_in(table: str) -> Callable[[Mapping[str, Any]], list[str]]:
    """A row's values of ``table``'s personal columns, found by a function made once per table.
    An organisation's code in the ID column is not one: it is the subject's public USCC,
    published as such."""
    columns = tuple(PERSONAL.get(table, ()))  # the gateway's own tables have none

    def values_in(row: Mapping[str, Any]) -> list[str]:
        found = []
        for name in columns:
            value = row.get(name)
            if value is None or value == "":
                continue
            if name == "counterparty_id" and row.get("counterparty_id_type") == "uscc":
                continue
            found.append(str(value))
        return found

    return values_in


def _scanner(
    personal: PersonalValues | Iterable[str],
    public: Collection[str],
    today: date | None,
    digests: Collection[str] = (),
) -> Scanner:
    if not isinstance(personal, PersonalValues):
        personal = PersonalValues(personal, public=public)
    elif public:
        raise ValueError("pass public values to PersonalValues(…, public=…) when you build it")
    return Scanner(personal, today=today, digests=digests)


_SCANNED = (".csv", ".json", ".jsonl", ".ndjson")
T = TypeVar("T")


@contextlib.contextmanager
def _reading(dataset: str, resource: str) -> Iterator[None]:
    """An error reading ``resource`` refuses the release, naming it."""
    try:
        yield
    except (OSError, ValueError, csv.Error) as exc:  # ValueError: bad UTF-8, bad JSON
        raise ReleaseRefused(dataset, f"{resource} cannot be scanned: {exc}") from exc


def _read(dataset: str, resource: str, items: Iterable[T]) -> Iterator[T]:
    """``items``, read from ``resource``: an error reading them refuses the release."""
    with _reading(dataset, resource):
        yield from items


def _pairs(files: Mapping[str, Path], twins: Mapping[str, str]) -> dict[str, str]:
    """Each JSON file with a CSV twin among ``files``, and that CSV, mapped to the other: the
    two are read in one pass. A CSV is read with one JSON file at most."""
    paired: dict[str, str] = {}
    for resource, twin in twins.items():
        path, other = files.get(resource), files.get(twin)
        if path is None or other is None or resource in paired or twin in paired:
            continue
        if path.suffix.lower() in _SCANNED[1:] and other.suffix.lower() == ".csv":
            paired[resource], paired[twin] = twin, resource
    return paired


def _scan_files(
    dataset: str,
    files: Mapping[str, Path],
    scanner: Scanner,
    twins: Mapping[str, str],
) -> Iterator[Finding]:
    """The findings in ``files``, file by file, but for a JSON file and its CSV twin, read in
    one pass: their findings come row by row."""
    paired = _pairs(files, twins)
    done: set[str] = set()
    for resource, path in files.items():
        if resource in done:
            continue
        done.add(paired.get(resource, resource))
        suffix = path.suffix.lower()
        if suffix not in _SCANNED:
            kind = suffix or "extension-less"
            raise ReleaseRefused(
                dataset, f"{resource}: {kind} files are not scanned, so not released"
            )
        twin = files.get(twins.get(resource, ""))
        if twin is not None and (suffix == ".csv" or twin.suffix.lower() != ".csv"):
            raise ValueError(f"{resource}: only a JSON file can have a CSV twin")
        other = paired.get(resource)
        if other is not None:
            pair = (resource, other) if suffix == ".csv" else (other, resource)
            yield from _scan_pair(dataset, files, scanner, *pair)
            continue
        # utf-8-sig reads files with and without a BOM alike; newline="" for csv.
        with _reading(dataset, resource), contextlib.ExitStack() as stack:
            if suffix == ".csv":
                handle = stack.enter_context(path.open(encoding="utf-8-sig", newline=""))
                yield from scanner.csv(handle, resource=resource)
                continue
            rows = None
            if twin is not None:  # a CSV read with another JSON file: read again
                rows = csv.reader(stack.enter_context(twin.open(encoding="utf-8-sig", newline="")))
            items = json_rows(stack.enter_context(path.open("rb")))
            yield from scanner.json(items, resource=resource, twin=rows)


def _scan_pair(
    dataset: str, files: Mapping[str, Path], scanner: Scanner, table: str, data: str
) -> Iterator[Finding]:
    """A CSV file (``table``) and its JSON twin (``data``), read in one pass."""
    with contextlib.ExitStack() as stack:
        with _reading(dataset, table):
            handle = stack.enter_context(files[table].open(encoding="utf-8-sig", newline=""))
        with _reading(dataset, data):
            items = _read(dataset, data, json_rows(stack.enter_context(files[data].open("rb"))))
        with _reading(dataset, table):  # the JSON's own errors are refused by _read
            yield from scanner.csv(handle, resource=table, twin=items, twin_resource=data)


Counted = tuple[Counter[str], dict[str, list[Finding]]]


def _tally(findings: Iterable[Finding]) -> Counted:
    """Findings counted by kind, the first ``KEPT`` of each file's kept."""
    kinds: Counter[str] = Counter()
    first: dict[str, list[Finding]] = {}
    for finding in findings:
        kinds[finding.kind] += 1
        kept = first.setdefault(finding.resource, [])
        if len(kept) < KEPT:
            kept.append(finding)
    return kinds, first


def scan(
    files: Mapping[str, Path],
    *,
    dataset: str,
    personal_values: PersonalValues | Iterable[str] = (),
    public_values: Collection[str] = (),
    today: date | None = None,
    twins: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every finding in the release's final files (resource name → CSV or JSON path).

    ``personal_values`` are the source's personal values; ``public_values`` are texts that
    never count as personal (district names, category labels): a personal value equal to one is
    not searched, and neither is a cell equal to one. ``today`` bounds ID numbers' birth dates.
    ``twins`` maps a JSON resource to the CSV resource holding the same rows: the JSON's values
    equal to the CSV's cells are not searched twice (``Scanner.json``).
    """
    scanner = _scanner(personal_values, public_values, today)
    order = {resource: i for i, resource in enumerate(files)}
    found = list(_scan_files(dataset, files, scanner, twins or {}))
    found.sort(key=lambda f: order[f.resource])  # a file's, row by row; then the next file's
    return found


def check_release(
    files: Mapping[str, Path],
    *,
    dataset: str,
    personal_values: PersonalValues | Iterable[str] = (),
    public_values: Collection[str] = (),
    today: date | None = None,
    twins: Mapping[str, str] | None = None,
    digests: Collection[str] = (),
) -> None:
    """Refuse the release (``ReleaseRefused``) if its files hold any personal information;
    arguments as for ``scan``, but findings are counted, not all kept. A JSON file and its CSV
    twin take one pass, which reads each once. One process searches every file: the personal
    values are kept as hashes of this process (``PersonalValues``), which another would not
    share. ``digests`` are columns of hexadecimal digests (``Scanner``)."""
    scanner = _scanner(personal_values, public_values, today, digests)
    kinds, kept = _tally(_scan_files(dataset, files, scanner, twins or {}))
    first = [f for resource in files for f in kept.get(resource, ())][:KEPT]
    if not kinds:
        return
    total = kinds.total()
    counts = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
    where = "; ".join(str(f) for f in first[:SHOWN])
    more = f"; … first {SHOWN} of {total}" if total > SHOWN else ""
    raise ReleaseRefused(
        dataset, f"{total} piece(s) of personal information found ({counts}): {where}{more}", first
    )
