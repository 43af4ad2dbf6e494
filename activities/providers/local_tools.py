"""Tool calling for the embedded local model, with llama.cpp grammars.

A 135M-parameter model cannot be trusted to write a well-formed tool call by itself, so the
call is generated under a grammar (llama.cpp's GBNF, built from the tools' JSON schemas by
``llama_cpp.llama_grammar``): whatever the model picks, it is a tool named in the specs with
arguments that fit that tool's input schema. This is the technique of llama-cpp-python's own
``chatml-function-calling`` chat format (a small grammar for the choice, then a grammar from
the chosen tool's schema), kept inside the model's own chat template and extended to show tool
calls and tool results of earlier rounds to the model.

The prompt follows the Hermes/Qwen convention the SmolLM2 instruct data uses: the tools listed
as JSON inside ``<tools>`` in the system message, a call written as
``<tool_call>{"name": ..., "arguments": ...}</tool_call>``, a result given back as a user
message ``<tool_response>...</tool_response>``.
"""

import json
from typing import Any, Literal, cast

from strands.types.content import Messages
from strands.types.tools import ToolChoice, ToolSpec

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"

# GBNF for the choice in ``auto`` mode, as in llama.cpp's chatml-function-calling: open a
# tool call, or say "message" to answer in text. (Measured with SmolLM2-135M: offered a free
# text alternative it never calls; offered this one it calls nearly always. See
# docs/BENCHMARKS.md; ``tool_rounds`` bounds the calls.)
DECISION_GRAMMAR = f'root ::= "{CALL_OPEN}" | "message"'

Mode = Literal["text", "choose", "call"]


def tools_system_prompt(system_prompt: str | None, tool_specs: list[ToolSpec]) -> str:
    """``system_prompt`` followed by the tools and how to call them."""
    listed = "\n".join(
        json.dumps(
            {
                "name": spec["name"],
                "description": spec["description"],
                "parameters": spec["inputSchema"]["json"],
            }
        )
        for spec in tool_specs
    )
    head = f"{system_prompt}\n\n" if system_prompt else ""
    return (
        f"{head}You can call functions. The functions are:\n<tools>\n{listed}\n</tools>\n"
        "If a function can answer the user's request, call it by replying with "
        f'{CALL_OPEN}{{"name": <function name>, "arguments": <arguments object>}}{CALL_CLOSE}. '
        "Otherwise reply with a message."
    )


def _result_text(result: dict[str, Any]) -> str:
    parts = []
    for block in result.get("content", []):
        if "text" in block:
            parts.append(str(block["text"]))
        elif "json" in block:
            parts.append(json.dumps(block["json"]))
    return "\n".join(parts)


def tool_chat(
    messages: Messages, system_prompt: str | None, tool_specs: list[ToolSpec] | None
) -> list[dict[str, str]]:
    """Strands messages as ``{"role", "content"}`` chat messages, tool calls and results
    written out in the prompt's convention (the tools listed in the system message)."""
    chat: list[dict[str, str]] = []
    system = tools_system_prompt(system_prompt, tool_specs) if tool_specs else system_prompt
    if system:
        chat.append({"role": "system", "content": system})
    names: dict[str, str] = {}
    for message in messages:
        parts: list[str] = []
        for block in message.get("content", []):
            if "text" in block:
                parts.append(str(block["text"]))
            elif "toolUse" in block:
                use = block["toolUse"]
                names[str(use["toolUseId"])] = str(use["name"])
                call = json.dumps({"name": use["name"], "arguments": use["input"]})
                parts.append(f"{CALL_OPEN}{call}{CALL_CLOSE}")
            elif "toolResult" in block:
                result: dict[str, Any] = dict(block["toolResult"])
                response = {
                    "name": names.get(str(result["toolUseId"]), "unknown"),
                    "status": result.get("status", "success"),
                    "content": _result_text(result),
                }
                parts.append(f"<tool_response>{json.dumps(response)}</tool_response>")
        chat.append({"role": str(message["role"]), "content": "".join(parts)})
    return chat


def tool_rounds_since_user(messages: Messages) -> int:
    """Assistant tool-call messages since the user last wrote text (not a tool result)."""
    rounds = 0
    for message in reversed(messages):
        content = message.get("content", [])
        if message["role"] == "user" and any("text" in block for block in content):
            break
        if message["role"] == "assistant" and any("toolUse" in block for block in content):
            rounds += 1
    return rounds


def plan(
    tool_specs: list[ToolSpec] | None,
    tool_choice: ToolChoice | None,
    rounds_done: int,
    max_rounds: int,
) -> tuple[Mode, list[ToolSpec]]:
    """What to generate: plain text, a choice (call or text) or a forced call, and among
    which tools. A forced choice (``any``, ``tool``) always calls; ``auto`` may call while
    fewer than ``max_rounds`` tool rounds have run since the user's message."""
    specs = list(tool_specs or [])
    if not specs:
        return "text", []
    choice = cast(dict[str, Any], tool_choice or {})
    if "tool" in choice:
        wanted = str(choice["tool"]["name"])
        chosen = [spec for spec in specs if spec["name"] == wanted]
        if not chosen:
            raise ValueError(f"tool_choice names {wanted!r}, which is not among the tools")
        return "call", chosen
    if "any" in choice:
        return "call", specs
    if rounds_done >= max_rounds:
        return "text", specs
    return "choose", specs


def _closed(schema: Any) -> Any:
    """An object schema without properties stands for "no arguments" (the grammar would
    otherwise accept any object)."""
    if isinstance(schema, dict) and schema.get("type") == "object" and not schema.get("properties"):
        return {**schema, "properties": {}, "additionalProperties": False}
    return schema


# The converter's string rule, and ours: no raw control characters (JSON forbids them; the
# converter lets them through), and no string that starts with "{", "}" or "<". SmolLM2 opens
# a string and then writes the call's end into it ('"order_id": "}}</tool_call> ...') and on
# for ever; kept from that, it writes a value.
_STRING_RULE = 'string ::= "\\"" char* "\\"" space'
_OUR_STRING_RULES = (
    'string ::= "\\"" (first-char char*)? "\\"" space\n'
    'first-char ::= [^"\\\\\\x00-\\x1F{}<] | "\\\\" (["\\\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] '
    "[0-9a-fA-F] [0-9a-fA-F])"
)


def _rules(schema: Any, top: str) -> str:
    """llama.cpp's GBNF for ``schema``, its top rule renamed ``top``, strings as above."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    lines = str(json_schema_to_gbnf(json.dumps(schema))).splitlines()
    if any(line.startswith(f"{top} ::=") for line in lines):
        raise ValueError(f"a schema defines the grammar rule {top!r}")
    renamed = [f"{top} ::={line[8:]}" if line.startswith("root ::=") else line for line in lines]
    text = "\n".join(renamed)
    text = text.replace('char ::= [^"\\\\]', 'char ::= [^"\\\\\\x00-\\x1F]')
    return text.replace(_STRING_RULE, _OUR_STRING_RULES)


def names_grammar(tool_specs: list[ToolSpec]) -> str:
    """GBNF: exactly one of the tools' names (inside the quotes the prompt opened)."""
    return "root ::= " + " | ".join(json.dumps(str(spec["name"])) for spec in tool_specs)


def arguments_grammar(spec: ToolSpec) -> str:
    """GBNF: an arguments object valid for ``spec``'s input schema (as far as llama.cpp's
    converter goes: types, required and allowed properties, enums, patterns), then the end
    of the call."""
    body = _rules(_closed(spec["inputSchema"]["json"]), "tool-arguments")
    return f'root ::= tool-arguments "}}{CALL_CLOSE}"\n{body}'


def call_prefix(name: str | None = None) -> str:
    """The start of a call as the prompt writes it, up to the name or up to the arguments."""
    opened = f'{CALL_OPEN}{{"name": "'
    return opened if name is None else f'{opened}{name}", "arguments": '


def parse_arguments(text: str) -> dict[str, Any]:
    """The arguments object of a generated call (``text`` ends with the call's end)."""
    body = text.strip()
    if body.endswith(CALL_CLOSE):
        body = body[: -len(CALL_CLOSE)].rstrip()
    if body.endswith("}"):
        body = body[:-1]
    value = json.loads(body, strict=False)
    if not isinstance(value, dict):
        raise ValueError("the arguments are not an object")
    return value
