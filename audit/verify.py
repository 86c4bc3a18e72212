"""Verifying the audit log: every hash and link, every checkpoint, the checkpoints that must
exist (by count and by time), and the heads published outside the database.

``verify`` walks the chain in pages and feeds a :class:`ChainChecker`, which names the first
problem it finds. A checkpoint whose signed head no longer matches names the first rewritten
entry from its signed trail; checkpoints older than trails name the range they vouched for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.keys import verify_signature
from audit.log import (
    CHECKPOINT_GRACE,
    CHECKPOINT_INTERVAL,
    CHECKPOINTS,
    ENTRIES,
    GENESIS,
    MAX_BATCH,
    TRAIL_DIGITS,
    TRAIL_MAX,
    Checkpoint,
    entry_hash,
    trail_digest,
)


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify` found: ok, or the first broken seq and why."""

    ok: bool
    entries: int
    checkpoints: int
    first_broken: int | None = None
    reason: str | None = None
    heads: int = 0
    """Published heads compared with the chain (``verify --against``)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """When checkpoints must exist (docs/audit.md, "Checkpoints that must exist"): one at least
    every ``every + batch - 1`` entries, and every entry signed within ``interval + grace`` of
    its time, except the newest entries while they are younger than that at ``now``."""

    every: int
    now: datetime
    batch: int = MAX_BATCH
    interval: timedelta = CHECKPOINT_INTERVAL
    grace: timedelta = CHECKPOINT_GRACE

    @property
    def longest_run(self) -> int:
        """The most entries in a row that may follow a checkpoint without the next one."""
        return self.every + self.batch - 1

    @property
    def deadline(self) -> timedelta:
        """How long after its time an entry must be signed."""
        return self.interval + self.grace


@dataclass(frozen=True, slots=True)
class Head:
    """A signed chain head as published outside the database (the open dataset)."""

    seq: int
    head_hash: str
    public_key: str
    signature: str
    at: str | None = None


def _when(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


class ChainChecker:
    """Checks entries fed in seq order: content hashes, links, seq continuity, checkpoints,
    the checkpoints a ``schedule`` requires, and published ``heads``."""

    def __init__(
        self,
        checkpoints: Iterable[Checkpoint],
        *,
        public_key: str | None = None,
        schedule: Schedule | None = None,
        heads: Iterable[Head] = (),
    ) -> None:
        self._checkpoints = sorted(checkpoints, key=lambda c: c.seq, reverse=True)  # pop() next
        self._heads = sorted(heads, key=lambda h: h.seq, reverse=True)
        self._anchor = public_key
        self._schedule = schedule
        self._last: tuple[int, str] | None = None
        self._vouched = 0  # the seq after the last checkpoint that matched the chain
        self._since = 0  # the seq of that checkpoint (0: the chain's start)
        self._witnessed = 0  # the seq after the last published head that matched
        self._recent: deque[tuple[int, str]] = deque(maxlen=TRAIL_MAX)  # since _since
        self._entries = 0
        self._signed = 0
        self._compared = 0
        self._broken: tuple[int, str] | None = None
        self.wants_trail: Checkpoint | None = None
        """A checkpoint that caught a rewrite, whose trail (not loaded) would name the entry."""

    def feed(self, row: Mapping[Any, Any]) -> bool:
        """Check the next entry; False once the chain is broken (stop feeding)."""
        if self._broken is None:
            self._broken = self._check(row)
        if self._broken is None:
            self._entries += 1
            self._last = (int(row["seq"]), str(row["hash"]))
        return self._broken is None

    def result(self) -> Verification:
        """The verdict on everything fed so far, and on checkpoints beyond the last entry."""
        while self._broken is None and self._checkpoints:
            checkpoint = self._checkpoints.pop()
            self._broken = self._signature(checkpoint)
            if self._broken is None and self._last is not None:
                last = self._last[0]
                self._broken = (
                    last + 1,
                    f"entries after {last} are missing: checkpoint at {checkpoint.seq} "
                    f"vouches for entry {checkpoint.seq}",
                )
        while self._broken is None and self._heads:
            head = self._heads.pop()
            self._broken = self._head_signature(head)
            if self._broken is None and self._last is not None:
                last = self._last[0]
                self._broken = (
                    last + 1,
                    f"entries after {last} are missing: the head published for entry "
                    f"{head.seq} vouches for it",
                )
        seq, reason = self._broken or (None, None)
        return Verification(
            self._broken is None, self._entries, self._signed, seq, reason, self._compared
        )

    def narrow(self, checkpoint: Checkpoint) -> None:
        """Name the first rewritten entry from ``checkpoint``'s trail (it caught the rewrite)."""
        self.wants_trail = None
        named = self._in_trail(checkpoint)
        if named is not None and self._broken is not None:
            self._broken = named

    def _in_trail(self, checkpoint: Checkpoint) -> tuple[int, str] | None:
        """The first entry whose hash differs from the one ``checkpoint``'s trail signed."""
        trail, signature, seq = checkpoint.trail, checkpoint.trail_signature, checkpoint.seq
        if trail is None or signature is None:
            return None
        if len(trail) % TRAIL_DIGITS or not verify_signature(
            checkpoint.public_key, trail_digest(seq, trail), signature
        ):
            return (seq, f"checkpoint at {seq}: trail signature invalid")
        first = seq - len(trail) // TRAIL_DIGITS + 1
        found = dict(self._recent)
        for offset in range(len(trail) // TRAIL_DIGITS):
            signed = trail[offset * TRAIL_DIGITS : (offset + 1) * TRAIL_DIGITS]
            now = found.get(first + offset)
            if now is not None and now[:TRAIL_DIGITS] != signed:
                altered = first + offset
                return (
                    altered,
                    f"entry {altered} was rewritten: checkpoint {seq} signed another hash "
                    f"for it (the entries after it were re-hashed to hide the change)",
                )
        return None  # the change lies before the trail: the range stands

    def _check(self, row: Mapping[Any, Any]) -> tuple[int, str] | None:
        seq, prev_hash = int(row["seq"]), row["prev_hash"]
        broken = (
            self._first(seq, prev_hash)
            if self._last is None
            else self._follows(self._last, seq, prev_hash)
        )
        if broken is None and entry_hash(prev_hash, seq, row) != row["hash"]:
            broken = (seq, f"entry {seq} was altered: its hash does not match its content")
        if broken is not None:
            return broken
        self._recent.append((seq, str(row["hash"])))
        if self._schedule is not None:
            broken = self._due(seq, row["at"], self._schedule)
        if broken is None and self._checkpoints and self._checkpoints[-1].seq == seq:
            broken = self._at_checkpoint(self._checkpoints.pop(), str(row["hash"]))
        if broken is None and self._heads and self._heads[-1].seq == seq:
            broken = self._at_head(self._heads.pop(), str(row["hash"]))
        return broken

    def _at_checkpoint(self, checkpoint: Checkpoint, entry_hash: str) -> tuple[int, str] | None:
        seq = checkpoint.seq
        broken = self._signature(checkpoint)
        if broken is None and checkpoint.head_hash != entry_hash:
            lower = self._vouched or seq
            broken = (
                lower,
                f"checkpoint at {seq} does not match entry {seq}: "
                f"entries {lower} to {seq} were rewritten",
            )
            if checkpoint.trail is not None:
                return self._in_trail(checkpoint) or broken
            if checkpoint.trail_signature is not None:
                self.wants_trail = checkpoint
            return broken
        self._vouched, self._since = seq + 1, seq
        self._recent.clear()
        return broken

    def _at_head(self, head: Head, entry_hash: str) -> tuple[int, str] | None:
        broken = self._head_signature(head)
        if broken is None and head.head_hash != entry_hash:
            lower = self._witnessed or 1
            return (
                lower,
                f"entry {head.seq} does not match the head published for it: entries {lower} "
                f"to {head.seq} were rewritten (and the database's checkpoints with them)",
            )
        self._witnessed = head.seq + 1
        return broken

    def _due(self, seq: int, at: Any, schedule: Schedule) -> tuple[int, str] | None:
        """The checkpoints ``schedule`` requires for entry ``seq``, written at ``at``."""
        if seq - self._since > schedule.longest_run:
            return (
                self._since + 1,
                f"checkpoints are missing: none vouches for entries {self._since + 1} to {seq} "
                f"(one is signed at least every {schedule.longest_run} entries)",
            )
        if not isinstance(at, datetime) or at.tzinfo is None:
            return (seq, f"entry {seq} has no valid time")
        minutes = int(schedule.deadline.total_seconds() // 60)
        while self._checkpoints and self._checkpoints[-1].seq < seq:
            self._checkpoints.pop()  # only where entries are missing, which is reported
        if self._checkpoints:
            following = self._checkpoints[-1]
            if following.at - at > schedule.deadline:
                return (
                    seq,
                    f"checkpoints are missing: entry {seq} ({_when(at)}) was not signed in time "
                    f"(the next checkpoint, at {following.seq}, is from {_when(following.at)}; "
                    f"one is due within {minutes} minutes)",
                )
        elif schedule.now - at > schedule.deadline:
            return (
                seq,
                f"checkpoints are missing: entry {seq} ({_when(at)}) has none, and one was due "
                f"within {minutes} minutes (verified at {_when(schedule.now)})",
            )
        return None

    def _first(self, seq: int, prev_hash: str) -> tuple[int, str] | None:
        """The first remaining entry starts the chain, or follows a checkpoint (after a prune)."""
        if seq < 1:
            return (seq, f"entry {seq} has an invalid seq")
        while self._heads and self._heads[-1].seq < seq:  # pruned: nothing left to compare
            head = self._heads.pop()
            if head.seq == seq - 1:  # but the first entry's link names the pruned head
                broken = self._head_signature(head)
                if broken is None and head.head_hash != prev_hash:
                    return (seq, f"entry {seq} does not follow the head published for {head.seq}")
                if broken is not None:
                    return broken
                self._witnessed = seq
        if seq == 1:
            if prev_hash != GENESIS:
                return (1, "entry 1 does not start the chain (prev_hash is not the genesis value)")
            self._vouched = 1
            return None
        anchor = None
        while self._checkpoints and self._checkpoints[-1].seq < seq:
            anchor = self._checkpoints.pop()
            broken = self._signature(anchor)
            if broken is not None:
                return broken
        if anchor is None or anchor.seq != seq - 1:
            lower = anchor.seq + 1 if anchor else 1
            return (
                lower,
                f"entries {lower} to {seq - 1} are missing (the log starts at {seq} and no "
                f"checkpoint at {seq - 1} vouches for it)",
            )
        if anchor.head_hash != prev_hash:
            return (seq, f"entry {seq} does not follow checkpoint {seq - 1} (prev_hash mismatch)")
        self._vouched, self._since = seq, seq - 1
        return None

    @staticmethod
    def _follows(previous: tuple[int, str], seq: int, prev_hash: str) -> tuple[int, str] | None:
        last, last_hash = previous
        if seq > last + 2:
            return (
                last + 1,
                f"entries {last + 1} to {seq - 1} are missing (seq jumps from {last} to {seq})",
            )
        if seq == last + 2:
            return (last + 1, f"entry {last + 1} is missing (seq jumps from {last} to {seq})")
        if seq != last + 1:
            return (last + 1, f"entry {last + 1} is missing (seq {seq} follows {last})")
        if prev_hash != last_hash:
            return (
                seq,
                f"entry {seq} does not follow entry {last} "
                "(prev_hash mismatch: reordered or replaced)",
            )
        return None

    def _signature(self, checkpoint: Checkpoint) -> tuple[int, str] | None:
        if self._anchor is not None and checkpoint.public_key != self._anchor:
            return (
                checkpoint.seq,
                f"checkpoint at {checkpoint.seq}: signed by another key "
                f"({checkpoint.public_key[:16]}…, expected {self._anchor[:16]}…)",
            )
        if not verify_signature(checkpoint.public_key, checkpoint.head_hash, checkpoint.signature):
            return (checkpoint.seq, f"checkpoint at {checkpoint.seq}: signature invalid")
        self._signed += 1
        return None

    def _head_signature(self, head: Head) -> tuple[int, str] | None:
        if self._anchor is not None and head.public_key != self._anchor:
            return (
                head.seq,
                f"the head published for entry {head.seq} is signed by another key "
                f"({head.public_key[:16]}…, expected {self._anchor[:16]}…)",
            )
        if not verify_signature(head.public_key, head.head_hash, head.signature):
            return (head.seq, f"the head published for entry {head.seq}: signature invalid")
        self._compared += 1
        return None


_LOADED = [c for c in CHECKPOINTS.columns if c.name != "trail"]  # trails: only when needed


async def verify(
    engine: AsyncEngine,
    *,
    public_key: str | None = None,
    chunk: int = 5000,
    schedule: Schedule | None = None,
    heads: Sequence[Head] = (),
) -> Verification:
    """Walk the whole chain in seq order, ``chunk`` rows at a time, and check every link; with
    a ``schedule``, also that the checkpoints it requires exist; with ``heads`` (published
    outside the database), that the chain still leads to each of them."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(*_LOADED).order_by(CHECKPOINTS.c.seq))
        checker = ChainChecker(
            [Checkpoint(**r) for r in rows.mappings()],
            public_key=public_key,
            schedule=schedule,
            heads=heads,
        )
    after: int | None = None
    while True:
        # Keyset pages in short transactions: no long snapshot, no offset scans.
        page = select(ENTRIES).order_by(ENTRIES.c.seq).limit(chunk)
        if after is not None:
            page = page.where(ENTRIES.c.seq > after)
        async with engine.connect() as conn:
            entries = (await conn.execute(page)).mappings().all()
        for entry in entries:
            if not checker.feed(entry):
                return await _named(engine, checker)
        if len(entries) < chunk:
            return checker.result()
        after = int(entries[-1]["seq"])


async def _named(engine: AsyncEngine, checker: ChainChecker) -> Verification:
    """The verdict, with the first rewritten entry named when a checkpoint's trail can."""
    wanted = checker.wants_trail
    if wanted is not None:
        async with engine.connect() as conn:
            trail = await conn.scalar(
                select(CHECKPOINTS.c.trail).where(CHECKPOINTS.c.seq == wanted.seq)
            )
        checker.narrow(replace(wanted, trail=trail))
    return checker.result()
