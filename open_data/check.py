"""The release gate: k-anonymity over a row-level dataset's quasi-identifiers, then a scan of the
final files for residual personal information (PIPL Art. 25). Either one refuses the release.

k-anonymity takes two passes over a re-iterable source instead of holding the rows: a million
rows of ten columns as dicts take about a gigabyte, while the first pass keeps one counter per
equivalence class (the distinct quasi-identifier tuples) and the second streams. Suppressing
small classes is this gate's only remedy; generalising further is the spec's business.

    kept = k_anonymise(lambda: desensitise(spec, read(), key=key), dataset=spec.name,
                       quasi=spec.quasi, k=spec.k, on_small=spec.on_small)
    written = write_files(folder, columns, kept.rows())   # raises if the source changed
    check_release({w.path.name: w.path for w in written}, dataset=spec.name,
                  personal_values=personal_values_of(read(), table=spec.table))

Both stages only read: rows pass through unchanged, files are opened for reading."""

from __future__ import annotations

import contextlib
import csv
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from open_data.errors import ReleaseRefused, SpecError
from open_data.pii import Finding, PersonalValues, Scanner, json_rows
from resolvers.masking import PERSONAL

R = TypeVar("R", bound=Mapping[str, Any])
ClassKey = tuple[object, ...]

SHOWN = 10  # findings named in the message
KEPT = 100  # findings kept on the exception for whoever reviews the refusal


@dataclass(frozen=True, slots=True)
class KReport:
    """What the k-anonymity gate did, counted in its first pass."""

    dataset: str
    quasi: tuple[str, ...]
    k: int
    rows_in: int
    rows_out: int
    classes: int  # equivalence classes kept
    suppressed_rows: int
    suppressed_classes: int
    k_reached: int | None  # the smallest class kept; None when nothing is kept


def _class_value(value: object) -> object:
    # Classes are told apart as the files show them: by text, and by type (JSON shows 1 and "1"
    # apart). Python equality would merge Decimal("1.0") with 1 and make classes look larger.
    return value if type(value) is str else (type(value).__name__, str(value))


class KAnonymity:
    """Two passes over the same rows: ``count`` each, ``decide``, then ``keep`` each, ``verify``.

    For sources that are not a plain re-iterable (an async extract): ``k_anonymise`` wraps it.
    """

    def __init__(
        self,
        *,
        dataset: str,
        quasi: Sequence[str],
        k: int = 5,
        on_small: Literal["suppress", "refuse"] = "suppress",
    ) -> None:
        if not quasi:
            raise ValueError("k-anonymity needs at least one quasi-identifier")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.dataset, self.quasi, self.k, self.on_small = dataset, tuple(quasi), k, on_small
        self._sizes: Counter[ClassKey] = Counter()
        self._kept: dict[ClassKey, int] | None = None
        self._seen: Counter[ClassKey] = Counter()

    def _key(self, row: Mapping[str, Any]) -> ClassKey:
        try:
            return tuple(_class_value(row[name]) for name in self.quasi)
        except KeyError as exc:
            raise SpecError(
                self.dataset, f"quasi-identifier {exc.args[0]!r} is not a column of the rows"
            ) from None

    def count(self, row: Mapping[str, Any]) -> ClassKey:
        """First pass: count the row in its class, which is returned."""
        key = self._key(row)
        self._sizes[key] += 1
        return key

    def decide(self) -> KReport:
        """End the first pass: keep the classes of k rows or more, or refuse."""
        small = {key: n for key, n in self._sizes.items() if n < self.k}
        if small and self.on_small == "refuse":
            # Name columns and sizes only: a small class's values point at the people in it.
            raise ReleaseRefused(
                self.dataset,
                f"k-anonymity over ({', '.join(self.quasi)}) not reached: {len(small)} "
                f"class(es) below k={self.k} hold {sum(small.values())} row(s); "
                f"the smallest has {min(small.values())}",
            )
        self._kept = {key: n for key, n in self._sizes.items() if n >= self.k}
        rows_in = sum(self._sizes.values())
        rows_out = sum(self._kept.values())
        return KReport(
            dataset=self.dataset,
            quasi=self.quasi,
            k=self.k,
            rows_in=rows_in,
            rows_out=rows_out,
            classes=len(self._kept),
            suppressed_rows=rows_in - rows_out,
            suppressed_classes=len(small),
            k_reached=min(self._kept.values(), default=None),
        )

    def kept(self, key: ClassKey) -> bool:
        """After ``decide``: whether the rows of a class (as ``count`` returned it) are released."""
        if self._kept is None:
            raise RuntimeError("decide() ends the first pass before kept()")
        return key in self._kept

    def keep(self, row: Mapping[str, Any]) -> bool:
        """Second pass: whether the row is released."""
        if self._kept is None:
            raise RuntimeError("decide() ends the first pass before keep()")
        key = self._key(row)
        if key not in self._kept:
            return False
        self._seen[key] += 1
        return True

    def verify(self) -> None:
        """End the second pass: refuse if the source changed so that a kept class is now small."""
        shrunk = [n for n in self._seen.values() if n < self.k]
        if shrunk:
            raise ReleaseRefused(
                self.dataset,
                f"the rows changed between the two k-anonymity passes: {len(shrunk)} class(es) "
                f"over ({', '.join(self.quasi)}) fell below k={self.k}",
            )


class KAnonymised(Generic[R]):
    """The first pass's report, and the kept rows as a second pass over the source."""

    def __init__(self, gate: KAnonymity, report: KReport, source: Callable[[], Iterable[R]]):
        self.report = report
        self._gate, self._source = gate, source

    def rows(self) -> Iterator[R]:
        """The rows of classes of k or more; raises ``ReleaseRefused`` after the last one if
        the source changed meanwhile, so consume it whole before anything is released."""
        keep = self._gate.keep
        for row in self._source():
            if keep(row):
                yield row
        self._gate.verify()


def k_anonymise(
    source: Callable[[], Iterable[R]],
    *,
    dataset: str,
    quasi: Sequence[str],
    k: int = 5,
    on_small: Literal["suppress", "refuse"] = "suppress",
) -> KAnonymised[R]:
    """Count the classes of ``source()`` over ``quasi``; rows of classes under ``k`` are
    suppressed, or the release is refused (``on_small="refuse"``). ``source`` is called twice."""
    gate = KAnonymity(dataset=dataset, quasi=quasi, k=k, on_small=on_small)
    for row in source():
        gate.count(row)
    return KAnonymised(gate, gate.decide(), source)


def personal_values_of(rows: Iterable[Mapping[str, Any]], *, table: str) -> Iterator[str]:
    """The values of ``table``'s personal columns (``resolvers.masking.PERSONAL``) in source rows,
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
    personal: PersonalValues | Iterable[str], public: Collection[str], today: date | None
) -> Scanner:
    if not isinstance(personal, PersonalValues):
        personal = PersonalValues(personal, public=public)
    elif public:
        raise ValueError("pass public values to PersonalValues(…, public=…) when you build it")
    return Scanner(personal, today=today)


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
) -> None:
    """Refuse the release (``ReleaseRefused``) if its files hold any personal information;
    arguments as for ``scan``, but findings are counted, not all kept. A JSON file and its CSV
    twin take one pass, which reads each once. One process searches every file: the personal
    values are kept as hashes of this process (``PersonalValues``), which another would not
    share."""
    scanner = _scanner(personal_values, public_values, today)
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
