"""Who sees which task, on both backends: the issuer and the recipients (from delivery on),
the city office every task, nobody else; the principals that are no task actors at all."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from policies.principal import PUBLIC, Principal
from standard.errors import Forbidden, InputError, Unauthenticated
from tasks import access
from tasks.errors import TaskNotFound
from tasks.lifecycle import Actor, State
from tasks.store import TaskStore
from tests.tasks.samples import (
    CITY_STAFF,
    ISSUER,
    ISSUER_STAFF,
    OTHER_RECIPIENT_STAFF,
    OUTSIDER,
    RECIPIENT_STAFF,
    RECIPIENTS,
)
from tests.tasks.test_store import issued

CITY_PARTY_STAFF = Actor(officer="user:city-clerk", party=CITY_STAFF.party)  # not an overseer


async def test_each_sees_what_the_rules_say(store: TaskStore) -> None:
    engine = store.engine
    sent = await issued(store)  # issued, not delivered
    to_one = await issued(store, recipients=(RECIPIENTS[0],))
    to_one = await store.deliver(to_one.id, by=ISSUER_STAFF, expected_version=1)
    by_outsider = await issued(store, by=OUTSIDER, recipients=(RECIPIENTS[1],))
    by_outsider = await store.deliver(by_outsider.id, by=OUTSIDER, expected_version=1)
    everything = {sent.id, to_one.id, by_outsider.id}
    # (actor, inbox, issued, the tasks it may open): written from the rules, not the code
    expected = {
        ISSUER_STAFF: (set(), {sent.id, to_one.id}, {sent.id, to_one.id}),
        RECIPIENT_STAFF: ({to_one.id}, set(), {to_one.id}),
        OTHER_RECIPIENT_STAFF: ({by_outsider.id}, set(), {by_outsider.id}),
        OUTSIDER: (set(), {by_outsider.id}, {by_outsider.id}),
        CITY_STAFF: (set(), set(), everything),
        CITY_PARTY_STAFF: (set(), set(), set()),
    }
    for actor, (inbox, mine, opened) in expected.items():
        got = await access.inbox(engine, actor, first=10)
        assert {s.id for s in got.items} == inbox, actor
        got = await access.issued(engine, actor, first=10)
        assert {s.id for s in got.items} == mine, actor
        seen = set()
        for task_id in everything:
            with contextlib.suppress(TaskNotFound):
                seen.add((await access.one(engine, actor, task_id)).id)
        assert seen == opened, actor
        for task_id in everything - opened:
            with pytest.raises(TaskNotFound):
                await access.receipts(engine, actor, task_id)
    # the city office may look at any issuer's list; a department only at its own
    got = await access.issued(engine, CITY_STAFF, first=10, issuer=OUTSIDER.party)
    assert [s.id for s in got.items] == [by_outsider.id]
    with pytest.raises(Forbidden):
        await access.issued(engine, RECIPIENT_STAFF, first=10, issuer=ISSUER)
    got = await access.inbox(engine, RECIPIENT_STAFF, first=10, states=(State.CLAIMED,))
    assert got.items == []


async def test_overdue_for_the_city_office_and_the_issuer(store: TaskStore) -> None:
    engine = store.engine
    mine = await issued(store)
    theirs = await issued(store, by=OUTSIDER, recipients=(RECIPIENTS[0],))
    later = mine.due_at + timedelta(seconds=1)
    got = await access.overdue_for(engine, CITY_STAFF, now=later, first=10)
    assert {s.id for s in got.items} == {mine.id, theirs.id}
    got = await access.overdue_for(engine, ISSUER_STAFF, now=later, first=10)
    assert [s.id for s in got.items] == [mine.id]
    got = await access.overdue_for(engine, RECIPIENT_STAFF, now=later, first=10)
    assert got.items == []
    got = await access.overdue_for(
        engine, CITY_STAFF, now=mine.due_at - timedelta(seconds=1), first=10
    )
    assert got.items == []


async def test_pages_follow_each_other(store: TaskStore) -> None:
    made = [(await issued(store)).id for _ in range(5)]
    seen: list[str] = []
    after = None
    while True:
        page = await access.issued(store.engine, ISSUER_STAFF, first=2, after=after)
        seen += [s.id for s in page.items]
        if not page.has_next:
            break
        after = page.items[-1].seq
    assert seen == made
    for first in (0, 101):
        with pytest.raises(InputError):
            await access.issued(store.engine, ISSUER_STAFF, first=first)


@pytest.mark.parametrize(
    ("principal", "error"),
    [
        (PUBLIC, Unauthenticated),
        (Principal("staff", "user:a", "XA-ZWB", "city_office", "auditor"), Forbidden),
        (Principal("client", "client:hotline", "P-12345", "partner"), Forbidden),
        (Principal("client", "client:ent", "ENT-1", "enterprise", uscc="x"), Forbidden),
    ],
)
def test_who_is_no_task_actor(principal: Principal, error: type[Exception]) -> None:
    with pytest.raises(error):
        access.actor_of(principal)


def test_staff_and_overseers_are_task_actors() -> None:
    staff = Principal("staff", "user:a", "XA-SCJG", "department", "staff")
    assert access.actor_of(staff) == Actor("user:a", "XA-SCJG", city_office=False)
    overseer = Principal("staff", "user:c", "XA-ZWB", "city_office", "city_office")
    assert access.actor_of(overseer) == Actor("user:c", "XA-ZWB", city_office=True)
