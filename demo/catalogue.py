"""The demo's departments, matter catalogue, inspection items and government-service items.

Each city department gets 30 main matters (ten regulated objects by kind of act) and sub-items
under some of them. Per department one matter is cancelled, one stopped, one replaced by a new
version in mid-2025 and one added in mid-2025, so that R1 has something to decide. Matters whose
object needs a licence link to the government-service item of that licence (R2); the links to
licences in ``MISSING_LICENCES`` and ``CANCELLED_LICENCES`` are deliberately inconsistent.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Final

from demo import departments as spec
from demo.departments import DepartmentSpec, Regulated
from standard.codes import make_item_code, make_matter_code, make_uscc

KIND_DIGITS: Final = {"inspection": 1, "penalty": 2, "coercive": 3, "other": 5}
ITEM_TYPE_CODES: Final = {
    "licensing": "01",
    "payment": "03",
    "confirmation": "07",
    "other": "10",
    "public_service": "20",
}
_OLD_STARTS: Final = (date(2021, 1, 1), date(2022, 7, 1), date(2023, 1, 1), date(2024, 1, 1))
MID_2025: Final = date(2025, 7, 1)
_CANCEL_DAYS: Final = (date(2025, 3, 31), date(2025, 6, 30))
_STOP_DAY: Final = date(2025, 9, 30)


@dataclass(frozen=True, slots=True)
class Department:
    """A department with its drawn USCC."""

    spec: DepartmentSpec
    uscc: str

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Matter:
    """One version of one catalogue entry."""

    code: str
    parent: str | None
    name: str
    department: str
    kind: str
    regulated: Regulated
    status: str
    version: str
    valid_from: date
    valid_to: date | None
    published: date  # when this version was sent to the data centre
    licensing_item_code: str | None = None
    permit_type: str | None = None

    def active(self, on: date) -> bool:
        """Whether an act on ``on`` may be recorded against it (same rule as ingest's R1)."""
        ended = self.valid_to is not None and on > self.valid_to
        return (
            self.valid_from <= on
            and not ended
            and (self.status == "in_use" or self.valid_to is not None)
        )


@dataclass(frozen=True, slots=True)
class InspectionItem:
    """A 检查实施清单 entry: how one department implements one matter."""

    code: str
    matter: Matter
    department: Department


@dataclass(frozen=True, slots=True)
class LicensingItem:
    """A government-service catalogue item."""

    code: str
    name: str
    item_type: str
    department: Department
    law: str | None
    person: bool
    status: str
    valid_from: date
    valid_to: date | None


@dataclass(slots=True)
class Catalogue:
    """Every department, matter, inspection item and licensing item of one seed."""

    departments: list[Department] = field(default_factory=list)
    matters: list[Matter] = field(default_factory=list)
    items: list[InspectionItem] = field(default_factory=list)
    licensing: list[LicensingItem] = field(default_factory=list)
    by_code: dict[str, Department] = field(default_factory=dict)
    # (catalogue department, kind) -> leaf matters an act can be recorded against
    leaves: dict[tuple[str, str], list[Matter]] = field(default_factory=dict)
    # (catalogue department, object, kind) -> leaf matters about one regulated object
    object_leaves: dict[tuple[str, str, str], list[Matter]] = field(default_factory=dict)
    item_codes: dict[tuple[str, str], str] = field(default_factory=dict)
    abolished: list[Matter] = field(default_factory=list)  # cancelled or stopped versions


def build_catalogue(rng: random.Random) -> Catalogue:
    """Draw the whole catalogue from ``rng``."""
    cat = Catalogue()
    for dept_spec in spec.ALL_DEPARTMENTS:
        uscc = make_uscc(rng, division=dept_spec.division, authority="1", category="1")
        department = Department(dept_spec, uscc)
        cat.departments.append(department)
        cat.by_code[department.code] = department
    licence_codes = _licensing_items(cat, rng)
    used: set[str] = set()
    leaves: dict[tuple[str, str], list[Matter]] = defaultdict(list)
    objects: dict[tuple[str, str, str], list[Matter]] = defaultdict(list)
    for department in cat.departments:
        if department.code not in spec.ACTIVITY:
            continue
        for matter, leaf in _matters(department, rng, used, licence_codes):
            cat.matters.append(matter)
            if matter.status != "in_use" and matter.valid_to is not None:
                cat.abolished.append(matter)
            if leaf:
                leaves[(matter.department, matter.kind)].append(matter)
                objects[(matter.department, matter.regulated.name, matter.kind)].append(matter)
    cat.leaves = dict(leaves)
    cat.object_leaves = dict(objects)
    _inspection_items(cat)
    return cat


def _licensing_items(cat: Catalogue, rng: random.Random) -> dict[tuple[str, str], str]:
    """Make the government-service items; return (department, licence) -> code, incl. missing."""
    codes: dict[tuple[str, str], str] = {}
    for department in cat.departments:
        entries: list[tuple[str, str, Regulated | None]] = [
            (r.licence, "licensing", r) for r in department.spec.objects if r.licence
        ]
        entries += [(name, kind, None) for name, kind in department.spec.services]
        for seq, (name, item_type, regulated) in enumerate(entries, start=1):
            code = f"{department.uscc}{ITEM_TYPE_CODES[item_type]}{seq:05d}"
            codes[(department.code, name)] = code
            if name in spec.MISSING_LICENCES:
                continue  # R2: the matter links to it, the government-service catalogue lacks it
            cancelled = spec.CANCELLED_LICENCES.get(name)
            cat.licensing.append(
                LicensingItem(
                    code=code,
                    name=name,
                    item_type=item_type,
                    department=department,
                    law=regulated.law if regulated else None,
                    person=bool(regulated and regulated.person),
                    status="cancelled" if cancelled else "in_use",
                    valid_from=rng.choice(_OLD_STARTS),
                    valid_to=cancelled,
                )
            )
    return codes


def _lifecycles(rng: random.Random, count: int) -> dict[int, str]:
    """Which main matters of a department are cancelled, stopped, re-versioned or new."""
    chosen = rng.sample(range(count), 4)
    return dict(zip(chosen, ("cancelled", "stopped", "versioned", "new"), strict=True))


def _main_matters(department: Department) -> list[tuple[str, str, Regulated]]:
    objects = department.spec.objects
    mains = [("inspection", f"对{r.name}的行政检查", r) for r in objects]
    mains += [("penalty", f"对{r.name}违法行为的行政处罚", r) for r in objects]
    mains += [("coercive", f"对{r.name}涉嫌违法财物的查封扣押", r) for r in objects[:5]]
    mains += [("other", f"对{r.name}的行政指导", r) for r in objects[5:]]
    return mains


def _sub_names(kind: str, regulated: Regulated, index: int) -> list[str]:
    if kind == "inspection" and index < 6:
        return [f"对{regulated.name}的{x}" for x in ("日常监督检查", "双随机抽查", "专项检查")]
    if kind == "penalty" and regulated.licence:
        return [
            f"对{regulated.name}未取得{regulated.licence}从事相关活动的行政处罚",
            f"对{regulated.name}违反{regulated.law}规定的行政处罚",
        ]
    return []


def _matters(
    department: Department,
    rng: random.Random,
    used: set[str],
    licence_codes: dict[tuple[str, str], str],
) -> list[tuple[Matter, bool]]:
    """Every version of every matter of one city department, each with whether it is a leaf."""
    mains = _main_matters(department)
    lifecycles = _lifecycles(rng, len(mains))
    out: list[tuple[Matter, bool]] = []
    serial = 0

    def new_code() -> str:
        while True:
            code = make_matter_code(rng)
            if code not in used:
                used.add(code)
                return code

    for index, (kind, name, regulated) in enumerate(mains):
        code = new_code()
        link = permit = None
        if regulated.licence and kind in ("inspection", "penalty"):
            link = licence_codes[(department.code, regulated.licence)]
            permit = rng.choice(("first", "second", "third"))
        start = rng.choice(_OLD_STARTS)
        versions: list[tuple[str, date, date | None, date]] = []  # status, from, to, published
        life = lifecycles.get(index)
        if life == "cancelled":
            end = rng.choice(_CANCEL_DAYS)
            versions.append(("cancelled", start, end, end))
        elif life == "stopped":
            versions.append(("stopped", start, _STOP_DAY, _STOP_DAY))
        elif life == "versioned":
            versions.append(("in_use", start, date(2025, 6, 30), date(2025, 6, 20)))
            versions.append(("in_use", MID_2025, None, date(2025, 6, 20)))
        elif life == "new":
            versions.append(("in_use", MID_2025, None, date(2025, 6, 25)))
        else:
            versions.append(("in_use", start, None, date(2025, 1, 2 + index % 20)))
        subs = [(new_code(), sub) for sub in _sub_names(kind, regulated, index % 10)]
        for status, valid_from, valid_to, published in versions:
            serial += 1
            version = f"{valid_from:%Y%m%d}{serial:06d}"

            main = Matter(
                code=code,
                parent=None,
                name=name,
                department=department.code,
                kind=kind,
                regulated=regulated,
                status=status,
                version=version,
                valid_from=valid_from,
                valid_to=valid_to,
                published=published,
                licensing_item_code=link,
                permit_type=permit,
            )
            out.append((main, not subs))
            out.extend(
                (
                    replace(
                        main,
                        code=sub_code,
                        parent=code,
                        name=sub,
                        licensing_item_code=None,
                        permit_type=None,
                    ),
                    True,
                )
                for sub_code, sub in subs
            )
    return out


def _inspection_items(cat: Catalogue) -> None:
    """One item per leaf matter and implementing department (district bureaus included)."""
    implementers: dict[str, list[Department]] = defaultdict(list)
    for department in cat.departments:
        if department.code != spec.OFFICE:
            implementers[department.spec.catalogue].append(department)
    sequence: dict[str, int] = defaultdict(int)
    seen: set[tuple[str, str]] = set()
    for leaves in cat.leaves.values():
        for matter in leaves:
            for department in implementers[matter.department]:
                key = (matter.code, department.code)
                if key in seen:
                    continue  # a second version of the same matter keeps its items
                seen.add(key)
                sequence[department.code] += 1
                code = make_item_code(
                    department.uscc, KIND_DIGITS[matter.kind], sequence[department.code]
                )
                cat.item_codes[key] = code
                cat.items.append(InspectionItem(code, matter, department))
