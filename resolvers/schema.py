"""The GraphQL schema: root fields assembled from the sources.

This first version serves the public matter catalogue only; the joined schema over the four
sources, with authorisation, comes with the gateway issue.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from resolvers.database import SourceDatabases
from resolvers.supervision.tables import Matter as MatterRow

MAX_PAGE = 100


@strawberry.type(
    description="监管事项目录清单: one item of the regulatory matter catalogue (public)."
)
class Matter:
    code: str = strawberry.field(description="事项编码: 14-digit matter code.")
    name: str = strawberry.field(description="事项名称: matter name.")
    status: str = strawberry.field(
        description="事项状态: in_use 在用, cancelled 取消, stopped 停用."
    )
    version: str = strawberry.field(description="版本号: catalogue version.")
    department_code: str = strawberry.field(description="监管部门编码: responsible department.")
    valid_from: date = strawberry.field(description="生效日期: first day in force.")
    valid_to: date | None = strawberry.field(description="失效日期: last day in force.")
    licensing_item_code: str | None = strawberry.field(
        description="对应许可事项编码: linked government-service licensing item."
    )


class PageTooLarge(ValueError):
    """``first`` asks for more than ``MAX_PAGE`` items."""


@strawberry.type(description="Root of every query.")
class Query:
    @strawberry.field(description="监管事项目录清单: the matter catalogue, ordered by matter code.")
    async def matters(
        self,
        info: Info[dict[str, Any], None],
        first: int = 20,
        status: str | None = None,
    ) -> list[Matter]:
        if not 0 < first <= MAX_PAGE:
            raise PageTooLarge(f"first must be between 1 and {MAX_PAGE}")
        databases: SourceDatabases = info.context["databases"]
        stmt = (
            select(MatterRow)
            .where(MatterRow.cd_operation != "d")
            .order_by(MatterRow.matter_code, MatterRow.version, MatterRow.id)
            .limit(first)
        )
        if status is not None:
            stmt = stmt.where(MatterRow.status == status)
        async with databases.sessions("supervision")() as session:
            rows = (await session.scalars(stmt)).all()
        return [
            Matter(
                code=row.matter_code,
                name=row.name,
                status=row.status,
                version=row.version,
                department_code=row.department_code,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                licensing_item_code=row.licensing_item_code,
            )
            for row in rows
        ]


schema = strawberry.Schema(query=Query)


def schema_sdl() -> str:
    """The schema in SDL, as committed in ``schema.graphql``."""
    return schema.as_str() + "\n"
