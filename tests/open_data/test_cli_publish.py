"""``jianguan publish`` on the embedded default: summary, dry run, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app
from tests.ckan_portal import Portal, ckan_portal  # noqa: F401  # the fixture

runner = CliRunner()


def test_publish_to_a_directory_then_nothing_changes(tmp_path: Path) -> None:
    env = {"JIANGUAN_VAR_DIR": str(tmp_path / "var")}
    for args in (["db", "upgrade"], ["seed", "--scale", "small"], ["demo-credentials"]):
        done = runner.invoke(app, args, env=env)
        assert done.exit_code == 0, done.output
    portal = tmp_path / "portal"
    dry = runner.invoke(app, ["publish", "--target", f"dir:{portal}", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "checked" in dry.output and not portal.exists()

    first = runner.invoke(app, ["publish", "--target", f"dir:{portal}"], env=env)
    assert first.exit_code == 0, first.output
    published = sorted(p.name for p in portal.iterdir())
    assert "complaint-statistics" in published and "matter-catalogue" in published
    manifest = json.loads((portal / "complaint-statistics" / "manifest.json").read_text())
    assert manifest["providers"] == ["P-12345"] and manifest["rows_out"] >= 0

    again = runner.invoke(app, ["publish", "--target", f"dir:{portal}"], env=env)
    assert again.exit_code == 0 and "published" not in again.output.split("outcome")[-1]

    unknown = runner.invoke(app, ["publish", "--dataset", "nope"], env=env)
    assert unknown.exit_code == 2 and "no such dataset" in unknown.output
    # None unsets: a developer's shell may name a portal (CKAN_URL) for the other tests.
    bare = {**env, "CKAN_URL": None, "CKAN_API_TOKEN": None}
    no_portal = runner.invoke(app, ["publish", "--target", "ckan"], env=bare)
    assert no_portal.exit_code == 2 and "CKAN_URL" in no_portal.output


def test_publish_to_ckan_then_nothing_changes(tmp_path: Path, ckan_portal: Portal) -> None:  # noqa: F811
    env = {
        "JIANGUAN_VAR_DIR": str(tmp_path / "var"),
        "CKAN_URL": ckan_portal.url,
        "CKAN_API_TOKEN": ckan_portal.token,
        "CKAN_DATASTORE_WRITE_URL": ckan_portal.copy_url(),
    }
    for args in (["db", "upgrade"], ["seed", "--scale", "small"], ["demo-credentials"]):
        done = runner.invoke(app, args, env=env)
        assert done.exit_code == 0, done.output
    names = ["matter-catalogue", "complaint-statistics"]
    chosen = [arg for name in names for arg in ("--dataset", name)]
    ckan_portal.purge(*names)  # what an earlier run may have left
    try:
        first = runner.invoke(app, ["publish", "--target", "ckan", *chosen], env=env)
        assert first.exit_code == 0, first.output
        assert first.output.count("published (+") >= 2  # progress lines and the summary
        with ckan_portal.client() as ckan:
            shown = ckan.action.package_show(id="complaint-statistics")
            assert not shown["private"] and shown["organization"]["name"] == "p-12345"
        again = runner.invoke(app, ["publish", "--target", "ckan", *chosen], env=env)
        assert again.exit_code == 0 and again.output.count("│ unchanged │") == 2, again.output
    finally:
        ckan_portal.purge(*names)
