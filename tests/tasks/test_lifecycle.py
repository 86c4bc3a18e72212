"""The task life cycle: every allowed move, every refused one, who may act, stale versions."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.errors import (
    ActorRefused,
    ConcurrentChange,
    DetailRequired,
    InvalidTask,
    TransitionRefused,
)
from tasks.lifecycle import MOVES, Action, Actor, Attachment, State, Task, allowed, move
from tests.tasks.samples import (
    CITY_STAFF,
    ISSUER_STAFF,
    OTHER_RECIPIENT_STAFF,
    OUTSIDER,
    RECIPIENT_STAFF,
    RECIPIENTS,
    task,
)

# The reference, written from issue 14 §2 and docs/tasks.md, not from MOVES: (state, action) →
# (next state, who may act). issued → delivered → claimed (by the recipient's staff) → in
# progress → done; or returned with a reason, reassigned, escalated; a returned task is issued
# again by its issuer; the city office oversees all and decides on escalated tasks; done is final.
ISSUER, RECIPIENT, CITY = "issuer", "recipient", "city_office"
REFERENCE: dict[tuple[str, str], tuple[str, set[str]]] = {
    ("issued", "deliver"): ("delivered", {ISSUER, CITY}),
    ("delivered", "claim"): ("claimed", {RECIPIENT}),
    ("delivered", "return"): ("returned", {RECIPIENT}),
    ("delivered", "escalate"): ("escalated", {RECIPIENT, ISSUER}),
    ("claimed", "start"): ("in_progress", {RECIPIENT}),
    ("claimed", "return"): ("returned", {RECIPIENT}),
    ("claimed", "reassign"): ("reassigned", {RECIPIENT, CITY}),
    ("claimed", "escalate"): ("escalated", {RECIPIENT, ISSUER}),
    ("in_progress", "finish"): ("done", {RECIPIENT}),
    ("in_progress", "return"): ("returned", {RECIPIENT}),
    ("in_progress", "reassign"): ("reassigned", {RECIPIENT, CITY}),
    ("in_progress", "escalate"): ("escalated", {RECIPIENT, ISSUER}),
    ("reassigned", "claim"): ("claimed", {RECIPIENT}),
    ("reassigned", "return"): ("returned", {RECIPIENT}),
    ("reassigned", "escalate"): ("escalated", {RECIPIENT, ISSUER}),
    ("escalated", "reassign"): ("reassigned", {CITY}),
    ("escalated", "return"): ("returned", {CITY}),
    ("returned", "reissue"): ("issued", {ISSUER, CITY}),
}
STATES = [
    "issued",
    "delivered",
    "claimed",
    "in_progress",
    "done",
    "returned",
    "reassigned",
    "escalated",
]
ACTIONS = ["deliver", "claim", "start", "finish", "return", "reassign", "escalate", "reissue"]
# What a task asks: no move changes these (a reassignment by the city office changes recipients).
ASKS = "id title issuer subjects matters legal_basis issued_at deadline_working_days attachments"


def asks(t: Task) -> tuple[object, ...]:
    return tuple(getattr(t, name) for name in ASKS.split())


ACTORS = {
    ISSUER: ISSUER_STAFF,
    RECIPIENT: RECIPIENT_STAFF,
    CITY: CITY_STAFF,
}
# What each action needs besides the actor (a reason, officers, a result).
DETAILS: dict[str, dict[str, object]] = {
    "return": {"reason": "不属于本部门职责"},
    "escalate": {"reason": "涉及多个部门，需市级协调"},
    "reassign": {"assignees": ("user:yanta-2",)},
    "finish": {"result": "检查 2 户，责令整改 1 户", "acts": ("ACT-1",)},
}


def in_state(state: str, version: int = 3) -> Task:
    return task(state=State(state), version=version)


def act(t: Task, action: str, by: Actor, **extra: object) -> Task:
    details = {**DETAILS.get(action, {}), **extra}
    return move(t, Action(action), by=by, expected_version=t.version, **details)  # type: ignore[arg-type]


def test_the_enums_are_the_issues_words() -> None:
    assert [s.value for s in State] == STATES
    assert sorted(a.value for a in Action) == sorted(ACTIONS)


def test_the_whole_life_cycle() -> None:
    t = task()
    assert (t.state, t.version, t.assignees) == (State.ISSUED, 1, ())
    t = act(t, "deliver", ISSUER_STAFF)
    assert (t.state, t.version) == (State.DELIVERED, 2)
    t = act(t, "claim", RECIPIENT_STAFF)
    assert (t.state, t.version, t.assignees) == (State.CLAIMED, 3, ("user:yanta-1",))
    t = act(t, "start", RECIPIENT_STAFF)
    assert (t.state, t.version) == (State.IN_PROGRESS, 4)
    t = act(t, "finish", RECIPIENT_STAFF)
    assert (t.state, t.version, t.done) == (State.DONE, 5, True)
    assert (t.result, t.acts) == ("检查 2 户，责令整改 1 户", ("ACT-1",))
    assert allowed(t.state) == ()
    # What the task asks never changed on the way.
    assert asks(t) == asks(task()) and t.recipients == task().recipients


def test_returned_with_a_reason_and_issued_again() -> None:
    t = act(task(), "deliver", CITY_STAFF)
    t = act(t, "return", OTHER_RECIPIENT_STAFF)
    assert (t.state, t.reason) == (State.RETURNED, "不属于本部门职责")
    t = act(t, "reissue", ISSUER_STAFF)
    assert (t.state, t.version, t.reason, t.assignees) == (State.ISSUED, 4, None, ())
    assert act(t, "deliver", ISSUER_STAFF).state is State.DELIVERED


def test_reassigned_then_claimed_by_the_new_officer() -> None:
    t = act(act(task(), "deliver", ISSUER_STAFF), "claim", RECIPIENT_STAFF)
    t = act(t, "start", RECIPIENT_STAFF)
    t = act(t, "reassign", RECIPIENT_STAFF)
    assert (t.state, t.assignees) == (State.REASSIGNED, ("user:yanta-2",))
    new_officer = Actor(officer="user:yanta-2", party=RECIPIENTS[0])
    t = act(t, "claim", new_officer)
    assert (t.state, t.assignees) == (State.CLAIMED, ("user:yanta-2",))


def test_escalated_and_sent_to_another_department_by_the_city_office() -> None:
    t = act(act(task(), "deliver", ISSUER_STAFF), "escalate", RECIPIENT_STAFF)
    assert (t.state, t.reason) == (State.ESCALATED, "涉及多个部门，需市级协调")
    with pytest.raises(ActorRefused):  # only the city office decides on an escalated task
        act(t, "reassign", RECIPIENT_STAFF)
    t = act(t, "reassign", CITY_STAFF, assignees=None, recipients=("XA-WSJKW",))
    assert (t.state, t.recipients, t.assignees) == (State.REASSIGNED, ("XA-WSJKW",), ())
    with pytest.raises(ActorRefused):  # Yanta's bureau is no longer a recipient
        act(t, "claim", RECIPIENT_STAFF)
    t = act(t, "claim", Actor(officer="user:wsjkw-1", party="XA-WSJKW"))
    assert t.state is State.CLAIMED


def test_only_the_city_office_moves_a_task_to_other_departments() -> None:
    t = in_state("claimed")
    with pytest.raises(ActorRefused, match="city_office"):
        act(t, "reassign", RECIPIENT_STAFF, recipients=("XA-WSJKW",))


# -- refused transitions: all 64 pairs against the reference, then Hypothesis over actors -----


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_each_state_and_action_against_the_reference(state: str, action: str) -> None:
    t = in_state(state)
    expected_allowed = {a for (s, a) in REFERENCE if s == state}
    assert {a.value for a in allowed(State(state))} == expected_allowed
    if (state, action) in REFERENCE:
        to, roles = REFERENCE[(state, action)]
        for role in roles:
            moved = act(t, action, ACTORS[role])
            assert (moved.state.value, moved.version) == (to, t.version + 1)
        return
    for by in (ISSUER_STAFF, RECIPIENT_STAFF, CITY_STAFF, OUTSIDER):
        with pytest.raises(TransitionRefused) as refused:
            act(t, action, by)
        error = refused.value
        assert (error.task_id, error.state, error.action) == (t.id, state, action)
        assert set(error.allowed) == expected_allowed
        message = str(error)
        assert f"task {t.id} is {state}: {action} is not allowed" in message
        assert State(state).zh in message and Action(action).zh in message  # Chinese first
        assert message.index(State(state).zh) < message.index(f"is {state}")
        for name in expected_allowed:
            assert name in message and Action(name).zh in message


def test_the_table_in_the_code_is_the_reference() -> None:
    table = {
        (s.value, a.value): (m.to.value, {r.value for r in m.by})
        for s, moves in MOVES.items()
        for a, m in moves.items()
    }
    assert table == REFERENCE


ROLE_SETS = {
    "issuer": ISSUER_STAFF,
    "recipient": RECIPIENT_STAFF,
    "other recipient": OTHER_RECIPIENT_STAFF,
    "city office": CITY_STAFF,
    "outsider": OUTSIDER,
    # A department that both issued the task and receives it holds both roles.
    "issuer and recipient": Actor(officer="user:both", party="XA-SCJGJ"),
}
ROLES_OF = {
    "issuer": {ISSUER},
    "recipient": {RECIPIENT},
    "other recipient": {RECIPIENT},
    "city office": {CITY},
    "outsider": set(),
    "issuer and recipient": {ISSUER, RECIPIENT},
}


@given(
    state=st.sampled_from(STATES),
    action=st.sampled_from(ACTIONS),
    who=st.sampled_from(sorted(ROLE_SETS)),
    version=st.integers(1, 10_000),
)
def test_who_may_take_each_move(state: str, action: str, who: str, version: int) -> None:
    recipients = (*RECIPIENTS, "XA-SCJGJ") if who == "issuer and recipient" else RECIPIENTS
    t = task(state=State(state), version=version, recipients=recipients)
    by = ROLE_SETS[who]
    if (state, action) not in REFERENCE:
        with pytest.raises(TransitionRefused):
            act(t, action, by)
        return
    to, roles = REFERENCE[(state, action)]
    if roles & ROLES_OF[who]:
        moved = act(t, action, by)
        assert (moved.state.value, moved.version) == (to, version + 1)
        assert asks(moved) == asks(t)
    else:
        with pytest.raises(ActorRefused) as refused:
            act(t, action, by)
        assert set(refused.value.roles) == roles
        assert by.officer in str(refused.value)


# -- optimistic concurrency ------------------------------------------------------------------


def test_of_two_claims_on_the_same_version_one_wins() -> None:
    delivered = act(task(), "deliver", ISSUER_STAFF)
    seen = delivered.version
    first = move(delivered, Action.CLAIM, by=RECIPIENT_STAFF, expected_version=seen)
    assert first.version == seen + 1
    # The second claimant saw the same version; the store hands it the task as it now is.
    with pytest.raises(ConcurrentChange) as stale:
        move(first, Action.CLAIM, by=OTHER_RECIPIENT_STAFF, expected_version=seen)
    assert (stale.value.expected, stale.value.current) == (seen, seen + 1)
    assert "version 2" in str(stale.value) and "第 2 版" in str(stale.value)


@given(
    state=st.sampled_from(STATES),
    action=st.sampled_from(ACTIONS),
    delta=st.integers(-5, 5).filter(bool),
)
def test_a_stale_version_is_refused_before_anything_else(
    state: str, action: str, delta: int
) -> None:
    t = in_state(state, version=10)
    with pytest.raises(ConcurrentChange):
        move(t, Action(action), by=OUTSIDER, expected_version=10 + delta)


# -- what an action needs, and what a task must hold ----------------------------------------


@pytest.mark.parametrize(
    ("state", "action", "by", "extra", "needs"),
    [
        ("delivered", "return", RECIPIENT_STAFF, {"reason": None}, "a reason"),
        ("claimed", "return", RECIPIENT_STAFF, {"reason": "   "}, "a reason"),
        ("in_progress", "escalate", ISSUER_STAFF, {"reason": ""}, "a reason"),
        ("in_progress", "finish", RECIPIENT_STAFF, {"result": None}, "a result"),
        ("claimed", "reassign", RECIPIENT_STAFF, {"assignees": ()}, "officers or departments"),
    ],
)
def test_an_action_without_what_it_needs_is_refused(
    state: str, action: str, by: Actor, extra: dict[str, object], needs: str
) -> None:
    with pytest.raises(DetailRequired, match=needs) as refused:
        act(in_state(state), action, by, **extra)
    assert refused.value.action == action


def test_a_reassignment_to_a_department_twice_is_refused() -> None:
    with pytest.raises(InvalidTask, match="recipients"):
        act(in_state("escalated"), "reassign", CITY_STAFF, recipients=("XA-A", "XA-A"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"issued_at": datetime(2026, 2, 12, 10, 0)}, "issued_at"),  # naive on purpose
        ({"subjects": ("916101004JURQ28309",)}, "subjects"),  # wrong check character
        ({"matters": ("1706690743915",)}, "matters"),  # 13 digits
        ({"recipients": ()}, "recipients"),
        ({"recipients": ("XA-A", "XA-A")}, "recipients"),
        ({"deadline_working_days": 0}, "deadline_working_days"),
        ({"deadline_working_days": 251}, "deadline_working_days"),
        ({"legal_basis": " "}, "legal_basis"),
        ({"version": 0}, "version"),
    ],
)
def test_an_invalid_task_is_refused_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidTask) as refused:
        task(**changes)
    assert refused.value.field == field
    assert f"task field {field}" in str(refused.value)


@pytest.mark.parametrize(
    ("name", "size", "sm3"),
    [("", 1, "ab" * 32), ("a.pdf", -1, "ab" * 32), ("a.pdf", 1, "AB" * 32), ("a.pdf", 1, "ab")],
)
def test_an_attachment_needs_a_name_a_size_and_an_sm3_hash(name: str, size: int, sm3: str) -> None:
    with pytest.raises(InvalidTask, match="attachments"):
        Attachment(name, size, sm3)
