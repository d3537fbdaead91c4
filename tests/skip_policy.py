"""A skip is a failure unless allowed: the pytest plugin behind every run of the suite.

A skipped test in CI is a pass that tested nothing.  :class:`SkipPolicy` compares each skip
(and each xfail or xpass) a run meets with an allow-list (``tests/skips.py``) and makes the
run fail, listing every one the list does not cover with its reason.  A test module or class
that collects no test at all fails the run the same way, so that tests which vanish (renamed,
hidden behind a condition) cannot pass silently; collection errors already fail the run.

tests/conftest.py registers the plugin under the name ``skip-policy``.  A developer's partial
run on a machine that cannot provide something may leave it out with ``-p no:skip-policy``;
CI never does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Allowed:
    """One skip the suite may take.

    *test* is a node id (``tests/test_x.py::test_y``; parametrized variants included) or a
    module path for a whole file; *reason* is a regular expression searched in the skip's reason.
    """

    test: str
    reason: str

    def covers(self, nodeid: str, reason: str) -> bool:
        """True when a skip of *nodeid* for *reason* is this one."""
        ours = nodeid == self.test or nodeid.startswith((self.test + "::", self.test + "["))
        return ours and re.search(self.reason, reason) is not None


@dataclass(frozen=True)
class Unlisted:
    """A skip, xfail or xpass the allow-list does not cover, or a collector with no test (kind ``empty``)."""

    nodeid: str
    kind: str
    reason: str


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason a skipped report gives, as ``pytest -rs`` shows it."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


class SkipPolicy:
    """Fails the run on every skip, xfail or xpass not in *allowed*, and on test files that hold no test."""

    def __init__(self, allowed: Iterable[Allowed], source: str = "tests/skips.py") -> None:
        self.allowed = tuple(allowed)
        self.source = source
        self.unlisted: list[Unlisted] = []

    def _check(self, nodeid: str, kind: str, reason: str) -> None:
        if not any(entry.covers(nodeid, reason) for entry in self.allowed):
            self.unlisted.append(Unlisted(nodeid, kind, reason))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self._check(report.nodeid, "skipped", skip_reason(report))
        elif report.passed and not report.result and (report.nodeid.endswith(".py") or "::" in report.nodeid):
            # a test module or class (directories and packages are not held to this)
            self.unlisted.append(Unlisted(report.nodeid, "empty", "collected no test"))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if hasattr(report, "wasxfail"):
            self._check(report.nodeid, "xfailed" if report.skipped else "xpassed", str(report.wasxfail))
        elif report.skipped:
            self._check(report.nodeid, "skipped", skip_reason(report))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.unlisted and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.unlisted:
            return
        terminalreporter.write_sep("=", f"{len(self.unlisted)} not allowed by {self.source}: the run fails", red=True)
        for item in self.unlisted:
            terminalreporter.write_line(f"{item.kind.upper()} {item.nodeid}: {item.reason}")
        terminalreporter.write_line(
            f"A skip in CI is a pass that tested nothing.  Install what the test needs (scripts/setup), or, "
            f"for a platform this machine cannot be, allow the skip in {self.source} with a comment saying why.")
