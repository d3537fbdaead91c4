"""The agent reads the mozLz40 files a real Firefox writes now (the committed ones: tests/data/firefox).

Runs ``tests/data/firefox/regenerate.sh`` into a temporary folder: Firefox ESR
headless, with a fresh profile, in a network namespace of its own.  scripts/setup
installs firefox-esr and iproute2; the test fails, naming them, where they are missing.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from agent.inventory import browser_settings as bs

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[1] / "data/firefox/regenerate.sh"


@pytest.mark.needs("firefox-esr", "firefox-esr")
@pytest.mark.needs("unshare", "util-linux")
@pytest.mark.needs("ip", "iproute2")
def test_files_firefox_writes_now(tmp_path: Path) -> None:
    ns = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    isolated = subprocess.run([*ns, "true"], capture_output=True, text=True)
    assert isolated.returncode == 0, f"no network namespace for Firefox here: {isolated.stderr}"
    subprocess.run([str(SCRIPT), str(tmp_path)], check=True, capture_output=True, timeout=180)
    assert "Firefox" in (tmp_path / "firefox-version.txt").read_text()
    fresh = json.loads(bs.decode_mozlz4((tmp_path / "fresh/search.json.mozlz4").read_bytes()))
    assert bs.firefox_search_engine(fresh) is None
    chosen = json.loads(bs.decode_mozlz4((tmp_path / "ddg/search.json.mozlz4").read_bytes()))
    assert bs.firefox_search_engine(chosen) == "DuckDuckGo"
    for name in ("addonStartup.json.lz4", "sessionstore.jsonlz4"):
        assert isinstance(json.loads(bs.decode_mozlz4((tmp_path / name).read_bytes())), dict)
