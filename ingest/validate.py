"""Turn one raw record into the values to store, or into the problems that reject it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ingest.fields import Checker, FieldProblem, FieldSpec, checker, field_specs
from ingest.rules import Problem, rules_for
from standard.codes import Check
from standard.exchange import OPERATIONS, ExchangeRecord

CONTROL = ("cd_id", "cd_operation", "cd_batch", "cd_source", "cd_time")
SET_BY_CENTRE = {
    "received_at": "is set by the data centre when it receives the record",
    "late": "is computed by the data centre",
    "delay_working_days": "is computed by the data centre",
    "delay_provisional": "is computed by the data centre",
    "content_hash": "is computed by the data centre",
    "id": "is assigned by the data centre",
    "source_system": "is set from the pushing system's credentials",
}
# Filled in by the ingest run when a record leaves them out.
DEFAULTED = frozenset({"cd_batch", "cd_source", "cd_time", "cd_operation"})
FUTURE_TOLERANCE = timedelta(minutes=10)


@dataclass(slots=True)
class Checked:
    """The outcome of validating one record."""

    cd_id: str | None
    operation: str
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


class RecordValidator:
    """Validates records of one table pushed by one provider, received at one instant."""

    def __init__(
        self,
        table: type[ExchangeRecord],
        *,
        provider: str,
        checks: Mapping[str, Check],
        received_at: datetime,
    ) -> None:
        self.table_name: str = table.__tablename__  # type: ignore[attr-defined]
        self.specs: list[FieldSpec] = field_specs(table)
        self.known = frozenset(spec.name for spec in self.specs)
        # (name, parse, checker, required) per field, prepared once for the hot loop
        self.plan = [self._plan(spec, checks) for spec in self.specs]
        self.control_plan = [p for p in self.plan if p[0] in CONTROL]
        self.provider = provider
        self.checks = checks
        self.received_at = received_at
        self.rules = rules_for(self.table_name)

    def validate(self, raw: Mapping[str, Any]) -> Checked:
        """Parse, normalise and check every field, then the cross-field rules."""
        cd_id = raw.get("cd_id")
        result = Checked(
            cd_id=cd_id.strip() if isinstance(cd_id, str) and cd_id.strip() else None,
            operation=str(raw.get("cd_operation") or "i").strip(),
        )
        if result.operation not in OPERATIONS:
            result.problems.append(("cd_operation", f"{result.operation!r} is not i, u or d"))
            return result
        self._reject_foreign(raw, result)
        self._fields(raw, self.control_plan if result.operation == "d" else self.plan, result)
        if result.problems or result.operation == "d":
            return result
        produced = result.values["produced_at"]
        if produced > self.received_at + FUTURE_TOLERANCE:
            result.problems.append(("produced_at", f"{produced.isoformat()} is in the future"))
        for rule in self.rules:
            result.problems.extend(rule(result.values, self.checks))
        return result

    def _reject_foreign(self, raw: Mapping[str, Any], result: Checked) -> None:
        foreign = raw.keys() - self.known  # one set operation for the usual, clean record
        for name in sorted(foreign):
            if name == "provider":
                if raw[name] != self.provider:
                    result.problems.append(
                        (name, f"is {raw[name]!r} but the records are pushed by {self.provider!r}")
                    )
            elif name in SET_BY_CENTRE:
                result.problems.append((name, SET_BY_CENTRE[name]))
            else:
                result.problems.append((name, f"is not a field of {self.table_name}"))

    @staticmethod
    def _plan(
        spec: FieldSpec, checks: Mapping[str, Check]
    ) -> tuple[str, Callable[[Any], Any], Checker | None, bool]:
        required = spec.required and spec.name not in DEFAULTED
        return spec.name, spec.parse, checker(spec, checks), required

    @staticmethod
    def _fields(
        raw: Mapping[str, Any],
        plan: list[tuple[str, Callable[[Any], Any], Checker | None, bool]],
        result: Checked,
    ) -> None:
        values, problems = result.values, result.problems
        for name, parse, check, required in plan:
            value = raw.get(name)
            if value is not None:
                try:
                    value = parse(value)
                    if check is not None and value:
                        value, warning = check(value)
                        if warning is not None:
                            result.warnings.append((name, warning))
                except FieldProblem as problem:
                    problems.append((name, str(problem)))
                    continue
            if value is None or value == []:
                if required:
                    problems.append((name, "is required"))
                    continue
                value = None
            values[name] = value
