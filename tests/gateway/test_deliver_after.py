"""A mutation asks for a delivery round once it has run; a query does not."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import strawberry

from gateway.deliver_after import DeliverAfterMutations


@dataclass
class Queue:
    asked: int = 0

    async def deliver_soon(self) -> bool:
        self.asked += 1
        return True


@strawberry.type
class Query:
    @strawberry.field
    def ping(self) -> str:
        return "pong"


@strawberry.type
class Mutation:
    @strawberry.mutation
    def change(self) -> bool:
        return True


SCHEMA = strawberry.Schema(query=Query, mutation=Mutation, extensions=[DeliverAfterMutations])


async def test_a_mutation_asks_for_a_delivery_round_and_a_query_does_not() -> None:
    queue = Queue()
    context = SimpleNamespace(services=SimpleNamespace(jobs=queue))
    for document in ("{ ping }", "query { ping }", "mutation { change }", "{ ping }"):
        result = await SCHEMA.execute(document, context_value=context)
        assert result.errors is None
    assert queue.asked == 1


async def test_without_the_gateway_database_nothing_is_asked() -> None:
    result = await SCHEMA.execute("mutation { change }", context_value=SimpleNamespace())
    assert result.errors is None
