"""Parties, staff accounts and machine clients: created, changed and disabled here, by the CLI
(an operator at the console) or over GraphQL (a department administrator, for their own
department only, R10). Every change is audited; a change of administrator raises an
``admin_change`` event that the city office sees.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from accounts.passwords import PasswordPolicy, check_password, generate_password, hash_password
from accounts.tokens import TokenStore
from audit.log import AuditEvent, AuditLog
from policies.actor import Actor, ChangeRefused
from standard.codes import check_uscc
from standard.errors import Forbidden
from standard.tables.gateway import CLIENT_KINDS, PARTY_KINDS, ROLES, Account, Client, Party

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
ADMIN_ROLES = frozenset({"dept_admin", "city_office", "auditor"})


class Admin:
    """Management of parties, accounts and clients."""

    def __init__(
        self, engine: AsyncEngine, audit: AuditLog, tokens: TokenStore, policy: PasswordPolicy
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.tokens = tokens
        self.policy = policy

    async def add_party(
        self,
        actor: Actor,
        *,
        code: str,
        name: str,
        kind: str,
        uscc: str | None = None,
        division_code: str | None = None,
    ) -> None:
        """Register a department, the city office, a partner platform or an enterprise."""
        if actor.scope is not None:
            raise Forbidden("parties are registered by an operator (jianguan party add)")
        if kind not in PARTY_KINDS:
            raise ChangeRefused(f"kind must be one of {', '.join(PARTY_KINDS)}, not {kind!r}")
        if not NAME.fullmatch(code):
            raise ChangeRefused(f"code {code!r}: letters, digits, '.', '_' or '-', 2-64 characters")
        if kind == "enterprise":
            finding = check_uscc(uscc or "", legacy="reject")
            if not uscc or finding is not None:
                raise ChangeRefused(
                    f"an enterprise needs its USCC: {finding.reason if finding else 'missing'}"
                )
        await self._insert(
            Party.__table__,
            f"party {code!r} already exists (or its USCC is registered)",
            code=code,
            name=name,
            kind=kind,
            uscc=uscc,
            division_code=division_code,
            disabled=False,
            created_at=datetime.now(UTC),
        )
        await self._event(actor, "party_change", code, action="add", kind=kind)

    async def add_account(
        self,
        actor: Actor,
        *,
        username: str,
        real_name: str,
        party: str,
        role: str,
        password: str | None = None,
    ) -> str:
        """A staff account; returns its initial password, which must be changed at first login."""
        if role not in ROLES:
            raise ChangeRefused(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not NAME.fullmatch(username):
            raise ChangeRefused(f"username {username!r}: 2-64 letters, digits, '.', '_' or '-'")
        actor.check("manage", "accounts", party)
        if actor.scope is not None and role in ("city_office", "auditor"):
            raise Forbidden("city-office and auditor accounts are made by an operator")
        await self._party(party)
        taken = await self._find_account(username)
        if taken is not None:
            raise ChangeRefused(
                f"username {username!r} is taken (by {taken.username!r}: user names are "
                "case-insensitive)"
            )
        initial = password or generate_password(self.policy, username=username)
        check_password(self.policy, initial, username=username)
        now = datetime.now(UTC)
        await self._insert(
            Account.__table__,
            f"username {username!r} is taken",
            username=username,
            username_key=username.lower(),
            real_name=real_name,
            party_code=party,
            role=role,
            password_hash=hash_password(initial),
            password_changed_at=now,
            must_change_password=True,
            failed_logins=0,
            disabled=False,
            created_at=now,
            created_by=actor.name,
        )
        event = "admin_change" if role in ADMIN_ROLES else "account_change"
        await self._event(actor, event, party, action="add", username=username, role=role)
        return initial

    async def set_role(self, actor: Actor, *, username: str, role: str) -> None:
        """Change an account's role; administrators' changes are reported to the city office."""
        if role not in ROLES:
            raise ChangeRefused(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        account = await self._account(actor, username)
        username = account.username
        if actor.scope is not None and role in ("city_office", "auditor"):
            raise Forbidden("city-office and auditor roles are given by an operator")
        await self._update_account(account.id, role=role)
        await self.tokens.revoke_all(f"user:{username}")  # sessions carry the old role
        changed = {account.role, role} & ADMIN_ROLES
        await self._event(
            actor,
            "admin_change" if changed else "account_change",
            account.party_code,
            action="role",
            username=username,
            before=account.role,
            after=role,
        )

    async def disable_account(self, actor: Actor, *, username: str, disabled: bool = True) -> int:
        """Disable (or enable) an account; its sessions end at once on every replica."""
        account = await self._account(actor, username)
        username = account.username
        await self._update_account(account.id, disabled=disabled)
        ended = await self.tokens.revoke_all(f"user:{username}") if disabled else 0
        event = "admin_change" if account.role in ADMIN_ROLES else "account_change"
        await self._event(
            actor,
            event,
            account.party_code,
            action="disable" if disabled else "enable",
            username=username,
            sessions_ended=ended,
        )
        return ended

    async def reset_password(self, actor: Actor, *, username: str) -> str:
        """A new initial password (to be changed at next login); sessions end."""
        account = await self._account(actor, username)
        username = account.username
        initial = generate_password(self.policy, username=username)
        await self._update_account(
            account.id,
            password_hash=hash_password(initial),
            password_changed_at=datetime.now(UTC),
            must_change_password=True,
            failed_logins=0,
            locked_until=None,
        )
        await self.tokens.revoke_all(f"user:{username}")
        await self._event(
            actor, "account_change", account.party_code, action="reset_password", username=username
        )
        return initial

    async def enrol_totp(self, actor: Actor, *, username: str) -> str:
        """Turn on a second factor; returns the ``otpauth://`` URI for the holder's app."""
        account = await self._account(actor, username)
        username = account.username
        secret = pyotp.random_base32()
        await self._update_account(account.id, totp_secret=secret)
        await self._event(
            actor, "account_change", account.party_code, action="totp", username=username
        )
        return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Jianguan")

    async def add_client(
        self,
        actor: Actor,
        *,
        client_id: str,
        name: str,
        party: str,
        rate_limit: str | None = None,
        persisted_only: bool = False,
    ) -> str:
        """A machine client of a partner platform or enterprise; returns its secret (once)."""
        if actor.scope is not None:
            raise Forbidden("clients are registered by an operator (jianguan client add)")
        if not NAME.fullmatch(client_id):
            raise ChangeRefused(f"client id {client_id!r}: 2-64 letters, digits, '.', '_' or '-'")
        owner = await self._party(party)
        if owner.kind not in CLIENT_KINDS:
            raise ChangeRefused(
                f"clients belong to partners or enterprises; {party} is a {owner.kind}"
            )
        secret = secrets.token_urlsafe(32)
        await self._insert(
            Client.__table__,
            f"client {client_id!r} already exists",
            client_id=client_id,
            name=name,
            party_code=party,
            secret_hash=hash_password(secret),
            rate_limit=rate_limit,
            persisted_only=persisted_only,
            disabled=False,
            created_at=datetime.now(UTC),
            created_by=actor.name,
        )
        await self._event(actor, "client_change", party, action="add", client_id=client_id)
        return secret

    async def rotate_secret(self, actor: Actor, *, client_id: str, overlap: timedelta) -> str:
        """A new secret; the old one keeps working for ``overlap`` so nothing stops."""
        client = await self._client(client_id)
        secret = secrets.token_urlsafe(32)
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Client)
                .where(Client.client_id == client_id)
                .values(
                    secret_hash=hash_password(secret),
                    previous_secret_hash=client.secret_hash,
                    previous_valid_until=datetime.now(UTC) + overlap,
                )
            )
        await self._event(
            actor, "client_change", client.party_code, action="rotate", client_id=client_id
        )
        return secret

    async def disable_client(self, actor: Actor, *, client_id: str, disabled: bool = True) -> int:
        """Disable (or enable) a client; its tokens end at once."""
        client = await self._client(client_id)
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Client).where(Client.client_id == client_id).values(disabled=disabled)
            )
        ended = await self.tokens.revoke_all(f"client:{client_id}") if disabled else 0
        await self._event(
            actor, "client_change", client.party_code, action="disable" if disabled else "enable",
            client_id=client_id,
        )  # fmt: skip
        return ended

    async def set_client(
        self,
        actor: Actor,
        *,
        client_id: str,
        rate_limit: str | None = None,
        unlimited: bool = False,
        persisted_only: bool | None = None,
    ) -> int:
        """Change a client's own rate limit (or fall back to the default) or its persisted-only
        flag; its tokens end, so the next one carries the change."""
        client = await self._client(client_id)
        values: dict[str, object] = {}
        if rate_limit is not None or unlimited:
            values["rate_limit"] = None if unlimited else rate_limit
        if persisted_only is not None:
            values["persisted_only"] = persisted_only
        if not values:
            raise ChangeRefused("nothing to change: give a rate limit or the persisted-only flag")
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Client).where(Client.client_id == client_id).values(**values)
            )
        ended = await self.tokens.revoke_all(f"client:{client_id}")
        await self._event(
            actor, "client_change", client.party_code, action="set", client_id=client_id,
            **{k: v for k, v in values.items()},
        )  # fmt: skip
        return ended

    async def disable_party(self, actor: Actor, *, code: str, disabled: bool = True) -> int:
        """Disable (or enable) a whole party: every account and client of it stops at once."""
        if actor.scope is not None:
            raise Forbidden("parties are disabled by an operator (jianguan party disable)")
        await self._party(code)
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Party).where(Party.code == code).values(disabled=disabled)
            )
            users = (
                (
                    await connection.execute(
                        select(Account.username).where(Account.party_code == code)
                    )
                )
                .scalars()
                .all()
            )
            clients = (
                (
                    await connection.execute(
                        select(Client.client_id).where(Client.party_code == code)
                    )
                )
                .scalars()
                .all()
            )
        ended = 0
        if disabled:
            for principal in [*(f"user:{u}" for u in users), *(f"client:{c}" for c in clients)]:
                ended += await self.tokens.revoke_all(principal)
        await self._event(
            actor, "party_change", code, action="disable" if disabled else "enable",
            sessions_ended=ended,
        )  # fmt: skip
        return ended

    async def accounts(self, parties: frozenset[str] | None) -> list[Account]:
        """Accounts of ``parties`` (None: all), by party and username."""
        stmt = select(Account).order_by(Account.party_code, Account.username)
        if parties is not None:
            stmt = stmt.where(Account.party_code.in_(parties))
        async with AsyncSession(self.engine) as session:
            return list((await session.execute(stmt)).scalars())

    async def _party(self, code: str) -> Party:
        async with AsyncSession(self.engine) as session:
            found = (await session.execute(select(Party).where(Party.code == code))).first()
        if found is None:
            raise ChangeRefused(f"no party {code!r}; register it first (jianguan party add)")
        return found[0]

    async def _find_account(self, username: str) -> Account | None:
        async with AsyncSession(self.engine) as session:
            found = (
                await session.execute(
                    select(Account).where(Account.username_key == username.lower())
                )
            ).first()
        return None if found is None else found[0]

    async def _account(self, actor: Actor, username: str) -> Account:
        """The account ``actor`` may manage. To a signed-in actor, an unknown name and another
        department's account get one answer: the answer must not tell who exists elsewhere."""
        account = await self._find_account(username)
        if actor.scope is None:
            if account is None:
                raise ChangeRefused(f"no account {username!r}")
            return account
        if account is None or not actor.scope.may("manage", "accounts", account.party_code):
            raise Forbidden(f"no account {username!r} that {actor.name} may manage")
        return account

    async def _client(self, client_id: str) -> Client:
        async with AsyncSession(self.engine) as session:
            found = (
                await session.execute(select(Client).where(Client.client_id == client_id))
            ).first()
        if found is None:
            raise ChangeRefused(f"no client {client_id!r}")
        return found[0]

    async def _update_account(self, account_id: int, **values: object) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                update(Account).where(Account.id == account_id).values(**values)
            )

    async def _insert(self, table: object, taken: str, **values: object) -> None:
        try:
            async with self.engine.begin() as connection:
                await connection.execute(table.insert().values(**values))  # type: ignore[attr-defined]
        except IntegrityError:
            raise ChangeRefused(taken) from None

    async def _event(self, actor: Actor, event: str, party: str, **detail: object) -> None:
        await self.audit.append(
            AuditEvent(
                actor=actor.name,
                event=event,
                outcome="ok",
                party_code=party,
                providers=(party,),
                detail=detail,
            )
        )
