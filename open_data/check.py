"""Check, the third stage: k-anonymity over a row-level dataset's quasi-identifiers, or the
small cells of an aggregate, as the rows pass. Either suppresses (the rows of small classes,
the small cells) or refuses the release, as the spec says. The residual-PII scan of the
written files, the gate's other half, is ``open_data.scan`` (run by ``write``).

The rows are read once: ``write`` writes them as they come, counting each row's class here
(a number, 4 bytes a row: ``Classes``); when the stream ends the gate decides, and ``write``
filters the rows of small classes out of its files (``Release.kept``). Memory holds the
classes, not the rows. Suppressing small classes is this gate's only remedy; generalising
further is the spec's business."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from open_data.errors import ReleaseRefused, SpecError
from open_data.release import Batches, KReport, Release, clock

ClassKey = tuple[object, ...]


def _class_value(value: object) -> object:
    # Classes are told apart as the files show them: by text, and by type (JSON shows 1 and "1"
    # apart). Python equality would merge Decimal("1.0") with 1 and make classes look larger.
    return value if type(value) is str else (type(value).__name__, str(value))


class KAnonymity:
    """``count`` each row, ``decide``, then tell the ``kept`` classes (as ``count`` gave them)."""

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

    def _key(self, row: Mapping[str, Any]) -> ClassKey:
        try:
            return tuple(_class_value(row[name]) for name in self.quasi)
        except KeyError as exc:
            raise SpecError(
                self.dataset, f"quasi-identifier {exc.args[0]!r} is not a column of the rows"
            ) from None

    def count(self, row: Mapping[str, Any]) -> ClassKey:
        """Count the row in its class, which is returned."""
        key = self._key(row)
        self._sizes[key] += 1
        return key

    def decide(self) -> KReport:
        """After the last row: keep the classes of k rows or more, or refuse."""
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
            raise RuntimeError("decide() after the last row, before kept()")
        return key in self._kept


class Classes:
    """Each row's k-anonymity class, as a number (an array: 4 bytes a row, not a tuple), and
    the classes in the order first seen."""

    def __init__(self) -> None:
        self.number = array("I")
        self._numbers: dict[tuple[Any, ...], int] = {}

    def add(self, class_key: tuple[Any, ...]) -> None:
        self.number.append(self._numbers.setdefault(class_key, len(self._numbers)))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._numbers)


async def check(release: Release) -> Release:
    """The stage. An aggregate's cells of fewer than ``k`` are dropped (their rows counted in
    ``suppressed``; refused instead when every cell is small and the spec says so). A
    row-level dataset's rows pass unchanged, each counted in its class over the spec's
    quasi-identifiers; after the last one the gate decides (``k_report``) and ``kept`` tells
    which rows, by number in the order they passed, stay. A dataset public by rule, or without
    quasi-identifiers, passes as it is."""
    spec, source, seconds = release.spec, release.batches, release.seconds
    if spec.aggregate is not None:
        count, k = spec.aggregate.count_as, spec.k

        async def cells() -> Batches:
            seen = kept = 0
            async for batch in source:
                began = clock()
                large = []
                for cell in batch:
                    if cell[count] >= k:
                        large.append(cell)
                    else:
                        release.suppressed += cell[count]
                seen, kept = seen + len(batch), kept + len(large)
                seconds["check"] += clock() - began
                yield large
            if seen and not kept and spec.on_small == "refuse":
                raise ReleaseRefused(spec.name, f"every cell counts fewer than {k}")

        release.batches = cells()
        return release
    if not spec.quasi or spec.public_by_rule:
        return release
    gate = KAnonymity(dataset=spec.name, quasi=spec.quasi, k=spec.k, on_small=spec.on_small)

    async def counted() -> Batches:
        classes = Classes()
        add, count = classes.add, gate.count
        async for batch in source:
            began = clock()
            for row in batch:
                add(count(row))
            seconds["check"] += clock() - began
            yield batch
        began = clock()
        report = release.k_report = gate.decide()
        release.suppressed = report.suppressed_rows
        if report.suppressed_rows:
            small = {n for n, class_key in enumerate(classes) if not gate.kept(class_key)}
            number = classes.number
            release.kept = lambda row: number[row] not in small
        seconds["check"] += clock() - began

    release.batches = counted()
    return release
