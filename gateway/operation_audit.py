"""Every GraphQL operation of an identified caller goes into the audit log (R12): who, what
operation, which resources and providers' records, how many rows, a hash of the variables and
the outcome. The entry is committed before the answer leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from audit.log import AuditEvent, variables_hash
from gateway.observability import request_id


class AuditOperations(SchemaExtension):
    """Appends one audit entry per operation that wrote, or read data that is not public
    (R12 concerns non-public data). Callers without credentials read only public data, so
    their operations are never recorded; nor are signed-in reads of public data alone."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        execution = self.execution_context
        context = execution.context
        audit = getattr(context, "audit", None)
        principal = getattr(context, "principal", None)
        if audit is None or principal is None or principal.kind == "public":
            return
        reads = context.sources.reads
        operation = execution.operation_type
        writing = operation == OperationType.MUTATION
        if not writing and set(reads) <= await context.services.policies.public_tables():
            return
        result = execution.result
        errors = bool(result is not None and result.errors)
        data = result is not None and result.data is not None
        outcome = "ok" if not errors else "partial" if data else "error"
        rid = request_id.get()
        await audit.append(
            AuditEvent(
                actor=principal.id,
                event="write" if writing else "read",
                outcome=outcome,
                party_code=principal.party,
                operation=(execution.operation_name or None) and execution.operation_name[:200],
                resources=tuple(sorted(reads)),
                providers=tuple(
                    sorted({str(p) for read in reads.values() for p in read.providers if p})
                ),
                rows=sum(read.rows for read in reads.values()),
                variables_hash=variables_hash(execution.variables),
                request_id=None if rid == "-" else rid,
            )
        )
