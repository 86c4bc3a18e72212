"""Releases published into a real CKAN 2.12 and read back through its API."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import ckanapi
import httpx
import orjson
import psycopg
import pytest

from gateway.settings import Settings
from open_data.ckan import CITY_ORGANISATION, RELEASE_KEY, CkanPortal, organisation_name
from open_data.datasets import DATASETS, dataset
from open_data.datastore import Changes, _secondary_indexes, csv_rows
from open_data.desensitise import record_id
from open_data.errors import PortalError
from open_data.files import FILES
from open_data.pipeline import METADATA, Release
from open_data.scan import personal_values_of
from open_data.spec import RECORD_ID
from policies.actor import ChangeRefused
from tests.ckan_portal import Portal, ckan_portal  # noqa: F401  # the fixture
from tests.open_data.test_pipeline import (  # noqa: F401  # world: the fixture
    KEY,
    OPERATOR,
    World,
    make_world,
    world,
)
from tests.open_data.test_specs import _rows
from tests.servers import free_port


@pytest.fixture
def names(ckan_portal: Portal) -> Iterator[list[str]]:  # noqa: F811
    """Dataset names made by a test, purged afterwards."""
    made: list[str] = []
    yield made
    ckan_portal.purge(*made)


async def _release(world: World, base: str, names: list[str], provider: str | None) -> Release:  # noqa: F811
    spec = dataclasses.replace(dataset(base), name=f"{base}-{uuid.uuid4().hex[:8]}")
    names.append(spec.name)
    if provider is not None:
        from open_data.approvals import approve

        await approve(world.services.grants, OPERATOR, spec, provider)
    return await world.release(spec)


def _anonymous(portal: Portal) -> ckanapi.RemoteCKAN:
    return ckanapi.RemoteCKAN(portal.url, user_agent="jianguan-tests-citizen")


def _table(ckan: ckanapi.RemoteCKAN, resource_id: str) -> dict[str, tuple[str | None, ...]]:
    """A DataStore table's rows by record id (empty strings read as null, as COPY does)."""
    found = ckan.action.datastore_search(resource_id=resource_id, limit=32000, sort=RECORD_ID)
    columns = [f["id"] for f in found["fields"] if not f["id"].startswith("_")]
    assert len(found["records"]) == found["total"]
    return {
        r[RECORD_ID]: tuple(None if r[c] in (None, "") else r[c] for c in columns)
        for r in found["records"]
    }


def _csv(release: Release) -> dict[str, tuple[str | None, ...]]:
    return {str(row[0]): row for row in csv_rows(release.folder / FILES["csv"][0])}


@pytest.fixture(params=["api", "copy"])
def datastore_url(request: pytest.FixtureRequest, ckan_portal: Portal) -> str | None:  # noqa: F811
    """Load tables through the DataStore API, or with COPY into its database."""
    return ckan_portal.copy_url() if request.param == "copy" else None


async def test_a_release_reaches_the_portal_whole_and_once(
    ckan_portal: Portal,  # noqa: F811
    world: World,  # noqa: F811
    names: list[str],
    datastore_url: str | None,
) -> None:
    release = await _release(world, "inspection-results", names, "XA-SCJG")
    # The organisation exists already, made by a tool that knew only the department's code:
    # the publisher puts its title right.
    admin = ckanapi.RemoteCKAN(ckan_portal.url, apikey=ckan_portal.token)
    try:
        admin.action.organization_patch(id=organisation_name("XA-SCJG"), title="XA-SCJG")
    except ckanapi.NotFound:
        admin.action.organization_create(name=organisation_name("XA-SCJG"), title="XA-SCJG")
    portal = CkanPortal(
        ckan_portal.url,
        ckan_portal.token,
        titles={"XA-SCJG": "西安市市场监督管理局"},
        datastore_url=datastore_url,
    )
    outcome = portal.publish(release)
    rows_out = release.manifest["rows_out"]
    assert outcome.state == "published" and outcome.changes == Changes(inserted=rows_out)

    citizen = _anonymous(ckan_portal)
    shown = citizen.action.package_show(id=release.spec.name)
    assert shown["title"] == release.spec.title and not shown["private"]
    assert shown["organization"]["name"] == organisation_name("XA-SCJG")
    assert shown["organization"]["title"] == "西安市市场监督管理局"
    uploads = [r for r in shown["resources"] if r.get("url_type") == "upload"]
    assert sorted(r["format"] for r in uploads) == ["CSV", "CSV", "JSON", "JSON"]
    assert len(shown["resources"]) == 5  # and the DataStore table
    table = next(r for r in shown["resources"] if r.get("datastore_active"))
    rows = citizen.action.datastore_search(resource_id=table["id"], limit=5)
    assert rows["total"] == release.manifest["rows_out"]
    labels = {f["id"]: (f.get("info") or {}).get("label") for f in rows["fields"]}
    assert labels["closed_on"] == "检查月份" and labels[RECORD_ID] == "记录标识"
    # The table holds exactly the rows of the published CSV (which the PII scan read), and
    # its full-text search finds them.
    published = _csv(release)
    assert _table(citizen, table["id"]) == published
    some = sorted(published)[len(published) // 2]
    found = citizen.action.datastore_search(resource_id=table["id"], q=some)
    assert [r[RECORD_ID] for r in found["records"]] == [some]
    if datastore_url:  # loaded into an empty table: CKAN's indexes built again afterwards
        with psycopg.connect(datastore_url) as db, db.cursor() as cur:
            indexes = sorted(d.split(" USING ")[1] for _, d in _secondary_indexes(cur, table["id"]))
        assert indexes == [f"btree ({RECORD_ID})", "gist (_full_text)"]

    # Every published byte, downloaded as a citizen would: no personal value of the source.
    raw = await _rows(world.settings, release.spec)
    personal = set(personal_values_of(raw, table=release.spec.table))
    async with httpx.AsyncClient(timeout=30) as http:
        texts = [
            (await http.get(r["url"])).content.decode("utf-8-sig")
            for r in shown["resources"]
            if r.get("url_type") == "upload"
        ]
    texts.append(
        str(citizen.action.datastore_search(resource_id=table["id"], limit=100000)["records"])
    )
    assert len(texts) == 5 and personal
    assert not [v for v in personal if any(v in t for t in texts)]

    # Unchanged data changes nothing on the portal.
    before = ckan_portal.client().action.package_show(id=release.spec.name)
    assert portal.publish(release).state == "unchanged"
    after = ckan_portal.client().action.package_show(id=release.spec.name)
    assert after["metadata_modified"] == before["metadata_modified"]
    assert any(e["key"] == RELEASE_KEY for e in after["extras"])


async def test_a_withdrawn_approval_takes_the_dataset_down(
    ckan_portal: Portal,  # noqa: F811
    world: World,  # noqa: F811
    names: list[str],
) -> None:
    from open_data.approvals import approve, withdraw

    release = await _release(world, "complaint-statistics", names, "P-12345")
    portal = CkanPortal(ckan_portal.url, ckan_portal.token)
    assert portal.publish(release).state == "published"
    with ckan_portal.client() as admin:
        shown = admin.action.package_show(id=release.spec.name)
    table = next(r["id"] for r in shown["resources"] if r.get("datastore_active"))
    await withdraw(world.services.grants, OPERATOR, release.spec, "P-12345")
    gone = await world.release(release.spec)
    assert portal.publish(gone).state == "withdrawn"
    citizen = _anonymous(ckan_portal)
    found = citizen.action.package_search(fq=f"name:{release.spec.name}")
    assert found["count"] == 0
    with pytest.raises((ckanapi.NotFound, ckanapi.NotAuthorized)):
        citizen.action.package_show(id=release.spec.name)
    # The rows left the portal's database, not only its listings.
    with ckan_portal.client() as admin, pytest.raises(ckanapi.NotFound):
        admin.action.datastore_search(resource_id=table, limit=1)
    assert portal.publish(gone).state == "unchanged"

    # Approved again: back, with its table, in the same resource.
    await approve(world.services.grants, OPERATOR, release.spec, "P-12345")
    back = await world.release(release.spec)
    assert portal.publish(back).state.startswith("published")
    assert _table(citizen, table) == _csv(back)


@pytest.mark.parametrize("taken_down", ["withdrawn", "deleted on the portal"])
async def test_a_dataset_killed_on_its_way_back_stays_hidden(
    ckan_portal: Portal,  # noqa: F811
    world: World,  # noqa: F811
    names: list[str],
    taken_down: str,
) -> None:
    from open_data.approvals import approve, withdraw

    release = await _release(world, "complaint-statistics", names, "P-12345")
    portal = CkanPortal(ckan_portal.url, ckan_portal.token)
    assert portal.publish(release).state == "published"
    if taken_down == "withdrawn":
        await withdraw(world.services.grants, OPERATOR, release.spec, "P-12345")
        assert portal.publish(await world.release(release.spec)).state == "withdrawn"
        await approve(world.services.grants, OPERATOR, release.spec, "P-12345")
    else:  # by a portal administrator, or an earlier publisher: still public when undeleted
        with ckan_portal.client() as admin:
            admin.action.package_delete(id=release.spec.name)
    back = await world.release(release.spec)

    class Killed(Exception):
        pass

    class KilledAfterOnePatch(CkanPortal):
        """The run dies at its second change of the dataset."""

        patches = 0

        def _call(self, action: str, **data: object) -> object:
            if action == "package_patch":
                self.patches += 1
                if self.patches == 2:
                    raise Killed
            return super()._call(action, **data)

    with pytest.raises(Killed):
        KilledAfterOnePatch(ckan_portal.url, ckan_portal.token).publish(back)
    citizen = _anonymous(ckan_portal)
    with pytest.raises((ckanapi.NotFound, ckanapi.NotAuthorized)):
        citizen.action.package_show(id=release.spec.name)
    assert citizen.action.package_search(fq=f"name:{release.spec.name}")["count"] == 0
    assert portal.publish(back).state.startswith("published")
    assert not citizen.action.package_show(id=release.spec.name)["private"]


async def test_a_run_killed_half_way_shows_nothing_and_the_next_completes_it(
    ckan_portal: Portal,  # noqa: F811
    world: World,  # noqa: F811
    names: list[str],
) -> None:
    release = await _release(world, "matter-catalogue", names, None)
    portal = CkanPortal(ckan_portal.url, ckan_portal.token)
    portal.begin(release, None)  # the run stops here: a private dataset, no resources
    citizen = _anonymous(ckan_portal)
    with pytest.raises((ckanapi.NotFound, ckanapi.NotAuthorized)):
        citizen.action.package_show(id=release.spec.name)
    assert citizen.action.package_search(fq=f"name:{release.spec.name}")["count"] == 0
    assert portal.publish(release).state == "published"
    shown = citizen.action.package_show(id=release.spec.name)
    assert not shown["private"] and len(shown["resources"]) == 5


async def test_an_outage_and_a_bad_token_are_clear_errors(
    ckan_portal: Portal,  # noqa: F811
    world: World,  # noqa: F811
    names: list[str],
) -> None:
    release = await _release(world, "enforcement-officers", names, None)
    down = CkanPortal(f"http://127.0.0.1:{free_port()}", ckan_portal.token, attempts=2)
    with pytest.raises(PortalError, match="unavailable"):
        down.publish(release)
    wrong = CkanPortal(ckan_portal.url, "not-a-token")
    with pytest.raises(PortalError, match="token"):
        wrong.publish(release)
    # Nothing half-made is visible; the next run against the real portal completes it.
    assert (
        _anonymous(ckan_portal).action.package_search(fq=f"name:{release.spec.name}")["count"] == 0
    )
    assert CkanPortal(ckan_portal.url, ckan_portal.token).publish(release).state == "published"


def _sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


@contextlib.asynccontextmanager
async def _own_supervision(seeded: Settings, tmp_path: Path) -> AsyncIterator[tuple[World, Path]]:
    """A world over a private copy of the supervision source, for tests that change it."""
    copy = tmp_path / "supervision.db"
    shutil.copyfile(_sqlite_path(seeded.source_urls["supervision"]), copy)
    url = f"sqlite+aiosqlite:///{copy}"
    settings = dataclasses.replace(
        seeded,
        source_urls={**seeded.source_urls, "supervision": url},
        read_urls={**seeded.read_urls, "supervision": url},
    )
    async with make_world(settings, tmp_path) as made:
        yield made, copy


def _exchange_changes(database: Path, release: Release) -> dict[str, str]:
    """Change the source as a provider's exchange would: one record updated (u), one deleted
    (d), one inserted (i), all in a k-anonymity class large enough to stay published.
    Returns the record ids touched, by operation (the inserted one's is made here)."""
    rows = list(csv_rows(release.folder / FILES["csv"][0]))
    header = list(release.spec.output_columns)
    quasi = [header.index(name) for name in release.spec.quasi]
    classes = Counter(tuple(row[i] for i in quasi) for row in rows)
    big, size = classes.most_common(1)[0]
    assert size > release.spec.k + 1, "the demo data needs a class larger than k + 1"
    members = {str(row[0]) for row in rows if tuple(row[i] for i in quasi) == big}
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        found = db.execute(
            "SELECT * FROM actions WHERE kind = 'inspection' AND cd_operation != 'd' ORDER BY id"
        ).fetchall()
        ours = [r for r in found if record_id(KEY, dict(r)) in members]
        updated, deleted, template = ours[0], ours[1], ours[2]
        db.execute(
            "UPDATE actions SET result = ?, cd_operation = 'u' WHERE id = ?",
            ("复查合格（更新）", updated["id"]),
        )
        db.execute("UPDATE actions SET cd_operation = 'd' WHERE id = ?", (deleted["id"],))
        columns = [c for c in template.keys() if c != "id"]  # noqa: SIM118  # a Row
        values = {**dict(template), "cd_id": f"{template['cd_id']}-NEW", "cd_operation": "i"}
        marks = ", ".join("?" * len(columns))
        db.execute(
            f"INSERT INTO actions ({', '.join(columns)}) VALUES ({marks})",
            [values[c] for c in columns],
        )
    return {
        "u": record_id(KEY, dict(updated)),
        "d": record_id(KEY, dict(deleted)),
        "i": record_id(KEY, values),
    }


async def test_changed_data_changes_only_its_rows_and_keeps_the_resources(
    ckan_portal: Portal,  # noqa: F811
    seeded_sqlite: Settings,
    tmp_path: Path,
    names: list[str],
    datastore_url: str | None,
) -> None:
    async with _own_supervision(seeded_sqlite, tmp_path) as (own, database):
        first = await _release(own, "inspection-results", names, "XA-SCJG")
        portal = CkanPortal(ckan_portal.url, ckan_portal.token, datastore_url=datastore_url)
        assert portal.publish(first).state == "published"
        with ckan_portal.client() as ckan:
            before = ckan.action.package_show(id=first.spec.name)
            table = next(r for r in before["resources"] if r.get("datastore_active"))
            ids_before = {
                r[RECORD_ID]: r["_id"]
                for r in ckan.action.datastore_search(resource_id=table["id"], limit=32000)[
                    "records"
                ]
            }

        touched = _exchange_changes(database, first)
        second = await own.release(first.spec)
        outcome = portal.publish(second)
        assert outcome.state == "published"
        assert outcome.changes == Changes(inserted=1, updated=1, deleted=1)

        with ckan_portal.client() as ckan:
            after = ckan.action.package_show(id=first.spec.name)
            rows = _table(ckan, table["id"])
            assert rows == _csv(second)  # the whole table is the new release…
            assert touched["d"] not in rows and touched["i"] in rows
            assert "复查合格（更新）" in rows[touched["u"]]
            ids_after = {
                r[RECORD_ID]: r["_id"]
                for r in ckan.action.datastore_search(resource_id=table["id"], limit=32000)[
                    "records"
                ]
            }
        # …reached by changing three rows: every other row is the row it was.
        kept = set(ids_before) - {touched["d"]}
        assert {k: ids_after[k] for k in kept} == {k: ids_before[k] for k in kept}
        # The same resources, files replaced where their content changed; links stay.
        assert [r["id"] for r in after["resources"]] == [r["id"] for r in before["resources"]]
        hashes = {r["name"]: r["hash"] for r in after["resources"] if r.get("url_type")}
        assert hashes[f"{first.spec.title}（CSV (UTF-8)）"] == second.files[0].sha256
        assert not after["private"]
        assert portal.publish(second).state == "unchanged"


async def test_a_load_broken_off_half_way_is_completed_by_the_next_run(
    ckan_portal: Portal,  # noqa: F811
    seeded_sqlite: Settings,
    tmp_path: Path,
    names: list[str],
) -> None:
    async with _own_supervision(seeded_sqlite, tmp_path) as (own, database):
        first = await _release(own, "inspection-results", names, "XA-SCJG")
        portal = CkanPortal(ckan_portal.url, ckan_portal.token)
        portal.publish(first)
        old_rows = _csv(first)  # the next release is made in the same folder
        _exchange_changes(database, first)
        second = await own.release(first.spec)
        # The run dies after making the dataset private and sending part of the changes.
        package = portal.begin(second, ckan_portal.client().action.package_show(id=first.spec.name))
        table = next(r for r in package["resources"] if r.get("datastore_active"))
        new_rows = _csv(second)
        columns = list(second.spec.output_columns)
        first_new = next(v for k, v in new_rows.items() if k not in old_rows)
        with ckan_portal.client() as ckan:
            ckan.action.datastore_upsert(
                resource_id=table["id"],
                records=[dict(zip(columns, first_new, strict=True))],
                method="upsert",
                force=True,
            )
        citizen = _anonymous(ckan_portal)
        assert citizen.action.package_search(fq=f"name:{first.spec.name}")["count"] == 0

        outcome = portal.publish(second)
        assert outcome.changes == Changes(inserted=0, updated=1, deleted=1)  # the rest
        with ckan_portal.client() as ckan:
            assert _table(ckan, table["id"]) == new_rows
        assert not citizen.action.package_show(id=first.spec.name)["private"]


# The data centre's datasets, read from the seeded sources; audit-chain-heads reads the gateway's
# own database and is published in tests/audit/test_audit.py (a dir: target).
@pytest.mark.parametrize("base", sorted(n for n, s in DATASETS.items() if s.source != "gateway"))
async def test_every_starter_dataset_reaches_the_portal(
    ckan_portal: Portal,  # noqa: F811
    world: World,  # noqa: F811
    names: list[str],
    base: str,
) -> None:
    from open_data.approvals import approve

    spec = dataclasses.replace(dataset(base), name=f"{base}-{uuid.uuid4().hex[:8]}")
    names.append(spec.name)
    raw = await _rows(world.settings, spec)
    providers = sorted({str(row["provider"]) for row in raw})
    titles = {code: f"{code} 部门" for code in providers}
    if not spec.public_by_rule:
        for code in providers:
            with contextlib.suppress(ChangeRefused):  # the world has some parties already
                await world.services.admin.add_party(
                    OPERATOR, code=code, name=titles[code], kind="department"
                )
            await approve(world.services.grants, OPERATOR, spec, code)
    release = await world.release(spec)
    assert release.providers == providers and release.manifest["rows_out"] > 0
    portal = CkanPortal(
        ckan_portal.url, ckan_portal.token, titles=titles, datastore_url=ckan_portal.copy_url()
    )
    assert portal.publish(release).state == "published"

    citizen = _anonymous(ckan_portal)
    shown = citizen.action.package_show(id=spec.name)
    owner = providers[0] if len(providers) == 1 else CITY_ORGANISATION
    assert (shown["title"], shown["notes"]) == (spec.title, spec.description)
    assert shown["organization"]["name"] == organisation_name(owner)
    files = {r["name"]: r for r in shown["resources"] if r.get("url_type") == "upload"}
    assert sorted(files) == sorted(
        [f"{spec.title}（{label}）" for _, _, label in FILES.values()] + ["发布清单 manifest"]
    )
    table = next(r for r in shown["resources"] if r.get("datastore_active"))
    found = citizen.action.datastore_search(resource_id=table["id"], limit=0)
    dictionary = orjson.loads((release.folder / METADATA).read_bytes())["fields"]
    assert [(f["id"], (f.get("info") or {}).get("label")) for f in found["fields"][1:]] == [
        (f["id"], f["label"]) for f in dictionary
    ]
    assert _table(citizen, table["id"]) == _csv(release)

    # No personal value of the source in any byte a citizen can download.
    personal = set(personal_values_of(raw, table=spec.table))
    async with httpx.AsyncClient(timeout=30) as http:
        texts = [(await http.get(r["url"])).content.decode("utf-8-sig") for r in files.values()]
    texts.append(str(citizen.action.datastore_search(resource_id=table["id"], limit=32000)))
    assert not [v for v in personal if len(v) >= 2 and any(v in t for t in texts)]


def test_a_record_id_twice_is_refused_and_leaves_the_table_as_it_was(
    ckan_portal: Portal,  # noqa: F811
    names: list[str],
    datastore_url: str | None,
    tmp_path: Path,
) -> None:
    name = f"twice-{uuid.uuid4().hex[:8]}"
    names.append(name)
    portal = CkanPortal(ckan_portal.url, ckan_portal.token, datastore_url=datastore_url)
    with ckan_portal.client() as ckan:
        org = ckan.action.organization_list(limit=1)[0]
        package = ckan.action.package_create(name=name, owner_org=org, private=True)
        table = ckan.action.datastore_create(
            resource={"package_id": package["id"], "name": "t"},
            fields=[{"id": RECORD_ID, "type": "text"}, {"id": "v", "type": "text"}],
            primary_key=[RECORD_ID],
            records=[{RECORD_ID: "a", "v": "1"}],
            force=True,
        )
    data = tmp_path / "data.csv"
    data.write_text(f"{RECORD_ID},v\nb,2\nc,3\nb,4\n")
    with pytest.raises(PortalError, match=r"record id b occurs twice in data\.csv"):
        portal.loader.load(table["resource_id"], [RECORD_ID, "v"], data)
    with ckan_portal.client() as ckan:
        assert _table(ckan, table["resource_id"]) == {"a": ("a", "1")}
