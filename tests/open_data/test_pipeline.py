"""Releases into a directory: public datasets by rule, others only once their providers
approve; files, manifest and dictionary; re-runs, withdrawal, and the gate refusing."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import pytest_asyncio

from gateway.services import Services
from gateway.settings import Settings
from open_data.approvals import approve, dataset_scope, withdraw
from open_data.datasets import DATASETS, dataset
from open_data.errors import ReleaseRefused
from open_data.files import digests
from open_data.pipeline import Release, prepare, publish
from open_data.scan import personal_values_of
from open_data.spec import RECORD_ID, Column, DatasetSpec, Mask
from open_data.targets import Directory
from policies.access import RequestSources
from policies.actor import Actor
from policies.store import ensure_seed, load_policy
from sources.database import create_engine
from sources.guard import Sources

KEY = b"pipeline-test-key-0123456789abcdef"
OPERATOR = Actor("cli:test")


@dataclasses.dataclass
class World:
    settings: Settings
    services: Services
    sources: Sources
    work: Path
    portal: Path

    async def release(self, spec: DatasetSpec) -> Release:
        policy = await load_policy(self.services.engine)
        scoped = RequestSources(self.sources, dataset_scope(spec, policy))
        return await prepare(spec, sources=scoped, key=KEY, work=self.work)

    async def publish(self, release: Release) -> str:
        """The publish stage, to a directory target: what it did."""
        release.target = Directory(self.portal)
        return (await publish(release)).outcome


@contextlib.asynccontextmanager
async def make_world(seeded: Settings, tmp_path: Path) -> AsyncIterator[World]:
    """A gateway database of its own over ``seeded``'s sources, two parties in it."""
    copy = tmp_path / "gateway.db"
    settings = dataclasses.replace(
        seeded, gateway_url=f"sqlite+aiosqlite:///{copy}", var_dir=tmp_path
    )
    from standard.migrate import GATEWAY, upgrade

    engine = create_engine(settings.gateway_url)
    await upgrade(engine, GATEWAY)
    await ensure_seed(engine)
    await engine.dispose()
    services = Services.create(settings)
    for code, kind in (("P-12345", "partner"), ("XA-SCJG", "department")):
        await services.admin.add_party(OPERATOR, code=code, name=code, kind=kind)
    sources = Sources(settings)
    try:
        yield World(settings, services, sources, tmp_path / "work", tmp_path / "portal")
    finally:
        await sources.close()
        await services.close()


@pytest_asyncio.fixture(loop_scope="session")
async def world(seeded_sqlite: Settings, tmp_path: Path) -> AsyncIterator[World]:
    async with make_world(seeded_sqlite, tmp_path) as made:
        yield made


async def test_public_datasets_need_no_approval_others_do(world: World) -> None:
    catalogue = await world.release(dataset("matter-catalogue"))
    assert catalogue.manifest["rows_out"] > 0 and await world.publish(catalogue) == "published"
    statistics = dataset("complaint-statistics")
    unapproved = await world.release(statistics)
    assert unapproved.empty and unapproved.manifest["rows_in"] == 0
    assert await world.publish(unapproved) == "unchanged"
    assert not (world.portal / statistics.name).exists()

    grant = await approve(world.services.grants, OPERATOR, statistics, "P-12345")
    approved = await world.release(statistics)
    assert approved.manifest["approvals"] == [grant] and approved.providers == ["P-12345"]
    assert await world.publish(approved) == "published"
    again = await world.release(statistics)
    assert await world.publish(again) == "unchanged"  # same hashes: nothing changes

    await withdraw(world.services.grants, OPERATOR, statistics, "P-12345")
    gone = await world.release(statistics)
    assert await world.publish(gone) == "withdrawn"
    assert not (world.portal / statistics.name).exists()


async def test_files_manifest_and_dictionary(world: World) -> None:
    spec = dataset("inspection-results")
    await approve(world.services.grants, OPERATOR, spec, "XA-SCJG")
    release = await world.release(spec)
    assert await world.publish(release) == "published"
    folder = world.portal / spec.name
    manifest = orjson.loads((folder / "manifest.json").read_bytes())
    for name, facts in manifest["files"].items():
        sha, sm3 = digests(folder / name)
        assert (sha, sm3) == (facts["sha256"], facts["sm3"])
    assert (folder / "data-excel.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (folder / "data.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    rows = orjson.loads((folder / "data.json").read_bytes())
    assert len(rows) == manifest["rows_out"] == manifest["rows_in"] - manifest["rows_suppressed"]
    assert manifest["k_reached"] is None or manifest["k_reached"] >= spec.k
    assert manifest["providers"] == ["XA-SCJG"]
    metadata = orjson.loads((folder / "metadata.json").read_bytes())
    assert metadata["title"] == spec.title
    labels = {f["id"]: f["label"] for f in metadata["fields"]}
    assert labels["closed_on"] == "检查月份" and labels["subject_name"]
    assert set(rows[0]) == set(labels)


async def test_no_personal_value_reaches_any_published_byte(world: World) -> None:
    from tests.open_data.test_specs import _rows

    for name in ("inspection-results", "administrative-penalties", "complaint-statistics"):
        spec = dataset(name)
        provider = "P-12345" if spec.table == "complaints" else "XA-SCJG"
        await approve(world.services.grants, OPERATOR, spec, provider)
        release = await world.release(spec)
        await world.publish(release)
        raw = await _rows(world.settings, spec)
        values = set(personal_values_of(raw, table=spec.table))
        published = b"".join(p.read_bytes() for p in (world.portal / name).iterdir())
        text = published.decode("utf-8-sig")
        assert values and not [v for v in values if v in text], name


async def test_the_gate_refuses_a_release_that_would_leak(world: World) -> None:
    base = dataset("complaint-statistics")
    await approve(world.services.grants, OPERATOR, base, "P-12345")
    leaky = dataclasses.replace(
        DATASETS["complaint-statistics"],
        name="leaky-complaints",
        aggregate=None,
        public_by_rule=True,  # skips k: the PII scan alone must stop it
        columns=tuple(
            Column(c.source, Mask(start=11)) if c.source == "complainant_phone" else c
            for c in base.columns
        ),
    )
    # The approval is per dataset: give this one its own.
    await approve(world.services.grants, OPERATOR, leaky, "P-12345")
    with pytest.raises(ReleaseRefused) as refused:
        await world.release(leaky)
    assert refused.value.dataset == "leaky-complaints"
    assert "mobile" in refused.value.reason and "complainant_phone" in refused.value.reason
    assert not (world.portal / "leaky-complaints").exists()


async def test_k_refuses_when_the_spec_says_so(world: World) -> None:
    spec = dataclasses.replace(dataset("inspection-results"), on_small="refuse", k=50)
    await approve(world.services.grants, OPERATOR, spec, "XA-SCJG")
    with pytest.raises(ReleaseRefused, match="inspection-results"):
        await world.release(spec)


async def test_small_classes_leave_both_files_row_for_row(world: World) -> None:
    spec = dataset("inspection-results")
    await approve(world.services.grants, OPERATOR, spec, "XA-SCJG")
    # The same rows without the gate (public by rule skips it, and changes nothing else).
    everything = await world.release(dataclasses.replace(spec, public_by_rule=True))
    rows = orjson.loads((everything.folder / "data.json").read_bytes())
    sizes = Counter(tuple(row[q] for q in spec.quasi) for row in rows)
    k = sorted(set(sizes.values()))[len(set(sizes.values())) // 2]
    expected = [row for row in rows if sizes[tuple(row[q] for q in spec.quasi)] >= k]
    assert 0 < len(expected) < len(rows)  # some classes kept, some suppressed

    release = await world.release(dataclasses.replace(spec, k=k))
    kept = orjson.loads((release.folder / "data.json").read_bytes())
    assert kept == expected  # the same rows, in the same order
    assert release.manifest["rows_suppressed"] == len(rows) - len(expected)
    assert release.manifest["rows_out"] == len(expected) and release.manifest["k_reached"] >= k
    with (release.folder / "data.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == list(spec.output_columns)
    assert [cells[0] for cells in table[1:]] == [row[RECORD_ID] for row in expected]
    assert (release.folder / "data-excel.csv").read_bytes()[3:] == (
        release.folder / "data.csv"
    ).read_bytes()
    for written in release.files:
        assert digests(written.path)[0] == written.sha256 and written.rows == len(expected)


def test_sm3_is_the_same_whichever_library_computes_it(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes

    from standard.sm3 import CryptographySM3, new_sm3

    path = tmp_path / "data.csv"
    path.write_bytes("记录标识,名称\n".encode() * 50_000)
    reference = hashes.Hash(hashes.SM3())
    reference.update(b"\xef\xbb\xbf" + path.read_bytes())
    expected = reference.finalize().hex()
    assert digests(path, prefix=b"\xef\xbb\xbf")[1] == expected
    for make in (CryptographySM3, new_sm3):
        sm3 = make()
        sm3.update(b"\xef\xbb\xbf")
        sm3.update(path.read_bytes())
        assert sm3.hexdigest() == expected


def test_the_csv_for_excel_must_be_the_scanned_csv_after_a_bom(tmp_path: Path) -> None:
    from open_data.files import DataFiles, to_scan

    with DataFiles(tmp_path, ["record_id", "name"]) as files:
        files.add({"record_id": "abc", "name": "西安某公司"})
        scanned = files.finish()
        written = files.hashed()
    assert to_scan(written) == scanned
    excel = tmp_path / "data-excel.csv"
    excel.write_bytes(excel.read_bytes() + b"13812345678\r\n")  # not scanned
    tampered = [
        w if w.kind != "csv-bom" else dataclasses.replace(w, sha256=digests(excel)[0])
        for w in written
    ]
    with pytest.raises(ValueError, match=r"data-excel\.csv is not data\.csv with a BOM"):
        to_scan(tampered)
