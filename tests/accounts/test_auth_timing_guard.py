"""The timing guard of the credential look-up, counted rather than timed: an unknown username or
client id costs exactly one password verification, as a wrong password or secret for a known
one does, against a hash of the same argon2 parameters. So response time does not tell which
names exist, and the test does not depend on how loaded the machine is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from accounts import auth as auth_module
from accounts.auth import AuthError, InvalidClient, InvalidCredentials
from accounts.passwords import verify_password
from gateway.settings import Settings
from standard.tables.gateway import Client
from tests.gateway.auth_fixtures import Gateway, live_gateway, small_settings

# Logic in Python, not in the database: the embedded default is enough.
pytestmark = pytest.mark.parametrize("gateway_url", ["sqlite"], indirect=True)

WRONG = "Wrong-password-42!"


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(seeded_sqlite: Settings, gateway_url: str) -> AsyncIterator[Gateway]:
    async with live_gateway(small_settings(seeded_sqlite, gateway_url, redis=False)) as served:
        yield served


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The stored hashes the authenticator verifies a password against, in order: the
    project's own ``verify_password``, wrapped where ``accounts.auth`` calls it."""
    hashes: list[str] = []

    def counting(stored_hash: str, password: str) -> bool:
        hashes.append(stored_hash)
        return verify_password(stored_hash, password)

    monkeypatch.setattr(auth_module, "verify_password", counting)
    yield hashes


def parameters(stored_hash: str) -> str:
    """The algorithm, version and cost of a PHC hash (``$argon2id$v=19$m=…,t=…,p=…``)."""
    return "$".join(stored_hash.split("$")[:4])


async def refused(call: Any, error: type[AuthError]) -> None:
    with pytest.raises(error):
        await call


async def test_an_unknown_user_costs_one_verification_like_a_wrong_password(
    gateway: Gateway, verified: list[str]
) -> None:
    alice = await gateway.staff("alice")
    stored = (await gateway.account(alice.username)).password_hash
    auth = gateway.services.auth

    await refused(auth.login(f"nobody-{gateway.tag}", WRONG), InvalidCredentials)
    assert len(verified) == 1
    (dummy,) = verified
    assert dummy != stored and parameters(dummy) == parameters(stored)

    verified.clear()
    await refused(auth.login(alice.username, WRONG), InvalidCredentials)
    assert verified == [stored]

    verified.clear()  # a name that cannot exist is not looked up, but still costs the same
    await refused(auth.login("a" * 200, WRONG), InvalidCredentials)
    assert verified == [dummy]


async def test_an_unknown_client_costs_one_verification_like_a_wrong_secret(
    gateway: Gateway, verified: list[str]
) -> None:
    feed = await gateway.machine("feed")
    async with gateway.services.engine.connect() as connection:
        stored = await connection.scalar(
            select(Client.secret_hash).where(Client.client_id == feed.client_id)
        )
    assert stored is not None
    auth = gateway.services.auth

    await refused(auth.client_token(f"nobody-{gateway.tag}", WRONG), InvalidClient)
    assert len(verified) == 1
    (dummy,) = verified
    assert dummy != stored and parameters(dummy) == parameters(stored)

    verified.clear()  # no secret in rotation: only the current one is tried
    await refused(auth.client_token(feed.client_id, WRONG), InvalidClient)
    assert verified == [stored]

    verified.clear()
    await refused(auth.client_token("a" * 200, WRONG), InvalidClient)
    assert verified == [dummy]
