"""The technician's view of the inventory (workbench/inventory.py)."""

from __future__ import annotations

import json
import re
from concurrent.futures import Future
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

import pytest

from agent.inventory import collect
from wire.errors import ProtocolError
from wire.facts import Fact, missing, ok
from workbench.calls import CallResult
from workbench.inventory import Inventory, fetch, human_bytes

STARTED = datetime(2026, 5, 1, 9, 30, tzinfo=timezone.utc)


def sample_value() -> dict[str, Any]:
    facts = [
        ok("os.edition", "Debian GNU/Linux 12 (bookworm)", "/etc/os-release PRETTY_NAME"),
        ok("os.build", "6.1.0-18-amd64", "uname release"),
        missing("os.service_pack", "unsupported", "Linux", "Linux distributions have no service packs"),
        ok("machine.model", "20HRCTO1WW", "/sys/class/dmi/id/product_name"),
        missing("machine.serial", "denied", "/sys/class/dmi/id/product_serial", "readable by root only",
                personal=True),
        ok("machine.hostname", "jeans-laptop", "socket.gethostname", personal=True),
        ok("disk.free", {"free_bytes": 12_345_678_901, "total_bytes": 250_000_000_000, "fstype": "ext4"},
           "psutil.disk_usage", subject="/"),
        ok("disk.free", {"free_bytes": 1_000_000, "total_bytes": 2_000_000}, "psutil.disk_usage",
           subject="/boot/efi"),
        ok("processes", {"total": 300, "shown": 7, "columns": ["pid", "name", "user", "cpu_percent", "rss_bytes"],
                         "rows": [[i, f"proc{i}", "jean", 0.5, 1_000_000 * (10 - i)] for i in range(7)]},
           "psutil.process_iter", personal=True, note="293 smaller processes left out"),
        ok("browsers", [{"id": "evil", "family": None, "name": "<script>alert(1)</script>", "version": "1.0",
                         "path": "/opt/evil"}], "XDG .desktop files + --version"),
        ok("browser.settings", {"profile": "~/.config/chromium/Default",
                                "home_page": {"value": "https://start.example/", "default": False},
                                "proxy": {"value": None, "default": True}},
           "Preferences JSON", subject="chromium", note="not set in Preferences: proxy"),
    ]
    return {"version": 1, "collected_at": "2026-05-01T09:31:00+00:00", "duration_s": 0.4, "platform": "linux",
            "facts": [f.to_wire() for f in facts]}


@pytest.fixture
def inv() -> Inventory:
    return Inventory.from_wire(sample_value(), session_id="s-123", started_at=STARTED)


def test_lookup(inv: Inventory) -> None:
    assert inv["os.build"].value == "6.1.0-18-amd64"
    assert inv["disk.free[/]"].value["free_bytes"] == 12_345_678_901
    assert inv["disk.free", "/boot/efi"].subject == "/boot/efi"
    assert [f.subject for f in inv.named("disk.free")] == ["/", "/boot/efi"]
    with pytest.raises(KeyError, match=re.escape("disk.free[/]")):
        inv["disk.free"]  # per volume: the error names the keys to use
    with pytest.raises(KeyError, match="no fact"):
        inv["os.nothing"]
    assert "os.build" in inv and ("disk.free", "/") in inv and "disk.free" not in inv
    assert isinstance(inv["machine.serial"], Fact)


def test_iteration_and_facts(inv: Inventory) -> None:
    assert [f.key for f in inv] == [f.key for f in inv.facts]
    assert len(inv) == 11
    assert {f.key for f in inv.personal()} == {"machine.serial", "machine.hostname", "processes"}
    assert inv.counts() == {"ok": 9, "unavailable": 0, "denied": 1, "unsupported": 1}


def test_to_dict_and_json(inv: Inventory) -> None:
    data = inv.to_dict()
    assert data["session_id"] == "s-123"
    assert data["started_at"] == "2026-05-01T09:30:00+00:00"
    assert data["collected_at"] == "2026-05-01T09:31:00+00:00"
    assert data["facts"] == sample_value()["facts"]
    assert json.loads(inv.to_json()) == data
    again = Inventory.from_wire({"collected_at": data["collected_at"], "facts": data["facts"]},
                                session_id=data["session_id"], started_at=data["started_at"])
    assert again.facts == inv.facts
    assert again.started_at == STARTED


def test_repr(inv: Inventory) -> None:
    text = repr(inv)
    assert text.startswith("<Inventory session=s-123 ")
    assert "11 facts: 1 denied, 9 ok, 1 unsupported" in text
    assert "\n" not in text


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_table(inv: Inventory) -> None:
    page = inv._repr_html_()
    parser = _Cells()
    parser.feed(page)
    assert "script" not in parser.tags  # the browser name from the customer's machine stays text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "details" in parser.tags and "summary" in parser.tags
    text = " ".join(parser.text)
    for header in ("fact", "value", "status", "source"):
        assert header in text
    assert "300 processes (showing 7, largest memory first)" in text
    assert "12.3 GB free of 250.0 GB (ext4)" in text
    assert "readable by root only" in text
    assert "s-123" in text
    serial_row = page[page.index("<code>machine.serial</code>"):].split("</tr>")[0]
    assert "personal" in serial_row
    model_row = page[page.index("<code>machine.model</code>"):].split("</tr>")[0]
    assert "personal" not in model_row
    settings_row = page[page.index("<code>browser.settings[chromium]</code>"):].split("</tr>")[0]
    assert "<i>default</i>" in settings_row and "https://start.example/" in settings_row


def test_html_of_a_real_collection() -> None:
    inv = Inventory.from_wire(collect(max_processes=20), session_id="real", started_at="2026-05-01T09:30:00+00:00")
    page = inv._repr_html_()
    assert len(re.findall(r"<tr[^>]*><td><code>", page)) == len(inv)  # one row per fact (nested tables aside)
    assert all(f"<code>{f.key}</code>" in page for f in inv if "<" not in f.key and "&" not in f.key)


@pytest.mark.parametrize("value", [
    None, [], {"facts": "x"}, {"facts": [{"name": "os.build"}], "collected_at": "2026-05-01T09:31:00"},
    {"facts": [], "collected_at": "yesterday"}, {"facts": []},
    {"facts": [ok("os.build", "1", "x").to_wire()] * 2, "collected_at": "2026-05-01T09:31:00"},
])
def test_malformed_wire_value(value: Any) -> None:
    with pytest.raises(ProtocolError):
        Inventory.from_wire(value, session_id="s", started_at=STARTED)


def test_human_bytes() -> None:
    assert human_bytes(999) == "999 B"
    assert human_bytes(1_500_000) == "1.5 MB"
    assert human_bytes(3 * 10**15) == "3000.0 TB"


class FakeCaller:
    def __init__(self, value: Any) -> None:
        self.value = value
        self.calls: list[tuple[str, dict[str, Any] | None, float | None]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
             *, timeout: float | None = None) -> CallResult:
        self.calls.append((method, params, timeout))
        return CallResult(self.value)

    def submit(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
               *, timeout: float | None = None) -> Future[CallResult]:
        raise NotImplementedError


def test_fetch_through_a_caller() -> None:
    caller = FakeCaller(sample_value())
    inv = fetch(caller, session_id="s-9", started_at=STARTED, max_processes=50)
    assert caller.calls == [("inventory.collect", {"max_processes": 50}, 60.0)]
    assert inv.session_id == "s-9"
    assert inv["os.edition"].ok
    fetch(caller, session_id="s-9", started_at=STARTED)
    assert caller.calls[-1][1] == {}


def test_unknown_session_start() -> None:
    inv = Inventory.from_wire(sample_value(), session_id="s", started_at="")
    assert inv.started_at is None
    assert inv.to_dict()["started_at"] is None
    assert "started unknown" in inv._repr_html_()
    with pytest.raises(ProtocolError):
        Inventory.from_wire(sample_value(), session_id="s", started_at="not a time")
