"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, a real gateway.

The browser is the system one (``/usr/bin/chromium``, installed by scripts/system_deps.sh);
Playwright never downloads its own. Without it these tests skip, saying why.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from pydantic import SecretStr

from client import SessionClient
from gateway import build_gateway
from tests.integration.test_gateway import SECRET, token
from worker.lifecycle import serving

# A tenant of its own: other suites on the same dev server have users named bob too.
TENANT = f"web-{uuid.uuid4().hex[:6]}"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for all browser tests."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/system_deps.sh installs Debian's chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


class Proxy:
    """A TCP relay in front of the gateway whose connections the test can cut."""

    def __init__(self, target_port: int) -> None:
        """Relay to ``127.0.0.1:target_port``."""
        self.target_port = target_port
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self) -> int:
        """Drop every open connection (both sides); return how many were dropped."""
        cut = len(self.writers)
        for writer in list(self.writers):
            transport = writer.transport
            transport.abort()
        self.writers.clear()
        return cut

    async def close(self) -> None:
        """Stop listening and drop what is open."""
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@dataclass
class Web:
    """A running gateway (behind a cuttable proxy) and a way to open the page in it."""

    url: str
    proxy: Proxy
    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)

    async def page(
        self, user: str | None = "alice", *, width: int = 1280, height: int = 800
    ) -> Page:
        """A fresh tab (own sessionStorage) on the chat page, signed in as ``user``."""
        context = await self.browser.new_context(viewport={"width": width, "height": height})
        self.contexts.append(context)
        page = await context.new_page()
        await page.goto(self.url + "/")
        if user is not None:
            await page.locator("#token-input").fill(token(user, TENANT))
            await page.locator("#token-input").press("Enter")
            await page.locator("#who").filter(has_text=user).wait_for()
        return page


async def _serve(
    sessions: SessionClient, browser: Browser, *, insecure_dev: bool
) -> AsyncIterator[Web]:
    settings = sessions.settings.updated(
        **{
            "jwt_secret": SecretStr(SECRET),
            "model": "slow-echo",  # the echo provider, one word every 50 ms
            "gateway_rate_per_user": 1000.0,
            "gateway_burst": 1000,
            "gateway_max_prompt_chars": 2000,
            "tenant": TENANT,
            "user": "devuser",
        }
    )
    app = build_gateway(
        settings, sessions=SessionClient(sessions.temporal, settings), insecure_dev=insecure_dev
    )
    async with serving(app, "127.0.0.1", 0) as url:
        proxy = Proxy(int(url.rsplit(":", 1)[1]))
        await proxy.start()
        web = Web(proxy.url, proxy, browser)
        try:
            yield web
        finally:
            for context in web.contexts:
                await context.close()
            await proxy.close()


@pytest.fixture(scope="module")
async def web(sessions: SessionClient, browser: Browser) -> AsyncIterator[Web]:
    """The gateway with tokens (a word-by-word echo model), behind a cuttable proxy."""
    async for running in _serve(sessions, browser, insecure_dev=False):
        yield running


@pytest.fixture(scope="module")
async def dev_web(sessions: SessionClient, browser: Browser) -> AsyncIterator[Web]:
    """The gateway in --insecure-dev mode: no tokens, everyone is TENANT/devuser."""
    async for running in _serve(sessions, browser, insecure_dev=True):
        yield running
