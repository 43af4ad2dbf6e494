"""Stop and Regenerate on the chat page, in a real browser against a real gateway and worker.

The model is the word-by-word echo (one word every 50 ms), so an 80-word message streams for
about 4 s: long enough to stop in the middle.
"""

import asyncio
import os
from pathlib import Path

from playwright.async_api import Page, expect

from client import SessionClient
from tests.browser.conftest import SCREENSHOTS, TENANT, Web
from tests.browser.test_chat_page import last_reply, send, session_id

STORY = " ".join(f"word{i}" for i in range(80))
FULL = f"echo: {STORY}"
STOP = "Stop the reply"
REGENERATE = "Regenerate the last reply"


async def stop_mid_stream(page: Page, *, keyboard: bool) -> str:
    """Send STORY, press Stop once a few words are in; return the kept (stopped) text."""
    await send(page, STORY)
    reply = last_reply(page)
    stop = page.get_by_role("button", name=STOP)
    await expect(stop).to_be_visible()
    await expect(page.get_by_role("button", name=REGENERATE)).to_have_count(0)  # a turn runs
    await expect(reply.locator(".body")).to_contain_text("word5", timeout=30_000)
    if keyboard:  # from the message box, one Tab away
        await page.locator("#input").press("Tab")
        await expect(stop).to_be_focused()
        await page.keyboard.press("Enter")
    else:
        await stop.click()
    await expect(reply).to_have_attribute("data-state", "done", timeout=30_000)
    await expect(reply).to_have_attribute("data-stopped", "")
    await expect(reply.locator(".note")).to_have_text("stopped")
    await expect(stop).to_be_hidden()
    return str(await reply.locator(".body").inner_text())


async def test_stop_keeps_the_partial_reply_and_the_page_goes_on(
    web: Web, sessions: SessionClient
) -> None:
    page = await web.page("stella")
    partial = await stop_mid_stream(page, keyboard=True)
    assert partial.startswith("echo: word0 word1 word2 word3 word4 word5"), partial
    assert len(partial) < len(FULL) and FULL.startswith(partial), partial
    await expect(page.locator("#input")).to_be_focused()  # the Stop button took it, then left
    await asyncio.sleep(0.6)  # the stream has ended: nothing more arrives
    assert await last_reply(page).locator(".body").inner_text() == partial
    await expect(page.locator("#messages .msg.error")).to_have_count(0)
    await expect(page.locator("#notice")).to_be_hidden()

    history = await sessions.history(await session_id(page), tenant_id=TENANT)
    assert [m.role for m in history] == ["user", "assistant"]
    assert history[1].message.strip() == partial
    assert (history[1].metadata or {}).get("stop_reason") == "cancelled"

    await send(page, "and now something short")  # the page is ready for the next message
    reply = last_reply(page)
    await expect(reply).to_have_attribute("data-state", "done", timeout=30_000)
    await expect(reply.locator(".body")).to_have_text("echo: and now something short")
    await expect(reply).not_to_have_attribute("data-stopped", "")
    await expect(reply.locator(".note")).to_have_count(0)

    await page.reload()  # the stopped reply is still there, still marked
    await expect(page.locator("#messages .msg")).to_have_count(4)
    stopped = page.locator("#messages .msg.assistant").first
    await expect(stopped.locator(".body")).to_have_text(partial)
    await expect(stopped.locator(".note")).to_have_text("stopped")


async def test_regenerate_replaces_the_last_reply_for_good(
    web: Web, sessions: SessionClient, tmp_path: Path
) -> None:
    page = await web.page("reggie")
    await send(page, "first question")
    await expect(last_reply(page)).to_have_attribute("data-state", "done", timeout=30_000)
    partial = await stop_mid_stream(page, keyboard=False)
    assert len(partial) < len(FULL)
    replies = page.locator("#messages .msg.assistant")
    await expect(replies).to_have_count(2)
    regenerate = page.get_by_role("button", name=REGENERATE)
    await expect(regenerate).to_have_count(1)  # only on the last reply
    await expect(replies.last.locator(".regenerate")).to_have_count(1)
    old_id = await replies.last.get_attribute("data-reply-id")
    assert old_id

    await page.locator("#input").press("Shift+Tab")  # the control just before the message box
    await expect(regenerate).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(replies.last).to_have_attribute("data-state", "regenerating")
    await expect(page.get_by_role("button", name=STOP)).to_be_visible()  # a turn runs again
    await expect(regenerate).to_have_count(0)
    await expect(replies.last).to_have_attribute("data-state", "done", timeout=30_000)

    async def shows_the_new_reply_as_current() -> str:
        await expect(replies).to_have_count(2)
        current = replies.last
        await expect(current.locator(".body")).to_have_text(FULL)
        await expect(current).not_to_have_attribute("data-stopped", "")
        await expect(current.locator(":scope > .note")).to_have_count(0)
        earlier = current.locator("details.earlier")
        await expect(earlier.locator("summary")).to_have_text("1 earlier version")
        await expect(earlier.locator("li")).to_have_count(1)
        await expect(earlier.locator("li")).to_contain_text(partial)
        await expect(earlier.locator("li .note")).to_have_text("stopped")
        await expect(replies.first.locator("details.earlier")).to_have_count(0)
        await expect(page.get_by_role("button", name=REGENERATE)).to_have_count(1)
        await expect(current.locator(".regenerate")).to_have_count(1)
        new_id = await current.get_attribute("data-reply-id")
        assert new_id and new_id != old_id
        return new_id

    new_id = await shows_the_new_reply_as_current()
    history = await sessions.history(await session_id(page), tenant_id=TENANT)
    by_id = {m.message_id: m for m in history}
    assert (by_id[old_id].metadata or {}).get("alternative") is True
    assert (by_id[new_id].metadata or {}).get("replaces") == old_id
    assert by_id[new_id].message == FULL

    await page.reload()
    assert await shows_the_new_reply_as_current() == new_id

    target = SCREENSHOTS if os.environ.get("CONVOFLOW_SCREENSHOTS") else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    await replies.last.locator("details.earlier summary").click()
    await page.screenshot(path=str(target / "chat-regenerated-desktop.png"))
    phone = await web.page("reggie", width=390, height=844)
    await phone.goto(f"{web.url}/#session={await session_id(page)}")
    await expect(phone.locator("#messages .msg.assistant .regenerate")).to_have_count(1)
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    await phone.locator("#messages details.earlier summary").click()
    await phone.locator("#messages .regenerate").scroll_into_view_if_needed()
    await phone.screenshot(path=str(target / "chat-regenerated-phone.png"))


async def test_regenerate_while_another_client_runs_a_turn_says_so(
    web: Web, sessions: SessionClient
) -> None:
    page = await web.page("rita")
    await send(page, "hello")
    await expect(last_reply(page)).to_have_attribute("data-state", "done", timeout=30_000)
    sid = await session_id(page)

    async def elsewhere() -> None:  # a long turn from another client of the same session
        async for _ in sessions.stream(sid, STORY, tenant_id=TENANT, user_id="rita"):
            pass

    other = asyncio.create_task(elsewhere())
    try:
        await asyncio.sleep(1.0)
        await page.get_by_role("button", name=REGENERATE).click()
        await expect(page.locator("#notice")).to_have_text(
            "This session is busy: a reply is still running. Wait for it, then regenerate."
        )
        await expect(last_reply(page).locator(".body")).to_have_text("echo: hello")
        await expect(last_reply(page)).to_have_attribute("data-state", "done")
        await expect(page.get_by_role("button", name=REGENERATE)).to_have_count(1)
    finally:
        await other
