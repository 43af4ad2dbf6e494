"""A customer-support agent with an order-lookup tool over a small SQLite table.

Run it (from the repository root) with the embedded dev server, worker and chat::

    convoflow dev --agents examples.support --agent support --user alice

and ask about an order ("where is my order A-1001?"). With ``--model echo`` the model calls
tools only when told to: ``/tool lookup_order {"order_id": "A-1001"}``.

The tool is an ordinary Temporal activity (``@activity.defn``): its parameters and docstring
are the schema and description the model sees, each call is an activity labelled
``tool: lookup_order`` in the Temporal UI, with the timeout and retries given below. Who is
asking comes from :func:`agents.tool_context`, which the session fills in (never the model):
a customer sees only their own orders. The table is created on first use, in
``$SUPPORT_DB`` (default ``.convoflow/support-orders.db``).
"""

import asyncio
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.common import RetryPolicy

from agents import AgentDefinition, ToolDefinition, recall_memory, tool_context

ORDERS = [
    ("A-1001", "alice", "shipped", "2 x espresso cups", "arrives Thursday"),
    ("A-1002", "alice", "processing", "1 x coffee grinder", "ships in 2 days"),
    ("B-2001", "bob", "delivered", "1 x kettle", "delivered Monday"),
    ("G-3001", "guest", "shipped", "1 x tea sampler", "arrives tomorrow"),
]


def database() -> Path:
    """The SQLite file, created with its orders table on first use."""
    path = Path(os.environ.get("SUPPORT_DB", ".convoflow/support-orders.db"))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, customer TEXT,"
                " status TEXT, items TEXT, eta TEXT)"
            )
            db.executemany("INSERT OR IGNORE INTO orders VALUES (?, ?, ?, ?, ?)", ORDERS)
    return path


def _find(order_id: str, customer: str | None) -> tuple[str, ...] | None:
    with sqlite3.connect(database()) as db:
        row = db.execute(
            "SELECT id, customer, status, items, eta FROM orders WHERE id = ?",
            (order_id.strip().upper(),),
        ).fetchone()
    if row is None or (customer is not None and row[1] != customer):
        return None  # someone else's order is "not found", like a missing one
    return tuple(row)


@activity.defn
async def lookup_order(order_id: str) -> str:
    """Look up one of the customer's orders by its id (such as A-1001): its status, items
    and delivery estimate.

    Args:
        order_id: The order id, as printed on the confirmation email.
    """
    customer = tool_context().user_id  # the session's user, not something the model says
    row = await asyncio.to_thread(_find, order_id, customer)
    if row is None:
        return f"No order {order_id!r} for this customer."
    return f"Order {row[0]}: {row[2]} ({row[3]}), {row[4]}."


@activity.defn
async def list_my_orders() -> str:
    """List the ids and statuses of the customer's orders."""
    customer = tool_context().user_id

    def rows() -> list[tuple[str, str]]:
        with sqlite3.connect(database()) as db:
            query = "SELECT id, status FROM orders"
            if customer is None:
                return list(db.execute(query + " ORDER BY id"))
            return list(db.execute(query + " WHERE customer = ? ORDER BY id", (customer,)))

    found = await asyncio.to_thread(rows)
    if not found:
        return "This customer has no orders."
    return "; ".join(f"{order_id}: {status}" for order_id, status in found)


support = AgentDefinition(
    name="support",
    system_prompt=(
        "You are the support assistant of a coffee equipment shop. Answer briefly. To answer "
        "questions about orders, call lookup_order with the order id, or list_my_orders when "
        "the customer gives none. Never guess an order's status."
    ),
    tools=[
        ToolDefinition(
            lookup_order,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3),
        ),
        ToolDefinition(list_my_orders, start_to_close_timeout=timedelta(seconds=10)),
        recall_memory,
    ],
    description="Order questions for a coffee shop",
)
