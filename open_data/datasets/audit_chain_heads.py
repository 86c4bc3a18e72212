"""审计日志签名链头: the audit chain's signed head at the end of each day, published so that
copies of it live outside the gateway's database (docs/audit.md, "A witness outside the
database"). ``jianguan audit verify --against`` checks the log against them.

One row per Beijing day: that day's last checkpoint, once a checkpoint of a later day exists
(so a day's row never changes once published). Nothing in it is personal: a hash of the chain,
the public key and the signature.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from open_data.ckan import CITY_ORGANISATION
from open_data.spec import GATEWAY, Column, DatasetSpec, Digest, Drop, Keep
from policies.access import RequestSources
from sources.base import Page, PageRequest
from sources.database import create_engine
from standard.tables.gateway import AuditCheckpoint
from standard.workdays import SHANGHAI


def _day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()  # Beijing's day: the city's, as in every dataset


class DailyHeads:
    """Pages of each finished day's last checkpoint from the gateway database, by seq."""

    def __init__(self, sources: RequestSources) -> None:
        self.url = sources.sources.settings.gateway_url

    async def page(self, table: str, request: PageRequest) -> Page:
        engine = create_engine(self.url)  # one page a year, about: no pool worth keeping
        try:
            async with engine.connect() as conn:
                times = (await conn.execute(select(AuditCheckpoint.seq, AuditCheckpoint.at))).all()
                last_of: dict[date, int] = {}
                for seq, at in times:
                    day = _day(at)
                    last_of[day] = max(seq, last_of.get(day, 0))
                finished = sorted(seq for day, seq in last_of.items() if day < max(last_of))
                after = request.after or 0
                wanted = [seq for seq in finished if seq > after]
                chosen = wanted[: request.first]
                found = (
                    (
                        await conn.execute(
                            select(AuditCheckpoint.__table__)
                            .where(AuditCheckpoint.seq.in_(chosen))
                            .order_by(AuditCheckpoint.seq)
                        )
                    )
                    .mappings()
                    .all()
                )
        finally:
            await engine.dispose()
        rows = [
            {**row, "id": row["seq"], "provider": CITY_ORGANISATION, "cd_id": str(_day(row["at"]))}
            for row in found
        ]
        return Page(rows, has_next=len(wanted) > len(chosen), has_previous=after > 0)


SPEC = DatasetSpec(
    name="audit-chain-heads",
    title="监管系统审计日志签名链头（每日）",
    description=(
        "“互联网+监管”系统审计日志（哈希链，SM3）每日最后一个签名检查点：序号、签名时间、"
        "链头哈希、签名公钥与 SM2 签名。各方可自行保存副本，用于核验审计日志此后未被改写"
        "（jianguan audit verify --against）。不含任何个人信息。"
    ),
    source=GATEWAY,
    table="audit_checkpoints",
    frequency="daily",
    tags=("审计日志", "互联网+监管"),
    public_by_rule=True,  # no personal data: a hash, a public key and a signature (Digest)
    reader=DailyHeads,
    columns=(
        Column("seq", Keep(), "日志序号", "该检查点签名时链上最后一条日志的序号"),
        Column("at", Keep(), "签名时间", "UTC"),
        Column("head_hash", Digest(), "链头哈希（SM3）", "序号为 seq 的日志条目的哈希"),
        Column("public_key", Digest(), "签名公钥（SM2）"),
        Column("signature", Digest(), "签名（SM2，SM3 摘要）", "对链头哈希 32 字节的签名，r‖s"),
        Column("trail", Drop()),
        Column("trail_signature", Drop()),
    ),
)
