"""The Starlette application: health, and GraphQL at ``/graphql``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from gateway.settings import Settings
from resolvers.database import SourceDatabases
from resolvers.schema import schema


class _GraphQL(GraphQL[dict[str, Any], None]):
    def __init__(self, databases: SourceDatabases, *, development: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if development else None)
        self.databases = databases

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return {"request": request, "response": response, "databases": self.databases}


def create_app(settings: Settings) -> Starlette:
    """Build the application; engines are created lazily and closed on shutdown."""
    databases = SourceDatabases(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await databases.dispose()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    graphql = _GraphQL(databases, development=settings.environment == "development")
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.databases = databases
    return app
