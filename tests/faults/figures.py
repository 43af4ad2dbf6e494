"""Figures measured by the fault and property tests, for docs/RELIABILITY.md.

Tests call :func:`record` / :func:`count`; the figures are printed in pytest's terminal
summary and, when ``CONVOFLOW_FIGURES`` names a file, merged into that JSON file.
"""

import json
import os
from pathlib import Path
from typing import Any

FIGURES: dict[str, dict[str, Any]] = {}
_printed = False


def _save() -> None:
    target = os.environ.get("CONVOFLOW_FIGURES")
    if not target:
        return
    path = Path(target)
    saved: dict[str, dict[str, Any]] = {}
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except ValueError:
            saved = {}
    for name, values in FIGURES.items():
        saved.setdefault(name, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=2, sort_keys=True, default=str) + "\n")


def record(name: str, **values: Any) -> None:
    """Set figures of ``name`` (a test or an entry point)."""
    FIGURES.setdefault(name, {}).update(values)
    _save()


def count(name: str, key: str, amount: int = 1) -> None:
    """Add ``amount`` to figure ``key`` of ``name``."""
    entry = FIGURES.setdefault(name, {})
    entry[key] = int(entry.get(key, 0)) + amount


def flush() -> None:
    """Write counted figures to ``CONVOFLOW_FIGURES`` (if set)."""
    _save()


def summary_lines() -> list[str]:
    """The figures as text, once per pytest session (several conftests ask)."""
    global _printed
    if _printed or not FIGURES:
        return []
    _printed = True
    flush()
    return [
        f"{name}: {json.dumps(values, sort_keys=True, default=str)}"
        for name, values in sorted(FIGURES.items())
    ]
