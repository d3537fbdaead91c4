"""``s.history.to_notebook``: which calls become cells, how literals become parameters, what a read checks.

The history here is made of :class:`~workbench.history.CallRecord` as the session
records them; the notebook is read back with nbformat and its code compiled.
The end-to-end test (a real session recorded, the notebook run by papermill
against a fresh agent in the same fault) is ``tests/e2e/test_history_notebook.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import nbformat

from workbench.history import CallRecord, History


def record(method: str, params: dict[str, Any], outcome: str = "ok", result: Any = None,
           preview: bool = False) -> CallRecord:
    return CallRecord(time="2026-01-01T00:00:00+00:00", method=method, params=params, outcome=outcome,
                      duration_s=0.01, preview=preview, call_params=params, result=result)


HOSTS = "/home/ana/etc/hosts"
BAD = "10.6.6.6 www.bank.example\n"


def session_history() -> History:
    history = History()
    for r in [
        record("session.ping", {}),
        record("files.read", {"path": HOSTS, "encoding": "utf-8", "errors": "strict"},
               result="127.0.0.1 localhost\n" + BAD),
        record("files.write", {"path": "/home/ana/notes.txt", "text": "oops", "encoding": "utf-8",
                               "overwrite": True}),
        record("files.undo", {}),  # undoes the write above: both go
        record("files.delete", {"path": "/home/ana/private"}, outcome="error"),  # failed: left out
        record("files.edit", {"path": HOSTS, "old": BAD, "new": "", "encoding": "utf-8"}, preview=True,
               outcome="planned"),  # a dry run's: left out
        record("files.edit", {"path": HOSTS, "old": BAD, "new": "", "encoding": "utf-8"}),
        record("registry.set", {"path": "/org/gnome/desktop/background", "name": "picture-uri", "type": "REG_SZ",
                                "data": "file:///usr/share/backgrounds/default.png"}),
        record("registry.open_hive", {"path": "/home/ana/SOFTWARE"}, result="hive-1"),
        record("registry.delete_value", {"hive": "hive-1", "path": "Software\\Run", "name": "Updater"}),
        record("files.read", {"path": HOSTS, "encoding": "utf-8", "errors": "strict"},
               result="127.0.0.1 localhost\n"),
        record("registry.get", {"path": "/org/gnome/desktop/background", "name": "picture-uri"},
               result={"name": "picture-uri", "type": "REG_SZ", "data": "file:///usr/share/backgrounds/default.png"}),
        record("registry.close_hive", {"hive": "hive-1"}),
        record("relay.viewer_token", {}),
    ]:
        history.add(r)
    return history


def test_the_notebook_repeats_the_fix_through_the_public_api(tmp_path: Path) -> None:
    path = session_history().to_notebook(tmp_path / "fix_hosts.ipynb", title="Fix a hijacked hosts file")
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    intro, parameters, attach, *steps = notebook.cells
    assert intro.cell_type == "markdown" and intro.source.startswith("# Fix a hijacked hosts file")
    assert "TODO" in intro.source and f"`{HOSTS}`" in intro.source
    assert "Software\\Run (in the hive file /home/ana/SOFTWARE)" in intro.source
    assert "`s.files.undo()` 1 time(s)" in intro.source and "`s.registry.undo()` 2 time(s)" in intro.source
    assert "notes.txt" not in intro.source and "private" not in intro.source

    assert parameters.metadata["tags"] == ["parameters"]
    values: dict[str, Any] = {}
    exec(compile(parameters.source, "parameters", "exec"), {}, values)  # literals only: safe to run here
    assert values["session_code"] == "" and values["relay"] == "" and values["dry_run"] is False
    assert values["hosts_path"] == HOSTS  # one name for the three uses of the same path
    assert values["hosts_old"] == BAD and values["hosts_new"] == ""
    assert values["hosts_expected"] == "127.0.0.1 localhost\n"
    assert values["software_hive"] == "/home/ana/SOFTWARE" and values["run_key"] == "Software\\Run"
    assert values["updater_value"] == "Updater"
    assert "notes_txt_path" not in values and "oops" not in values.values()
    assert attach.source.endswith("s = attach(session_code, relay, dry_run=dry_run)")

    code = [cell.source for cell in steps]
    for source in code:
        ast.parse(source)
    assert code[0].startswith("# Check: the file can be read") and "s.files.read(hosts_path)" in code[0]
    assert code[1] == "s.files.edit(hosts_path, hosts_old, hosts_new)"
    assert code[2] == "s.registry.set(background_key, picture_uri_value, picture_uri_data, 'REG_SZ')"
    assert code[3] == "hive_1 = s.registry.open_hive(software_hive)"
    assert code[4] == "hive_1.delete_value(run_key, updater_value)"
    # a read after the fix: checked equal (not in a dry run, which changes nothing)
    assert "if not dry_run:\n    check(s.files.read(hosts_path) == hosts_expected" in code[5]
    # the value read back equals the one set: one parameter for both
    assert "check(s.registry.get(background_key, picture_uri_value).data == picture_uri_data" in code[6]
    assert code[7] == "hive_1.close()"
    assert len(code) == 8  # no ping, no relay call, no undone write, no failed delete, no dry-run edit


def test_a_session_that_only_read_has_nothing_to_undo(tmp_path: Path) -> None:
    history = History()
    history.add(record("files.list", {"path": "/var/log"}))
    notebook = nbformat.read(history.to_notebook(tmp_path / "look.ipynb"), as_version=4)
    assert "nothing to undo" in notebook.cells[0].source
    assert notebook.cells[-1].source == "# Check: this still works.\ns.files.list(log_path)"
