"""Fault tests: print the measured figures at the end of the run."""

import pytest
from _pytest.terminal import TerminalReporter

from tests.faults import figures


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """Show the figures (turns, kills, delays, examples) in the summary."""
    lines = figures.summary_lines()
    if lines:
        terminalreporter.section("convoflow reliability figures")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/faults is marked ``faults``."""
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)
