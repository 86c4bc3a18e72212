"""Rules that look at several fields of one record: what a kind of act requires, date order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from standard.codes import Check

Problem = tuple[str | None, str]
Rule = Callable[[Mapping[str, Any], Mapping[str, Check]], list[Problem]]

ACTION_REQUIRES = {
    "inspection": ("inspection_item_code", "result"),
    "penalty": ("decision_no", "decision_date", "penalty_types", "legal_basis", "facts"),
    "coercive": ("decision_no", "measure_type", "measure_start", "legal_basis"),
    "other": (),
}
ID_CHECKS = {"uscc": "uscc", "id_card": "id_number"}

DATE_ORDER = {
    "matters": [("valid_from", "valid_to")],
    "inspection_items": [("valid_from", "valid_to")],
    "plans": [("start_date", "end_date")],
    "actions": [("measure_start", "measure_end"), ("decision_date", "closed_on")],
    "licence_publicity": [("valid_from", "valid_to"), ("decision_date", "valid_to")],
    "credit_lists": [("listed_on", "removed_on")],
    "licensing_items": [("valid_from", "valid_to")],
    "licences": [("decided_on", "valid_to")],
    "complaints": [("produced_at", "closed_at"), ("produced_at", "due_at")],
}


def _date_order(table: str) -> Rule:
    pairs = DATE_ORDER.get(table, [])

    def rule(values: Mapping[str, Any], checks: Mapping[str, Check]) -> list[Problem]:
        return [
            (last, f"is before {first} ({values[first]})")
            for first, last in pairs
            if values.get(first) is not None
            and values.get(last) is not None
            and values[last] < values[first]
        ]

    return rule


def _action(values: Mapping[str, Any], checks: Mapping[str, Check]) -> list[Problem]:
    problems: list[Problem] = [
        (name, f"is required for an act of kind {values['kind']!r}")
        for name in ACTION_REQUIRES[values["kind"]]
        if values.get(name) in (None, [])
    ]
    check_name = ID_CHECKS.get(values["counterparty_id_type"])
    if check_name is not None:
        code = values["counterparty_id"].upper()
        finding = checks[check_name](code)
        if finding is not None and not finding.warning:
            problems.append(("counterparty_id", finding.reason))
    return problems


def _identified(category: str, uscc: str, id_number: str) -> Rule:
    """Organisations are identified by USCC, natural persons by ID number."""

    def rule(values: Mapping[str, Any], checks: Mapping[str, Check]) -> list[Problem]:
        if values.get(category) == "natural_person":
            if not values.get(id_number):
                return [(id_number, "is required for a natural person")]
        elif not values.get(uscc):
            return [(uscc, f"is required for a {values.get(category)}")]
        return []

    return rule


EXTRA_RULES: Mapping[str, list[Rule]] = {
    "actions": [_action],
    "licence_publicity": [
        _identified("counterparty_category", "counterparty_uscc", "counterparty_id_number")
    ],
    "penalty_publicity": [
        _identified("counterparty_category", "counterparty_uscc", "counterparty_id_number")
    ],
    "licences": [_identified("applicant_category", "applicant_uscc", "applicant_id_number")],
}


def rules_for(table: str) -> list[Rule]:
    """Every cross-field rule of ``table``."""
    return [_date_order(table), *EXTRA_RULES.get(table, [])]
