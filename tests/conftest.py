"""Every run of the suite: skips fail unless allowed, and missing tools fail rather than skip.

* :class:`tests.skip_policy.SkipPolicy` with the allow-list of tests/skips.py fails the run on
  any other skip, xfail or xpass (and on a test file that collects no test).
* The marks ``needs(program, package)`` and ``needs_root(why)`` (tests/requires.py) are checked
  before a test's fixtures run: a missing program or a non-root run is a failure.
"""

from __future__ import annotations

import pytest

from tests import requires
from tests.skip_policy import SkipPolicy
from tests.skips import ALLOWED

pytest_plugins = ["pytester"]  # tests/test_skip_policy.py runs pytest on small suites of its own


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(program, package): fails when program (from Debian package) is missing")
    config.addinivalue_line("markers", "needs_root(why): fails unless the suite runs as root")
    config.pluginmanager.register(SkipPolicy(ALLOWED), "skip-policy")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs"):
        requires.tool(*mark.args)
    for mark in item.iter_markers("needs_root"):
        requires.root(*mark.args)
