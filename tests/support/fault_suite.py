"""The fault suite as a table: tests marked `@pytest.mark.fault("the fault or input", "what must hold")` are
rows, and the end of every test run prints each row with its result. Several tests (or parametrized cases) of one
row are counted together; a row holds when all of them pass."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import pytest

_ROWS = pytest.StashKey[dict[tuple[str, str], "Row"]]()


@dataclass
class Row:
    fault: str
    holds: str
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: int = 0

    @property
    def result(self) -> str:
        cases = self.passed + len(self.failed) + self.skipped
        if self.failed:
            return f"FAILED ({len(self.failed)} of {cases})"
        if not self.passed:
            return "skipped"
        return "holds" + (f" ({cases} cases)" if cases > 1 else "")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fault(fault, holds): a row of the fault suite, printed after the run")
    config.stash[_ROWS] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    marker = item.get_closest_marker("fault")
    if marker is None or not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return
    fault, holds = marker.args
    row = item.config.stash[_ROWS].setdefault((fault, holds), Row(fault, holds))
    if report.passed:
        row.passed += 1
    elif report.skipped:
        row.skipped += 1
    else:
        row.failed.append(item.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    rows = list(config.stash[_ROWS].values())
    if not rows:
        return
    terminalreporter.section("fault suite (issue 18): no crash, nothing lost or doubled")
    width = max(len(r.fault) for r in rows)
    holds_width = max(len(r.holds) for r in rows)
    terminalreporter.write_line(f"{'fault or input':<{width}} | {'what must hold':<{holds_width}} | result")
    terminalreporter.write_line(f"{'-' * width}-+-{'-' * holds_width}-+-{'-' * 12}")
    for row in rows:
        terminalreporter.write_line(f"{row.fault:<{width}} | {row.holds:<{holds_width}} | {row.result}")
        for nodeid in row.failed:
            terminalreporter.write_line(f"{'':<{width}} | {'':<{holds_width}} |   {nodeid}")
