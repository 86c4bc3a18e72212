"""Residual personal information in what a release publishes: ID numbers, mobile numbers, bank
cards, e-mail addresses and the source's own personal values, found in text, rows and files.

What counts as a hit, and why (a false positive refuses a release, a false negative leaks):

- **Digit runs** are maximal runs of ASCII digits, full-width digits folded first. A run that
  is the fraction of a decimal (``0.13812345678``) or longer than 19 digits is nobody's number;
  an integer part is not exempt (``13812345678.0`` is a phone number that went through a float).
- **ID number**: an 18-character run that ``standard.codes.check_id_number`` accepts (province,
  birth date from 1900 to today, MOD 11-2; a lower-case ``x`` too), or 6-8-4 groups. USCCs
  are not exempt: an ID number passes the USCC check one time in 31. A USCC passes the ID check
  only if its first two characters are a province code, its county code ends in 19 or 20, its
  organisation code starts with a real MMDD and the check matches (1 in 11): refused, reviewed.
- **Mobile**: an 11-digit run ``1[3-9]…``; also ``86``/``0086`` written in the same run
  (``+8613812345678``), and 3-4-4 groups separated by spaces or dashes (``138-1234-5678``).
- **Bank card**: a 16-19 digit run (or 4-4-4-4[-1..3] groups) passing Luhn, with an issuer
  prefix 3, 4, 5, 6, 95 (legacy domestic debit cards) or 2221-2720. Shorter runs and other
  prefixes are left out, since one number in ten passes Luhn: 13-digit batch codes, 14-digit
  matter codes and date-times, 17-digit timestamps (19…/20…), snowflake keys (1…).
- **USCCs** (published with every penalty) are neither cards nor mobiles: a run inside an
  18-character window that passes the USCC check, has a real division and a valid embedded
  organisation code is skipped (``3161…0R``'s 17 digits, all-digit codes of law firms, 31…, and
  social organisations, 5…). A real 18-digit card passes all three one time in ~340.
- **Old 15-digit ID numbers** are not searched by shape: they have no check digit and look like
  the 15-digit business registration numbers published with penalties; the personal-value
  search still finds any that the source holds.
- **E-mail**: ASCII ``local@domain.tld``.
- **Personal values**: an occurrence of a value of the source's personal columns, two
  characters or more (six or more if it has no letter or CJK character: short numbers are
  everywhere), a value over 32 characters by its first 32. A two-character name also matches
  inside longer words and company names: such a refusal is reviewed, or the text declared public.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from open_data.numbers import Hit, Kind, digit_hit, fold, fraction, glued, inside_uscc
from open_data.spec import DIGEST as _DIGEST
from policies.masking import mask_name


@dataclass(frozen=True, slots=True)
class Finding:
    """A hit located in a release: resource (file), column, 1-based data row."""

    resource: str
    column: str
    row: int
    kind: Kind
    sample: str  # redacted: never the whole value

    def __str__(self) -> str:
        # Without the sample: messages end up in logs.
        return f"{self.resource}, column {self.column!r}, row {self.row}: {self.kind}"


# A maximal run: scanning left to right, a match cannot start inside a run of digits, since it
# would have started a digit earlier. Not after "1." (a fraction; checked by _fraction): but
# "13812345678.0" is a phone number that went through a float. (Lookbehinds here cost a third
# of the row's search.)
_RUN: Final = re.compile(r"[0-9]{11,}(?:[Xx](?![0-9]))?")
_GROUPED: Final = re.compile(
    r"(?<![0-9])(?:"
    r"1[3-9][0-9](?P<m>[ -])[0-9]{4}(?P=m)[0-9]{4}"  # mobile 3-4-4
    r"|[0-9]{6}(?P<i>[ -])[0-9]{8}(?P=i)[0-9]{3}[0-9Xx]"  # ID number 6-8-4
    r"|[0-9]{4}(?P<c>[ -])[0-9]{4}(?P=c)[0-9]{4}(?P=c)[0-9]{4}(?:(?P=c)[0-9]{1,3})?"  # card
    r")(?![0-9])"
)
_EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
# What every _GROUPED match holds: a separator, 4 or 8 digits, a separator. Most texts hold
# none, and _GROUPED, tried at every position, costs more than the rest of a text's search.
_GROUP_HINT: Final = re.compile(r"[ -][0-9]{4}(?:[0-9]{4})?[ -]")
_NUMBER_SIZES: Final = frozenset({11, 13, 15, 16, 17, 18, 19})  # digit runs _number may take
_SUSPECT: Final = re.compile(r"[0-9]{11}|[0-9]{3}[ -][0-9]{4}|@")  # what every pattern needs
_WORDISH: Final = re.compile(r"[^\W\d_]")  # a letter or CJK character
_SHORTEST: Final = 2
_SHORTEST_NUMBER: Final = 6
_LONGEST: Final = 32
_CACHED: Final = 64  # shorter cells repeat (districts, categories, months): remember their hits
_REMEMBERED: Final = 1 << 17  # then forget them all: unique texts (codes, names) fill the memory
PLACEHOLDERS: Final = frozenset(
    {"匿名", "不详", "未知", "暂无", "其他", "null", "NULL", "None", "N/A"}
)
"""Stand-ins for a missing value that personal columns hold and that identify nobody."""


def _redact_value(value: str) -> str:
    return mask_name(value) if len(value) <= 8 else value[:1] + "***"


class PersonalValues:
    """The source's personal values, held as hashes and found by their first two characters.

    Memory per value is one int in a set, plus one dict entry per distinct first two characters
    (few for addresses and phones, more for names): ~140 MB for a million random values.
    A hash collision can only add a finding, never hide one.
    """

    def __init__(self, values: Iterable[str] = (), *, public: Collection[str] = ()) -> None:
        self.public = frozenset(fold(v.strip()) for v in public) | PLACEHOLDERS
        self._hashes: set[int] = set()
        # hash of the first two characters -> the values' lengths, longest first
        self._lengths: dict[int, tuple[int, ...]] = {}
        self._shared: dict[tuple[int, ...], tuple[int, ...]] = {}  # one tuple per length set
        self._firsts: set[str] = set()  # first characters, to jump to where a value may start
        self._jump: re.Pattern[str] | None = None
        self._ascii = False  # whether a value starts with an ASCII character
        self.update(values)

    def __len__(self) -> int:
        return len(self._hashes)

    def __reduce__(self) -> Any:
        # str hashes are salted per process: in another process these would match nothing,
        # and the scan there would find no personal value at all.
        raise TypeError("PersonalValues hold this process's string hashes: not for another")

    def add(self, value: str) -> None:
        """Remember a value (too short, numbers under six digits and public ones are skipped)."""
        text = fold(value.strip())[:_LONGEST]
        if len(text) < _SHORTEST or text in self.public:
            return
        if len(text) < _SHORTEST_NUMBER and not _WORDISH.search(text):
            return
        self._hashes.add(hash(text))
        if text[0] not in self._firsts:
            self._firsts.add(text[0])
            self._jump = None
        start = hash(text[:2])
        lengths = self._lengths.get(start, ())
        if len(text) not in lengths:
            grown = tuple(sorted((*lengths, len(text)), reverse=True))
            self._lengths[start] = self._shared.setdefault(grown, grown)

    def update(self, values: Iterable[str]) -> None:
        """Remember every value."""
        for value in values:
            self.add(value)

    def find(self, text: str) -> list[str]:
        """Each occurrence in ``text`` (folded) of a value, longest first, not overlapping."""
        found: list[str] = []
        if not self._hashes or text in self.public:
            return found
        if self._jump is None:
            self._jump = re.compile("[" + "".join(map(re.escape, sorted(self._firsts))) + "]")
            self._ascii = any(first.isascii() for first in self._firsts)
        if not self._ascii and text.isascii():  # codes and keys, when no value starts so
            return found
        lengths_at, hashes = self._lengths.get, self._hashes
        resume = 0
        for match in self._jump.finditer(text):  # in C: most characters start no value
            i = match.start()
            if i < resume:
                continue
            for length in lengths_at(hash(text[i : i + 2]), ()):
                piece = text[i : i + length]
                if len(piece) == length and hash(piece) in hashes:
                    found.append(piece)
                    resume = i + length
                    break
        return found


class Scanner:
    """Finds personal information in text, rows, CSV and JSON; ``today`` bounds birth dates."""

    def __init__(
        self,
        personal: PersonalValues | None = None,
        *,
        today: date | None = None,
        digests: Collection[str] = (),
    ):
        self.personal = PersonalValues() if personal is None else personal
        self.today = today
        # Columns of hexadecimal digests (``spec.Digest``): a cell of 64+ hex digits in one
        # is not searched; any other cell there is, like every cell elsewhere.
        self.digests = frozenset(digests)
        self._known: dict[str, tuple[Hit, ...]] = {}  # short texts' hits

    def hits(self, text: str) -> tuple[Hit, ...]:
        """Every hit in one text (a cell)."""
        found = self._known.get(text)
        if found is None:
            found = self._found(text)
        return found

    def _found(self, text: str) -> tuple[Hit, ...]:
        """The hits in a text not remembered, which is remembered if short."""
        found = self._hits(text)
        if len(text) <= _CACHED:
            if len(self._known) >= _REMEMBERED:
                self._known.clear()  # the texts that repeat come back at once
            self._known[text] = found
        return found

    def _hits(self, raw: str) -> tuple[Hit, ...]:
        text = raw if raw.isascii() else fold(raw)
        located = self._patterns(text) if _SUSPECT.search(text) else ()
        personal = self.personal.find(text)
        if not (located or personal):
            return ()
        return (
            *(hit for _, hit in located),
            *(Hit("personal_value", _redact_value(v)) for v in personal),
        )

    def _patterns(self, text: str) -> list[tuple[int, Hit]]:
        """The numbers and e-mail addresses in folded ``text``, each with where it starts."""
        found: list[tuple[int, Hit]] = []
        for match in _RUN.finditer(text):
            token = match[0]
            # Most runs are codes of a length no personal number has (14-digit matter codes).
            if token[-1] > "9":
                if len(token) != 18 and len(token) - 1 not in _NUMBER_SIZES:
                    continue
            elif len(token) not in _NUMBER_SIZES:
                continue
            if fraction(text, match.start()):
                continue
            hit = digit_hit(token, self.today)
            if hit is None:
                continue
            if hit.kind != "id_number" and inside_uscc(text, match.start(), match.end()):
                continue  # an ID number stays one: one in 31 passes the USCC check
            if hit.kind == "bank_card" and glued(text, match.start(), match.end()):
                continue  # digits of a code such as a licence number XK6101…: not a card
            found.append((match.start(), hit))
        if ("-" in text or " " in text) and _GROUP_HINT.search(text):
            for match in _GROUPED.finditer(text):
                hit = digit_hit(match[0].replace(" ", "").replace("-", ""), self.today)
                if hit is not None:
                    found.append((match.start(), hit))
        if "@" in text:
            for match in _EMAIL.finditer(text):
                found.append((match.start(), Hit("email", f"{match[1][:1]}***@{match[2]}")))
        return found

    def _row(
        self, resource: str, number: int, columns: Sequence[str], texts: list[str]
    ) -> Sequence[Finding]:
        """The findings in one row: ``texts[i]`` is a text of column ``columns[i]``."""
        # Each text is searched alone (``hits``), and short ones, which repeat (districts,
        # organisations, codes), are remembered: most of a row's cells are looked up, in C.
        hits = list(map(self._known.get, texts))
        if self.digests:
            for i, column in enumerate(columns):
                if column in self.digests and _DIGEST.fullmatch(texts[i]):
                    hits[i] = ()
        at = -1
        while None in hits:  # the texts not remembered, found one by one
            at = hits.index(None, at + 1)
            hits[at] = self._found(texts[at])
        if not any(hits):
            return ()
        return [
            Finding(resource, columns[i], number, hit.kind, hit.sample)
            for i, found in enumerate(hits)
            if found
            for hit in found
        ]

    def rows(self, rows: Iterable[Mapping[str, Any]], *, resource: str) -> Iterator[Finding]:
        """Findings in rows (the first is row 1); values of any type the publisher writes."""
        for number, row in enumerate(rows, 1):
            columns: list[str] = []
            texts: list[str] = []
            for column, value in row.items():
                for text in _texts(value):
                    columns.append(str(column))
                    texts.append(text)
            yield from self._row(resource, number, columns, texts)

    def csv(
        self,
        handle: Iterable[str],
        *,
        resource: str,
        twin: Iterable[Any] | None = None,
        twin_resource: str = "",
    ) -> Iterator[Finding]:
        """Findings in a CSV file opened as text: its header names the columns.

        ``twin`` gives the items of a JSON file of the same rows (``twin_resource``), searched
        in the same pass as ``json`` would with this CSV as its twin; the findings of both come
        row by row (CSV row 1, JSON row 1, CSV row 2 …)."""
        reader = csv.reader(handle)
        names = next(reader, [])
        header = list(names)  # ``names`` grows with rows longer than the header
        items = None if twin is None else iter(twin)
        search, number = self._row, 0
        for number, cells in enumerate(reader, 1):
            if len(cells) > len(names):  # more cells than the header names
                names += [f"#{i + 1}" for i in range(len(names), len(cells))]
            found = search(resource, number, names, cells)
            if found:
                yield from found
            if items is not None:
                item = next(items, _END)
                if item is _END:
                    items = None
                    continue
                found = self._item(twin_resource, number, item, header, cells)
                if found:
                    yield from found
        if items is not None:  # the JSON goes on: nothing to compare with
            for more, item in enumerate(items, number + 1):
                yield from self._item(twin_resource, more, item)

    def json(
        self,
        items: Iterable[Any],
        *,
        resource: str,
        twin: Iterable[list[str]] | None = None,
    ) -> Iterator[Finding]:
        """Findings in JSON items (``json_rows``, ``json_items``): a top-level array's items
        (or JSON Lines) are the rows; an item's keys name the columns (``#1`` … for an array or
        a bare value).

        ``twin`` gives the rows of a scanned CSV of the same rows, its header first
        (``csv.reader``): a value whose texts joined by ``;`` (as the CSV writes a list) equal
        the CSV cell was searched there and is not searched again; anything else is."""
        rows = None if twin is None else iter(twin)
        header = None if rows is None else next(rows, [])
        for number, item in enumerate(items, 1):
            cells = None if rows is None else next(rows, None)
            found = self._item(resource, number, item, header, cells)
            if found:
                yield from found

    def _item(
        self,
        resource: str,
        number: int,
        item: Any,
        header: list[str] | None = None,
        cells: list[str] | None = None,
    ) -> Sequence[Finding]:
        """The findings in one JSON item, but for values equal to its CSV twin's cells."""
        columns: list[str] = []
        texts: list[str] = []
        if (
            cells is not None
            and type(item) is dict
            and len(item) == len(cells) == len(header or ())
            and list(item) == header
        ):  # the CSV's columns in the same order: compared cell by cell
            for (column, value), cell in zip(item.items(), cells, strict=True):
                if type(value) is str:
                    if value == cell:
                        continue
                    columns.append(column)
                    texts.append(value)
                elif value is not None:  # None has no text
                    found = _texts(value)
                    if ";".join(found) != cell:
                        columns += [column] * len(found)
                        texts += found
            return self._row(resource, number, columns, texts) if texts else ()
        if isinstance(item, dict):
            pairs = list(item.items())
        elif isinstance(item, list):
            pairs = [(f"#{i + 1}", value) for i, value in enumerate(item)]
        else:
            pairs = [("#1", item)]
        scanned = None if cells is None else dict(zip(header or (), cells, strict=False))
        for column, value in pairs:
            found = _texts(value)
            if scanned is not None and scanned.get(str(column)) == ";".join(found):
                continue
            columns += [str(column)] * len(found)
            texts += found
        return self._row(resource, number, columns, texts) if texts else ()


_END: Final = object()


_ONLY_STR: Final = frozenset({str})


def _texts(value: Any) -> list[str]:
    """The texts in a value: strings and numbers, inside lists and objects too."""
    if type(value) is str:
        return [value]
    if type(value) is list and set(map(type, value)) <= _ONLY_STR:  # the usual list, in C
        return value
    found: list[str] = []
    _gather(value, found)
    return found


def _gather(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        found.append(str(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            _gather(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _gather(item, found)
    # None, bool, date and datetime cannot hold anyone's number or name.
