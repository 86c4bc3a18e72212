"""Any mix of connectors gives the same answers: each source in turn read over HTTP."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gateway.schema import build_schema
from gateway.settings import Settings
from resolvers.context import Context
from sources.guard import Sources
from standard.source_names import SOURCE_NAMES
from tests.scopes import oversight
from tests.servers import TOKEN, LiveServer, source_api

schema = build_schema()
DOSSIER = """{ subjects(first: 30) { totalCount edges { node { uscc name
  licences(first: 3) { approvalNo decidedOn licensingItem { name } }
  creditRatings(first: 3) { rating score ratedOn }
  complaints(first: 3) { ticketNo producedAt complainantPhone }
  actions(first: 3) { kind fineAmount matter { matterCode } officers(first: 2) { name } } } } } }"""


async def answer(settings: Settings) -> tuple[Any, dict[str, int]]:
    sources = Sources(settings)
    try:
        context = Context.new(sources, scope=oversight())
        result = await schema.execute(DOSSIER, context_value=context)
        assert not result.errors, result.errors
        return result.data, dict(context.sources.calls)
    finally:
        await sources.close()


@pytest.mark.parametrize("over_http", SOURCE_NAMES)
async def test_one_source_over_http_answers_like_sql(
    seeded_settings: Settings, over_http: str
) -> None:
    expected, sql_calls = await answer(seeded_settings)
    async with LiveServer(source_api(seeded_settings, over_http)) as server:
        mixed = dataclasses.replace(
            seeded_settings, read_urls={over_http: server.url}, source_api_token=TOKEN
        )
        assert mixed.read_url(over_http).startswith("http://")
        data, http_calls = await answer(mixed)
    assert data == expected
    assert http_calls == sql_calls  # one HTTP call where SQL took one statement
