"""One push, one version of a record: the same cd_id twice with different content is refused.

The reference below is the rule in prose, not the code: for each cd_id the first valid version in
the push is stored; a later line with the same content is ``unchanged``; a later line with
other content is rejected, its error naming both lines. Records that are not in conflict are
stored whatever lies between them, and however the push is cut into write batches.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.settings import Settings
from ingest.service import IngestOptions, ingest_records
from sources.database import SourceDatabases
from standard.tables.complaints import Complaint
from standard.workdays import WorkCalendar
from tests.ingest.factory import RECEIVED, Factory

TITLES = ("第一版", "第二版", "第三版")
PROVIDERS = (f"P-CONFLICT-{n}" for n in itertools.count())  # one provider per example: isolated

# (cd_id number 0-5, content variant 0-2, valid) per line
lines = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 2), st.sampled_from([True, True, True, False])),
    min_size=1,
    max_size=14,
)


def reference(draw: list[tuple[int, int, bool]]) -> dict[str, Any]:
    """Counts, stored titles and the refused lines, from the rule."""
    first: dict[int, tuple[int, int]] = {}
    unchanged = 0
    refused: dict[int, int] = {}
    invalid: set[int] = set()
    for line, (key, variant, valid) in enumerate(draw, start=1):
        if not valid:  # rejected for its own field; it is no version of the record
            invalid.add(line)
        elif key not in first:
            first[key] = (line, variant)
        elif first[key][1] == variant:
            unchanged += 1
        else:
            refused[line] = first[key][0]
    return {
        "inserted": len(first),
        "unchanged": unchanged,
        "refused": refused,
        "invalid": invalid,
        "stored": {f"c-{k:06d}": TITLES[v] for k, (_, v) in first.items()},
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(draw=lines, batch_size=st.sampled_from([1, 3, 5000]))
def test_one_version_per_cd_id_in_a_push(
    databases: SourceDatabases,  # emptied after the test; each example pushes as its own provider
    backend_settings: Settings,
    batch_size: int,
    draw: list[tuple[int, int, bool]],
) -> None:
    provider = next(PROVIDERS)
    # a Factory per key: the same key and variant make the same record, codes and all
    records = [
        (line, Factory(seed=key).complaint(key, title=TITLES[variant]))
        for line, (key, variant, _) in enumerate(draw, start=1)
    ]
    for (_, record), (_, _, valid) in zip(records, draw, strict=True):
        if not valid:
            record["complainant_phone"] = "12345"
    expected = reference(draw)

    async def run() -> tuple[Any, dict[str, str]]:
        dbs = SourceDatabases(backend_settings)
        try:
            options = IngestOptions(
                provider=provider,
                received_at=RECEIVED,
                calendar=WorkCalendar(),
                settings=dataclasses.replace(backend_settings, ingest_batch_size=batch_size),
                keep_outcomes=True,
                matters=dbs.engine("supervision"),
            )
            report = await ingest_records(
                dbs.engine("complaints"), records, table=Complaint, options=options
            )
            async with dbs.sessions("complaints")() as session:
                rows = await session.execute(
                    select(Complaint.cd_id, Complaint.title).where(Complaint.provider == provider)
                )
                return report, {cd_id: title for cd_id, title in rows}
        finally:
            await dbs.dispose()

    report, stored = asyncio.run(run())
    assert stored == expected["stored"]
    assert (report.inserted, report.updated, report.unchanged) == (
        expected["inserted"],
        0,
        expected["unchanged"],
    )
    assert report.rejected == len(expected["refused"]) + len(expected["invalid"])
    assert {e.line for e in report.errors} == set(expected["refused"]) | expected["invalid"]
    for error in report.errors:
        if error.line in expected["invalid"]:
            assert error.field == "complainant_phone"
            continue
        first = expected["refused"][error.line]
        assert error.field == "cd_id"
        assert f"line {first}" in error.reason and f"line {error.line}" in error.reason
    # one stored row is counted once: inserted, and never also updated
    assert report.inserted + report.updated == len(stored)
