"""Bounds on free-form JSON (message metadata, a session's initial context, request bodies).

Whatever a session admits must decode again in every later step (activities, queries,
continue-as-new): pydantic's JSON parser stops at 200 levels, so admission stops far below.
The depth is measured without recursion, so hostile input cannot exhaust the stack here.
"""

import json
import re
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


class InvalidJsonError(ValueError):
    """A JSON text we refuse: malformed, too deep, with a repeated key, or a non-finite number."""


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def text_json_depth(text: str, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a JSON text, read without parsing it (so without recursion)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidJsonError(f"key {key!r} appears twice")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise InvalidJsonError(f"{name} is not a JSON number")


def loads_strict(data: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON text from outside; raise :class:`InvalidJsonError` saying what is wrong.

    Refused: invalid UTF-8 or JSON, nesting deeper than ``max_depth`` (checked before
    parsing, so a hostile text never reaches the recursive parser), a key repeated in one
    object (which one would win is parser-dependent), and ``NaN``/``Infinity``.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as err:
        raise InvalidJsonError(f"not UTF-8: {err}") from None
    if text_json_depth(text, max_depth) > max_depth:
        raise InvalidJsonError(f"nested more than {max_depth} levels deep")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except InvalidJsonError:
        raise
    except ValueError as err:
        raise InvalidJsonError(str(err)) from None


_COUNT = re.compile(r"[0-9]{1,9}")


def parse_count(raw: str) -> int:
    """A non-negative integer written in ASCII digits only (``str.isdigit`` also takes ``²``)."""
    if not _COUNT.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a whole number written in digits 0-9")
    return int(raw)


def too_long(length: str | None, limit: int) -> bool:
    """Whether a ``Content-Length`` header announces more than ``limit`` bytes.

    A header that is not plain digits announces nothing; the body read is still bounded.
    """
    try:
        return length is not None and parse_count(length.strip()) > limit
    except ValueError:
        return False
