"""What operators and people meet first: the page at ``/``, GraphiQL served from the gateway
itself, security headers, ``/metrics`` behind a token, and per-address limits behind a proxy.

The app is called in process (httpx's ASGI transport), which lets a test say which address a
request comes from: a proxy's, or a caller's.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from audit.keys import Signer
from gateway.app import create_app
from gateway.settings import Settings, SettingsError

STATIC = Path(__file__).parents[2] / "gateway" / "static" / "graphiql"
PROXY = "10.20.0.5"
TOKEN = "metrics-7f3c9a1e5b2d4c6f"


@pytest.fixture(autouse=True)
def gateway_db(gateway_template: dict[str, str], tmp_path: Path) -> str:
    """A migrated SQLite gateway database of this test's own."""
    copy = tmp_path / "gateway.db"
    shutil.copyfile(gateway_template["sqlite"], copy)
    return f"sqlite+aiosqlite:///{copy}"


@asynccontextmanager
async def gateway(
    tmp_path: Path, *, peer: str = "127.0.0.1", **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, called as if from ``peer``."""
    if changes.get("environment") == "production":
        key = tmp_path / "audit-key.json"
        Signer.generate(key)
        changes["audit_key_file"] = key
    database = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    settings = replace(Settings(var_dir=tmp_path / "var", gateway_url=database), **changes)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        yield client


# -- the page at / ------------------------------------------------------------------------


async def test_the_root_page_says_what_this_is_and_where_to_go(tmp_path: Path) -> None:
    async with gateway(tmp_path) as client:
        page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    # Chinese first, then English
    assert text.index("监管") < text.index("Jianguan Gateway")
    links = set(re.findall(r'href="([^"]+)"', text))
    assert {"/graphql", "/healthz", "/readyz"} <= links
    assert "docs/partners.md" in text
    assert "<script" not in text


async def test_in_production_the_root_page_offers_no_graphiql(tmp_path: Path) -> None:
    async with gateway(tmp_path, environment="production") as client:
        page = await client.get("/")
        ide = await client.get("/graphql", headers={"accept": "text/html"})
        asset = await client.get("/static/graphiql/graphiql.min.js")
    assert page.status_code == 200
    assert 'href="/graphql"' not in page.text and "/healthz" in page.text
    assert "GraphiQL" not in ide.text
    assert asset.status_code == 404


# -- GraphiQL from the gateway itself -----------------------------------------------------


async def test_graphiql_loads_every_asset_from_the_gateway(tmp_path: Path) -> None:
    async with gateway(tmp_path) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        html = page.text
        references = re.findall(r'(?:src|href)="([^"]+)"', html)
        # Nothing from another host: on an intranet a CDN is unreachable.
        assert references and all(not urlsplit(r).netloc for r in references), references
        assert "unpkg" not in html and "http://" not in html and "https://" not in html
        names = {r.rsplit("/", 1)[-1] for r in references}
        assert {
            "react.production.min.js",
            "react-dom.production.min.js",
            "graphiql.min.js",
            "graphiql.min.css",
        } <= names
        for reference in references:
            asset = await client.get(reference)
            assert asset.status_code == 200, reference
            shipped = (STATIC / reference.rsplit("/", 1)[-1]).read_bytes()
            assert asset.content == shipped, reference
            kind = "text/css" if reference.endswith(".css") else "javascript"
            assert kind in asset.headers["content-type"], reference
    # The page's start-up code is a file, so the policy can forbid inline scripts.
    assert re.search(r"<script>(?!</script>)", html) is None
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_graphiqls_licences_are_shipped_with_it() -> None:
    licences = {p.name for p in (STATIC / "licences").iterdir()}
    for package in ("react", "react-dom", "graphiql", "graphiql-plugin-explorer"):
        assert f"{package}.LICENSE" in licences
        assert "MIT License" in (STATIC / "licences" / f"{package}.LICENSE").read_text()


def test_graphiql_assets_are_package_data() -> None:
    # A wheel without them serves a blank page: setuptools must pick them up.
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'"gateway" = \[[^\]]*"static/', text), "static/ is not in package-data"


# -- security headers ---------------------------------------------------------------------


async def test_every_answer_says_nosniff(tmp_path: Path) -> None:
    async with gateway(tmp_path) as client:
        for path in ("/", "/healthz", "/nowhere", "/graphql?query={__typename}"):
            response = await client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path


async def test_answers_to_callers_with_credentials_are_not_stored(tmp_path: Path) -> None:
    async with gateway(tmp_path) as client:
        public = await client.get("/graphql", params={"query": "{ __typename }"})
        signed = await client.get(
            "/graphql",
            params={"query": "{ __typename }"},
            headers={"authorization": "Bearer not-a-real-token"},
        )
        basic = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("id", "secret")
        )
    assert "no-store" not in public.headers.get("cache-control", "")
    for response in (signed, basic):
        assert response.headers["cache-control"] == "no-store"
        assert "authorization" in response.headers["vary"].lower()


# -- /metrics -----------------------------------------------------------------------------


async def test_metrics_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    async with gateway(tmp_path, metrics_token=TOKEN) as client:
        anyone = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"authorization": "Bearer wrong-token-xxxx"})
        prometheus = await client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert anyone.status_code == 401 and wrong.status_code == 401
    assert "jianguan_http_requests_total" not in anyone.text + wrong.text
    assert prometheus.status_code == 200
    assert "jianguan_http_requests_total" in prometheus.text


async def test_in_production_metrics_are_not_served_without_a_token(tmp_path: Path) -> None:
    async with gateway(tmp_path, environment="production") as client:
        response = await client.get("/metrics")
    assert response.status_code == 404
    assert "JIANGUAN_METRICS_TOKEN" in response.json()["message"]


def test_metrics_token_setting() -> None:
    env = {"JIANGUAN_METRICS_TOKEN": TOKEN}
    assert Settings.from_env(env).metrics_token == TOKEN
    assert TOKEN not in repr(Settings.from_env(env))
    with pytest.raises(SettingsError, match="JIANGUAN_METRICS_TOKEN") as caught:
        Settings.from_env({"JIANGUAN_METRICS_TOKEN": "short"})
    assert "short" not in str(caught.value)


# -- per-address limits behind a proxy ----------------------------------------------------


async def _attempts(client: httpx.AsyncClient, forwarded_for: str, n: int) -> list[int]:
    # A body that is not JSON: counted by the limiter, then refused without any database.
    return [
        (
            await client.post(
                "/auth/login", content=b"x", headers={"x-forwarded-for": forwarded_for}
            )
        ).status_code
        for _ in range(n)
    ]


async def test_behind_a_trusted_proxy_each_caller_has_its_own_login_limit(tmp_path: Path) -> None:
    async with gateway(
        tmp_path, peer=PROXY, trusted_proxies=(f"{PROXY}/32",), auth_rate_limit="2/minute"
    ) as client:
        first = await _attempts(client, "203.0.113.7", 3)
        second = await _attempts(client, "203.0.113.8", 2)
        # A caller cannot claim another address: the proxy appends the one it saw.
        spoofed = await _attempts(client, "203.0.113.9, 203.0.113.7", 1)
    assert first == [400, 400, 429]
    assert second == [400, 400]
    assert spoofed == [429]


async def test_forwarded_addresses_from_anyone_else_are_ignored(tmp_path: Path) -> None:
    async with gateway(
        tmp_path, peer="198.51.100.3", trusted_proxies=(f"{PROXY}/32",), auth_rate_limit="2/minute"
    ) as client:
        statuses = [
            *(await _attempts(client, "203.0.113.7", 2)),
            *(await _attempts(client, "203.0.113.8", 1)),
        ]
    assert statuses == [400, 400, 429]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.5", ("10.0.0.5/32",)),
        ("10.0.0.0/24, 2001:db8::/32", ("10.0.0.0/24", "2001:db8::/32")),
        ("", ()),
    ],
)
def test_trusted_proxies_setting(value: str, expected: tuple[str, ...]) -> None:
    assert Settings.from_env({"JIANGUAN_TRUSTED_PROXIES": value}).trusted_proxies == expected


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.0/33", "*"])
def test_a_bad_trusted_proxy_is_named(value: str) -> None:
    with pytest.raises(SettingsError, match=rf"JIANGUAN_TRUSTED_PROXIES: '{re.escape(value)}'"):
        Settings.from_env({"JIANGUAN_TRUSTED_PROXIES": f"10.0.0.1,{value}"})
