"""The store moves a task exactly as the life cycle does, for any sequence of actions by any
actor with a current or a stale version, on both backends: the same next task, or the same
refusal, and a refusal writes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from standard.errors import JianguanError
from tasks.lifecycle import Action, Actor, Task, move
from tasks.rows import Stored
from tasks.store import TaskStore
from tests.tasks.samples import (
    CITY_STAFF,
    ISSUER_STAFF,
    OTHER_RECIPIENT_STAFF,
    OUTSIDER,
    RECIPIENT_STAFF,
)
from tests.tasks.test_store import counts, issued

ACTORS = (ISSUER_STAFF, RECIPIENT_STAFF, OTHER_RECIPIENT_STAFF, CITY_STAFF, OUTSIDER)
DETAILS: dict[Action, dict[str, Any]] = {
    Action.RETURN: {"reason": "非本辖区"},
    Action.ESCALATE: {"reason": "跨部门"},
    Action.REASSIGN: {"assignees": ("user:yanta-2",), "reason": "人员调整"},
    Action.FINISH: {"result": "未发现问题"},
}
STEPS = st.lists(
    st.tuples(st.sampled_from(list(Action)), st.sampled_from(ACTORS), st.booleans()), max_size=12
)


async def through_store(
    store: TaskStore, task: Task, action: Action, by: Actor, version: int
) -> Stored:
    details = DETAILS.get(action, {})
    verbs = {
        Action.DELIVER: store.deliver,
        Action.CLAIM: store.claim,
        Action.START: store.start,
        Action.FINISH: store.finish,
        Action.RETURN: store.return_,
        Action.REASSIGN: store.reassign,
        Action.ESCALATE: store.escalate,
        Action.REISSUE: store.reissue,
    }
    verb: Any = verbs[action]
    stored: Stored = await verb(task.id, by=by, expected_version=version, **details)
    return stored


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
async def test_the_store_moves_as_the_life_cycle_says(
    store: TaskStore, engine: AsyncEngine, steps: list[tuple[Action, Actor, bool]]
) -> None:
    model = (await issued(store)).task
    for action, actor, stale in steps:
        version = model.version - 1 if stale else model.version
        expected: Task | type[JianguanError]
        try:
            expected = move(
                model, action, by=actor, expected_version=version, **DETAILS.get(action, {})
            )
        except JianguanError as refused:
            expected = type(refused)
        before = await counts(engine)
        try:
            got: Task | type[JianguanError] = (
                await through_store(store, model, action, actor, version)
            ).task
        except JianguanError as refused:
            got = type(refused)
        assert got == expected, (action, actor, stale)
        if isinstance(got, Task):
            model = got
        else:
            assert await counts(engine) == before  # a refusal leaves no trace
