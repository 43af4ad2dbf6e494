"""Table cells that every section of docs/BENCHMARKS.md writes the same way."""

from typing import Any


def ms(summary: dict[str, Any] | None) -> str:
    """``p50 / p95 / p99`` of a :func:`bench.harness.summary_ms`, or ``-`` when missing."""
    if not summary:
        return "-"
    return f"{summary['p50']} / {summary['p95']} / {summary['p99']}"


def met(flag: bool) -> str:
    """A goal's verdict, in bold."""
    return "**met**" if flag else "**not met**"


def share(count: int, total: int) -> str:
    """``count/total (percent%)``."""
    return f"{count}/{total} ({round(100 * count / total) if total else 0}%)"
