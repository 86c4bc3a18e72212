"""The breaking-change check: graphql-core's verdicts, the committed schema, `check-schema`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.schema_check import SchemaCheckError, committed_schema, compare_schemas
from resolvers.schema import schema_sdl

runner = CliRunner()
GIT_IDENTITY = ("-c", "user.name=Schema Check", "-c", "user.email=schema-check@example.invalid")

# (case, old SDL, new SDL, expected [(kind, breaking)]) — what graphql-core reports, plus the
# promotion of removed defaults to breaking.
CASES = [
    (
        "field removed",
        "type Query { a: String b: String }",
        "type Query { a: String }",
        [("FIELD_REMOVED", True)],
    ),
    (
        "type removed",
        "type Query { a: String } type Extra { b: String }",
        "type Query { a: String }",
        [("TYPE_REMOVED", True)],
    ),
    (
        "field type changed",
        "type Query { a: String }",
        "type Query { a: Int }",
        [("FIELD_CHANGED_KIND", True)],
    ),
    (
        "output field made nullable",
        "type Query { a: String! }",
        "type Query { a: String }",
        [("FIELD_CHANGED_KIND", True)],
    ),
    # A client already handles every value a non-null field can return.
    ("output field made non-null", "type Query { a: String }", "type Query { a: String! }", []),
    (
        "list field made scalar",
        "type Query { a: [String] }",
        "type Query { a: String }",
        [("FIELD_CHANGED_KIND", True)],
    ),
    (
        "argument made non-null",
        "type Query { a(x: Int): String }",
        "type Query { a(x: Int!): String }",
        [("ARG_CHANGED_KIND", True)],
    ),
    (
        "argument removed",
        # String, not Int: graphql-core also reports a standard scalar nothing references any more.
        "type Query { a(x: String): String }",
        "type Query { a: String }",
        [("ARG_REMOVED", True)],
    ),
    (
        "required argument added",
        "type Query { a: String }",
        "type Query { a(x: Int!): String }",
        [("REQUIRED_ARG_ADDED", True)],
    ),
    (
        "non-null argument with a default added",
        "type Query { a: String }",
        "type Query { a(x: Int! = 1): String }",
        [("OPTIONAL_ARG_ADDED", False)],
    ),
    (
        "optional argument added",
        "type Query { a: String }",
        "type Query { a(x: Int): String }",
        [("OPTIONAL_ARG_ADDED", False)],
    ),
    (
        "argument default removed",
        "type Query { a(x: Int = 1): String }",
        "type Query { a(x: Int): String }",
        [("ARG_DEFAULT_VALUE_CHANGE", True)],
    ),
    (
        "default removed from a non-null argument",
        "type Query { a(x: Int! = 20): String }",
        "type Query { a(x: Int!): String }",
        [("ARG_DEFAULT_VALUE_CHANGE", True)],
    ),
    (
        "argument default changed",
        "type Query { a(x: Int = 1): String }",
        "type Query { a(x: Int = 2): String }",
        [("ARG_DEFAULT_VALUE_CHANGE", False)],
    ),
    (
        "input field default removed",
        "input F { x: Int = 1 } type Query { a(f: F): String }",
        "input F { x: Int } type Query { a(f: F): String }",
        [("INPUT_FIELD_DEFAULT_VALUE_CHANGE", True)],
    ),
    (
        "enum value added",
        "enum E { A } type Query { a: E }",
        "enum E { A B } type Query { a: E }",
        [("VALUE_ADDED_TO_ENUM", False)],
    ),
    ("field added", "type Query { a: String }", "type Query { a: String b: Int }", []),
    (
        "description changed",
        'type Query { "old words" a: String }',
        'type Query { "new words" a: String }',
        [],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_compare_schemas(old: str, new: str, expected: list[tuple[str, bool]]) -> None:
    assert [(c.kind, c.breaking) for c in compare_schemas(old, new)] == expected


def test_descriptions_are_graphql_cores_and_breaking_changes_come_first() -> None:
    old = "type Query { b: String a(x: Int = 1, y: Int = 1): String c: String }"
    new = "type Query { a(x: Int, y: Int = 2, z: Int): String }"
    changes = compare_schemas(old, new)
    assert [(c.breaking, c.description) for c in changes] == [
        (True, "Field Query.b was removed."),
        (True, "Field Query.c was removed."),
        (True, "Query.a(x:) defaultValue was removed."),
        (False, "An optional argument Query.a(z:) was added."),
        (False, "Query.a(y:) has changed defaultValue from 1 to 2."),
    ]


def test_the_code_schema_has_no_changes_against_itself() -> None:
    assert compare_schemas(schema_sdl(), schema_sdl()) == []


def test_an_sdl_that_does_not_build_is_a_schema_check_error() -> None:
    with pytest.raises(SchemaCheckError, match="old schema"):
        compare_schemas("type Query { a: Nope }", "type Query { a: String }")
    with pytest.raises(SchemaCheckError, match="new schema"):
        compare_schemas("type Query { a: String }", "type Query {")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def commit(repo: Path, message: str) -> None:
    git(repo, *GIT_IDENTITY, "-c", "commit.gpgsign=false", "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    return root


def commit_schema(repo: Path, sdl: str, path: str = "schema.graphql") -> Path:
    file = repo / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(sdl, encoding="utf-8")
    git(repo, "add", path)
    commit(repo, f"schema at {path}")
    return file


def test_committed_schema_reads_the_commit_not_the_working_tree(repo: Path) -> None:
    file = commit_schema(repo, "type Query { a: String }\n")
    file.write_text("type Query { b: String }\n", encoding="utf-8")
    assert committed_schema("HEAD", "schema.graphql", repo=repo) == "type Query { a: String }\n"
    assert committed_schema("HEAD", file, repo=repo) == "type Query { a: String }\n"


def test_committed_schema_at_an_older_revision(repo: Path) -> None:
    commit_schema(repo, "type Query { a: String }\n", "api/schema.graphql")
    commit_schema(repo, "type Query { b: String }\n", "api/schema.graphql")
    assert committed_schema("HEAD~1", "api/schema.graphql", repo=repo) == (
        "type Query { a: String }\n"
    )


def test_committed_schema_is_none_before_the_file_was_committed(repo: Path) -> None:
    (repo / "README.md").write_text("first\n", encoding="utf-8")
    git(repo, "add", "README.md")
    commit(repo, "first")
    commit_schema(repo, "type Query { a: String }\n")
    assert committed_schema("HEAD~1", repo=repo) is None


@pytest.mark.parametrize(
    ("ref", "path", "message"),
    [
        ("no-such-branch", "schema.graphql", "git failed"),
        ("--output=x", "schema.graphql", "not a git revision"),
        ("HEAD", "../outside.graphql", "git failed"),
        ("HEAD", "api", "not a file"),
    ],
)
def test_committed_schema_refuses_what_it_cannot_read(
    repo: Path, ref: str, path: str, message: str
) -> None:
    commit_schema(repo, "type Query { a: String }\n", "api/schema.graphql")
    with pytest.raises(SchemaCheckError, match=message):
        committed_schema(ref, path, repo=repo)


def test_committed_schema_outside_a_repository(tmp_path: Path) -> None:
    with pytest.raises(SchemaCheckError, match="git failed"):
        committed_schema(repo=tmp_path)


def test_committed_schema_without_git(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SchemaCheckError, match="git is not installed"):
        committed_schema(repo=repo)


def check_schema(repo: Path, schema: Path | str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["check-schema", "--against", "HEAD", "--schema", str(schema), "--repo", str(repo)],
    )
    return result.exit_code, result.output


def test_check_schema_fails_when_the_code_removed_a_committed_field(repo: Path) -> None:
    sdl = schema_sdl()
    assert sdl.count("type Query {\n") == 1
    file = commit_schema(
        repo, sdl.replace("type Query {\n", "type Query {\n  extraField: String\n")
    )
    code, output = check_schema(repo, file)
    assert code == 1, output
    assert "Query.extraField" in output
    assert "FIELD_REMOVED" in output


def test_check_schema_passes_on_the_committed_schema(repo: Path) -> None:
    code, output = check_schema(repo, commit_schema(repo, schema_sdl()))
    assert code == 0, output
    assert "no breaking changes" in output


def test_check_schema_warns_without_failing(repo: Path) -> None:
    sdl = schema_sdl()
    assert "departments(first: Int = null" in sdl
    committed = sdl.replace("departments(first: Int = null", "departments(first: Int = 10", 1)
    code, output = check_schema(repo, commit_schema(repo, committed))
    assert code == 0, output
    assert "warning: Query.departments(first:) has changed defaultValue from 10 to null" in output
    assert "no breaking changes" in output


def test_check_schema_passes_when_the_file_is_not_committed_yet(repo: Path) -> None:
    commit_schema(repo, "# notes\n", "README.md")
    code, output = check_schema(repo, "schema.graphql")
    assert code == 0, output
    assert "does not exist at HEAD" in output


def test_check_schema_reports_an_unknown_revision(repo: Path) -> None:
    commit_schema(repo, schema_sdl())
    result = runner.invoke(app, ["check-schema", "--against", "nope", "--repo", str(repo)])
    assert result.exit_code == 2
    assert "nope" in result.output
