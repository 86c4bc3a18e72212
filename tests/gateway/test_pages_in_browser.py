"""The pages a person opens, in a real browser: Debian's Chromium driven by Playwright.

HTTP tests show the assets are served; only a browser shows that the page they make works: that
GraphiQL renders from the gateway's own files (on an intranet a CDN is unreachable, and a CSP
that forbids what the bundle needs leaves a blank page) and runs a query. A screenshot of each
page is kept under ``var/screenshots/`` as an artefact.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from gateway.app import create_app
from gateway.settings import Settings
from policies.store import ensure_seed
from sources.database import create_engine
from tests.servers import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[2] / "var" / "screenshots"
# Without these, Chromium reaches for Google's hosts at start and this closed network refuses
# it, many connections at a time.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    assert await asyncio.to_thread(CHROMIUM.exists), "Debian's chromium: make test installs it"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(
    seeded_sqlite: Settings, gateway_template: dict[str, str], tmp_path: Path
) -> AsyncIterator[str]:
    """The gateway on the demo data, served over real HTTP in development mode."""
    copy = tmp_path / "gateway.db"
    shutil.copyfile(gateway_template["sqlite"], copy)
    url = f"sqlite+aiosqlite:///{copy}"
    engine = create_engine(url)
    try:
        await ensure_seed(engine)  # the public role's policies, as `jianguan db upgrade` adds
    finally:
        await engine.dispose()
    settings = replace(seeded_sqlite, gateway_url=url, public_cache_seconds=0)
    async with LiveServer(create_app(settings)) as server:
        yield server.url


async def _open(browser: Browser, url: str) -> tuple[Page, list[str]]:
    page = await browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),  # a failed load is reported with its address below
    )
    # Any request to another host is a page that breaks on an intranet.
    page.on(
        "request",
        lambda request: (
            problems.append(f"foreign request: {request.url}")
            if not request.url.startswith(url.split("/", 3)[0] + "//" + url.split("/", 3)[2])
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status}: {response.url}")
            if response.status >= 400
            else None
        ),
    )
    await page.goto(url)
    return page, problems


async def test_graphiql_renders_from_the_gateways_own_assets_and_runs_a_query(
    browser: Browser, gateway: str
) -> None:
    page, problems = await _open(browser, f"{gateway}/graphql")
    await page.wait_for_selector(".graphiql-container", timeout=30_000)
    await page.click(".graphiql-execute-button")
    result = page.locator(".result-window")
    # The example query asks for matters: public data, answered without a token.
    await result.get_by_text('"totalCount"').wait_for(timeout=30_000)
    text = await result.inner_text()
    assert '"matters"' in text and '"errors"' not in text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "graphiql.png"), full_page=True)
    assert problems == []


async def test_the_root_page_links_to_graphiql(browser: Browser, gateway: str) -> None:
    page, problems = await _open(browser, f"{gateway}/")
    assert "监管" in await page.title() or "监管" in await page.inner_text("body")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)
    await page.locator('a[href="/graphql"]').first.click()
    await page.wait_for_selector(".graphiql-container", timeout=30_000)
    assert problems == []
