"""Strict JSON parsing (gateway bodies, AG-UI inputs, codec-server payloads) under hypothesis.

What must hold for any text: ``loads_strict`` either returns what ``json.loads`` would, or
raises ``InvalidJsonError`` (never ``RecursionError``, never another exception); anything
nested deeper than the bound or with a repeated key is refused.
"""

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from models.limits import MAX_JSON_DEPTH, InvalidJsonError, json_depth, loads_strict
from tests.faults import figures

EXAMPLES = 1_500
FIGURES = "hypothesis: strict JSON (gateway, AG-UI, codec server)"
_seen = {"examples": 0, "refused": 0}

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=40,
)


@st.composite
def nested_texts(draw: st.DrawFn) -> str:
    """A JSON text with a random value wrapped in random arrays/objects up to 3,000 deep."""
    depth = draw(st.integers(0, 3_000))
    inner = json.dumps(draw(values))
    pattern = [draw(st.sampled_from(["[", '{"k":'])) for _ in range(min(depth, 50))]
    opens = (pattern * (depth // 50 + 1))[:depth] if pattern else []
    closes = ["]" if part == "[" else "}" for part in reversed(opens)]
    return "".join(opens) + inner + "".join(closes)


def _check(text: str) -> None:
    _seen["examples"] += 1
    try:
        parsed: Any = loads_strict(text)
    except InvalidJsonError:
        _seen["refused"] += 1
        return
    assert parsed == json.loads(text)
    assert json_depth(parsed, MAX_JSON_DEPTH) <= MAX_JSON_DEPTH


@settings(max_examples=EXAMPLES // 3, deadline=None, database=None)
@given(nested_texts())
def test_nesting_is_bounded_without_recursion(text: str) -> None:
    _check(text)
    figures.record(FIGURES, **_seen)


@settings(max_examples=EXAMPLES // 3, deadline=None, database=None)
@given(st.text(alphabet='[]{}",:0123456789 \\abcnrtu-.eE', max_size=300))
def test_arbitrary_json_like_text_parses_or_is_refused(text: str) -> None:
    _check(text)
    figures.record(FIGURES, **_seen)


@settings(max_examples=EXAMPLES // 3, deadline=None, database=None)
@given(st.dictionaries(st.text(max_size=4), values, min_size=1, max_size=4), st.data())
def test_a_repeated_key_is_always_refused(document: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(document)))
    text = json.dumps(document)[:-1] + f", {json.dumps(key)}: 1}}"
    _seen["examples"] += 1
    try:
        loads_strict(text)
    except InvalidJsonError as err:
        _seen["refused"] += 1
        assert "appears twice" in str(err) or "nested" in str(err)
    else:
        raise AssertionError(f"accepted a repeated key: {text[:200]}")
    figures.record(FIGURES, **_seen)
