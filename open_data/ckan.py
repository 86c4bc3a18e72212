"""Publish a checked release to a CKAN portal with ckanapi (``CKAN_URL``, ``CKAN_API_TOKEN``).

A release is built while its dataset is private — files uploaded, the DataStore table loaded
with its data dictionary — and made public by the last call. A run killed half-way, or a portal
outage, leaves at most a private dataset that citizens cannot see; the next run rebuilds it and
makes it public. A release whose files and spec are unchanged (content hashes, kept in the
dataset's extras) changes nothing on the portal; a withdrawn one is deleted from it.
Datasets are changed with ``package_patch`` and ``package_create`` only, never a bare
``package_update`` (which drops what it is not sent).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import ckanapi
import orjson
import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from open_data.errors import PortalError
from open_data.files import FILES
from open_data.pipeline import MANIFEST, METADATA, Release

T = TypeVar("T")
RELEASE_KEY = "jianguan_release"
CITY_ORGANISATION = "XA-ZWB"
BATCH = 5_000


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.RequestException):
        return True
    if isinstance(exc, ckanapi.CKANAPIError):
        return "50" in str(exc)[:40]  # 500-504 from the portal or a proxy before it
    return False


def ckan_tag(tag: str) -> str:
    """A tag as CKAN accepts it (letters of any script, digits, space, ``-_.``): 互联网+监管 →
    互联网监管."""
    return re.sub(r"[^\w .-]", "", tag).strip()


def organisation_name(code: str) -> str:
    """A party's CKAN organisation name (lower-case ASCII, stable)."""
    return code.lower().replace(".", "-").replace("_", "-")


class CkanPortal:
    """One CKAN portal, as the publisher's sysadmin token sees it."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        titles: Mapping[str, str] | None = None,
        attempts: int = 4,
    ) -> None:
        self.ckan = ckanapi.RemoteCKAN(url, apikey=token, user_agent="jianguan-publisher")
        self.titles = dict(titles or {})
        self.attempts = attempts

    def _call(self, action: str, **data: Any) -> Any:
        """One action, retried with backoff on transient errors; permanent ones named."""
        try:
            for attempt in Retrying(
                retry=retry_if_exception(_transient),
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential(multiplier=0.2, max=3),
                reraise=True,
            ):
                with attempt:
                    return getattr(self.ckan.action, action)(**data)
        except ckanapi.NotFound:
            raise  # callers that expect it catch it
        except ckanapi.NotAuthorized as exc:
            raise PortalError(
                "*", f"{action}: the portal refused the token (bad token, or not a sysadmin): {exc}"
            ) from None
        except ckanapi.ValidationError as exc:
            raise PortalError("*", f"{action}: the portal refused the data: {exc}") from None
        except (requests.exceptions.RequestException, ckanapi.CKANAPIError) as exc:
            raise PortalError("*", f"{action}: the portal is unavailable: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover  # Retrying re-raises

    def _show(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._call("package_show", id=name)
        except ckanapi.NotFound:
            return None
        return found

    def _organisation(self, code: str) -> str:
        name = organisation_name(code)
        try:
            self._call("organization_show", id=name)
        except ckanapi.NotFound:
            self._call("organization_create", name=name, title=self.titles.get(code, code))
        return name

    def publish(self, release: Release) -> str:
        """``published``, ``unchanged`` or ``withdrawn``."""
        spec = release.spec
        existing = self._show(spec.name)
        live = existing is not None and existing.get("state") == "active"
        if release.empty:
            if live:
                self._call("package_delete", id=spec.name)
                return "withdrawn"
            return "unchanged"
        digest = release_digest(release)
        current = existing is not None and live and not existing.get("private")
        if current and existing is not None and _extra(existing, RELEASE_KEY) == digest:
            return "unchanged"
        package = self.begin(release, existing)
        for resource in package.get("resources", []):
            self._call("resource_delete", id=resource["id"])
        self._upload(package["id"], release)
        self._datastore(package["id"], release)
        self._call(
            "package_patch",
            id=package["id"],
            private=False,
            extras=[*_extras(release), {"key": RELEASE_KEY, "value": digest}],
        )
        return "published"

    def begin(self, release: Release, existing: dict[str, Any] | None) -> dict[str, Any]:
        """The dataset, private while it is (re)built: created, or patched to private."""
        spec = release.spec
        owner = release.providers[0] if len(release.providers) == 1 else CITY_ORGANISATION
        for code in {owner, *release.providers}:
            self._organisation(code)
        fields = {
            "title": spec.title,
            "notes": spec.description,
            "owner_org": organisation_name(owner),
            "license_id": spec.licence,
            "tags": [{"name": tag} for tag in map(ckan_tag, spec.tags) if tag],
            "private": True,
            "extras": _extras(release),
        }
        if existing is None:
            created: dict[str, Any] = self._call("package_create", name=spec.name, **fields)
            return created
        if existing.get("state") != "active":
            self._call("package_patch", id=existing["id"], state="active")
        patched: dict[str, Any] = self._call("package_patch", id=existing["id"], **fields)
        return patched

    def _upload(self, package_id: str, release: Release) -> None:
        for name, _, label in FILES.values():
            self._file(package_id, release.folder / name, f"{release.spec.title}（{label}）")
        self._file(package_id, release.folder / MANIFEST, "发布清单 manifest")

    def _file(self, package_id: str, path: Path, title: str) -> None:
        with path.open("rb") as handle:
            self._call(
                "resource_create",
                package_id=package_id,
                name=title,
                format=path.suffix.lstrip(".").upper(),
                upload=handle,
            )

    def _datastore(self, package_id: str, release: Release) -> None:
        metadata = orjson.loads((release.folder / METADATA).read_bytes())
        fields = [
            {"id": f["id"], "type": "text", "info": {"label": f["label"], "notes": f["notes"]}}
            for f in metadata["fields"]
        ]
        rows = orjson.loads((release.folder / FILES["json"][0]).read_bytes())
        records = [{k: None if v is None else str(v) for k, v in row.items()} for row in rows]
        created = self._call(
            "datastore_create",
            resource={"package_id": package_id, "name": f"{release.spec.title}（数据表）"},
            fields=fields,
            records=records[:BATCH],
            force=True,
        )
        for start in range(BATCH, len(records), BATCH):
            self._call(
                "datastore_upsert",
                resource_id=created["resource_id"],
                records=records[start : start + BATCH],
                method="insert",
                force=True,
            )


def release_digest(release: Release) -> str:
    """What identifies a release's content: its spec version and its files' hashes."""
    manifest = release.manifest
    text = orjson.dumps([manifest["spec_version"], manifest["files"]], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()


def _extras(release: Release) -> list[dict[str, str]]:
    return [
        {"key": "providers", "value": ", ".join(release.providers)},
        {"key": "update_frequency", "value": release.spec.frequency},
        {"key": "rows", "value": str(release.manifest["rows_out"])},
    ]


def _extra(package: Mapping[str, Any], key: str) -> str | None:
    for extra in package.get("extras", []):
        if extra.get("key") == key:
            return str(extra.get("value"))
    return None
