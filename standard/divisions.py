"""The official administrative divisions of the province the data centre serves.

Division codes in records are checked against the list shipped for the province
(``standard/divisions/<province>.toml``, written by ``scripts/division-list`` from the National
Bureau of Statistics' edition named in the file), not only by their province prefix: ``610199``
has Shaanxi's prefix but names no division.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from standard.codes import Finding, check_division_code
from standard.errors import Misconfigured

LISTS = Path(__file__).parent / "divisions"


class NoDivisionList(Misconfigured):
    """No official list is shipped for the province asked for."""


@dataclass(frozen=True, slots=True)
class DivisionList:
    """One province's division codes and names, with the edition they come from."""

    province: str
    name: str
    edition: str
    as_of: date
    names: dict[str, str]

    @classmethod
    def read(cls, path: Path) -> DivisionList:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return cls(
            province=data["province"],
            name=data["name"],
            edition=data["edition"],
            as_of=data["as_of"],
            names=dict(data["divisions"]),
        )

    def check(self, code: str) -> Finding | None:
        """Why ``code`` is not a division of this province, or ``None`` when it is."""
        if code in self.names:  # the common case first: one dict lookup per record
            return None
        finding = check_division_code(code)
        if finding is not None:
            return finding
        if code[:2] != self.province[:2]:
            return Finding(
                f"division code {code!r} is outside {self.name} ({self.province}), "
                "the province this data centre serves"
            )
        return Finding(
            f"division code {code!r} is not in the official list of {self.name}'s divisions "
            f"({self.edition}, as of {self.as_of.isoformat()})"
        )


@cache
def official_divisions(province: str) -> DivisionList:
    """The shipped list for ``province`` (six digits, e.g. ``610000``)."""
    path = LISTS / f"{province}.toml"
    if not province.isascii() or not province.isdigit() or not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in LISTS.glob("*.toml")))
        raise NoDivisionList(
            f"no official division list is shipped for province {province!r} (shipped: {shipped}); "
            "add one with scripts/division-list"
        )
    return DivisionList.read(path)
