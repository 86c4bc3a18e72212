"""``jianguan demo-credentials`` gives the machine clients an id and a secret, and the
client-credentials flow of docs/partners.md works with them, over real HTTP, as written there."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.servers import ROOT, jianguan, serve

PARTNERS_DOC = ROOT / "docs" / "partners.md"


def _fetch_token_from_the_docs(gateway: str) -> Any:
    """The ``fetch_token`` function of docs/partners.md, pointed at ``gateway``."""
    blocks = re.findall(r"```python\n(.*?)```", PARTNERS_DOC.read_text(encoding="utf-8"), re.S)
    (code,) = [b for b in blocks if "async def fetch_token" in b]
    code = code.replace('GATEWAY = "https://gateway.example.gov.cn"', f"GATEWAY = {gateway!r}")
    namespace: dict[str, Any] = {}
    exec(compile(code, str(PARTNERS_DOC), "exec"), namespace)  # noqa: S102  # our own docs
    return namespace["fetch_token"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    tmp = tmp_path_factory.mktemp("demo-credentials")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JIANGUAN_")},
        "JIANGUAN_VAR_DIR": str(tmp / "var"),
    }
    for step in (("db", "upgrade"), ("seed", "--scale", "small")):
        done = jianguan(*step, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    yield env, tmp / "var" / "demo-credentials.json"


def _credentials(env: dict[str, str], output: Path) -> dict[str, dict[str, Any]]:
    done = jianguan("demo-credentials", "--output", str(output), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/oauth/token" in done.stdout and "client_secret" in done.stdout
    return {c["name"]: c for c in orjson.loads(output.read_bytes())}


def _me(gateway: str, token: str) -> dict[str, Any]:
    response = httpx.post(
        f"{gateway}/graphql",
        json={"query": "{ me { id kind party } }"},
        headers={"authorization": f"Bearer {token}"},
    )
    me: dict[str, Any] = response.json()["data"]["me"]
    return me


def test_the_partners_doc_flow_works_with_the_demo_clients(
    demo: tuple[dict[str, str], Path],
) -> None:
    env, output = demo
    made = _credentials(env, output)
    assert output.stat().st_mode & 0o077 == 0  # secrets: the owner's eyes only
    expected = {"p-12345": ("partner", "P-12345"), "enterprise-demo": ("enterprise", "ENT-DEMO")}
    assert {n for n, c in made.items() if c.get("client_secret")} == set(expected)
    assert all(c.get("client_secret") is None for n, c in made.items() if n not in expected)
    again = _credentials(env, output)  # a second run: new secrets, the old ones stop
    with serve(env) as gateway:
        fetch_token = _fetch_token_from_the_docs(gateway)
        for name, (kind, party) in expected.items():
            token = asyncio.run(fetch_token(name, again[name]["client_secret"]))
            assert _me(gateway, token) == {"id": f"client:{name}", "kind": "client", "party": party}
            with pytest.raises(httpx.HTTPStatusError) as refused:
                asyncio.run(fetch_token(name, made[name]["client_secret"]))
            assert refused.value.response.status_code == 401
            assert again[name]["kind"] == kind


def _graphql(gateway: str, token: str, query: str) -> Any:
    response = httpx.post(
        f"{gateway}/graphql", json={"query": query}, headers={"authorization": f"Bearer {token}"}
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_the_demo_shows_tasks_in_every_state_and_one_overdue(
    demo: tuple[dict[str, str], Path],
) -> None:
    env, output = demo
    made = _credentials(env, output)
    _credentials(env, output)  # a second run adds no second set of tasks
    office = made["city.office"]["token"]
    page = "first: 100) { edges { node { id state overdue issuer recipients } } }"
    with serve(env) as gateway:
        issued = _graphql(gateway, office, f'{{ tasksIssued(issuer: "XA-SCJG", {page} }}')
        overdue = _graphql(gateway, office, f"{{ tasksOverdue({page} }}")
        inbox = _graphql(gateway, made["yt.scjg.staff"]["token"], f"{{ taskInbox({page} }}")
    tasks = [e["node"] for e in issued["tasksIssued"]["edges"]]
    # The life cycle of issue 14 §2: issued → delivered → claimed → in progress → done, or
    # returned, reassigned, escalated; overdue is not a state but a passed deadline.
    states = {"ISSUED", "DELIVERED", "CLAIMED", "IN_PROGRESS", "DONE", "RETURNED", "REASSIGNED"}
    assert {t["state"] for t in tasks} == states | {"ESCALATED"}
    late = [e["node"] for e in overdue["tasksOverdue"]["edges"]]
    assert len(late) == 1 and late[0]["overdue"] and late[0]["state"] == "CLAIMED"
    assert len(tasks) == 9  # once, though demo-credentials ran twice
    mine = [e["node"] for e in inbox["taskInbox"]["edges"]]
    # A recipient's inbox holds what reached it (delivered on), never an undelivered task.
    assert mine and all("YT-SCJG" in t["recipients"] for t in mine)
    assert "ISSUED" not in {t["state"] for t in mine}


def test_the_demo_holds_a_drawn_joint_inspection_anyone_can_check(
    demo: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, output = demo
    made = _credentials(env, output)
    query = (
        "{ inspectionPlans(first: 5) { edges { node { code joint departments "
        "draws { number subjectCount } } } } }"
    )
    page = "first: 100) { edges { node { title subjects assignees issuer state } } }"
    published = "{ publishedInspectionResults(first: 20) { edges { node { planCode result } } } }"
    with serve(env) as gateway:
        plans = _graphql(gateway, made["city.office"]["token"], query)
        inbox = _graphql(gateway, made["xa.scjg.staff"]["token"], f"{{ taskInbox({page} }}")
        public = httpx.post(f"{gateway}/graphql", json={"query": published}).json()
    (plan,) = [e["node"] for e in plans["inspectionPlans"]["edges"]]
    assert plan["joint"] and plan["departments"] == ["XA-SCJG", "XA-STHJ"]
    (draw,) = plan["draws"]
    assert draw["number"] == 1 and draw["subjectCount"] > 0
    drawn = [t for t in inbox["taskInbox"]["edges"] if t["node"]["title"].startswith("双随机抽查")]
    assert drawn and all(len(t["node"]["assignees"]) >= 2 for t in drawn)
    # A few were inspected: their tasks finished, their results public (一公开), unsigned-in.
    states = [t["node"]["state"] for t in drawn]
    assert set(states) == {"DELIVERED", "DONE"}
    results = [e["node"] for e in public["data"]["publishedInspectionResults"]["edges"]]
    assert len(results) == states.count("DONE") and {r["planCode"] for r in results} == {
        plan["code"]
    }
    # 一公开: anyone with the exported snapshots and the revealed seed recomputes the draw.
    folder = tmp_path / "export"
    exported = jianguan("inspections", "export", plan["code"], "--to", str(folder), env=env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    checked = jianguan("inspections", "verify-draw", str(folder), env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"reproduced draw 1: {draw['subjectCount']} subjects" in checked.stdout
