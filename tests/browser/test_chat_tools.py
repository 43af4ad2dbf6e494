"""The chat page shows a reply's tool calls as they run (AG-UI TOOL_CALL_* events)."""

from playwright.async_api import expect

from client import SessionClient
from models import SessionConfig
from tests.browser.conftest import TENANT, Web
from tests.browser.test_chat_page import last_reply, send
from tests.helpers import new_session_id


async def test_tool_calls_show_in_the_reply(web: Web, sessions: SessionClient) -> None:
    session_id = new_session_id("web-tools")
    config = SessionConfig(agent="tester", model="echo")
    await sessions.send(session_id, "hello", tenant_id=TENANT, user_id="alice", config=config)
    page = await web.page("alice")
    await page.goto(f"{web.url}/#session={session_id}")
    await expect(page.locator("#messages .msg.assistant")).to_have_count(1)
    await send(page, '/tool echo_args {"text": "<b>from the page</b>"}\n/tool always_fails')
    reply = last_reply(page)
    await expect(reply).to_have_attribute("data-state", "done", timeout=30_000)
    tools = reply.locator(".tools li")
    await expect(tools).to_have_count(2)
    await expect(tools.first).to_have_text(
        'tool echo_args {"text": "<b>from the page</b>"} → <b>from the page</b>'
    )
    await expect(tools.nth(1)).to_contain_text("tool always_fails {} → broken on purpose")
    await expect(reply.locator(".body")).to_contain_text("echo: <b>from the page</b> | ")
    assert await reply.locator(".tools b").count() == 0  # data, never markup


async def test_approve_and_deny_buttons(web: Web, sessions: SessionClient) -> None:
    session_id = new_session_id("web-approve")
    config = SessionConfig(agent="guarded", model="echo", require_approval=["whoami"])
    await sessions.send(session_id, "hello", tenant_id=TENANT, user_id="alice", config=config)
    page = await web.page("alice")
    await page.goto(f"{web.url}/#session={session_id}")
    await expect(page.locator("#messages .msg.assistant")).to_have_count(1)
    await send(page, '/tool echo_args {"text": "from the page"} &\n/tool whoami')
    reply = last_reply(page)
    rows = reply.locator(".approvals .approval")
    await expect(rows).to_have_count(2, timeout=30_000)
    await expect(rows.first).to_contain_text("echo_args")
    assert (await sessions.status(session_id, tenant_id=TENANT)).status == "waiting_for_approval"
    await page.get_by_role("button", name="Approve echo_args").click()
    await page.get_by_role("button", name="Deny whoami").click()
    await expect(reply).to_have_attribute("data-state", "done", timeout=30_000)
    body = reply.locator(".body")
    await expect(body).to_contain_text("echo: from the page | ")
    await expect(body).to_contain_text("denied")
    await expect(reply.locator(".approvals")).to_have_count(0)
    history = await sessions.history(session_id, tenant_id=TENANT, user_id="alice")
    assert history[-1].message.startswith("echo: from the page | ")
