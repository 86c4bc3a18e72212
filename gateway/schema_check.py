"""Compare the committed GraphQL schema with another version and sort its changes by harm."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, build_schema
from graphql.utilities import find_breaking_changes, find_dangerous_changes

from standard.errors import JianguanError

# graphql-core files a removed default under "dangerous", but a client that omitted the argument
# (or input field) now sends nothing: for a non-null one the query stops validating, for a
# nullable one the server sees null. Partners' generated clients break either way.
PROMOTED_KINDS = frozenset({"ARG_DEFAULT_VALUE_CHANGE", "INPUT_FIELD_DEFAULT_VALUE_CHANGE"})
# The wording graphql-core (3.2 and 3.3) uses when the new schema has no default at all; a
# changed default keeps its "has changed defaultValue from … to …" wording and stays a warning.
DEFAULT_REMOVED = " defaultValue was removed."


class SchemaCheckError(JianguanError):
    """The schemas could not be compared: git failed, or an SDL does not build."""


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """One difference between two schemas, as graphql-core names and describes it."""

    kind: str
    description: str
    breaking: bool


def compare_schemas(old_sdl: str, new_sdl: str) -> list[SchemaChange]:
    """List the breaking, then the dangerous, changes from ``old_sdl`` to ``new_sdl``."""
    old, new = _build(old_sdl, "old"), _build(new_sdl, "new")
    changes = [
        SchemaChange(kind=change.type.name, description=change.description, breaking=True)
        for change in find_breaking_changes(old, new)
    ]
    changes += [
        SchemaChange(
            kind=change.type.name,
            description=change.description,
            breaking=change.type.name in PROMOTED_KINDS
            and change.description.endswith(DEFAULT_REMOVED),
        )
        for change in find_dangerous_changes(old, new)
    ]
    return sorted(changes, key=lambda change: (not change.breaking, change.description))


def committed_schema(
    ref: str = "HEAD", path: str | Path = "schema.graphql", repo: Path | None = None
) -> str | None:
    """The text of ``path`` as committed at ``ref``, or None when ``ref`` does not have it."""
    if ref.startswith("-"):
        # Would be read as an option by git.
        raise SchemaCheckError(f"{ref!r} is not a git revision")
    cwd = Path.cwd() if repo is None else repo
    # ls-tree tells "absent at this revision" (empty output) apart from a bad revision or a path
    # outside the repository (an error), which `git show` reports alike.
    listing = _git(cwd, "--literal-pathspecs", "ls-tree", "-z", "--full-name", ref, "--", str(path))
    if not listing:
        return None
    entries = listing.rstrip(b"\0").split(b"\0")
    entry, _, name = entries[0].partition(b"\t")
    _mode, kind, object_id = entry.split(b" ")
    if len(entries) > 1 or kind != b"blob":
        raise SchemaCheckError(f"{path} is not a file at {ref}")
    # cat-file, not `git show ref:path`, so that no textconv filter rewrites the content.
    content = _git(cwd, "cat-file", "blob", object_id.decode())
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SchemaCheckError(f"{name.decode(errors='replace')} at {ref} is not UTF-8") from exc


def _build(sdl: str, which: str) -> GraphQLSchema:
    try:
        return build_schema(sdl)
    except (GraphQLError, TypeError) as exc:
        # build_schema raises GraphQLError for bad syntax and TypeError for an invalid schema.
        raise SchemaCheckError(f"the {which} schema does not build: {exc}") from exc


def _git(cwd: Path, *args: str) -> bytes:
    git = shutil.which("git")
    if git is None:
        raise SchemaCheckError("git is not installed or not on PATH")
    try:
        # An argument list and no shell; callers keep option-like values out of option places.
        result = subprocess.run([git, *args], cwd=cwd, capture_output=True, check=False)  # noqa: S603
    except OSError as exc:
        raise SchemaCheckError(f"cannot run git in {cwd}: {exc}") from exc
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise SchemaCheckError(f"git failed in {cwd}: {message}")
    return result.stdout
