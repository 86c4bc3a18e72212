"""The Starlette application: health, and GraphQL at ``/graphql``."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.sdk.trace import TracerProvider
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway.auth_http import Guard
from gateway.auth_http import routes as auth_routes
from gateway.body_limit import BodyLimit
from gateway.cache import MemoryStore, RedisStore, cache_extension
from gateway.headers import SecurityHeaders
from gateway.http import Deadline, GraphQLView
from gateway.observability import RequestIds, metrics
from gateway.persisted import PersistedQueries
from gateway.schema import build_schema
from gateway.services import Services
from gateway.settings import Settings
from gateway.tracing import Tracing, configure_tracing
from policies.access import RequestSources
from policies.principal import caller
from resolvers.context import Context
from sources.base import SourceUnavailable
from sources.guard import Sources

STATIC = Path(__file__).parent / "static"


class _GraphQL(GraphQLView):
    def __init__(
        self, sources: Sources, settings: Settings, services: Services, *, tracing: bool = False
    ) -> None:
        production = settings.environment == "production"
        cache = None
        if settings.public_cache_seconds:
            store = RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()
            sources_read = orjson.dumps(dict(sorted(settings.read_urls.items())))
            cache = cache_extension(
                store,
                settings.public_cache_seconds,
                namespace=hashlib.sha256(sources_read).hexdigest(),
            )
        super().__init__(
            build_schema(production=production, cache=cache, tracing=tracing),
            graphql_ide=None if production else "graphiql",
            allow_queries_via_get=True,  # queries only: Strawberry refuses mutations over GET
        )
        self.sources = sources
        self.settings = settings
        self.services = services
        self.persisted = PersistedQueries.from_paths(
            settings.persisted_queries, only=settings.persisted_only
        )

    @cached_property
    def graphql_ide_html(self) -> str:
        # Strawberry's page loads React and GraphiQL from unpkg: a blank page on an intranet.
        return (STATIC / "graphiql.html").read_text(encoding="utf-8")

    async def get_context(self, request: Any, response: Any) -> Context:
        # The Guard in front named the caller; their scope is decided here, once.
        scope = await self.services.policies.scope(caller.get())
        return Context.new(self.sources, request, response, scope=scope, services=self.services)


async def _redis_state(url: str) -> str:
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    except RedisError:
        return "unavailable"
    finally:
        await client.aclose()
    return "ok"


def settle_heap() -> None:
    """Move what startup built (the schema, table metadata, modules: about 200,000 objects)
    out of the garbage collector's sight, in a server process about to serve.

    They live as long as the process, yet every full collection walked them all: about 130 ms
    each, one every few nested pages, which was a third of the gateway's CPU and its p99.
    """
    gc.collect()
    gc.freeze()


def _home(graphiql: bool) -> str:
    """The page at ``/``: what this is and where to go, for a person who opened the address."""
    if graphiql:
        entry = (
            '<a href="/graphql"><code>/graphql</code></a>：GraphQL 接口，浏览器打开为 GraphiQL /'
            " the GraphQL API; in a browser, GraphiQL"
        )
    else:
        entry = "<code>/graphql</code>：GraphQL 接口 / the GraphQL API"
    return (STATIC / "index.html").read_text(encoding="utf-8").replace("$graphql", entry)


def _metrics_endpoint(token: str | None, *, production: bool) -> Any:
    """``/metrics`` for whoever holds the metrics token; in production, not served without one
    (the counts name paths and load; in development, the open default serves a local Prometheus).
    """

    async def guarded(request: Request) -> Response:
        given = request.headers.get("authorization", "")
        if token is None:
            if not production:
                return await metrics(request)
            return JSONResponse(
                {"error": "not_found", "message": "metrics need JIANGUAN_METRICS_TOKEN"},
                status_code=404,
            )
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JSONResponse(
                {"error": "invalid_token", "message": "send the metrics token as a bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return await metrics(request)

    return guarded


def create_app(
    settings: Settings,
    sources: Sources | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    services: Services | None = None,
) -> Starlette:
    """Build the application; connectors, the gateway's services and a tracer provider it
    made are closed on shutdown."""
    live = sources if sources is not None else Sources(settings)
    own = services if services is not None else Services.create(settings)
    made = configure_tracing(settings) if tracer_provider is None else None
    provider = tracer_provider if tracer_provider is not None else made

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await own.start()
        yield
        await own.close()
        await live.close()
        if made is not None:  # a provider passed in belongs to the caller
            await asyncio.to_thread(made.shutdown)  # exports the last batch: blocking I/O

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        sources = RequestSources(live)
        states = {}
        for name in live.guarded:
            try:
                await sources.ping(name)
                states[name] = "ok"
            except SourceUnavailable:
                states[name] = "unavailable"
        if settings.redis_url is not None:
            states["redis"] = await _redis_state(settings.redis_url)
        ready = all(state == "ok" for state in states.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "sources": states},
            status_code=200 if ready else 503,
        )

    graphql = _GraphQL(live, settings, own, tracing=provider is not None)
    home = _home(graphiql=graphql.graphql_ide is not None)

    async def index(request: Request) -> Response:
        return HTMLResponse(home)

    guarded = Guard(graphql, own.auth, own.limiter, settings.rate_limit)
    app = Starlette(
        middleware=[
            # outermost, so the server span covers the rest and sees the X-Request-ID header
            *([Middleware(Tracing, provider=provider)] if provider is not None else []),
            Middleware(RequestIds),
            Middleware(SecurityHeaders),
            # Only the named proxies' X-Forwarded-For is believed (per-address login limits).
            *(
                [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))]
                if settings.trusted_proxies
                else []
            ),
            Middleware(Deadline, seconds=settings.request_timeout),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        ],
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/", index),
            Route(
                "/metrics",
                _metrics_endpoint(
                    settings.metrics_token, production=settings.environment == "production"
                ),
            ),
            Route("/graphql", guarded, methods=["GET", "POST"]),
            *auth_routes(own.auth, own.limiter, settings.auth_rate_limit),
            *(
                [Mount("/static/graphiql", StaticFiles(directory=STATIC / "graphiql"))]
                if graphql.graphql_ide is not None
                else []
            ),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sources = live
    app.state.services = own
    return app
