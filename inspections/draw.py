"""The draw (随机抽取): a deterministic function of (plan, rules, snapshots, seed).

Written ‖ for concatenation, 0x1F for the unit separator byte, ids as ASCII, ``d`` the plan's
draw day, ``rank(s) = SM3(seed ‖ "subject" ‖ 0x1F ‖ uscc)`` compared as 32-byte strings:

1. **Pools per item.** Subject ``s`` is in the pool ``P_i`` of plan item ``i`` when the item's
   criteria admit it (status, industry prefix, division prefix, a licence) and it was not drawn
   for ``i`` within the item's interval: not ``d - s.last[i] < interval_days``.
2. **Quotas.** For each item ``i`` and risk class ``k``, ``n_ik`` subjects of ``P_i`` are of
   class ``k``; ``q_ik = ceil(ratio_i(k) × n_ik)``, in exact decimal arithmetic.
3. **Subjects.** ``S_ik`` = the ``q_ik`` subjects of ``P_i`` of class ``k`` of smallest rank.
   The drawn subjects are the union of every ``S_ik``; each is inspected, in one visit, for
   the items whose ``S_ik`` hold it. A subject in several items' pools shares one rank, so
   a joint plan (部门联合抽查) visits it once for the items it was drawn for.
4. **Inspectors.** For each drawn subject in order of rank, and each department ``g`` of its
   items (in code order): order ``g``'s inspectors by ``SM3(seed ‖ "officer" ‖ 0x1F ‖
   certificate)``; start at index ``SM3(seed ‖ "start" ‖ 0x1F ‖ uscc ‖ 0x1F ‖ g)`` (a 256-bit
   big-endian integer) mod their number, walk the list round once, and take the first
   ``inspectors_per_department`` who are eligible: status active, certificate valid on ``d``,
   qualified for every item of ``g`` the subject was drawn for, and not recused — the
   subject is not among their declared conflicts, its division is not barred to them, and
   they did not inspect it on or after ``d`` minus ``recusal_months`` months. Fewer eligible
   than needed refuses the draw (``TooFewInspectors``).

The result lists the drawn subjects in order of rank, one canonical JSON line each:
``{"id","inspectors":{department:[certificates in walk order]},"items":[codes],"rank":hex,
"risk":k}``; its hash is SM3 of those lines.

Memory does not grow with the pool: the subject snapshot is read twice as a stream (to count,
then to select), and selection keeps one bounded heap per item and class, the size of its
quota. 1,000,000 subjects at 5 %: see docs/benchmarks.md.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import orjson

from inspections.errors import TooFewInspectors
from inspections.rules import RISK_CLASSES, PlanSpec, Rules, canonical, months_before
from inspections.snapshot import INSPECTORS, SUBJECTS, Digest
from standard.sm3 import new_sm3

Lines = Callable[[], Iterable[bytes]]
"""A snapshot that can be read more than once: each call yields its lines from the start."""
_SEP = b"\x1f"


@dataclass(frozen=True, slots=True)
class Drawn:
    """One drawn subject: its rank, the items it is inspected for, its inspectors."""

    id: str
    rank: str  # hex
    risk: str
    items: tuple[str, ...]
    inspectors: tuple[tuple[str, tuple[str, ...]], ...]  # (department, certificates)

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rank": self.rank,
            "risk": self.risk,
            "items": list(self.items),
            "inspectors": {department: list(certs) for department, certs in self.inspectors},
        }

    def line(self) -> bytes:
        return canonical(self.document()) + b"\n"

    @classmethod
    def from_line(cls, raw: bytes) -> Drawn:
        document = orjson.loads(raw)
        return cls(
            id=document["id"],
            rank=document["rank"],
            risk=document["risk"],
            items=tuple(document["items"]),
            inspectors=tuple(
                (department, tuple(certs))
                for department, certs in sorted(document["inspectors"].items())
            ),
        )


@dataclass(frozen=True, slots=True)
class Draw:
    """A draw's outcome, with the snapshots' hashes it was computed from."""

    plan: str
    subjects_hash: str
    subjects_count: int
    inspectors_hash: str
    inspectors_count: int
    counts: Mapping[str, Mapping[str, int]]  # item → class → pool size
    quotas: Mapping[str, Mapping[str, int]]  # item → class → drawn
    drawn: tuple[Drawn, ...]

    def lines(self) -> Iterator[bytes]:
        for one in self.drawn:
            yield one.line()

    def result_hash(self) -> str:
        digest = new_sm3()
        for raw in self.lines():
            digest.update(raw)
        return str(digest.hexdigest())


def quota(ratio: Decimal, n: int) -> int:
    """⌈ratio × n⌉ in exact decimal arithmetic."""
    return int((ratio * n).to_integral_value(rounding=ROUND_CEILING))


def _keyed(seed: bytes, label: bytes) -> Callable[[str], bytes]:
    """``x ↦ SM3(seed ‖ label ‖ 0x1F ‖ x)``; the prefix is hashed once and copied."""
    prefix = new_sm3()
    prefix.update(seed + label + _SEP)
    copy = getattr(prefix, "copy", None)
    if copy is None:  # the fallback SM3 cannot copy a state: hash the whole message
        return lambda text: _digest(seed + label + _SEP + text.encode())

    def key(text: str) -> bytes:
        one = copy()
        one.update(text.encode())
        return bytes(one.digest())

    return key


def _digest(data: bytes) -> bytes:
    one = new_sm3()
    one.update(data)
    return bytes.fromhex(one.hexdigest())


def _pools(plan: PlanSpec, rules: Rules) -> Callable[[Mapping[str, Any]], list[str]]:
    """Step 1 as one function of a row: the plan items whose pool holds it on the draw day.

    ``PoolCriteria.admits`` and the interval, fused with their constants hoisted: this runs
    twice per subject, and was a third of a 1M draw's time. ISO days compare as text, so
    "drawn within the interval" (``d - last < interval``) is ``last > d - interval``."""
    items = [
        (
            item.item_code,
            frozenset(item.criteria.statuses),
            item.criteria.industries,
            item.criteria.divisions,
            frozenset(item.criteria.licences),
            (plan.draw_day - timedelta(days=rules.items[item.item_code].interval_days)).isoformat(),
        )
        for item in plan.items
    ]

    def in_pool(row: Mapping[str, Any]) -> list[str]:
        status, industry, division = row["status"], row["industry"] or "", row["division"]
        last = row["last"]
        found = []
        for code, statuses, industries, divisions, licences, since in items:
            if statuses and status not in statuses:
                continue
            if industries and not industry.startswith(industries):
                continue
            if divisions and not division.startswith(divisions):
                continue
            if licences and licences.isdisjoint(row["licences"]):
                continue
            if last and (before := last.get(code)) is not None and before > since:
                continue
            found.append(code)
        return found

    return in_pool


def draw(
    plan: PlanSpec, rules: Rules, subjects: Lines, inspectors: Iterable[bytes], *, seed: bytes
) -> Draw:
    """Draw ``plan`` under ``rules`` from the two snapshots with ``seed`` (module docstring)."""
    plan.check_rules(rules)
    digest = Digest(SUBJECTS, form=False)  # checked where it entered (Digest)
    counts: dict[str, dict[str, int]] = {
        item.item_code: dict.fromkeys(RISK_CLASSES, 0) for item in plan.items
    }
    in_pool = _pools(plan, rules)
    for raw in subjects():
        row = digest.add(raw)
        for code in in_pool(row):
            counts[code][row["risk"]] += 1
    quotas = {
        code: {k: quota(rules.items[code].ratios[k], n) for k, n in by_class.items()}
        for code, by_class in counts.items()
    }
    chosen = _select(plan, rules, subjects, quotas, seed)
    officers = Digest(INSPECTORS, form=False)
    pool = [officers.add(raw) for raw in inspectors]
    staffed = _staff(plan, rules, chosen, pool, seed)
    return Draw(
        plan=plan.code,
        subjects_hash=digest.hexdigest(),
        subjects_count=digest.count,
        inspectors_hash=officers.hexdigest(),
        inspectors_count=officers.count,
        counts=counts,
        quotas=quotas,
        drawn=staffed,
    )


# (negated rank as an integer, so heap[0] is the largest rank kept; id; division; class)
_Entry = tuple[int, str, str, str]


def _select(
    plan: PlanSpec,
    rules: Rules,
    subjects: Lines,
    quotas: Mapping[str, Mapping[str, int]],
    seed: bytes,
) -> list[tuple[bytes, str, str, str, tuple[str, ...]]]:
    """Step 3: one bounded max-heap per (item, class); (rank, id, risk, division, items)."""
    rank = _keyed(seed, b"subject")
    in_pool = _pools(plan, rules)
    heaps: dict[tuple[str, str], list[_Entry]] = defaultdict(list)
    for raw in subjects():
        row = orjson.loads(raw)
        codes = in_pool(row)
        if not codes:
            continue
        risk = row["risk"]
        value = -int.from_bytes(rank(row["id"]), "big")
        for code in codes:
            limit = quotas[code][risk]
            heap = heaps[code, risk]
            if len(heap) < limit:
                heapq.heappush(heap, (value, row["id"], row["division"], risk))
            elif limit and value > heap[0][0]:
                heapq.heapreplace(heap, (value, row["id"], row["division"], risk))
    # Each heap is emptied as it is read, and each table as the next is built: at 1M subjects
    # the peak held three copies of the selection at once (61 MiB) before.
    items: dict[str, list[str]] = defaultdict(list)
    where: dict[str, tuple[int, str, str]] = {}
    for key in sorted(heaps):
        for value, uscc, division, risk in heaps.pop(key):
            items[uscc].append(key[0])
            where[uscc] = (value, division, risk)
    chosen = []
    while where:
        uscc, (value, division, risk) = where.popitem()
        drawn_for = tuple(sorted(items.pop(uscc)))
        chosen.append(((-value).to_bytes(32, "big"), uscc, risk, division, drawn_for))
    chosen.sort()
    return chosen


def _staff(
    plan: PlanSpec,
    rules: Rules,
    chosen: list[tuple[bytes, str, str, str, tuple[str, ...]]],
    pool: list[dict[str, Any]],
    seed: bytes,
) -> tuple[Drawn, ...]:
    """Step 4: inspectors for each drawn subject, per department of its items."""
    order = _keyed(seed, b"officer")
    start = _keyed(seed, b"start")
    by_department: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for officer in sorted(pool, key=lambda o: order(o["id"])):
        by_department[officer["department"]].append(officer)
    department_of = {item.item_code: item.department for item in plan.items}
    day = plan.draw_day.isoformat()
    since = months_before(plan.draw_day, rules.recusal_months).isoformat()
    need = rules.inspectors_per_department
    drawn = []
    chosen.reverse()
    while chosen:  # consumed as the result grows, so the two are not held whole at once
        rank, uscc, risk, division, codes = chosen.pop()
        teams = []
        for department in sorted({department_of[code] for code in codes}):
            wanted = {code for code in codes if department_of[code] == department}
            officers = by_department.get(department, [])
            team: list[str] = []
            if officers:
                first = int.from_bytes(start(f"{uscc}\x1f{department}"), "big") % len(officers)
                for step in range(len(officers)):
                    officer = officers[(first + step) % len(officers)]
                    if eligible(
                        officer, uscc=uscc, division=division, items=wanted, day=day, since=since
                    ):
                        team.append(officer["id"])
                        if len(team) == need:
                            break
            if len(team) < need:
                raise TooFewInspectors(uscc, department, len(team), need)
            teams.append((department, tuple(team)))
        drawn.append(Drawn(uscc, rank.hex(), risk, codes, tuple(teams)))
    return tuple(drawn)


def eligible(
    officer: Mapping[str, Any], *, uscc: str, division: str, items: set[str], day: str, since: str
) -> bool:
    """Whether an inspector line may inspect the subject on ``day`` (ISO dates compare as text):
    active, certificate valid, qualified for ``items``, and none of the three recusal reasons."""
    valid_to = officer["valid_to"]
    if officer["status"] != "active" or valid_to is None or valid_to < day:
        return False
    if not items.issubset(officer["items"]):
        return False
    return recusal(officer, uscc=uscc, division=division, since=since) is None


def recusal(officer: Mapping[str, Any], *, uscc: str, division: str, since: str) -> str | None:
    """The reason ``officer`` must stand aside from the subject (回避), or None."""
    if uscc in officer["conflicts"]:
        return "conflict"
    if division in officer["barred"]:
        return "barred_district"
    last = officer["recent"].get(uscc)
    if last is not None and last >= since:
        return "recently_inspected"
    return None
