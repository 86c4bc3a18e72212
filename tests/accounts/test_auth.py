"""Authentication over real HTTP: logins, lockout, passwords, TOTP, sessions, machine clients,
rate limits, secrets kept out of logs, and the audit trail, on both token stores (Redis and the
gateway database) and both gateway databases (PostgreSQL and SQLite)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
import pytest_asyncio

from audit.log import sm3_hex
from gateway.settings import Settings
from tests.gateway.auth_fixtures import (
    DEPARTMENT,
    OPERATOR,
    PARTNER,
    Gateway,
    live_gateway,
    small_settings,
)

# Public tables only (matters, departments, licensing items): anyone may read them.
CATALOGUE = "query Catalogue { matters(first: 2) { edges { node { name } } } }"
# Records a department provided: only that department (and the city office) may read them.
OWN_ACTIONS = "query OwnActions { actions(first: 2) { edges { node { actionNo kind } } } }"
# Where a test runs, as (gateway database, token store). Argon2 makes every login cost ~0.1 s,
# so each test runs where what it checks can differ, not on every combination:
SESSIONS = pytest.mark.parametrize(  # session ends: SQL sessions on both databases, and Redis
    ("gateway_url", "store"),
    [("postgresql", "sql"), ("sqlite", "sql"), ("postgresql", "redis")],
    indirect=True,
)
STORES = pytest.mark.parametrize(  # the store matters, the database not: both deployments
    ("gateway_url", "store"), [("sqlite", "sql"), ("postgresql", "redis")], indirect=True
)
DATABASES = pytest.mark.parametrize(  # accounts, clients, audit: both databases
    ("gateway_url", "store"), [("postgresql", "sql"), ("sqlite", "sql")], indirect=True
)
ONE = pytest.mark.parametrize(  # request handling, or logic in Python: the embedded default
    ("gateway_url", "store"), [("sqlite", "sql")], indirect=True
)


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str:
    """Where sessions live: the gateway database (``sql``) or Redis (``redis``)."""
    name: str = request.param
    return name


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(seeded_sqlite: Settings, gateway_url: str, store: str) -> AsyncIterator[Gateway]:
    """A served gateway with the three parties registered and small limits."""
    settings = small_settings(seeded_sqlite, gateway_url, redis=store == "redis")
    async with live_gateway(settings) as served:
        yield served


def near(moment: datetime, expected: datetime, *, within: timedelta) -> bool:
    return abs(moment - expected) <= within


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


# -- 1. logging in -------------------------------------------------------------------------------


@STORES
async def test_a_login_gives_a_token_for_graphql(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    response = await gateway.login(alice.username, alice.password)

    assert response.status_code == 200
    body = response.json()
    assert body["tokenType"] == "Bearer"
    assert body["passwordChangeRequired"] is False
    expires = datetime.fromisoformat(body["expiresAt"])
    assert near(expires, datetime.now(UTC) + timedelta(hours=12), within=timedelta(minutes=1))
    assert await gateway.me(body["accessToken"]) == {
        "id": alice.id,
        "kind": "staff",
        "party": DEPARTMENT,
        "partyKind": "department",
        "role": "staff",
    }


@ONE
async def test_a_wrong_password_and_an_unknown_user_are_refused_alike(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    wrong = await gateway.login(alice.username, "Wrong-password-42!")
    unknown = await gateway.login(f"nobody-{gateway.tag}", "Wrong-password-42!")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "invalid_credentials"
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]
    assert "Wrong-password-42!" not in wrong.text + unknown.text


@ONE
async def test_error_bodies_never_echo_the_password(gateway: Gateway) -> None:
    alice = await gateway.staff("alice", ready=False)
    secret = "Sekrit-Passw0rd-xyz"
    url = f"{gateway.url}/auth/login"
    refused = [
        await gateway.http.post(url, json={"password": secret}),
        await gateway.http.post(url, json={"username": secret, "password": ""}),
        await gateway.http.post(url, json=[secret]),
        await gateway.login(alice.username, secret),
        await gateway.login(alice.username, secret, "123456"),
    ]
    token = await gateway.session(alice)
    refused.append(
        await gateway.http.post(
            f"{gateway.url}/auth/password",
            json={"currentPassword": secret, "newPassword": "Another-Passw0rd-1"},
            headers={"Authorization": f"Bearer {token}"},
        )
    )

    assert [r.status_code for r in refused] == [400, 400, 400, 401, 401, 400]
    for response in refused:
        assert response.json()["error"]  # a JSON error body…
        assert secret not in response.text  # …without the password in it
    assert "'username' is required" in refused[0].json()["message"]


@STORES
async def test_a_bad_or_missing_token_on_graphql(gateway: Gateway) -> None:
    unknown = await gateway.graphql("not-a-token-at-all")
    assert unknown.status_code == 401 and code_of(unknown) == "UNAUTHENTICATED"
    assert unknown.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    basic = await gateway.http.post(
        f"{gateway.url}/graphql",
        json={"query": "{ me { id } }"},
        headers={"Authorization": "Basic x"},
    )
    assert basic.status_code == 401 and code_of(basic) == "UNAUTHENTICATED"
    public = await gateway.graphql(None, "{ me { id kind party } }")
    assert public.json() == {"data": {"me": {"id": "public", "kind": "public", "party": None}}}


# -- 2. lockout ----------------------------------------------------------------------------------


@DATABASES
async def test_failed_logins_lock_that_account_until_the_lock_passes(gateway: Gateway) -> None:
    alice, bob = await gateway.staff("alice"), await gateway.staff("bob")
    for staff in (alice, bob, alice, bob):
        assert (await gateway.login(staff.username, "Wrong-password-1!")).status_code == 401
    assert (await gateway.account(alice.username)).failed_logins == 2  # counted per account
    assert (await gateway.account(bob.username)).failed_logins == 2

    locking = await gateway.login(alice.username, "Wrong-password-1!")
    assert locking.status_code == 423
    assert locking.json()["error"] == "account_locked"
    assert locking.headers["retry-after"] == "60"  # lockout_minutes=1
    locked_until = (await gateway.account(alice.username)).locked_until
    assert near(locked_until, datetime.now(UTC) + timedelta(minutes=1), within=timedelta(seconds=5))
    right = await gateway.login(alice.username, alice.password)
    assert right.status_code == 423  # even the right password, while locked
    assert 1 <= int(right.headers["retry-after"]) <= 61
    assert "accessToken" not in right.json()

    assert (await gateway.login(bob.username, bob.password)).status_code == 200  # bob is not locked
    assert (await gateway.account(bob.username)).failed_logins == 0  # and counts afresh

    await gateway.edit_account(
        alice.username, locked_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert (await gateway.login(alice.username, alice.password)).status_code == 200
    after = await gateway.account(alice.username)
    assert after.failed_logins == 0 and after.locked_until is None


@DATABASES
async def test_wrong_logins_sent_at_once_all_count(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    answers = await asyncio.gather(
        *(gateway.login(alice.username, "Wrong-password-1!") for _ in range(8))
    )
    assert {a.status_code for a in answers} <= {401, 423}
    assert 423 in {a.status_code for a in answers}  # lockout_attempts=3: some answer locked
    assert (await gateway.account(alice.username)).locked_until is not None


@ONE
async def test_overlong_names_are_refused_like_wrong_ones(gateway: Gateway) -> None:
    long_name = "a" * 200
    login = await gateway.login(long_name, "Wrong-password-1!")
    assert login.status_code == 401 and login.json()["error"] == "invalid_credentials"
    token = await gateway.http.post(
        f"{gateway.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": long_name, "client_secret": "x"},
    )
    assert token.status_code == 401 and token.json()["error"] == "invalid_client"


# -- 3. password policy and expiry --------------------------------------------------------------


@ONE
async def test_a_new_password_must_meet_the_policy(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    token = await gateway.session(alice)

    async def change(new: str, current: str = alice.password) -> httpx.Response:
        return await gateway.http.post(
            f"{gateway.url}/auth/password",
            json={"currentPassword": current, "newPassword": new},
            headers={"Authorization": f"Bearer {token}"},
        )

    weak = await change("onlylowercaseletters")
    assert weak.status_code == 400 and weak.json()["error"] == "password_rejected"
    assert weak.json()["message"].endswith(
        "at least 3 of: lowercase, uppercase, digits, symbols"
    )  # and only that rule: it is long enough
    short = await change("aB3!")
    assert short.json()["message"].endswith("at least 12 characters")
    wrong_current = await change("Brand-New-Passw0rd", current="Not-The-Current-1!")
    assert wrong_current.status_code == 400 and "current password is wrong" in wrong_current.text
    for refused in (weak, short, wrong_current):
        assert "Brand-New-Passw0rd" not in refused.text and "onlylowercase" not in refused.text
    assert (await gateway.graphql(token)).status_code == 200  # a refused change ends nothing

    assert (await change("Brand-New-Passw0rd")).status_code == 200
    assert (await gateway.login(alice.username, alice.password)).status_code == 401
    again = await gateway.login(alice.username, "Brand-New-Passw0rd")
    assert again.status_code == 200 and again.json()["passwordChangeRequired"] is False


@ONE
async def test_wrong_current_passwords_count_towards_the_lockout(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    token = await gateway.session(alice)
    body = {"currentPassword": "Not-The-Current-1!", "newPassword": "Brand-New-Passw0rd"}
    headers = {"Authorization": f"Bearer {token}"}
    answers = [
        await gateway.http.post(f"{gateway.url}/auth/password", json=body, headers=headers)
        for _ in range(3)  # lockout_attempts=3
    ]
    assert [a.status_code for a in answers] == [400, 400, 423]
    assert (await gateway.account(alice.username)).locked_until is not None
    assert await gateway.refused_within(token, seconds=1.0)  # the session that guessed ends
    assert (await gateway.login(alice.username, alice.password)).status_code == 423


@STORES
async def test_a_new_account_must_change_its_password_first(gateway: Gateway) -> None:
    alice = await gateway.staff("alice", ready=False)
    response = await gateway.login(alice.username, alice.password)
    assert response.status_code == 200 and response.json()["passwordChangeRequired"] is True
    first = response.json()["accessToken"]
    refused = await gateway.graphql(first)
    assert refused.status_code == 403 and code_of(refused) == "PASSWORD_CHANGE_REQUIRED"

    changed = await gateway.http.post(
        f"{gateway.url}/auth/password",
        json={"currentPassword": alice.password, "newPassword": "Brand-New-Passw0rd"},
        headers={"Authorization": f"Bearer {first}"},
    )
    assert changed.status_code == 200
    assert changed.json()["passwordChangeRequired"] is False
    second = changed.json()["accessToken"]
    assert second != first
    assert (await gateway.me(second))["id"] == alice.id
    old = await gateway.graphql(first)  # every session before the change has ended
    assert old.status_code == 401 and code_of(old) == "UNAUTHENTICATED"


@ONE
async def test_a_password_90_days_old_must_be_changed(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    now = datetime.now(UTC)
    await gateway.edit_account(alice.username, password_changed_at=now - timedelta(days=89))
    young = await gateway.login(alice.username, alice.password)
    assert young.json()["passwordChangeRequired"] is False
    assert (await gateway.graphql(young.json()["accessToken"])).status_code == 200

    await gateway.edit_account(alice.username, password_changed_at=now - timedelta(days=91))
    old = await gateway.login(alice.username, alice.password)
    assert old.status_code == 200 and old.json()["passwordChangeRequired"] is True
    refused = await gateway.graphql(old.json()["accessToken"])
    assert refused.status_code == 403 and code_of(refused) == "PASSWORD_CHANGE_REQUIRED"


# -- 4. a second factor ----------------------------------------------------------------------


@ONE
async def test_an_enrolled_administrator_needs_the_totp_code(gateway: Gateway) -> None:
    admin = await gateway.staff("deptadmin", role="dept_admin")
    uri = await gateway.services.admin.enrol_totp(OPERATOR, username=admin.username)
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    now = datetime.now(UTC)
    near_codes = {totp.at(now + timedelta(seconds=s)) for s in (-60, -30, 0, 30, 60)}
    wrong = next(f"{n:06}" for n in range(0, 1_000_000, 7919) if f"{n:06}" not in near_codes)

    without = await gateway.login(admin.username, admin.password)
    with_wrong = await gateway.login(admin.username, admin.password, wrong)
    assert without.status_code == with_wrong.status_code == 401
    assert without.json() == with_wrong.json()  # no hint that only the code was missing
    code = totp.now()
    right = await gateway.login(admin.username, admin.password, code)
    assert right.status_code == 200
    assert (await gateway.me(right.json()["accessToken"]))["role"] == "dept_admin"
    assert (await gateway.account(admin.username)).failed_logins == 0
    replayed = await gateway.login(admin.username, admin.password, code)
    assert replayed.status_code == 401  # a code is good for one login only


# -- 5. sessions ---------------------------------------------------------------------------------


@STORES
async def test_logout_ends_the_session(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    token, other = await gateway.session(alice), await gateway.session(alice)
    headers = {"Authorization": f"Bearer {token}"}

    out = await gateway.http.post(f"{gateway.url}/auth/logout", headers=headers)
    assert out.status_code == 204
    assert (await gateway.graphql(token)).status_code == 401
    assert not await gateway.has_session(token)
    assert (
        await gateway.http.post(f"{gateway.url}/auth/logout", headers=headers)
    ).status_code == 401
    assert (await gateway.me(other))["id"] == alice.id  # the other session goes on


@STORES
async def test_disabling_an_account_ends_its_sessions(gateway: Gateway) -> None:
    alice, bob = await gateway.staff("alice"), await gateway.staff("bob")
    admin = await gateway.staff("deptadmin", role="dept_admin")
    tokens = [await gateway.session(alice), await gateway.session(alice)]
    bobs, admins = await gateway.session(bob), await gateway.session(admin)
    assert [(await gateway.graphql(t)).status_code for t in tokens] == [200, 200]

    # By the department administrator over GraphQL, in the serving process: at once.
    disable = f'mutation {{ disableAccount(username: "{alice.username}") }}'
    disabled = await gateway.graphql(admins, disable)
    assert disabled.json() == {"data": {"disableAccount": True}}
    for token in tokens:
        refused = await gateway.graphql(token)
        assert refused.status_code == 401 and code_of(refused) == "UNAUTHENTICATED"
    assert (await gateway.login(alice.username, alice.password)).status_code == 401
    assert (await gateway.me(admins))["id"] == admin.id

    # By an operator in another process (the CLI, another replica): within a second.
    assert (await gateway.graphql(bobs)).status_code == 200
    ended = await gateway.services.admin.disable_account(OPERATOR, username=bob.username)
    assert ended == 1
    assert await gateway.refused_within(bobs, seconds=1.0)
    assert (await gateway.me(admins))["id"] == admin.id


@SESSIONS
async def test_a_session_ends_at_its_absolute_end(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    token = await gateway.session(alice)
    absolute, idle = await gateway.session_end(token)
    now = datetime.now(UTC)
    assert near(absolute, now + timedelta(hours=12), within=timedelta(minutes=1))
    assert near(idle, now + timedelta(minutes=30), within=timedelta(minutes=1))

    # Not used before: the serving process has no answer of its own to reuse for a moment.
    await gateway.move_session_end(token, absolute=datetime.now(UTC) - timedelta(seconds=1))
    assert await gateway.has_session(token)
    refused = await gateway.graphql(token)
    assert refused.status_code == 401 and code_of(refused) == "UNAUTHENTICATED"
    assert not await gateway.has_session(token)  # found ended, and removed


@SESSIONS
async def test_use_pushes_the_idle_end_and_an_idle_session_ends(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    used, idle = await gateway.session(alice), await gateway.session(alice)
    await gateway.move_session_end(used, idle=datetime.now(UTC) + timedelta(seconds=5))
    assert (await gateway.graphql(used)).status_code == 200
    _, pushed = await gateway.session_end(used)
    assert pushed > datetime.now(UTC) + timedelta(minutes=29)

    await gateway.move_session_end(idle, idle=datetime.now(UTC) - timedelta(seconds=1))
    refused = await gateway.graphql(idle)
    assert refused.status_code == 401 and code_of(refused) == "UNAUTHENTICATED"
    assert not await gateway.has_session(idle)
    assert (await gateway.graphql(used)).status_code == 200


@STORES
async def test_a_machine_token_lives_token_minutes(gateway: Gateway) -> None:
    feed = await gateway.machine("feed")
    response = await gateway.http.post(
        f"{gateway.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": feed.client_id,
            "client_secret": feed.secret,
        },
    )
    assert response.json()["expires_in"] == 60  # token_minutes=1
    token = response.json()["access_token"]
    absolute, idle = await gateway.session_end(token)
    now = datetime.now(UTC)
    assert near(absolute, now + timedelta(minutes=1), within=timedelta(seconds=5))
    assert idle <= absolute + timedelta(seconds=1)

    await gateway.move_session_end(token, absolute=datetime.now(UTC) - timedelta(seconds=1))
    assert await gateway.has_session(token)
    assert (await gateway.graphql(token)).status_code == 401
    assert not await gateway.has_session(token)


# -- 6. machine clients --------------------------------------------------------------------------


@ONE
async def test_client_credentials_in_the_form_or_in_http_basic(gateway: Gateway) -> None:
    feed = await gateway.machine("feed")
    form = await gateway.http.post(
        f"{gateway.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": feed.client_id,
            "client_secret": feed.secret,
        },
    )
    basic = await gateway.http.post(
        f"{gateway.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(feed.client_id, feed.secret),
    )
    for response in (form, basic):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 60
        assert await gateway.me(body["access_token"]) == {
            "id": feed.id,
            "kind": "client",
            "party": PARTNER,
            "partyKind": "partner",
            "role": None,
        }
    assert form.json()["access_token"] != basic.json()["access_token"]


@ONE
async def test_the_token_endpoint_refuses_wrong_secrets_and_other_grants(gateway: Gateway) -> None:
    feed = await gateway.machine("feed")
    url = f"{gateway.url}/oauth/token"

    async def exchange(**form: str) -> httpx.Response:
        return await gateway.http.post(url, data={"grant_type": "client_credentials", **form})

    wrong = await exchange(client_id=feed.client_id, client_secret=feed.secret[:-2] + "xx")
    unknown = await exchange(client_id=f"nobody-{gateway.tag}", client_secret=feed.secret)
    missing = await exchange(client_id=feed.client_id)
    for refused in (wrong, unknown, missing):
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        assert feed.secret not in refused.text
    assert wrong.json() == unknown.json()

    basic_wrong = await gateway.http.post(
        url, data={"grant_type": "client_credentials"}, auth=(feed.client_id, "not-the-secret")
    )
    assert basic_wrong.status_code == 401 and basic_wrong.json()["error"] == "invalid_client"
    garbled = await gateway.http.post(
        url, data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic %%%"}
    )
    assert garbled.status_code == 401 and garbled.json()["error"] == "invalid_client"

    for grant in ("password", "authorization_code", ""):
        other = await gateway.http.post(
            url,
            data={"grant_type": grant, "client_id": feed.client_id, "client_secret": feed.secret},
        )
        assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"


@ONE
async def test_a_rotated_secret_overlaps_then_the_old_one_stops(gateway: Gateway) -> None:
    feed = await gateway.machine("feed")
    admin = gateway.services.admin
    token = await gateway.exchange(feed)

    second = await admin.rotate_secret(
        OPERATOR, client_id=feed.client_id, overlap=timedelta(hours=1)
    )
    assert second != feed.secret
    for secret in (feed.secret, second):
        assert await gateway.exchange(replace(feed, secret=secret))
    assert (await gateway.graphql(token)).status_code == 200  # a rotation ends no token

    await gateway.edit_client(
        feed.client_id, previous_valid_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    old = await gateway.http.post(
        f"{gateway.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(feed.client_id, feed.secret),
    )
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"

    third = await admin.rotate_secret(OPERATOR, client_id=feed.client_id, overlap=timedelta(0))
    refused = await gateway.http.post(
        f"{gateway.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(feed.client_id, second),
    )
    assert refused.status_code == 401  # no overlap: the previous secret stops at once
    assert await gateway.exchange(replace(feed, secret=third))


@STORES
async def test_a_disabled_client_stops_within_a_second(gateway: Gateway) -> None:
    feed, other = await gateway.machine("feed"), await gateway.machine("other")
    tokens = [await gateway.exchange(feed), await gateway.exchange(feed)]
    others = await gateway.exchange(other)
    assert [(await gateway.graphql(t)).status_code for t in tokens] == [200, 200]

    ended = await gateway.services.admin.disable_client(OPERATOR, client_id=feed.client_id)
    assert ended == 2
    for token in tokens:
        assert await gateway.refused_within(token, seconds=1.0)
    again = await gateway.http.post(
        f"{gateway.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(feed.client_id, feed.secret),
    )
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    assert (await gateway.me(others))["id"] == other.id


# -- 7. rate limits ------------------------------------------------------------------------------


@STORES
async def test_a_client_over_its_rate_limit_is_refused_others_are_not(gateway: Gateway) -> None:
    feed = await gateway.machine("feed", rate_limit="3/minute")
    other = await gateway.machine("other")
    token = await gateway.exchange(feed)

    allowed = [await gateway.graphql(token) for _ in range(3)]
    assert [r.status_code for r in allowed] == [200, 200, 200]
    limited = await gateway.graphql(token)
    assert limited.status_code == 429 and code_of(limited) == "RATE_LIMITED"
    assert "3/minute" in limited.json()["errors"][0]["message"]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    # The limit belongs to the client, not to one token of it.
    assert (await gateway.graphql(await gateway.exchange(feed))).status_code == 429
    assert (await gateway.graphql(await gateway.exchange(other))).status_code == 200


@STORES
async def test_anonymous_callers_are_limited_per_address(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    token = await gateway.session(alice)
    await gateway.forget_counts("ip:127.0.0.*/5/1/minute")
    second = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"))
    try:
        async with gateway.serve(rate_limit="5/minute") as url:
            anonymous = [await gateway.graphql(None, url=url) for _ in range(6)]
            elsewhere = await gateway.graphql(None, url=url, http=second)
            signed_in = await gateway.graphql(token, url=url)
    finally:
        await second.aclose()
    assert [r.status_code for r in anonymous] == [200] * 5 + [429]
    assert code_of(anonymous[-1]) == "RATE_LIMITED"
    assert "5/minute" in anonymous[-1].json()["errors"][0]["message"]
    assert 1 <= int(anonymous[-1].headers["retry-after"]) <= 60
    assert elsewhere.status_code == 200  # another address has its own count
    assert signed_in.status_code == 200  # as has every principal
    if gateway.redis is not None:  # counted in Redis, shared by replicas
        assert await gateway.forget_counts("ip:127.0.0.*/5/1/minute") == 2


@STORES
async def test_the_login_and_token_endpoints_are_limited_per_address(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    await gateway.forget_counts("auth:127.0.0.*/4/1/minute")
    second = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"))
    wrong = {"username": alice.username, "password": "Wrong-password-1!"}
    form = {"grant_type": "client_credentials", "client_id": "x-1", "client_secret": "guess"}
    try:
        async with gateway.serve(auth_rate_limit="4/minute") as url:
            guesses = [
                await gateway.http.post(f"{url}/auth/login", json=wrong),
                await gateway.http.post(f"{url}/oauth/token", data=form),
                await gateway.http.post(f"{url}/auth/login", json={"username": "x"}),
                await gateway.http.post(f"{url}/oauth/token", data=form),
                await gateway.login(alice.username, alice.password, url=url),
                await gateway.http.post(f"{url}/oauth/token", data=form),
            ]
            elsewhere = await second.post(f"{url}/auth/login", json=wrong)
    finally:
        await second.aclose()
    assert [r.status_code for r in guesses] == [401, 401, 400, 401, 429, 429]
    assert guesses[-1].json()["error"] == "slow_down"
    assert 1 <= int(guesses[-1].headers["retry-after"]) <= 60
    assert "accessToken" not in guesses[-2].text  # not even the right password gets through
    assert elsewhere.status_code == 401  # another address has its own count
    # One failure from each address; the right password was refused before it was checked (a
    # checked one would have reset the count).
    assert (await gateway.account(alice.username)).failed_logins == 2
    await gateway.forget_counts("auth:127.0.0.*/4/1/minute")


# -- 8. secrets stay out of logs -----------------------------------------------------------------


@STORES
async def test_no_password_secret_or_token_is_ever_logged(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    alice = await gateway.staff("alice", ready=False)
    feed = await gateway.machine("feed")
    caught: list[logging.LogRecord] = []

    class Everything(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record)

    # ``jianguan`` may not propagate to the root logger (configure_logging): listen there too.
    handler, ours = Everything(logging.DEBUG), logging.getLogger("jianguan")
    ours.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # statements and parameters
    caplog.set_level(logging.DEBUG, logger="jianguan")
    try:
        login = await gateway.login(alice.username, alice.password)
        first = login.json()["accessToken"]
        new_password = "Brand-New-Passw0rd"
        changed = await gateway.http.post(
            f"{gateway.url}/auth/password",
            json={"currentPassword": alice.password, "newPassword": new_password},
            headers={"Authorization": f"Bearer {first}"},
        )
        second = changed.json()["accessToken"]
        failed = await gateway.login(alice.username, "Wrong-Passw0rd-42!")
        machine = await gateway.exchange(feed)
        wrong_secret = await gateway.http.post(
            f"{gateway.url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(feed.client_id, "Wrong-client-secret-0123"),
        )
        reads = [await gateway.graphql(t, CATALOGUE) for t in (second, machine, first)]
        out = await gateway.http.post(
            f"{gateway.url}/auth/logout", headers={"Authorization": f"Bearer {machine}"}
        )
    finally:
        ours.removeHandler(handler)

    assert [changed.status_code, failed.status_code, wrong_secret.status_code] == [200, 401, 401]
    assert [r.status_code for r in reads] == [200, 200, 401] and out.status_code == 204
    records = caplog.records + caught
    texts = [f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in records]
    # The net caught the gateway's own database traffic, so an absence below means something.
    assert sum("sqlalchemy.engine" in text for text in texts) > 20
    secrets = {
        alice.password,
        new_password,
        "Wrong-Passw0rd-42!",
        feed.secret,
        "Wrong-client-secret-0123",
        first,
        second,
        machine,
    }
    for text in texts:
        for secret in secrets:
            assert secret not in text


# -- 9. the audit trail --------------------------------------------------------------------------


@DATABASES
async def test_logins_and_failures_are_audited(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    feed = await gateway.machine("feed")
    assert (await gateway.login(alice.username, "Wrong-Passw0rd-42!")).status_code == 401
    assert (await gateway.login(alice.username, alice.password)).status_code == 200
    nobody = f"nobody-{gateway.tag}"
    assert (await gateway.login(nobody, "Wrong-Passw0rd-42!")).status_code == 401
    await gateway.exchange(feed)

    failed, success = await gateway.audit(actor=alice.id)
    assert (failed.event, failed.outcome, failed.party_code) == (
        "login_failed",
        "denied",
        DEPARTMENT,
    )
    assert failed.detail == {"failures": 1, "locked": False}
    assert (success.event, success.outcome, success.party_code) == ("login", "ok", DEPARTMENT)
    assert success.request_id and success.request_id != failed.request_id
    # A name nobody has is logged as its hash: it may be a password typed in the wrong box.
    assert await gateway.audit(actor=f"user:{nobody}") == []
    (unknown,) = await gateway.audit(actor=f"unknown:{sm3_hex(nobody.encode())[:16]}")
    assert (unknown.event, unknown.party_code, unknown.detail) == ("login_failed", None, {})
    (token,) = await gateway.audit(actor=feed.id, event="token")
    assert (token.outcome, token.party_code) == ("ok", PARTNER)


@DATABASES
async def test_reads_of_non_public_data_are_audited(gateway: Gateway) -> None:
    alice = await gateway.staff("alice")
    token = await gateway.session(alice)

    read = await gateway.graphql(token, OWN_ACTIONS)
    assert read.status_code == 200 and len(read.json()["data"]["actions"]["edges"]) == 2
    (entry,) = await gateway.audit(actor=alice.id, event="read")
    assert entry.operation == "OwnActions"
    assert entry.resources == ["actions"]
    assert entry.providers == [DEPARTMENT] and entry.rows == 2
    assert entry.party_code == DEPARTMENT and entry.outcome == "ok"
    assert entry.request_id == read.headers["x-request-id"]

    # Public tables alone (R12 concerns non-public data), and anonymous callers: no entry.
    before = len(await gateway.audit())
    public = await gateway.graphql(token, CATALOGUE)
    anonymous = await gateway.graphql(None, CATALOGUE)
    assert public.status_code == anonymous.status_code == 200
    assert len(public.json()["data"]["matters"]["edges"]) == 2
    assert anonymous.json()["data"] == public.json()["data"]
    assert len(await gateway.audit()) == before
