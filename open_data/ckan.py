"""Publish a checked release to a CKAN portal with ckanapi (``CKAN_URL``, ``CKAN_API_TOKEN``).

A release is built while its dataset is private — files uploaded, the DataStore table loaded
with its data dictionary — and made public by the last call. A run killed half-way, or a portal
outage, leaves at most a private dataset that citizens cannot see; the next run rebuilds it and
makes it public, redoing only what is not done yet. A release whose files and spec are
unchanged (content hashes, kept in the dataset's extras) changes nothing on the portal; a
changed one re-uploads the files whose hash changed (into the same resources, so links stay)
and changes only the table rows that changed (``datastore.py``); a withdrawn one is made
private, its DataStore tables dropped, and deleted.
Datasets are changed with ``package_patch`` and ``package_create`` only, never a bare
``package_update`` (which drops what it is not sent).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import ckanapi
import orjson
import requests
from requests_toolbelt import MultipartEncoder
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from open_data.datastore import ApiLoader, Changes, CopyLoader, Loader
from open_data.errors import PortalError
from open_data.files import FILES
from open_data.release import MANIFEST, METADATA, Release
from open_data.spec import RECORD_ID

T = TypeVar("T")
RELEASE_KEY = "jianguan_release"
CITY_ORGANISATION = "XA-ZWB"


class StreamingCKAN(ckanapi.RemoteCKAN):  # type: ignore[misc]  # ckanapi is untyped
    """ckanapi, with file uploads streamed from disk: requests builds a multipart body in
    memory, and a release's files run to hundreds of megabytes."""

    def _request_fn(
        self,
        url: str,
        data: Any,
        headers: dict[str, str],
        files: dict[str, Any] | None,
        requests_kwargs: dict[str, Any],
    ) -> tuple[int, str]:
        if not files:
            status, text = super()._request_fn(url, data, headers, files, requests_kwargs)
            return status, text
        fields: dict[str, Any] = {k.decode(): v.decode() for k, v in data.items()}
        for name, handle in files.items():
            fields[name] = (Path(handle.name).name, handle, "application/octet-stream")
        body = MultipartEncoder(fields=fields)
        sent = self.session.post(
            url,
            data=body,
            headers={**headers, "Content-Type": body.content_type},
            allow_redirects=False,
            **requests_kwargs,
        )
        return sent.status_code, sent.text


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
    """One CKAN portal, as the publisher's sysadmin token sees it; with ``datastore_url``
    (its ``ckan.datastore.write_url``) tables are loaded with COPY."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        titles: Mapping[str, str] | None = None,
        attempts: int = 4,
        datastore_url: str | None = None,
    ) -> None:
        self.ckan = StreamingCKAN(url, apikey=token, user_agent="jianguan-publisher")
        self.titles = dict(titles or {})
        self.attempts = attempts
        self.loader: Loader = CopyLoader(datastore_url) if datastore_url else ApiLoader(self._call)

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
        """The department's organisation, created when missing; its title follows the
        department's name when the publisher knows it (a department renamed, or an organisation
        made by a tool that did not know the name)."""
        name = organisation_name(code)
        title = self.titles.get(code)
        try:
            shown = self._call("organization_show", id=name)
        except ckanapi.NotFound:
            self._call("organization_create", name=name, title=title or code)
            return name
        if title and shown.get("title") != title:
            self._call("organization_patch", id=name, title=title)
        return name

    def publish(self, release: Release) -> Outcome:
        """``published`` (with the table's changes), ``unchanged`` or ``withdrawn``."""
        spec = release.spec
        existing = self._show(spec.name)
        live = existing is not None and existing.get("state") == "active"
        if release.empty:
            if live and existing is not None:
                self.withdraw(existing)
                return Outcome("withdrawn")
            return Outcome("unchanged")
        digest = release_digest(release)
        current = existing is not None and live and not existing.get("private")
        if current and existing is not None and _extra(existing, RELEASE_KEY) == digest:
            return Outcome("unchanged")
        package = self.begin(release, existing)
        changes = self._resources(package, release)
        self._call(
            "package_patch",
            id=package["id"],
            private=False,
            extras=[*_extras(release), {"key": RELEASE_KEY, "value": digest}],
        )
        return Outcome("published", changes)

    def withdraw(self, package: dict[str, Any]) -> None:
        """Take a dataset down: private first (citizens lose it at once), then its DataStore
        tables dropped (the rows leave the portal's database), then deleted. A run killed on
        the way leaves it private and still active, so the next run finishes the withdrawal."""
        self._call("package_patch", id=package["id"], private=True)
        self._drop_tables(package)
        self._call("package_delete", id=package["id"])

    def purge(self, name: str) -> None:
        """Remove a dataset for good, its DataStore tables first: CKAN's ``dataset_purge``
        leaves them behind in the DataStore database (for tests, benchmarks, emptied trash)."""
        package = self._show(name)
        if package is not None:
            self._drop_tables(package)
            self._call("dataset_purge", id=package["id"])

    def _drop_tables(self, package: dict[str, Any]) -> None:
        for resource in package.get("resources", []):
            if resource.get("datastore_active"):
                with contextlib.suppress(ckanapi.NotFound):  # dropped by a run killed since
                    self._call("datastore_delete", resource_id=resource["id"], force=True)

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
        # A withdrawn dataset comes back active and private in one call: two would show its
        # old resources to citizens in between (and for good, were the run killed there).
        patched: dict[str, Any] = self._call(
            "package_patch", id=existing["id"], state="active", **fields
        )
        return patched

    def _resources(self, package: dict[str, Any], release: Release) -> Changes:
        """Files uploaded where their hash changed, the table brought to the release's rows;
        resources keep their ids (and citizens' links) from release to release."""
        title = release.spec.title
        found = {r["name"]: r for r in package.get("resources", [])}
        hashes = {w.path.name: w.sha256 for w in release.files}
        manifest = release.folder / MANIFEST
        files = [
            *((release.folder / name, f"{title}（{label}）") for name, _, label in FILES.values()),
            (manifest, "发布清单 manifest"),
        ]
        table = f"{title}（数据表）"
        for stale in set(found) - {name for _, name in files} - {table}:
            self._call("resource_delete", id=found[stale]["id"])
        resource_id, columns = self._table(package["id"], found.get(table), table, release)
        # The table loads (in the DataStore database, or through the API) while the files
        # upload: the two wait on different servers.
        with ThreadPoolExecutor(1, thread_name_prefix="datastore") as pool:
            loading = pool.submit(
                self.loader.load, resource_id, columns, release.folder / FILES["csv"][0]
            )
            for path, name in files:
                digest = hashes.get(path.name) or hashlib.sha256(path.read_bytes()).hexdigest()
                old = found.get(name)
                if old is None or old.get("hash") != digest:
                    self._file(package["id"], path, name, digest, old)
            return loading.result()

    def _file(
        self, package_id: str, path: Path, name: str, digest: str, old: dict[str, Any] | None
    ) -> None:
        with path.open("rb") as handle:
            fields = {"format": path.suffix.lstrip(".").upper(), "hash": digest, "upload": handle}
            if old is None:
                self._call("resource_create", package_id=package_id, name=name, **fields)
            else:
                self._call("resource_patch", id=old["id"], **fields)

    def _table(
        self, package_id: str, old: dict[str, Any] | None, name: str, release: Release
    ) -> tuple[str, list[str]]:
        """The DataStore table, its dictionary up to date (made anew if its columns changed):
        its resource id and columns."""
        metadata = orjson.loads((release.folder / METADATA).read_bytes())
        fields = [
            {"id": f["id"], "type": "text", "info": {"label": f["label"], "notes": f["notes"]}}
            for f in metadata["fields"]
        ]
        columns = [f["id"] for f in fields]
        # A table of another shape goes (none at all: withdrawn, or never made).
        if old is not None and self._columns(old["id"]) not in (None, columns):
            self._call("datastore_delete", resource_id=old["id"], force=True)
        target: dict[str, Any] = (
            {"resource_id": old["id"]}
            if old is not None
            else {"resource": {"package_id": package_id, "name": name}}
        )
        created = self._call(
            "datastore_create", **target, fields=fields, primary_key=[RECORD_ID], force=True
        )
        return str(created["resource_id"]), columns

    def _columns(self, resource_id: str) -> list[str] | None:
        try:
            found = self._call("datastore_search", resource_id=resource_id, limit=0)
        except ckanapi.NotFound:
            return None  # the resource has no table (yet)
        return [f["id"] for f in found["fields"] if not f["id"].startswith("_")]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a publish did: ``published`` (and the table's changes), ``unchanged``, ``withdrawn``."""

    state: str
    changes: Changes | None = None

    def __str__(self) -> str:
        return self.state if self.changes is None else f"{self.state} ({self.changes})"


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
