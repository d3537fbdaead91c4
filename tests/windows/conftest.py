"""The Windows download under Wine: one build, prefix and screen per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import requires
from tests.windows.wine import WineHost


@pytest.fixture(scope="session")
def wine_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WineHost]:
    requires.tool("wine", "wine")
    requires.tool("Xvfb", "xvfb")
    host = WineHost(tmp_path_factory.mktemp("wine"))
    try:
        yield host
    finally:
        host.close()


from tests.e2e.conftest import procs, relay  # noqa: E402,F401  (the same real relay and process list)
