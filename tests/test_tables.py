"""How the workbench's tables read (workbench/tables.py, and the tables that use it): text left,
numbers right, local time with the zone, one explanation per group, no glyph common fonts lack."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from wire.facts import missing, ok
from workbench.history import CallRecord, History
from workbench.inventory import Inventory
from workbench.tables import human_size, local_time


@pytest.fixture
def paris() -> Iterator[None]:
    """The technician's machine in Paris (the zone the times must be shown in)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_times_are_local_with_their_zone(paris: None) -> None:
    assert local_time("2026-11-26T08:14:03.120456+00:00") == "2026-11-26 09:14:03 CET"
    assert local_time("2026-07-01T08:14:03+00:00", date=False, millis=True) == "10:14:03.000 CEST"
    assert local_time(datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)) == "2026-11-26 09:00:00 CET"
    assert local_time("not a time") == "not a time" and local_time(None) == ""


def test_sizes() -> None:
    assert human_size(300 * 1024 * 1024) == "300.0 MiB"
    assert human_size(12) == "12 B" and human_size(None) == ""


def test_history_one_transfer_entry_with_size_progress_and_result(paris: None) -> None:
    history = History()
    history.add(CallRecord("2026-11-26T08:00:00+00:00", "session.ping", {}, "ok", 0.002))
    entry = history.begin("files.download", {"path": "/home/ana/big.bin", "local": "big.bin"})
    assert history[-1].outcome == "running"
    entry.sized(300 * 1024 * 1024)
    entry.progress(150 * 1024 * 1024)
    assert (history[-1].size, history[-1].done) == (300 * 1024 * 1024, 150 * 1024 * 1024)
    entry.finish()
    entry.finish(RuntimeError("late"))  # an entry ends once
    assert len(history) == 2
    assert history[-1].outcome == "ok" and history[-1].done == history[-1].size
    page = history._repr_html_()
    assert "300.0 MiB of 300.0 MiB" in page
    assert "09:00:00.000 CET" in page and "+00:00" not in page and "T08" not in page
    assert "<td style='text-align:left'><code>files.download</code></td>" in page
    assert "text-align:right" in page.split("300.0 MiB of")[0].rsplit("<td", 1)[1]


def test_inventory_states_a_shared_reason_once(paris: None) -> None:
    reason = "readable by root only"
    facts = [missing(name, "denied", "/sys/class/dmi/id", reason) for name in
             ("machine.serial", "machine.model", "machine.vendor", "machine.board", "machine.bios", "machine.uuid")]
    facts.append(missing("os.service_pack", "unsupported", "Linux", "Linux distributions have no service packs"))
    facts.append(ok("os.build", "6.1", "uname"))
    value = {"version": 1, "collected_at": "2026-05-01T09:31:00+00:00", "platform": "linux",
             "facts": [f.to_wire() for f in facts]}
    page = Inventory.from_wire(value, session_id="s", started_at=None)._repr_html_()
    assert page.count(reason) == 1 and page.count("see note 1") == 6
    assert "Linux distributions have no service packs" in page  # a reason given once stays in its row
    assert "11:31:00 CEST" in page and "T09:31" not in page
