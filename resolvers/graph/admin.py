"""Administration over GraphQL: who am I, grants (共享授权), staff accounts, the audit log.

Resolvers only translate: the decisions live in ``accounts.admin``, ``policies.grants`` and the
caller's scope, whose refusals (``Forbidden``, ``ChangeRefused``, ``PasswordRejected``) reach the
client as they are, coded by ``resolvers.graph.errors``. A department administrator acts for
their own department only.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from open_data import approvals
from open_data.datasets import dataset
from policies.actor import Actor
from policies.grants import GrantRequest
from resolvers.context import Context, Services
from standard.errors import Forbidden, InputError, NotFound, Unauthenticated
from standard.tables.gateway import Grant as GrantRow

MAX_AUDIT_PAGE = 100


def _actor(info: Info[Context, None]) -> Actor:
    scope = info.context.scope
    if scope.principal.kind == "public":
        raise Unauthenticated("Sign in to do this (POST /auth/login or /oauth/token).")
    return Actor.of(scope)


def _services(info: Info[Context, None]) -> Services:
    services = info.context.services
    if services is None:
        raise Forbidden("Administration is not available here.")
    return services


async def _granted(services: Services, grant_id: int) -> GrantNode:
    grant = await services.grants.one(grant_id)
    if grant is None:  # written in this request: only a concurrent delete could remove it
        raise NotFound(f"no grant {grant_id}")
    return GrantNode.of(grant)


@strawberry.enum(description="角色: a staff account's role.")
class Role(Enum):
    STAFF = "staff"
    DEPT_ADMIN = "dept_admin"
    CITY_OFFICE = "city_office"
    AUDITOR = "auditor"


@strawberry.type(description="当前用户: who the caller is, as the gateway sees them.")
class Me:
    id: str = strawberry.field(description="Principal: user:<name>, client:<id> or public.")
    kind: str = strawberry.field(description="staff, client or public.")
    party: str | None = strawberry.field(description="所属部门/平台/企业: the party acted for.")
    party_kind: str | None = strawberry.field(
        description="department, city_office, partner, enterprise."
    )
    role: str | None = strawberry.field(description="角色 (staff only).")
    uscc: str | None = strawberry.field(description="统一社会信用代码 (enterprises).")


@strawberry.type(name="Grant", description="共享授权: a provider's permission to read its data.")
class GrantNode:
    id: int = strawberry.field(description="授权编号.")
    provider: str = strawberry.field(description="数据提供部门: who gave it.")
    grantee: str = strawberry.field(description="被授权方: who may read.")
    resource: str = strawberry.field(description="资源: the table (e.g. complaints).")
    row_filter: JSON = strawberry.field(description="范围: column equalities rows must meet.")
    clear_fields: list[str] = strawberry.field(description="明文字段: personal fields in clear.")
    purpose: str = strawberry.field(description="用途.")
    valid_from: datetime = strawberry.field(description="生效时间.")
    valid_until: datetime = strawberry.field(description="失效时间.")
    created_by: str = strawberry.field(description="授权人.")
    revoked_at: datetime | None = strawberry.field(description="撤销时间.")
    revoked_by: str | None = strawberry.field(description="撤销人.")

    @classmethod
    def of(cls, row: GrantRow) -> GrantNode:
        return cls(
            id=row.id,
            provider=row.provider,
            grantee=row.grantee,
            resource=row.resource,
            row_filter=dict(row.row_filter or {}),  # type: ignore[arg-type]  # JSON scalar
            clear_fields=list(row.clear_fields or []),
            purpose=row.purpose,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            created_by=row.created_by,
            revoked_at=row.revoked_at,
            revoked_by=row.revoked_by,
        )


@strawberry.input(description="A grant to give (共享授权).")
class GrantInput:
    provider: str = strawberry.field(description="数据提供部门: your department.")
    grantee: str = strawberry.field(description="被授权方: a department or partner code.")
    resource: str = strawberry.field(description="资源: a table, e.g. complaints.")
    purpose: str = strawberry.field(description="用途: why the grantee needs it.")
    valid_until: datetime = strawberry.field(description="失效时间 (with time zone).")
    valid_from: datetime | None = strawberry.field(
        default=None, description="生效时间; now if absent."
    )
    row_filter: JSON | None = strawberry.field(
        default=None, description='范围, e.g. {"division_code": "610113"}.'
    )
    clear_fields: list[str] = strawberry.field(default_factory=list, description="明文字段.")


@strawberry.input(description="A staff account to create (实名).")
class AccountInput:
    username: str = strawberry.field(description="登录名.")
    real_name: str = strawberry.field(description="真实姓名.")
    party: str = strawberry.field(description="所属部门: your department.")
    role: Role = strawberry.field(description="角色: staff or dept_admin.")


@strawberry.type(description="A new account and its initial password (shown once).")
class CreatedAccount:
    username: str = strawberry.field(description="登录名.")
    initial_password: str = strawberry.field(
        description="初始密码: must be changed at first login."
    )


@strawberry.type(name="Account", description="账号: a staff account (never its password).")
class AccountNode:
    username: str = strawberry.field(description="登录名.")
    real_name: str = strawberry.field(description="真实姓名.")
    party: str = strawberry.field(description="所属部门.")
    role: str = strawberry.field(description="角色.")
    disabled: bool = strawberry.field(description="已停用.")
    must_change_password: bool = strawberry.field(description="须修改密码.")
    password_changed_at: datetime = strawberry.field(description="密码修改时间.")
    locked_until: datetime | None = strawberry.field(description="锁定至 (failed logins).")
    second_factor: bool = strawberry.field(description="已启用双因素 (TOTP).")
    created_by: str = strawberry.field(description="创建人.")


@strawberry.type(description="审计日志条目: one entry of the audit log.")
class AuditEntryNode:
    seq: int = strawberry.field(description="序号.")
    at: datetime = strawberry.field(description="时间.")
    actor: str = strawberry.field(description="操作人.")
    party_code: str | None = strawberry.field(description="操作人所属.")
    event: str = strawberry.field(description="事件.")
    operation: str | None = strawberry.field(description="操作名.")
    resources: list[str] = strawberry.field(description="涉及资源.")
    providers: list[str] = strawberry.field(description="涉及数据提供部门.")
    rows: int = strawberry.field(description="行数.")
    variables_hash: str | None = strawberry.field(description="参数摘要 (SM3).")
    outcome: str = strawberry.field(description="结果.")
    detail: JSON = strawberry.field(description="详情.")
    request_id: str | None = strawberry.field(description="请求标识.")
    hash: str = strawberry.field(description="链式摘要 (SM3).")


@strawberry.type(description="A page of audit entries, newest first.")
class AuditPage:
    entries: list[AuditEntryNode] = strawberry.field(description="The entries.")
    next_before: int | None = strawberry.field(description="Pass as `before` for the next page.")


async def me(info: Info[Context, None]) -> Me:
    p = info.context.principal
    return Me(
        id=p.id, kind=p.kind, party=p.party, party_kind=p.party_kind, role=p.role, uscc=p.uscc
    )


async def grants(info: Info[Context, None]) -> list[GrantNode]:
    actor = _actor(info)
    scope = info.context.scope
    parties = scope.providers("read", "grants")
    if parties is not None:
        own = scope.providers("manage", "grants") or frozenset()
        parties = parties | own | ({actor.party} if actor.party else set())
    rows = await _services(info).grants.visible(parties)
    return [GrantNode.of(row) for row in rows]


async def accounts(info: Info[Context, None]) -> list[AccountNode]:
    _actor(info)
    scope = info.context.scope
    read = scope.providers("read", "accounts")
    managed = scope.providers("manage", "accounts")
    parties = None if read is None or managed is None else read | managed
    if parties is not None and not parties:
        raise Forbidden("Your role does not include managing accounts.")
    rows = await _services(info).admin.accounts(parties)
    info.context.sources.note("accounts", len(rows), {r.party_code for r in rows})
    return [
        AccountNode(
            username=r.username,
            real_name=r.real_name,
            party=r.party_code,
            role=r.role,
            disabled=r.disabled,
            must_change_password=r.must_change_password,
            password_changed_at=r.password_changed_at,
            locked_until=r.locked_until,
            second_factor=r.totp_secret is not None,
            created_by=r.created_by,
        )
        for r in rows
    ]


async def give_grant(info: Info[Context, None], input: GrantInput) -> GrantNode:
    actor = _actor(info)
    services = _services(info)
    if input.row_filter is not None and not isinstance(input.row_filter, dict):
        raise InputError("rowFilter must be an object of column: value")
    request = GrantRequest(
        provider=input.provider,
        grantee=input.grantee,
        resource=input.resource,
        purpose=input.purpose,
        valid_until=input.valid_until,
        valid_from=input.valid_from,
        row_filter=dict(input.row_filter or {}),  # checked against the table's columns
        clear_fields=tuple(input.clear_fields),
    )
    grant_id = await services.grants.give(actor, request)
    return await _granted(services, grant_id)


async def approve_dataset(info: Info[Context, None], name: str, provider: str) -> GrantNode:

    actor = _actor(info)
    services = _services(info)
    spec = dataset(name)
    grant_id = await approvals.approve(services.grants, actor, spec, provider)
    return await _granted(services, grant_id)


async def withdraw_dataset_approval(info: Info[Context, None], name: str, provider: str) -> bool:

    spec = dataset(name)
    await approvals.withdraw(_services(info).grants, _actor(info), spec, provider)
    return True


async def revoke_grant(info: Info[Context, None], id: int) -> bool:
    await _services(info).grants.revoke(_actor(info), id)
    return True


async def create_account(info: Info[Context, None], input: AccountInput) -> CreatedAccount:
    initial = await _services(info).admin.add_account(
        _actor(info),
        username=input.username,
        real_name=input.real_name,
        party=input.party,
        role=input.role.value,
    )
    return CreatedAccount(username=input.username, initial_password=initial)


async def set_account_role(info: Info[Context, None], username: str, role: Role) -> bool:
    await _services(info).admin.set_role(_actor(info), username=username, role=role.value)
    return True


async def disable_account(info: Info[Context, None], username: str, disabled: bool = True) -> bool:
    await _services(info).admin.disable_account(_actor(info), username=username, disabled=disabled)
    return True


async def reset_password(info: Info[Context, None], username: str) -> str:
    result: str = await _services(info).admin.reset_password(_actor(info), username=username)
    return result


async def audit_log(
    info: Info[Context, None],
    first: int,
    before: int | None = None,
    actor: str | None = None,
    event: str | None = None,
) -> AuditPage:
    _actor(info)
    if not 1 <= first <= MAX_AUDIT_PAGE:
        raise InputError(f"first must be between 1 and {MAX_AUDIT_PAGE}, got {first}")
    parties = info.context.scope.providers("read", "audit_log")
    if parties is not None and not parties:
        raise Forbidden("Your role does not include reading the audit log.")
    rows = await _services(info).audit_reader.page(
        parties=parties, first=first, before=before, actor=actor, event=event
    )
    info.context.sources.note("audit_log", len(rows), parties or ())
    entries = [AuditEntryNode(**row) for row in rows]
    return AuditPage(
        entries=entries, next_before=entries[-1].seq if len(entries) == first else None
    )


def fields() -> tuple[dict[str, Any], dict[str, Any]]:
    """The query and mutation fields of administration."""
    query = {
        "me": strawberry.field(resolver=me, description="当前用户: who you are."),
        "grants": strawberry.field(
            resolver=grants, description="共享授权: grants given by or to your department."
        ),
        "accounts": strawberry.field(
            resolver=accounts,
            description="账号: your department's accounts (administrators); all (city office).",
        ),
        "audit_log": strawberry.field(
            resolver=audit_log,
            description="审计日志: newest first; the city office and auditors see all of it, a "
            "department administrator what concerns their department.",
        ),
    }
    mutation = {
        "give_grant": strawberry.field(
            resolver=give_grant, description="给予共享授权 (department administrators)."
        ),
        "revoke_grant": strawberry.field(
            resolver=revoke_grant,
            description="撤销共享授权; every replica stops serving it within a second.",
        ),
        "approve_dataset": strawberry.field(
            resolver=approve_dataset,
            description="批准开放数据集 (R9): your department's records may be published in the "
            "named open dataset; audited, effective on the next publishing run.",
        ),
        "withdraw_dataset_approval": strawberry.field(
            resolver=withdraw_dataset_approval,
            description="撤回开放数据批准: the dataset leaves the portal on the next run.",
        ),
        "create_account": strawberry.field(
            resolver=create_account, description="新建本部门账号 (department administrators)."
        ),
        "set_account_role": strawberry.field(
            resolver=set_account_role,
            description="变更账号角色; administrator changes are reported.",
        ),
        "disable_account": strawberry.field(
            resolver=disable_account, description="停用/启用账号; its sessions end at once."
        ),
        "reset_password": strawberry.field(
            resolver=reset_password, description="重置密码: returns a new initial password."
        ),
    }
    return query, mutation
