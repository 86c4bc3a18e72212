"""The gateway's own database (``JIANGUAN_DATABASE_URL``): who may call, what they were granted,
and the audit log. Separate from the four source databases, which hold only exchange records.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from standard.exchange import UTCDateTime, new_metadata

PARTY_KINDS = {
    "department": "监管部门",
    "city_office": "主管部门 (city office, oversight)",
    "partner": "合作平台 (partner platform)",
    "enterprise": "第三方企业 (linked enterprise)",
    "portal": "开放数据 (one open dataset: its approvals are grants to it)",
}
ROLES = {
    "staff": "工作人员",
    "dept_admin": "部门管理员",
    "city_office": "主管部门监督人员",
    "auditor": "安全审计员",
}
CLIENT_KINDS = ("department", "partner", "enterprise")  # a department's own system too


class Base(DeclarativeBase):
    metadata = new_metadata("gateway")


class Party(Base):
    """A department, the city office, a partner platform or an enterprise: who owns data and
    to whom it can be granted. Codes are the ``provider`` values of exchange records."""

    __tablename__ = "parties"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)  # an enterprise's own code
    division_code: Mapped[str | None] = mapped_column(String(6))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Account(Base):
    """A real-name staff account (R10): one department, one role."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # lower(username): user names are case-insensitive and unique as such (gateway_0002)
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    real_name: Mapped[str] = mapped_column(String(100))
    party_code: Mapped[str] = mapped_column(ForeignKey("parties.code"))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # a code is used only once
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))


class Client(Base):
    """A machine credential of a partner platform or an enterprise (client credentials).

    Secrets are kept hashed; during a rotation the previous secret stays valid until
    ``previous_valid_until`` so a partner can roll its deployment without downtime.
    """

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    party_code: Mapped[str] = mapped_column(ForeignKey("parties.code"))
    secret_hash: Mapped[str] = mapped_column(String(200))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(200))
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rate_limit: Mapped[str | None] = mapped_column(String(40))  # e.g. "600/minute"
    persisted_only: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))


class Grant(Base):
    """共享授权: a provider lets a grantee read one resource of its data, within limits."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_grantee", "grantee"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(ForeignKey("parties.code"))
    grantee: Mapped[str] = mapped_column(ForeignKey("parties.code"))
    resource: Mapped[str] = mapped_column(String(40))
    row_filter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    clear_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    purpose: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class CasbinRule(Base):
    """Policy lines in the shape Casbin's SQL adapters use (ptype, v0…v5)."""

    __tablename__ = "casbin_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ptype: Mapped[str] = mapped_column(String(8))
    v0: Mapped[str] = mapped_column(String(100), default="")
    v1: Mapped[str] = mapped_column(String(100), default="")
    v2: Mapped[str] = mapped_column(String(100), default="")
    v3: Mapped[str] = mapped_column(String(100), default="")
    v4: Mapped[str] = mapped_column(String(100), default="")
    v5: Mapped[str] = mapped_column(String(100), default="")


class Session(Base):
    """A bearer token (staff session or machine token) when no Redis is configured.

    Only the token's SHA-256 is stored; with Redis, sessions live there instead.
    """

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_principal", "principal"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal: Mapped[str] = mapped_column(String(120))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    idle_until: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """One line of the append-only audit log; ``hash`` = SM3(previous hash ‖ this entry)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_actor", "actor"))

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))  # "user:alice", "client:p-12345", "public"
    party_code: Mapped[str | None] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str | None] = mapped_column(String(200))
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    providers: Mapped[list[str]] = mapped_column(JSON, default=list)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    variables_hash: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement of the chain's head at ``seq`` (SM2 over SM3), made periodically."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    head_hash: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(200))
    signature: Mapped[str] = mapped_column(String(200))
    # 16 hex digits of each entry's hash since the previous checkpoint, signed apart: names
    # the first rewritten entry (audit.log). None on checkpoints older than gateway_0003.
    trail: Mapped[str | None] = mapped_column(Text)
    trail_signature: Mapped[str | None] = mapped_column(String(200))


class OutboxEvent(Base):
    """事件: a change to tell partner systems of, written in the same transaction as the change
    (a transactional outbox), so an event is sent if and only if its change was kept."""

    __tablename__ = "event_outbox"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)  # the webhook-id: idempotency key
    kind: Mapped[str] = mapped_column(String(64))  # "task.claimed", "draw.performed", …
    aggregate: Mapped[str] = mapped_column(String(80))  # "task:42": its events go out in order
    resource: Mapped[str] = mapped_column(String(40))  # what a subscriber must be able to read
    provider: Mapped[str] = mapped_column(String(40))  # whose data it is (provider-owns-data)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Parties it is for by its domain's own rule, beside the scope (a task's issuer, recipients)
    audience: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))


class WebhookSubscription(Base):
    """A partner client's endpoint for events it may see, signed per Standard Webhooks."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id"))
    url: Mapped[str] = mapped_column(String(500))
    # Symmetric (the receiver verifies with it), so kept as issued; shown once, never logged.
    secret: Mapped[str] = mapped_column(String(100))
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every kind
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # last outbox seq fanned out
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))


class WebhookDelivery(Base):
    """One event owed to one subscription: pending until the endpoint answers 2xx, dead (a dead
    letter, replayable) after the last retry."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_order", "subscription_id", "aggregate", "status", "event_seq"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id"), primary_key=True
    )
    event_seq: Mapped[int] = mapped_column(ForeignKey("event_outbox.seq"), primary_key=True)
    aggregate: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(10))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(200))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- Regulatory tasks (监管任务, R11; tasks/store.py) ------------------------------------------


class TaskRow(Base):
    """监管任务: one task at its current version; ``version`` guards every change (optimistic
    concurrency: ``UPDATE … WHERE seq = :seq AND version = :version``)."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_issuer", "issuer", "seq"),
        Index("ix_tasks_open_due", "state", "due_at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)  # "T-20260212-3f9a0c1e"
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(40))
    subjects: Mapped[list[str]] = mapped_column(JSON, default=list)
    matters: Mapped[list[str]] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_working_days: Mapped[int] = mapped_column(Integer)
    # Derived from issued_at and the working-day calendar when issued, kept so the overdue list
    # is one indexed query; provisional when a counted year had no holiday notice yet.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    assignees: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    acts: Mapped[list[str]] = mapped_column(JSON, default=list)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # task.overdue sent
    created_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TaskRecipient(Base):
    """承办部门: a party a task is sent to (its inbox); rewritten when the city office reassigns
    the task to other departments."""

    __tablename__ = "task_recipients"
    __table_args__ = (Index("ix_task_recipients_party", "party", "task_seq"),)

    task_seq: Mapped[int] = mapped_column(ForeignKey("tasks.seq"), primary_key=True)
    party: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)  # the order the issuer named them in


class TaskMove(Base):
    """任务流转记录: one step of a task's history (issue included), with who, when, the note,
    the reason and the attachments (by SM3) given with it. One row per version: a second writer
    of the same version fails on the key even if the version check were bypassed."""

    __tablename__ = "task_moves"

    task_seq: Mapped[int] = mapped_column(ForeignKey("tasks.seq"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)  # the version it produced
    action: Mapped[str] = mapped_column(String(16))  # "issue", "deliver", "claim", …
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(120))
    party: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    audit_seq: Mapped[int] = mapped_column(BigInteger)


class TaskReceipt(Base):
    """回执: a signed receipt (tasks/receipts.py) as issued, verifiable offline."""

    __tablename__ = "task_receipts"
    __table_args__ = (Index("ix_task_receipts_task", "task_seq", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_seq: Mapped[int] = mapped_column(ForeignKey("tasks.seq"))
    task_version: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    audit_seq: Mapped[int] = mapped_column(BigInteger)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class ComplaintTask(Base):
    """投诉转任务: the task a 12345 complaint dispatched to a department became. Kept here, not
    as a column of the complaints source: that table is the hotline's exchange format, pushed
    and re-pushed by its provider, so a gateway column there would be overwritten or refused."""

    __tablename__ = "complaint_tasks"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)  # the complaint's key:
    cd_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # (provider, cd_id)
    ticket_no: Mapped[str] = mapped_column(String(50))
    task_seq: Mapped[int] = mapped_column(ForeignKey("tasks.seq"), unique=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Random inspections (双随机、一公开, issue 14 §1): plans, their items, the pools' snapshots as
# approved, every draw beside the first, and the result of each drawn subject's inspection.


class InspectionPlan(Base):
    """双随机抽查计划, as approved: the rules and the hashes fixed before the seed is known."""

    __tablename__ = "inspection_plans"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    draw_day: Mapped[date] = mapped_column(Date)
    lead_department: Mapped[str] = mapped_column(String(40))  # 牵头部门: its first item's
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)  # the rules' canonical document
    rules_version: Mapped[str] = mapped_column(String(40))
    rules_hash: Mapped[str] = mapped_column(String(64))
    subjects_hash: Mapped[str] = mapped_column(String(64))
    subjects_count: Mapped[int] = mapped_column(Integer)
    inspectors_hash: Mapped[str] = mapped_column(String(64))
    inspectors_count: Mapped[int] = mapped_column(Integer)
    commitment: Mapped[str] = mapped_column(String(64))  # SM3 of the seed
    status: Mapped[str] = mapped_column(String(16))  # approved | drawn
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str] = mapped_column(String(120))
    approved_party: Mapped[str] = mapped_column(String(40))


class InspectionPlanItem(Base):
    """One list item (清单事项) of a plan; its department decides who sees the plan."""

    __tablename__ = "inspection_plan_items"
    __table_args__ = (Index("ix_inspection_plan_items_department", "department", "plan_code"),)

    plan_code: Mapped[str] = mapped_column(ForeignKey("inspection_plans.code"), primary_key=True)
    item_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    matter_code: Mapped[str] = mapped_column(String(14))
    department: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(500))
    legal_basis: Mapped[str] = mapped_column(Text)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)


class InspectionSnapshotLine(Base):
    """One canonical line of a pool's snapshot (inspections.snapshot): the bytes hashed."""

    __tablename__ = "inspection_snapshot_lines"

    plan_code: Mapped[str] = mapped_column(ForeignKey("inspection_plans.code"), primary_key=True)
    pool: Mapped[str] = mapped_column(String(12), primary_key=True)  # subjects | inspectors
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line: Mapped[str] = mapped_column(Text)


class InspectionDraw(Base):
    """One draw of a plan: the first, or a repeat with its reason, kept beside the first."""

    __tablename__ = "inspection_draws"

    plan_code: Mapped[str] = mapped_column(ForeignKey("inspection_plans.code"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1 is the first draw
    seed: Mapped[str] = mapped_column(String(64))  # revealed, hex
    commitment: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)  # required for number > 1
    result_hash: Mapped[str] = mapped_column(String(64))
    subject_count: Mapped[int] = mapped_column(Integer)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime())
    drawn_by: Mapped[str] = mapped_column(String(120))
    drawn_party: Mapped[str] = mapped_column(String(40))


class InspectionDrawLine(Base):
    """One drawn subject of a draw, as its canonical result line (inspections.draw)."""

    __tablename__ = "inspection_draw_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["plan_code", "number"], ["inspection_draws.plan_code", "inspection_draws.number"]
        ),
    )

    plan_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_uscc: Mapped[str] = mapped_column(String(18))
    line: Mapped[str] = mapped_column(Text)
    # The task the subject's inspection became (inspections.issuing), set in its issuing
    # transaction: a line with a task is never issued again.
    task_seq: Mapped[int | None] = mapped_column(ForeignKey("tasks.seq"), unique=True)


class InspectionResult(Base):
    """The result of inspecting one drawn subject: the supervision act it was recorded as, the
    task it came from, and the day it is published (一公开)."""

    __tablename__ = "inspection_results"

    plan_code: Mapped[str] = mapped_column(ForeignKey("inspection_plans.code"), primary_key=True)
    subject_uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    department: Mapped[str] = mapped_column(String(40), primary_key=True)  # joint: one each
    draw_number: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[str | None] = mapped_column(String(64))
    action_no: Mapped[str] = mapped_column(String(50))
    result: Mapped[str] = mapped_column(String(16))
    inspected_on: Mapped[date] = mapped_column(Date)
    published_on: Mapped[date | None] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(120))


metadata = Base.metadata
