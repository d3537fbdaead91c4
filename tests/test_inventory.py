"""The public inventory API (agent/inventory/__init__.py): a real collection on this machine,
checked against independent sources, and the ``inventory.collect`` method through the dispatcher."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import pwd
import sys
from pathlib import Path
from typing import Any

import pytest

import agent.inventory as inventory
from agent.dispatch import CallContext, Dispatcher, MethodTable
from agent.inventory import linux, macos, portable, windows
from agent.journal import Journal
from agent.policy import Policy
from wire import protocol
from wire.errors import BadParams
from wire.facts import STATUSES, Fact

LINUX = sys.platform.startswith("linux")


@pytest.fixture(scope="module")
def collected() -> dict[str, Any]:
    return inventory.collect()


def facts_by_key(value: dict[str, Any]) -> dict[str, Fact]:
    return {f.key: f for f in (Fact.from_wire(body) for body in value["facts"])}


def test_wire_value_shape(collected: dict[str, Any]) -> None:
    assert json.loads(json.dumps(collected)) == collected
    assert set(collected) == {"version", "collected_at", "duration_s", "platform", "facts"}
    facts = [Fact.from_wire(body) for body in collected["facts"]]
    keys = [f.key for f in facts]
    assert len(keys) == len(set(keys))
    assert {f.name for f in facts} <= set(inventory.FACT_NAMES)
    for name in ("os.edition", "os.build", "os.service_pack", "machine.model", "machine.vendor", "machine.serial",
                 "processes", "peripherals", "browsers"):
        assert name in keys, name
    assert any(f.name == "disk.free" for f in facts)
    for fact in facts:
        assert fact.status in STATUSES
        assert fact.source
        if fact.ok:
            assert fact.value not in (None, "")
        else:
            assert fact.value is None and fact.detail
    order = [inventory.FACT_NAMES.index(f.name) for f in facts]
    assert order == sorted(order)


def test_personal_data_is_marked(collected: dict[str, Any]) -> None:
    facts = facts_by_key(collected)
    assert {f.name for f in facts.values() if f.personal} == set(inventory.PERSONAL_FACTS)
    assert facts["machine.serial"].personal
    assert facts["machine.uuid"].personal
    assert facts["machine.hostname"].personal
    assert facts["processes"].personal  # user names and what the person runs
    assert not facts["os.edition"].personal
    assert not facts["machine.model"].personal


@pytest.mark.skipif(not LINUX, reason="Linux sources")
def test_os_facts_against_platform(collected: dict[str, Any]) -> None:
    facts = facts_by_key(collected)
    release = platform.freedesktop_os_release()
    assert facts["os.edition"].value == release["PRETTY_NAME"]
    assert facts["os.kernel"].value.split()[1] == os.uname().release
    assert facts["os.architecture"].value == os.uname().machine
    assert facts["os.service_pack"].status == "unsupported"


@pytest.mark.skipif(not hasattr(os, "statvfs"), reason="POSIX statvfs")
def test_free_space_against_statvfs(collected: dict[str, Any]) -> None:
    facts = facts_by_key(collected)
    disks = {f.subject: f for f in facts.values() if f.name == "disk.free"}
    assert "/" in disks
    root = disks["/"]
    assert root.ok and root.source == "psutil.disk_usage"
    st = os.statvfs("/")
    assert root.value["total_bytes"] == st.f_blocks * st.f_frsize
    # teammates' processes write meanwhile: allow 256 MB of drift, far below any wrong-field error
    assert abs(root.value["free_bytes"] - st.f_bavail * st.f_frsize) < 256 * 1024 * 1024
    assert root.value["free_bytes"] <= root.value["total_bytes"]


def count_proc() -> int:
    return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit())


@pytest.mark.skipif(not LINUX, reason="/proc")
def test_processes_against_proc(collected: dict[str, Any]) -> None:
    assert facts_by_key(collected)["processes"].value["total"] > 1
    before = count_proc()
    value = portable.process_fact(limit=100_000, interval=0.05).value
    after = count_proc()
    # teammates' processes come and go meanwhile: bracket the count, with a little slack
    assert min(before, after) - 10 <= value["total"] <= max(before, after) + 10
    assert value["shown"] == value["total"] == len(value["rows"])
    assert value["columns"] == ["pid", "name", "user", "cpu_percent", "rss_bytes"]
    rows = {row[0]: row for row in value["rows"]}
    me = rows[os.getpid()]
    assert me[1] == Path("/proc/self/comm").read_text().strip()
    assert me[2] == pwd.getpwuid(os.getuid()).pw_name
    assert me[3] is not None and me[3] >= 0
    rss = [row[4] or 0 for row in value["rows"]]
    assert rss == sorted(rss, reverse=True)


@pytest.mark.skipif(not LINUX, reason="/proc")
def test_process_rows_capped_and_measured() -> None:
    fact = portable.process_fact(limit=3, interval=0.05)
    value = fact.value
    assert value["total"] > 3
    assert 3 <= value["shown"] <= 3 + portable.BUSIEST_KEPT
    assert fact.detail and "left out" in fact.detail
    init = [row for row in portable.process_fact(limit=10_000, interval=0.05).value["rows"] if row[0] == 1]
    assert init, "pid 1 listed"
    statm_pages = int(Path("/proc/1/statm").read_text().split()[1])
    assert init[0][4] == statm_pages * os.sysconf("SC_PAGE_SIZE")


def test_backends_expose_the_same_functions() -> None:
    """The psutil-style contract: every backend has what the public module calls."""
    for backend in (linux, windows, macos):
        assert callable(backend.platform_facts), backend.__name__
        assert callable(backend.browser_fact), backend.__name__
        assert backend.SYSTEM in ("linux", "windows", "macos")
    expected = {"linux": linux, "win32": windows, "darwin": macos}
    chosen = next((module for prefix, module in expected.items() if sys.platform.startswith(prefix)), None)
    assert inventory._backend is chosen


@pytest.mark.skipif(not LINUX or sys.platform == "win32", reason="XDG desktop entries")
def test_collect_with_a_fake_browser_and_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole collection in a temp HOME and XDG_DATA_DIRS holding a fake Chromium and two profiles."""
    home = tmp_path / "home"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "chromium"
    exe.write_text('#!/bin/sh\necho "Chromium 123.0.1 "\n')
    exe.chmod(0o755)
    apps = tmp_path / "share/applications"
    apps.mkdir(parents=True)
    (apps / "chromium.desktop").write_text(
        f"[Desktop Entry]\nType=Application\nName=Chromium\nExec={exe} %U\nCategories=Network;WebBrowser;\n")
    prefs = home / ".config/chromium/Default/Preferences"
    prefs.parent.mkdir(parents=True)
    prefs.write_text(json.dumps({"homepage": "https://start.example/", "homepage_is_newtabpage": False,
                                 "default_search_provider_data": {"template_url_data": {
                                     "short_name": "Qwant", "url": "https://www.qwant.com/?q={searchTerms}"}}}))
    firefox = home / ".mozilla/firefox"
    (firefox / "p.default").mkdir(parents=True)
    (firefox / "profiles.ini").write_text("[Profile0]\nName=default\nIsRelative=1\nPath=p.default\nDefault=1\n")
    (firefox / "p.default/prefs.js").write_text('user_pref("network.proxy.type", 4);\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "share"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)

    facts = facts_by_key(inventory.collect(max_processes=5))
    assert facts["browsers"].value == [{
        "id": "chromium", "family": "chromium", "name": "Chromium", "version": "123.0.1", "path": str(exe),
        "found_in": str(apps / "chromium.desktop"), "version_source": "chromium --version"}]
    chromium = facts["browser.settings[chromium]"]
    assert chromium.value["home_page"] == {"value": "https://start.example/", "default": False}
    assert chromium.value["search_engine"]["value"] == "Qwant (https://www.qwant.com/?q={searchTerms})"
    assert chromium.value["proxy"] == {"value": None, "default": True}
    assert "proxy" in (chromium.detail or "")  # says the absent proxy means the default
    assert facts["browser.settings[firefox]"].value["proxy"]["value"] == "auto-detect (WPAD)"
    assert facts["processes"].value["shown"] <= 5 + portable.BUSIEST_KEPT


def test_a_failing_collector_costs_only_its_group(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> list[Fact]:
        raise RuntimeError("bug")

    monkeypatch.setattr(portable, "disk_facts", broken)
    monkeypatch.setattr(portable, "host_facts", broken)
    facts = facts_by_key(inventory.collect())
    assert facts["disk.free"].status == "unavailable"
    assert "RuntimeError: bug" in (facts["disk.free"].detail or "")
    hostname = facts["machine.hostname"]
    assert hostname.status == "unavailable" and hostname.personal  # still named, still marked
    assert {"os.kernel", "os.architecture", "os.boot_time"} <= set(facts)
    assert facts["os.edition"].status in STATUSES and facts["processes"].ok


# --- the agent method ------------------------------------------------------------------------------------


def test_method_description() -> None:
    (method,) = inventory.METHODS
    assert method.name == "inventory.collect"
    assert method.permission == "inventory"
    assert method.blocking
    assert method.describe({}) == "The technician read your system information"


def test_handler_checks_its_parameter(tmp_path: Path) -> None:
    (method,) = inventory.METHODS
    ctx = CallContext("inventory.collect", {"max_processes": 0}, None, Policy(), tmp_path)
    with pytest.raises(BadParams):
        method.handler(ctx)
    ctx = CallContext("inventory.collect", {"max_processes": "many"}, None, Policy(), tmp_path)
    with pytest.raises(BadParams):
        method.handler(ctx)


def run_request(tmp_path: Path, policy: Policy, params: dict[str, Any]) -> tuple[protocol.Message, list[str],
                                                                                     Journal]:
    told: list[str] = []
    journal = Journal(tmp_path / "journal.jsonl")
    dispatcher = Dispatcher(MethodTable(inventory.METHODS), journal, policy, tmp_path, told.append)
    try:
        reply = asyncio.run(dispatcher.handle(protocol.request("r1", "inventory.collect", params)))
    finally:
        dispatcher.close()
    return reply, told, journal


def test_through_the_dispatcher(tmp_path: Path) -> None:
    reply, told, journal = run_request(tmp_path, Policy(), {"max_processes": 10})
    assert reply.type == "response", reply.fields
    frame = protocol.encode(reply)
    assert isinstance(frame, str)
    value = protocol.decode(frame)["result"]
    assert facts_by_key(value)["processes"].value["shown"] <= 10 + portable.BUSIEST_KEPT
    assert told == ["The technician read your system information"]
    outcome = journal.records[-1]
    assert outcome["kind"] == "outcome" and outcome["outcome"] == "ok"
    assert sum(outcome["facts"].values()) == len(value["facts"])
    journal.close()


def test_refused_when_the_customer_withholds_inventory(tmp_path: Path) -> None:
    policy = Policy()
    policy.permissions.inventory = False
    reply, told, journal = run_request(tmp_path, policy, {})
    assert reply.type == "error"
    assert reply["code"] == "not_granted"
    assert told == []
    journal.close()
