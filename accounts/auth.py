"""Who is calling: staff log in with a password (and a TOTP code when enrolled), machines
exchange a client id and secret for a short-lived token, everyone else is the public.

Errors never say which part of a credential was wrong, and no token, secret or password ever
reaches a log line or an error message. Every login, failed login, token and password change
is written to the audit log.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn, Protocol, TypeVar

import pyotp
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.admin import NAME
from accounts.passwords import (
    PasswordPolicy,
    PasswordRejected,
    check_password,
    hash_password,
    needs_rehash,
    password_expired,
    verify_password,
)
from accounts.tokens import Issued, TokenStore
from audit.log import AuditEvent, AuditLog, sm3_hex
from policies.principal import PUBLIC, Principal
from standard.errors import Unauthenticated
from standard.tables.gateway import Account, Client, Party

# Who holds a credential: a staff account (login) or a machine client (token exchange).
_Holder = TypeVar("_Holder", Account, Client)


class AuthSettings(Protocol):
    """What sign-in reads of the settings (the gateway's ``Settings`` has it)."""

    @property
    def password_max_age_days(self) -> int: ...
    @property
    def lockout_attempts(self) -> int: ...
    @property
    def lockout_minutes(self) -> int: ...
    @property
    def session_idle_minutes(self) -> int: ...
    @property
    def session_max_hours(self) -> int: ...
    @property
    def token_minutes(self) -> int: ...


def client_principal(client: Client, party: Party) -> Principal:
    """Who a machine client is when it calls: its party, with the client's own limits."""
    return Principal(
        kind="client",
        id=f"client:{client.client_id}",
        party=party.code,
        party_kind=party.kind,
        uscc=party.uscc,
        rate_limit=client.rate_limit,
        persisted_only=client.persisted_only,
    )


@functools.cache
def _dummy_hash() -> str:
    # Verifying against this when the account does not exist keeps a wrong username as slow as
    # a wrong password, so timing does not tell which accounts exist.
    return hash_password("not-a-real-password-0A!")


class AuthError(Unauthenticated):
    """A credential was refused; ``code`` and ``message`` are safe to show the caller."""

    status = 401
    code = "invalid_credentials"
    message = "用户名或密码错误 / wrong username or password"

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.retry_after = retry_after


class InvalidCredentials(AuthError):
    """Wrong username, password or second factor (never said which)."""


class AccountLocked(AuthError):
    """Too many failed logins: try again later."""

    status = 423
    code = "account_locked"
    message = "登录失败次数过多，账号已临时锁定 / too many failed logins: account locked"


class InvalidClient(AuthError):
    """Wrong client id or secret (OAuth2 ``invalid_client``)."""

    code = "invalid_client"
    message = "客户端标识或密钥错误 / wrong client id or secret"


class InvalidToken(AuthError):
    """A bearer token that is unknown, expired or revoked."""

    code = "invalid_token"
    message = "令牌无效或已过期 / the token is invalid, expired or revoked"


class PasswordChangeRefused(AuthError):
    """A new password breaks the policy, or the current one was wrong."""

    status = 400
    code = "password_rejected"


def _totp_step(secret: str, code: str | None, now: datetime, *, after: int | None) -> int | None:
    """The time step ``code`` belongs to (this one or a neighbour, for clock drift), if it is
    right and newer than the last code used: a code seen once is never accepted again."""
    if not code:
        return None
    totp = pyotp.TOTP(secret)
    for offset in (-1, 0, 1):
        moment = now + timedelta(seconds=offset * totp.interval)
        step = int(totp.timecode(moment))
        if (after is None or step > after) and hmac.compare_digest(totp.at(moment), code):
            return step
    return None


@dataclass(frozen=True, slots=True)
class Login:
    """A successful login or token exchange."""

    issued: Issued
    principal: Principal


class Authenticator:
    """Checks credentials against the gateway database and issues tokens."""

    def __init__(
        self, engine: AsyncEngine, tokens: TokenStore, settings: AuthSettings, audit: AuditLog
    ) -> None:
        self.engine = engine
        self.tokens = tokens
        self.settings = settings
        self.audit = audit
        self.policy = PasswordPolicy(max_age_days=settings.password_max_age_days)

    async def login(
        self,
        username: str,
        password: str,
        totp: str | None = None,
        *,
        request_id: str | None = None,
    ) -> Login:
        """A staff session, or an ``AuthError``; failures count towards a lockout."""
        now = datetime.now(UTC)
        account, party = await self._known(
            select(Account, Party)
            .join(Party, Party.code == Account.party_code)
            .where(Account.username_key == username.lower()),
            username,
            password,
            failed="login_failed",
            refused=InvalidCredentials,
            request_id=request_id,
        )
        actor = f"user:{account.username}"  # as stored: the name typed may differ in case
        if account.locked_until is not None and account.locked_until > now:
            wait = int((account.locked_until - now).total_seconds()) + 1
            await self._event(
                actor, "login_failed", "denied", party.code, request_id, reason="locked"
            )
            raise AccountLocked(retry_after=wait)
        good = await asyncio.to_thread(verify_password, account.password_hash, password)
        step = None
        if good and account.totp_secret:
            step = _totp_step(account.totp_secret, totp, now, after=account.totp_last_step)
            good = step is not None
        if not good or account.disabled or party.disabled:
            await self._failed(account, now, request_id, party.code)
        changes: dict[str, object] = {"failed_logins": 0, "locked_until": None}
        if step is not None:
            changes["totp_last_step"] = step
        if needs_rehash(account.password_hash):
            changes["password_hash"] = await asyncio.to_thread(hash_password, password)
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Account).where(Account.id == account.id).values(**changes)
            )
        principal = Principal(
            kind="staff",
            id=actor,
            party=party.code,
            party_kind=party.kind,
            role=account.role,
            password_change_required=account.must_change_password
            or password_expired(self.policy, account.password_changed_at, now),
        )
        issued = await self.tokens.issue(
            principal,
            lifetime=timedelta(hours=self.settings.session_max_hours),
            idle=timedelta(minutes=self.settings.session_idle_minutes),
        )
        await self._event(actor, "login", "ok", party.code, request_id)
        return Login(issued, principal)

    async def _known(
        self,
        query: Select[_Holder, Party],
        name: str,
        secret: str,
        *,
        failed: str,
        refused: type[AuthError],
        request_id: str | None,
    ) -> tuple[_Holder, Party]:
        """The holder of ``name`` (staff account or machine client) and its party, as ``query``
        finds them; otherwise ``refused``, audited as ``failed``, after one password
        verification against a dummy hash: an unknown name costs the work of a wrong secret
        for a known one, so response time does not tell which names exist. The one copy of
        this guard, shared by the login and the token exchange."""
        found = None
        if NAME.fullmatch(name):  # a name that cannot exist is not looked up
            async with AsyncSession(self.engine) as session:
                found = (await session.execute(query)).first()
        if found is None:
            await asyncio.to_thread(verify_password, _dummy_hash(), secret)
            # Whatever was typed is not logged as a name: it may be a password typed in the
            # wrong box. Its hash still shows repeated attempts at one name.
            unknown = f"unknown:{sm3_hex(name.encode())[:16]}"
            await self._event(unknown, failed, "denied", None, request_id)
            raise refused
        holder, party = found
        return holder, party

    async def _failed(
        self, account: Account, now: datetime, request_id: str | None, party: str
    ) -> NoReturn:
        failures, locked = await self._count_failure(account, now)
        actor = f"user:{account.username}"
        await self._event(
            actor, "login_failed", "denied", party, request_id, failures=failures, locked=locked
        )
        if locked:
            raise AccountLocked(retry_after=self.settings.lockout_minutes * 60)
        raise InvalidCredentials

    async def _count_failure(self, account: Account, now: datetime) -> tuple[int, bool]:
        """One more wrong password; the account locks at the threshold. Counted in the
        database, so wrong attempts sent at once all count."""
        async with self.engine.begin() as connection:
            failures = (
                await connection.execute(
                    update(Account)
                    .where(Account.id == account.id)
                    .values(failed_logins=Account.failed_logins + 1)
                    .returning(Account.failed_logins)
                )
            ).scalar_one()
            locked = failures >= self.settings.lockout_attempts
            if locked:
                until = now + timedelta(minutes=self.settings.lockout_minutes)
                await connection.execute(
                    update(Account)
                    .where(Account.id == account.id)
                    .values(failed_logins=0, locked_until=until)
                )
        return int(failures), locked

    async def client_token(
        self, client_id: str, secret: str, *, request_id: str | None = None
    ) -> Login:
        """A short-lived machine token for a client's id and secret, or ``InvalidClient``."""
        now = datetime.now(UTC)
        actor = f"client:{client_id}"
        client, party = await self._known(
            select(Client, Party)
            .join(Party, Party.code == Client.party_code)
            .where(Client.client_id == client_id),
            client_id,
            secret,
            failed="token_failed",
            refused=InvalidClient,
            request_id=request_id,
        )
        good = await asyncio.to_thread(verify_password, client.secret_hash, secret)
        if not good and client.previous_secret_hash and client.previous_valid_until:
            # During a rotation the previous secret still works until its end.
            good = client.previous_valid_until > now and await asyncio.to_thread(
                verify_password, client.previous_secret_hash, secret
            )
        if not good or client.disabled or party.disabled:
            await self._event(actor, "token_failed", "denied", party.code, request_id)
            raise InvalidClient
        principal = client_principal(client, party)
        lifetime = timedelta(minutes=self.settings.token_minutes)
        issued = await self.tokens.issue(principal, lifetime=lifetime, idle=lifetime)
        await self._event(actor, "token", "ok", party.code, request_id)
        return Login(issued, principal)

    async def principal(self, token: str | None) -> Principal:
        """The holder of a bearer token; the public without one; ``InvalidToken`` otherwise."""
        if token is None:
            return PUBLIC
        found = await self.tokens.resolve(token)
        if found is None:
            raise InvalidToken
        return found

    async def logout(
        self, token: str, principal: Principal, *, request_id: str | None = None
    ) -> None:
        """End the session of ``token``."""
        await self.tokens.revoke(token)
        await self._event(principal.id, "logout", "ok", principal.party, request_id)

    async def change_password(
        self, principal: Principal, current: str, new: str, *, request_id: str | None = None
    ) -> Login:
        """Replace a staff password; every session ends and a fresh one is returned."""
        username = principal.id.removeprefix("user:")
        async with AsyncSession(self.engine) as session:
            account = (
                await session.execute(select(Account).where(Account.username == username))
            ).scalar_one_or_none()
        if principal.kind != "staff" or account is None:
            raise InvalidToken
        if not await asyncio.to_thread(verify_password, account.password_hash, current):
            # A stolen session must not guess the password at leisure: this counts too.
            failures, locked = await self._count_failure(account, datetime.now(UTC))
            await self._event(
                principal.id, "password_change", "denied", principal.party, request_id,
                failures=failures, locked=locked,
            )  # fmt: skip
            if locked:
                await self.tokens.revoke_all(principal.id)
                raise AccountLocked(retry_after=self.settings.lockout_minutes * 60)
            raise PasswordChangeRefused("当前密码错误 / the current password is wrong")
        try:
            await asyncio.to_thread(
                check_password,
                self.policy,
                new,
                username=username,
                current_hash=account.password_hash,
            )
        except PasswordRejected as exc:
            raise PasswordChangeRefused(str(exc)) from None
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Account)
                .where(Account.id == account.id)
                .values(
                    password_hash=await asyncio.to_thread(hash_password, new),
                    password_changed_at=datetime.now(UTC),
                    must_change_password=False,
                )
            )
        await self.tokens.revoke_all(principal.id)
        await self._event(principal.id, "password_change", "ok", principal.party, request_id)
        fresh = Principal(
            kind="staff",
            id=principal.id,
            party=principal.party,
            party_kind=principal.party_kind,
            role=principal.role,
        )
        issued = await self.tokens.issue(
            fresh,
            lifetime=timedelta(hours=self.settings.session_max_hours),
            idle=timedelta(minutes=self.settings.session_idle_minutes),
        )
        return Login(issued, fresh)

    async def _event(
        self,
        actor: str,
        event: str,
        outcome: str,
        party: str | None,
        request_id: str | None,
        **detail: object,
    ) -> None:
        await self.audit.append(
            AuditEvent(
                actor=actor,
                event=event,
                outcome=outcome,
                party_code=party,
                request_id=request_id,
                detail=detail,
            )
        )
