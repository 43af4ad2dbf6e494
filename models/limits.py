"""Bounds on free-form JSON (message metadata, a session's initial context, request bodies).

Whatever a session admits must decode again in every later step (activities, queries,
continue-as-new): pydantic's JSON parser stops at 200 levels, so admission stops far below.
The depth is measured without recursion, so hostile input cannot exhaust the stack here.
"""

import json
from typing import Any

MAX_JSON_DEPTH = 20
"""Deepest nesting of objects and arrays we accept anywhere in free-form JSON."""
MAX_FREE_JSON_BYTES = 16_384
"""Largest free-form JSON value (``metadata``, ``initial_context``) once encoded."""


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of ``value`` (a scalar is 0), counting no further than ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def check_free_json(
    value: Any, what: str, *, max_depth: int = MAX_JSON_DEPTH, max_bytes: int = MAX_FREE_JSON_BYTES
) -> None:
    """Raise ``ValueError`` saying why ``value`` is not small, shallow, plain JSON."""
    if json_depth(value, max_depth) > max_depth:
        raise ValueError(f"{what} is nested more than {max_depth} levels deep")
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not plain JSON") from None
    if size > max_bytes:
        raise ValueError(f"{what} is {size} bytes; at most {max_bytes}")
