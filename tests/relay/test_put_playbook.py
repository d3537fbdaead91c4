"""``relay.put_playbook``: the paired technician keeps an executed playbook in the session's record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relay.events import SaveMeta, SavePlaybook
from relay.index.summary import summarize
from relay.playbooks import MAX_PLAYBOOK_BYTES, MAX_PLAYBOOKS_PER_SESSION, playbook_file_name
from relay.records import SessionRecords
from tests.relay.test_machine import Harness, messages
from wire import protocol
from wire.errors import BadParams, MessageTooLarge, NoSpace

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def test_the_paired_technician_keeps_a_notebook_and_the_session_lists_it(tmp_path: Path) -> None:
    relay = Harness()
    session_id, _, _ = relay.paired()
    relay.now = 1700000000.0
    actions = relay.send("t", protocol.request("r1", "relay.put_playbook", {"name": "disk_full"}, NOTEBOOK))
    saved = [a for a in actions if isinstance(a, SavePlaybook)]
    assert len(saved) == 1 and saved[0].data == NOTEBOOK and saved[0].file_name.startswith("disk_full-")
    (answer,) = messages(actions, "t")
    assert answer.type == "response"
    assert answer["result"]["path"] == f"sessions/{session_id}/playbooks/{saved[0].file_name}"
    (meta,) = [a.meta for a in actions if isinstance(a, SaveMeta)]
    assert [p["name"] for p in meta["playbooks"]] == ["disk_full"]
    assert not messages(actions, "a")  # the agent never sees it

    records = SessionRecords(tmp_path, session_id)
    records.save_meta(meta)
    records.save_playbook(saved[0].file_name, saved[0].data)
    records.close()
    assert (records.dir / "playbooks" / saved[0].file_name).read_bytes() == NOTEBOOK
    row = summarize(records.dir)
    assert row["playbook"] == "disk_full" and json.loads(row["playbooks"]) == ["disk_full"]


@pytest.mark.parametrize(("params", "data", "error"), [
    ({"name": "../../etc"}, NOTEBOOK, BadParams),
    ({"name": ""}, NOTEBOOK, BadParams),
    ({}, NOTEBOOK, BadParams),
    ({"name": "disk_full"}, None, BadParams),
    ({"name": "disk_full"}, b"not json", BadParams),
    ({"name": "disk_full"}, b"{" + b" " * MAX_PLAYBOOK_BYTES, MessageTooLarge),
])
def test_bad_requests_are_refused(params: dict[str, str], data: bytes | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        playbook_file_name(params, data, "2026-12-07T10:00:00.123+00:00")
    relay = Harness()
    relay.paired()
    actions = relay.send("t", protocol.request("r1", "relay.put_playbook", params, data))
    assert not [a for a in actions if isinstance(a, SavePlaybook)]
    (answer,) = messages(actions, "t")
    assert answer.type == "error" and answer["code"] == error.code  # type: ignore[attr-defined]


def test_the_file_is_named_by_the_relays_utc_time() -> None:
    assert playbook_file_name({"name": "hosts_dns"}, NOTEBOOK, "2026-12-07T10:00:00.123+00:00") == \
        "hosts_dns-20261207T100000Z.ipynb"


def test_a_session_keeps_a_bounded_number_and_size_of_notebooks() -> None:
    relay = Harness()
    relay.paired()
    for n in range(MAX_PLAYBOOKS_PER_SESSION):
        actions = relay.send("t", protocol.request(f"r{n}", "relay.put_playbook", {"name": "disk_full"}, NOTEBOOK))
        assert [a for a in actions if isinstance(a, SavePlaybook)], n
    actions = relay.send("t", protocol.request("over", "relay.put_playbook", {"name": "disk_full"}, NOTEBOOK))
    assert not [a for a in actions if isinstance(a, SavePlaybook)]
    (answer,) = messages(actions, "t")
    assert answer.type == "error" and answer["code"] == NoSpace.code and "32 playbook" in answer["message"]

    relay = Harness()  # and by bytes: eight notebooks of the largest size fill a session's share
    relay.paired()
    big = b"{" + b" " * (MAX_PLAYBOOK_BYTES - 1)
    answers = [messages(relay.send("t", protocol.request(f"b{n}", "relay.put_playbook", {"name": "bundle"}, big)),
                        "t")[0] for n in range(9)]
    assert [a.type for a in answers] == ["response"] * 8 + ["error"]
    assert answers[-1]["code"] == NoSpace.code
