"""After a mutation, a delivery round at once: the events it wrote into the outbox (a task's
move, a draw, a replay) reach partners without waiting for the next periodic round (5 s).

One deferral per mutation, whatever it wrote: with a round already waiting, procrastinate's
queueing lock refuses it in one INSERT, cheaper than finding out whether events were written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType


class DeliverAfterMutations(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        execution = self.execution_context
        if execution.operation_type != OperationType.MUTATION:
            return
        services = getattr(execution.context, "services", None)
        if services is not None:  # None: in-process tests without the gateway database
            await services.jobs.deliver_soon()
