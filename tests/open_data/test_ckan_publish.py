"""Releases published into a real CKAN 2.12 and read back through its API."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator

import ckanapi
import httpx
import pytest

from open_data.check import personal_values_of
from open_data.ckan import RELEASE_KEY, CkanPortal, organisation_name
from open_data.datasets import dataset
from open_data.errors import PortalError
from open_data.pipeline import Release
from tests.ckan_portal import Portal, ckan_portal  # noqa: F401  # the fixture
from tests.open_data.test_pipeline import OPERATOR, World, world  # noqa: F401  # the fixture
from tests.open_data.test_specs import _rows
from tests.servers import free_port


@pytest.fixture
def names(ckan_portal: Portal) -> Iterator[list[str]]:  # noqa: F811
    """Dataset names made by a test, purged afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        with contextlib.suppress(ckanapi.NotFound):
            ckan_portal.client().action.dataset_purge(id=name)


async def _release(world: World, base: str, names: list[str], provider: str | None) -> Release:  # noqa: F811
    spec = dataclasses.replace(dataset(base), name=f"{base}-{uuid.uuid4().hex[:8]}")
    names.append(spec.name)
    if provider is not None:
        from open_data.approvals import approve

        await approve(world.services.grants, OPERATOR, spec, provider)
    return await world.release(spec)


def _anonymous(portal: Portal) -> ckanapi.RemoteCKAN:
    return ckanapi.RemoteCKAN(portal.url, user_agent="jianguan-tests-citizen")


async def test_a_release_reaches_the_portal_whole_and_once(
    ckan_portal: Portal,  # noqa: F811
    world: World,  # noqa: F811
    names: list[str],
) -> None:
    release = await _release(world, "inspection-results", names, "XA-SCJG")
    portal = CkanPortal(
        ckan_portal.url, ckan_portal.token, titles={"XA-SCJG": "西安市市场监督管理局"}
    )
    assert portal.publish(release) == "published"

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
    assert labels["closed_on"] == "检查月份"

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
    assert portal.publish(release) == "unchanged"
    after = ckan_portal.client().action.package_show(id=release.spec.name)
    assert after["metadata_modified"] == before["metadata_modified"]
    assert any(e["key"] == RELEASE_KEY for e in after["extras"])


async def test_a_withdrawn_approval_takes_the_dataset_down(
    ckan_portal: Portal,  # noqa: F811
    world: World,  # noqa: F811
    names: list[str],
) -> None:
    from open_data.approvals import withdraw

    release = await _release(world, "complaint-statistics", names, "P-12345")
    portal = CkanPortal(ckan_portal.url, ckan_portal.token)
    assert portal.publish(release) == "published"
    await withdraw(world.services.grants, OPERATOR, release.spec, "P-12345")
    gone = await world.release(release.spec)
    assert portal.publish(gone) == "withdrawn"
    citizen = _anonymous(ckan_portal)
    found = citizen.action.package_search(fq=f"name:{release.spec.name}")
    assert found["count"] == 0


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
    assert portal.publish(release) == "published"
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
    assert CkanPortal(ckan_portal.url, ckan_portal.token).publish(release) == "published"
