"""The Windows download's launcher text, as scripts/windows_agent_build.py writes it (no Wine needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("windows_agent_build", ROOT / "scripts" / "windows_agent_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_relay_is_baked_in_before_the_customers_own_options() -> None:
    text = builder().launcher_text("wss://help.example.org:8443/agent").decode("ascii")
    line = next(line for line in text.split("\r\n") if "agent.cli" in line)
    # The customer's options come after the default, and argparse keeps an option's last value.
    assert line.endswith('-m agent.cli --relay "wss://help.example.org:8443/agent" %*'), line
    assert "\n" not in text.replace("\r\n", "")


def test_without_a_relay_the_launcher_passes_only_the_customers_options() -> None:
    text = builder().launcher_text(None).decode("ascii")
    assert "-m agent.cli %*" in text and "--relay" not in text


@pytest.mark.parametrize("relay", ["http://help.example.org", "wss://a.example/%PATH%", 'wss://a"&calc', "wss://a b",
                                   "wss://exämple.org"])
def test_an_address_cmd_would_misread_stops_the_build(relay: str) -> None:
    with pytest.raises(SystemExit, match="--relay"):
        builder().launcher_text(relay)
