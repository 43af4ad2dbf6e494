"""The chat page in a real browser (Debian's Chromium) against a real gateway and worker."""

import os
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from client import SessionClient
from tests.browser.conftest import SCREENSHOTS, TENANT, Web
from tests.helpers import eventually

LONG = " ".join(f"word{i}" for i in range(40))

# Records the text of the newest reply each time the page changes it, until it is done.
WATCH_REPLY = """
() => {
  window.__replyTexts = [];
  const observer = new MutationObserver(() => {
    const replies = document.querySelectorAll("#messages .msg.assistant");
    const reply = replies[replies.length - 1];
    if (!reply || reply.dataset.state === "done") return;
    const text = reply.querySelector(".body").textContent;
    const texts = window.__replyTexts;
    if (text && texts[texts.length - 1] !== text) texts.push(text);
  });
  observer.observe(document.getElementById("messages"),
                   {subtree: true, childList: true, characterData: true});
}
"""


async def send(page: Page, text: str) -> None:
    """Type ``text`` (newlines with Shift+Enter) and press Enter."""
    box = page.locator("#input")
    for index, line in enumerate(text.split("\n")):
        if index:
            await box.press("Shift+Enter")
        await box.type(line, delay=0)
    await box.press("Enter")


def last_reply(page: Page) -> Any:
    """The newest reply bubble."""
    return page.locator("#messages .msg.assistant, #messages .msg.error").last


async def session_id(page: Page) -> str:
    """The open session's id (from the address)."""
    value = await page.evaluate("decodeURIComponent(location.hash.split('=')[1])")
    return str(value)


async def test_reply_streams_in_and_survives_reload(web: Web) -> None:
    page = await web.page("alice")
    await page.evaluate(WATCH_REPLY)
    await page.locator("#input").type("line one")
    await page.locator("#input").press("Shift+Enter")
    assert await page.locator("#input").input_value() == "line one\n"  # nothing was sent
    await page.locator("#input").fill("")
    await send(page, LONG)
    reply = last_reply(page)
    await expect(reply).to_have_attribute("data-state", "done", timeout=30_000)
    await expect(reply.locator(".body")).to_have_text(f"echo: {LONG}")
    texts: list[str] = await page.evaluate("window.__replyTexts")
    assert len(texts) >= 3, texts  # the reply grew in place, several times, before done
    assert all(f"echo: {LONG}".startswith(text) for text in texts)
    assert [len(t) for t in texts] == sorted(len(t) for t in texts)
    await expect(page.locator("#status dd[data-field=status]")).to_have_text("active")
    workflow = f"convoflow%3A{TENANT}%3A{await session_id(page)}"
    await expect(page.locator("#temporal-link")).to_have_attribute(
        "href", f"http://127.0.0.1:8233/namespaces/default/workflows/{workflow}"
    )
    await expect(page.locator("#session-list button").first).to_contain_text("echo: word0")

    await page.reload()  # the token stays in this tab's sessionStorage: no question again
    await expect(page.locator("#token-dialog")).to_be_hidden()
    await expect(page.locator("#messages .msg")).to_have_count(2)
    await expect(page.locator("#messages .msg.user")).to_have_text(LONG)
    await expect(last_reply(page).locator(".body")).to_have_text(f"echo: {LONG}")
    assert "eyJ" not in page.url  # the token is never in an address


async def test_other_users_see_nothing_of_it(web: Web) -> None:
    alice = await web.page("alice")
    await send(alice, "alice's secret plan")
    await expect(last_reply(alice)).to_have_attribute("data-state", "done", timeout=30_000)
    secret_session = await session_id(alice)

    bob = await web.page("bob")
    await expect(bob.locator("#no-sessions")).to_be_visible()
    assert await bob.locator("#session-list").inner_text() == ""
    await bob.goto(f"{web.url}/#session={secret_session}")
    await expect(bob.locator("#status dd[data-field=status]")).to_contain_text("new session")
    await expect(bob.locator("#messages .msg")).to_have_count(0)
    await send(bob, "let me read it")
    await expect(last_reply(bob)).to_have_text(
        "No such session (it does not exist, or it belongs to someone else)."
    )
    assert "secret" not in await bob.content()


async def test_html_in_a_reply_stays_text(web: Web) -> None:
    page = await web.page("mallory")
    await page.evaluate("window.__pwned = 0")
    attack = (
        '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
        "[click](javascript:window.__pwned=3) **bold**"
    )
    await send(page, attack)
    reply = last_reply(page)
    await expect(reply).to_have_attribute("data-state", "done", timeout=30_000)
    for _ in range(2):  # as streamed, then as loaded from the history
        assert await page.evaluate("window.__pwned") == 0
        assert await page.locator("#messages img, #messages script").count() == 0
        assert await page.locator("#messages a").count() == 0  # javascript: is not a link
        await expect(last_reply(page)).to_contain_text('<img src=x onerror="window.__pwned=1">')
        await expect(last_reply(page).locator("strong")).to_have_text("bold")
        await page.reload()
        await page.evaluate("window.__pwned = 0")
        await expect(page.locator("#messages .msg")).to_have_count(2)


async def test_errors_are_in_words(web: Web) -> None:
    page = await web.page(None)
    await expect(page.locator("#token-dialog")).to_be_visible()
    await page.locator("#token-input").fill("not-a-token")
    await page.locator("#token-input").press("Enter")
    await expect(page.locator("#token-reason")).to_contain_text("Not signed in")

    page = await web.page("erin")
    await page.locator("#input").fill("x" * 2001)
    await page.locator("#input").press("Enter")
    await expect(last_reply(page)).to_contain_text("Too long for the gateway")


async def test_dropped_connection_resumes_without_loss_or_repeats(
    web: Web, sessions: SessionClient
) -> None:
    page = await web.page("frank")
    await send(page, LONG)
    reply = last_reply(page)
    await expect(reply).to_contain_text("word5", timeout=30_000)
    assert web.proxy.cut() > 0  # the stream (and any other connection) drops mid-reply
    await expect(reply.locator(".note")).to_contain_text("Reconnecting")
    await expect(reply).to_have_attribute("data-state", "done", timeout=30_000)
    await expect(reply.locator(".body")).to_have_text(f"echo: {LONG}")
    history = await sessions.history(await session_id(page), tenant_id=TENANT)
    assert [m.message for m in history] == [LONG, f"echo: {LONG}"]  # sent once, answered once


async def test_insecure_dev_needs_nothing_and_fits_a_phone(dev_web: Web, tmp_path: Path) -> None:
    target = SCREENSHOTS if os.environ.get("CONVOFLOW_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page = await dev_web.page(None)
    await expect(page.locator("#who")).to_have_text(f"devuser @ {TENANT}")
    await expect(page.locator("#token-dialog")).to_be_hidden()
    text = "Hello! Here is **bold**, *italic* and `code`:\n- durable sessions\n- streamed replies"
    await send(page, text)
    await expect(last_reply(page)).to_have_attribute("data-state", "done", timeout=30_000)
    await expect(last_reply(page).locator("li")).to_have_count(2)
    await eventually(lambda: page.locator("#session-list button").count(), lambda count: count >= 1)
    await page.screenshot(path=str(target / "chat-desktop.png"))

    phone = await dev_web.page(None, width=390, height=844)
    await phone.goto(f"{dev_web.url}/#session={await session_id(page)}")
    await expect(phone.locator("#messages .msg")).to_have_count(2)
    await expect(phone.locator("#toggle-sessions")).to_be_visible()
    await expect(phone.locator("#sidebar")).to_be_hidden()
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await phone.screenshot(path=str(target / "chat-phone.png"))
    await phone.locator("#toggle-sessions").click()
    await expect(phone.locator("#sidebar")).to_be_visible()
