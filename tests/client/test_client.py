"""The typed partner client: generated from the committed schema, driving a real gateway."""

from __future__ import annotations

import subprocess
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from jianguan_client import (
    GraphQLClientGraphQLMultiError,
    GraphQLClientHttpError,
    JianguanClient,
    SubjectDossier,
)

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"
UNKNOWN_USCC = "91610000000000000X"


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.mark.slow  # the first run builds .venv-codegen (~10-30 s)
def test_generated_client_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "client"
    done = subprocess.run(
        [str(ROOT / "scripts" / "generate-client"), "--out", str(fresh)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"scripts/generate-client failed:\n{done.stderr}"
    for name in ("jianguan_client", "persisted"):
        committed, generated = _files(CLIENT / name), _files(fresh / name)
        stale = sorted(
            path
            for path in committed.keys() | generated.keys()
            if committed.get(path) != generated.get(path)
        )
        assert not stale, (
            f"client/{name} is out of date with schema.graphql or client/operations "
            f"({', '.join(stale)}): run scripts/generate-client and commit the result"
        )


async def _first_subject_with_records(client: JianguanClient) -> SubjectDossier:
    page = await client.subjects(first=20)
    assert page.subjects is not None
    for edge in page.subjects.edges:
        dossier = await client.subject_dossier(edge.node.uscc)
        subject = dossier.subject
        assert subject is not None and subject.uscc == edge.node.uscc
        if subject.credit_ratings and subject.licences and subject.complaints and subject.actions:
            return dossier
    pytest.fail("no subject on the first page has ratings, licences, complaints and acts")


async def test_pages_through_subjects_with_cursors(client: JianguanClient) -> None:
    seen: list[str] = []
    after: str | None = None
    for _ in range(3):
        result = await client.subjects(first=10, after=after)
        page = result.subjects
        assert page is not None and len(page.edges) == 10
        assert page.total_count is not None and page.total_count > 30
        assert page.page_info.has_next_page
        assert page.page_info.end_cursor == page.edges[-1].cursor
        seen += [edge.node.id for edge in page.edges]
        after = page.page_info.end_cursor
    assert len(seen) == len(set(seen)) == 30

    division = (await client.subjects(first=1)).subjects
    assert division is not None
    code = division.edges[0].node.division_code
    filtered = (await client.subjects(first=20, division_code=code)).subjects
    assert filtered is not None and filtered.edges
    assert {edge.node.division_code for edge in filtered.edges} == {code}


async def test_dossier_is_typed(client: JianguanClient) -> None:
    subject = (await _first_subject_with_records(client)).subject
    assert subject is not None
    assert subject.registered_on is None or type(subject.registered_on) is date
    assert subject.credit_ratings and subject.licences and subject.actions
    for rating in subject.credit_ratings:
        assert type(rating.rated_on) is date and rating.subject_uscc == subject.uscc
        assert rating.score is None or isinstance(rating.score, Decimal)
    assert any(rating.score is not None for rating in subject.credit_ratings)
    assert all(type(licence.decided_on) is date for licence in subject.licences)
    for action in subject.actions:
        assert isinstance(action.produced_at, datetime) and action.produced_at.tzinfo is not None
        assert action.fine_amount is None or isinstance(action.fine_amount, Decimal)
        assert action.matter is not None and action.matter.matter_code
        assert action.officers is not None
    assert any(action.officers for action in subject.actions)


async def test_complaints_by_subject_page_and_are_masked(client: JianguanClient) -> None:
    subject = (await _first_subject_with_records(client)).subject
    assert subject is not None and subject.complaints
    tickets: list[str] = []
    after: str | None = None
    while True:
        page = (await client.complaints_by_subject(subject.uscc, first=2, after=after)).complaints
        assert page is not None
        tickets += [edge.node.ticket_no for edge in page.edges]
        for edge in page.edges:
            complaint = edge.node
            assert complaint.subject_uscc == subject.uscc
            assert complaint.complainant_phone is None or "****" in complaint.complainant_phone
            assert complaint.complainant_name is None or "*" in complaint.complainant_name
        if not page.page_info.has_next_page:
            break
        after = page.page_info.end_cursor
    assert page.total_count == len(tickets) == len(set(tickets))
    assert sorted(tickets) == sorted(c.ticket_no for c in subject.complaints)
    assert any(c.complainant_phone for c in subject.complaints)


async def test_credit_records_agree_with_the_dossier(client: JianguanClient) -> None:
    subject = (await _first_subject_with_records(client)).subject
    assert subject is not None and subject.credit_ratings is not None
    records = await client.credit_records(subject.uscc)
    assert records.credit_ratings is not None
    ratings = [edge.node for edge in records.credit_ratings.edges]
    assert records.credit_ratings.total_count == len(ratings)
    assert {r.id for r in ratings} == {r.id for r in subject.credit_ratings}
    for connection in (records.credit_lists, records.licence_publicity, records.penalty_publicity):
        assert connection is not None and connection.total_count == len(connection.edges)
    for penalty in records.penalty_publicity.edges if records.penalty_publicity else ():
        assert type(penalty.node.decision_date) is date
        assert penalty.node.counterparty_uscc == subject.uscc


async def test_matters_and_officers(client: JianguanClient) -> None:
    first = (await client.matters(first=5, status="in_use")).matters
    assert first is not None and len(first.edges) == 5
    assert {edge.node.status for edge in first.edges} == {"in_use"}
    assert all(type(edge.node.valid_from) is date for edge in first.edges)
    second = (await client.matters(first=5, after=first.page_info.end_cursor)).matters
    assert second is not None and second.edges
    assert not {e.node.id for e in first.edges} & {e.node.id for e in second.edges}

    officers = (await client.officers(first=5)).officers
    assert officers is not None and officers.edges
    department = officers.edges[0].node.department_code
    same = (await client.officers(first=100, department_code=department)).officers
    assert same is not None and same.edges
    for edge in same.edges:
        assert edge.node.department_code == department
        assert edge.node.department is not None and edge.node.department.code == department


async def test_unknown_subject_is_null(client: JianguanClient) -> None:
    assert (await client.subject_dossier(UNKNOWN_USCC)).subject is None
    records = await client.credit_records(UNKNOWN_USCC)
    assert records.credit_ratings is not None and records.credit_ratings.total_count == 0


async def test_bad_argument_raises_with_its_code(client: JianguanClient) -> None:
    with pytest.raises(GraphQLClientGraphQLMultiError) as raised:
        await client.subjects(first=1000)
    (error,) = raised.value.errors
    assert error.extensions is not None and error.extensions["code"] == "BAD_USER_INPUT"
    assert "between 1 and 100" in error.message and error.path == ["subjects"]
    assert raised.value.data == {"subjects": None}


async def test_only_the_clients_documents_are_allowed(client: JianguanClient) -> None:
    response = await client.execute("{ subjects(first: 1) { totalCount } }")
    with pytest.raises(GraphQLClientHttpError) as raised:
        client.get_data(response)
    assert raised.value.status_code == 400


async def test_unavailable_source_leaves_typed_partial_data(
    degraded_client: JianguanClient,
) -> None:
    page = (await degraded_client.subjects(first=20)).subjects  # no complaints: no error
    assert page is not None
    with pytest.raises(GraphQLClientGraphQLMultiError) as raised:
        await degraded_client.subject_dossier(page.edges[0].node.uscc)
    errors = raised.value.errors
    assert {(e.extensions or {}).get("code") for e in errors} == {"SOURCE_UNAVAILABLE"}
    assert {(e.extensions or {}).get("source") for e in errors} == {"complaints"}
    assert [e.path for e in errors] == [["subject", "complaints"]]
    partial = SubjectDossier.model_validate(raised.value.data)
    assert partial.subject is not None and partial.subject.complaints is None
    assert partial.subject.licences is not None  # the other sources still answered


async def test_node_budget_is_refused_before_running(degraded_client: JianguanClient) -> None:
    lists = " ".join(
        f"{name}(first: 100) {{ id }}"
        for name in (
            "licences",
            "creditRatings",
            "creditListEntries",
            "penaltyPublicity",
            "licencePublicity",
            "actions",
        )
    )
    response = await degraded_client.execute(
        f"{{ subjects(first: 100) {{ edges {{ node {{ {lists} }} }} }} }}"
    )
    with pytest.raises(GraphQLClientGraphQLMultiError) as raised:
        degraded_client.get_data(response)
    (error,) = raised.value.errors
    assert error.extensions is not None and error.extensions["code"] == "NODE_BUDGET_EXCEEDED"
    assert "60,100" in error.message and raised.value.data is None
