"""Publish, the last stage, and where it publishes: targets chosen by name from a registry.

    dir:PATH   the files and metadata under PATH/<dataset>, put in place in one rename
    ckan       a CKAN portal (CKAN_URL, CKAN_API_TOKEN; the DataStore loaded, ``ckan.py``)

    chosen = choose("dir:var/open-data", settings)   # TargetError: unknown, or not configured
    target = chosen.open(titles)                     # the parties' names, for CKAN organisations
    release.target = target; await publish(release)  # release.outcome: "published", …

A target is anything with ``publish(release)`` (``open_data.release.Target``).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson

from open_data.release import MANIFEST, Release, Target, clock
from standard.errors import InputError


class TargetSettings(Protocol):
    """What targets are configured by (the gateway's ``Settings`` has it)."""

    @property
    def ckan_url(self) -> str | None: ...
    @property
    def ckan_api_token(self) -> str | None: ...
    @property
    def ckan_datastore_write_url(self) -> str | None: ...


__all__ = ["TARGETS", "Chosen", "Directory", "Target", "TargetError", "choose", "publish"]


async def publish(release: Release) -> Release:
    """The stage: publish the written release to ``release.target`` (in a thread: a target
    blocks on files or HTTP); ``outcome`` says what happened, ``checked`` without a target."""
    if release.target is None:
        release.outcome = "checked"
        return release
    began = clock()
    release.outcome = str(await asyncio.to_thread(release.target.publish, release))
    release.seconds["publish"] = release.seconds.get("publish", 0.0) + clock() - began
    return release


@dataclass(frozen=True, slots=True)
class Directory:
    """Releases under ``root/<name>``."""

    root: Path

    def publish(self, release: Release) -> str:
        return publish_dir(release, self.root)


def publish_dir(release: Release, root: Path) -> str:
    """Put the release under ``root/<name>`` in one rename; take it down when it is empty.

    Returns what happened: ``published``, ``unchanged`` (same file hashes) or ``withdrawn``.
    """
    target = root / release.spec.name
    if release.empty:
        if target.exists():
            shutil.rmtree(target)
            return "withdrawn"
        return "unchanged"
    previous = target / MANIFEST
    if previous.exists():
        before = orjson.loads(previous.read_bytes())
        if (
            before.get("files") == release.manifest["files"]
            and before.get("spec_version") == release.manifest["spec_version"]
        ):
            return "unchanged"
    root.mkdir(parents=True, exist_ok=True)
    staged = root / f".{release.spec.name}.new"
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(release.folder, staged)
    old = root / f".{release.spec.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staged.rename(target)  # readers see the old release or the new one, never half of one
    if old.exists():
        shutil.rmtree(old)
    return "published"


def _directory(argument: str, settings: TargetSettings) -> Callable[[Mapping[str, str]], Target]:
    return lambda titles: Directory(Path(argument))


def _ckan(argument: str, settings: TargetSettings) -> Callable[[Mapping[str, str]], Target]:
    url, token = settings.ckan_url, settings.ckan_api_token
    if not (url and token):
        raise TargetError("ckan", "ckan needs CKAN_URL and CKAN_API_TOKEN")

    def open_ckan(titles: Mapping[str, str]) -> Target:
        from open_data.ckan import CkanPortal  # ckanapi and requests only when asked for

        write_url = settings.ckan_datastore_write_url
        return CkanPortal(str(url), str(token), titles=dict(titles), datastore_url=write_url)

    return open_ckan


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of target: how it is named (``usage``: ``NAME``, or ``NAME:ARGUMENT`` when it
    takes one) and how it is made from its argument and the settings. ``make`` fails early
    (``TargetError``) on what is missing, before any release is prepared."""

    usage: str
    make: Callable[[str, TargetSettings], Callable[[Mapping[str, str]], Target]]

    @property
    def takes_argument(self) -> bool:
        return ":" in self.usage


TARGETS: dict[str, Kind] = {
    "ckan": Kind("ckan", _ckan),
    "dir": Kind("dir:PATH", _directory),
}


def known() -> tuple[str, ...]:
    """The targets' usages, as ``--target`` takes them."""
    return tuple(kind.usage for kind in TARGETS.values())


class TargetError(InputError):
    """The target named is not known (``unknown``; ``known`` lists the usages), or not
    configured."""

    def __init__(self, name: str, reason: str | None = None) -> None:
        self.name, self.known, self.unknown = name, known(), reason is None
        super().__init__(
            reason or f"unknown target {name!r}: the known ones are {', '.join(self.known)}"
        )


@dataclass(frozen=True, slots=True)
class Chosen:
    """A target chosen and configured; ``open`` it with the parties' names (code → name)."""

    name: str
    open: Callable[[Mapping[str, str]], Target]


def choose(name: str, settings: TargetSettings) -> Chosen:
    """The target ``name`` (``dir:PATH``, ``ckan``), or ``TargetError``."""
    kind_name, colon, argument = name.partition(":")
    kind = TARGETS.get(kind_name)
    if kind is None or kind.takes_argument != bool(colon):
        raise TargetError(name)
    return Chosen(name, kind.make(argument, settings))
