"""A big transfer, as the customer and the technician read it: one line in the customer's feed and
one entry in ``s.history`` (what, size, progress, result), however many chunks; the customer's
journal keeps every chunk."""

from __future__ import annotations

import json
from pathlib import Path

from workbench import connect
from workbench.lab import Proc, start_agent

MIB = 1024 * 1024


def test_a_300_mib_download_is_one_feed_line_and_one_history_entry(relay: tuple[Proc, str, Path],
                                                                    procs: list[Proc], tmp_path: Path) -> None:
    _, url, _ = relay
    home = tmp_path / "home"
    home.mkdir()
    big = home / "disk image.bin"
    with open(big, "wb") as sparse:  # 300 MiB that take no room on disk
        sparse.truncate(300 * MIB)
    agent, code = start_agent(url, tmp_path / "agent")
    procs.append(agent)
    s = connect(code, relay=url, name="transfer test")
    s.ping()
    agent.wait_for(r"\] The technician checked that the connection works")  # the feed so far
    feed_before = len(agent.lines)
    transfer = s.files.download(str(big), tmp_path / "copy.bin", progress=False)
    s.ping()  # a later action, so the feed's lines of the download are all printed before it
    agent.wait_for(r"\] The technician checked that the connection works")
    assert transfer.size == 300 * MIB and (tmp_path / "copy.bin").stat().st_size == 300 * MIB

    feed = [line for line in agent.lines[feed_before:] if line.startswith("[")]  # "[HH:MM:SS] words"
    about_the_file = [line for line in feed if "disk image.bin" in line or "copying" in line or "copied" in line
                      or "file" in line]
    assert len(about_the_file) == 1, feed
    assert "disk image.bin" in about_the_file[0]
    # the console prints the line's end once more, marked: the window updates its one line in place
    # (tests/e2e/test_panel_french.py reads that line from the window)
    updated = [line for line in agent.lines[feed_before:] if line.startswith("(updated) ")]
    assert len(updated) == 1 and "disk image.bin" in updated[0], agent.lines[feed_before:]
    assert updated[0].endswith("from your computer: done, 300.0 MiB"), updated

    downloads = [call for call in s.history if call.method.startswith("files.")]
    assert [call.method for call in downloads] == ["files.download"]
    entry = downloads[0]
    assert (entry.outcome, entry.size, entry.done) == ("ok", 300 * MIB, 300 * MIB)
    assert entry.params["path"] == str(big)
    assert "300.0 MiB of 300.0 MiB" in s.history._repr_html_()
    s.close()
    assert agent.wait(30) == 0

    journal = next((tmp_path / "agent" / "journals").glob("*.jsonl"))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    chunk_calls = [r for r in records if r["kind"] == "call" and r["method"] == "files.download_chunk"]
    assert len(chunk_calls) >= 300 * MIB // (4 * MIB)  # every chunk, in the journal
