"""``s.history.to_notebook(path)``: a session's calls written as a playbook notebook.

The notebook follows the playbook contract (:mod:`workbench.playbooks`):

1. a markdown cell: what it fixes (a TODO line for the technician), what it
   touches (the paths and registry keys of its changes), how to undo it;
2. the ``parameters`` cell (papermill's tag): ``session_code``, ``relay``,
   ``dry_run``, then every literal path, registry key, value name and text the
   calls used, named after what they are (``hosts_path``, ``run_key``…), each
   literal once;
3. ``from workbench.playbooks import attach, check`` and ``s = attach(…)``;
4. one cell per call, in order, through the public API (``s.files.edit(…)``,
   ``s.registry.set(…)``, ``hive_1 = s.registry.open_hive(…)``; a transfer is
   one ``s.files.upload``/``download`` cell).

Left out: failed calls, dry-run calls, the relay's and the session's own calls,
and a change followed by its undo (both).  Reads are kept as checks: a read
made after the last change to the same file or value checks that it still
reads as it did when the fix was confirmed; an earlier read checks that it
still works (the fault's diagnosis).  Control input and annotations are left
as comments: they depend on the screen of the moment.
"""

from __future__ import annotations

import importlib
import keyword
import ntpath
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.history import CallRecord

#: The most text a read keeps in the history for a later check (longer reads are checked as working only).
KEPT_TEXT = 64 * 1024

_FILE_CHANGES = frozenset({"files.write", "files.edit", "files.move", "files.copy", "files.delete", "files.mkdir",
                           "files.upload"})
_REGISTRY_CHANGES = frozenset({"registry.set", "registry.delete_value", "registry.delete_key"})
_SKIPPED = ("relay.", "session.", "files.download_", "files.upload_")


def kept_result(method: str, value: Any) -> Any:
    """What the history keeps of a call's answer: the text of a read, a registry value; else None."""
    if method == "files.read" and isinstance(value, dict) and isinstance(value.get("text"), str):
        text: str = value["text"]
        return text if len(text) <= KEPT_TEXT else None
    if method == "registry.get" and isinstance(value, dict):
        return {k: value.get(k) for k in ("name", "type", "data")}
    if method == "registry.open_hive" and isinstance(value, dict):
        return value.get("hive")
    return None


def _kept(records: Sequence[CallRecord]) -> list[CallRecord]:
    """The calls a playbook repeats: succeeded, not previews, not undone later, not the plumbing."""
    kept: list[CallRecord] = []
    for record in records:
        if record.outcome != "ok" or record.preview or record.method.startswith(_SKIPPED):
            continue
        if record.method in ("files.undo", "registry.undo"):
            family = _FILE_CHANGES if record.method == "files.undo" else _REGISTRY_CHANGES
            for index in range(len(kept) - 1, -1, -1):
                if kept[index].method in family:
                    del kept[index]  # the change and its undo both go
                    break
            continue
        kept.append(record)
    return kept


@dataclass
class _Parameters:
    """Literal values lifted into the parameters cell: each literal once, under a sensible name."""

    names: dict[str, str] = field(default_factory=dict)  # literal → name
    order: list[tuple[str, Any, str]] = field(default_factory=list)  # (name, value, comment)

    def lift(self, value: Any, hint: str, comment: str = "") -> str:
        key = repr(value)
        if key in self.names:
            return self.names[key]
        name = base = _identifier(hint)
        taken = {n for n, _, _ in self.order}
        number = 2
        while name in taken or name in _RESERVED:
            name = f"{base}_{number}"
            number += 1
        self.names[key] = name
        self.order.append((name, value, comment))
        return name


_RESERVED = frozenset({"s", "session_code", "relay", "dry_run", "attach", "check", "text", "value"})


def _identifier(hint: str) -> str:
    name = re.sub(r"\W+", "_", hint.lower()).strip("_") or "value"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"v_{name}"
    return name[:40]


def _stem(path: str) -> str:
    """A name from a path's last component: ``/etc/hosts`` → ``hosts``, ``prefs.js`` → ``prefs_js``."""
    last = (ntpath.basename(path.rstrip("\\/")) if "\\" in path else posixpath.basename(path.rstrip("/"))) or "root"
    return last


def _key_stem(key: Any) -> str:
    if isinstance(key, list):
        return str(key[-1]) if key else "top"
    parts = [p for p in re.split(r"[\\/]", str(key)) if p]
    return parts[-1] if parts else "top"


class _Writer:
    def __init__(self) -> None:
        self.params = _Parameters()
        self.cells: list[str] = []
        self.hives: dict[str, str] = {}  # the agent's handle → the notebook's variable
        self.hive_paths: dict[str, str] = {}  # the agent's handle → the hive file's path
        self.touched: list[str] = []
        self.file_changes = 0
        self.registry_changes = 0
        self.reads = 0

    def path(self, value: str, suffix: str = "path") -> str:
        kind = "folder" if suffix == "folder" else suffix
        return self.params.lift(value, f"{_stem(value)}_{kind}", "on the customer's machine")

    def touch(self, where: str) -> None:
        if where not in self.touched:
            self.touched.append(where)

    def target(self, params: dict[str, Any]) -> str:
        """``s.registry`` or the hive's variable."""
        hive = params.get("hive")
        if isinstance(hive, str):
            return self.hives.get(hive, "s.registry")
        return "s.registry"

    def key(self, params: dict[str, Any]) -> str:
        key = params.get("path", "")
        if isinstance(key, list):
            return self.params.lift(key, f"{_key_stem(key)}_key", "a registry key, as a list of names")
        return self.params.lift(str(key), f"{_key_stem(key)}_key", "a registry key")

    def add(self, code: str) -> None:
        self.cells.append(code)


def _changes(records: Sequence[CallRecord], where: str) -> bool:
    """Whether one of *records* changes *where* (a path, or ``hive|key|name`` for a registry value)."""
    for record in records:
        p = record.call_params or record.params
        if record.method in _FILE_CHANGES and where in (p.get("path"), p.get("src"), p.get("dst")):
            return True
        if record.method in _REGISTRY_CHANGES and where == f"{p.get('hive')}|{p.get('path')}|{p.get('name')}":
            return True
    return False


def _confirms(records: Sequence[CallRecord], index: int, where: str) -> bool:
    """Whether the read at *index* confirms a fix: *where* was changed before it and not after."""
    return _changes(records[:index], where) and not _changes(records[index + 1:], where)


def _cell(writer: _Writer, records: Sequence[CallRecord], index: int) -> None:
    record = records[index]
    p = dict(record.call_params or record.params)
    method = record.method
    if method == "files.read":
        path = writer.path(str(p["path"]))
        writer.reads += 1
        if isinstance(record.result, str) and _confirms(records, index, str(p["path"])):
            expected = writer.params.lift(record.result, f"{_stem(str(p['path']))}_expected",
                                          "its text when the fix was confirmed")
            writer.add(f"# Check: the file reads as it did when the fix was confirmed (a dry run changed nothing:\n"
                       f"# there is no fix to check then).\nif not dry_run:\n"
                       f"    check(s.files.read({path}) == {expected}, f\"{{{path}}} is not as the fix left it\")")
        else:
            writer.add(f"# Check: the file can be read (the diagnosis of the fault).\n"
                       f"text = s.files.read({path})\nprint(text[:2000])")
        return
    if method in ("files.list", "files.stat"):
        writer.reads += 1
        verb = method.split(".")[1]
        writer.add(f"# Check: this still works.\ns.files.{verb}({writer.path(str(p['path']))})")
        return
    if method == "files.write":
        path = writer.path(str(p["path"]))
        writer.touch(str(p["path"]))
        writer.file_changes += 1
        if not isinstance(p.get("text"), str):
            writer.add(f"# The technician wrote bytes to {p['path']!r} here (not kept in the history):\n"
                       f"# TODO upload the file: s.files.upload(local_file, {path}, overwrite=True)")
            return
        text = writer.params.lift(p["text"], f"{_stem(str(p['path']))}_text", "the content written")
        extra = "" if p.get("overwrite", True) else ", overwrite=False"
        extra += "" if p.get("encoding", "utf-8") == "utf-8" else f", encoding={p['encoding']!r}"
        writer.add(f"s.files.write({path}, {text}{extra})")
        return
    if method == "files.edit":
        path = writer.path(str(p["path"]))
        writer.touch(str(p["path"]))
        writer.file_changes += 1
        stem = _stem(str(p["path"]))
        old = writer.params.lift(p["old"], f"{stem}_old", "the text replaced")
        new = writer.params.lift(p["new"], f"{stem}_new", "what replaces it")
        writer.add(f"s.files.edit({path}, {old}, {new})")
        return
    if method in ("files.move", "files.copy"):
        src, dst = writer.path(str(p["src"]), "src"), writer.path(str(p["dst"]), "dst")
        writer.touch(str(p["src"]))
        writer.touch(str(p["dst"]))
        writer.file_changes += 1
        extra = ", overwrite=True" if p.get("overwrite") else ""
        writer.add(f"s.files.{method.split('.')[1]}({src}, {dst}{extra})")
        return
    if method == "files.delete":
        writer.touch(str(p["path"]))
        writer.file_changes += 1
        writer.add(f"s.files.delete({writer.path(str(p['path']))})  # kept in the agent's trash: undo restores it")
        return
    if method == "files.mkdir":
        writer.touch(str(p["path"]))
        writer.file_changes += 1
        extra = (", parents=True" if p.get("parents") else "") + (", exist_ok=True" if p.get("exist_ok") else "")
        writer.add(f"s.files.mkdir({writer.path(str(p['path']), 'folder')}{extra})")
        return
    if method == "files.upload":
        writer.touch(str(p["path"]))
        writer.file_changes += 1
        local = writer.params.lift(str(p["local"]), f"{_stem(str(p['local']))}_local", "on the technician's side")
        writer.add(f"s.files.upload({local}, {writer.path(str(p['path']))}, overwrite=True)")
        return
    if method == "files.download":
        local = writer.params.lift(str(p["local"]), f"{_stem(str(p['local']))}_local", "on the technician's side")
        writer.add(f"s.files.download({writer.path(str(p['path']))}, {local}, overwrite=True)")
        return
    if method == "registry.close_hive":
        writer.add(f"{writer.target(p)}.close()")
        return
    if method == "registry.get":
        target, key = writer.target(p), writer.key(p)
        name = writer.params.lift(str(p.get("name", "")), f"{_stem(str(p.get('name') or 'default'))}_value",
                                  "a value's name")
        where = f"{p.get('hive')}|{p.get('path')}|{p.get('name')}"
        writer.reads += 1
        if isinstance(record.result, dict) and _confirms(records, index, where):
            data = writer.params.lift(record.result.get("data"), f"{_stem(str(p.get('name') or 'default'))}_expected",
                                      "its data when the fix was confirmed")
            writer.add(f"# Check: the value is as the fix left it (not in a dry run: nothing was changed).\n"
                       f"if not dry_run:\n"
                       f"    check({target}.get({key}, {name}).data == {data},\n"
                       f"          \"the value is not as the fix left it\")")
        else:
            writer.add(f"# Check: the value can be read (the diagnosis of the fault).\n{target}.get({key}, {name})")
        return
    if method in ("registry.keys", "registry.values", "registry.export"):
        writer.reads += 1
        writer.add(f"# Check: this still works.\n{writer.target(p)}.{method.split('.')[1]}({writer.key(p)})")
        return
    if method in _REGISTRY_CHANGES:
        target, key = writer.target(p), writer.key(p)
        writer.registry_changes += 1
        shown_key = "\\".join(p["path"]) if isinstance(p.get("path"), list) else str(p.get("path", ""))
        hive_path = writer.hive_paths.get(str(p.get("hive")), str(p.get("hive")))
        writer.touch(f"registry: {shown_key}" + (f" (in the hive file {hive_path})" if p.get("hive") else ""))
        if method == "registry.delete_key":
            writer.add(f"{target}.delete_key({key})")
            return
        value_name = str(p.get("name", ""))
        name = writer.params.lift(value_name, f"{_stem(value_name or 'default')}_value", "a value's name")
        if method == "registry.delete_value":
            writer.add(f"{target}.delete_value({key}, {name})")
            return
        set_data = p.get("data")
        data_code = writer.params.lift(set_data, f"{_stem(value_name or 'default')}_data", "the data set") \
            if isinstance(set_data, str | list) else repr(set_data)
        writer.add(f"{target}.set({key}, {name}, {data_code}, {str(p.get('type'))!r})")
        return
    if method == "inventory.collect":
        writer.add("# Check: the system information can be read.\ninventory = s.inventory()\ninventory")
        return
    if method == "screen.screenshot":
        writer.add("s.screenshot()")
        return
    writer.add(f"# Left out: {method}({', '.join(f'{k}={v!r}' for k, v in list(p.items())[:4])}) — input and "
               "marks depend on the screen of the moment")


def build_notebook(records: Sequence[CallRecord], *, title: str | None = None) -> Any:
    """The playbook notebook (an ``nbformat`` v4 notebook) for *records*, as :func:`write_notebook` writes it."""
    nbf: Any = importlib.import_module("nbformat.v4")  # untyped: reached through Any

    kept = _kept(records)
    writer = _Writer()
    hive_number = 0
    for index, record in enumerate(kept):
        if record.method == "registry.open_hive":
            hive_number += 1
            handle = record.result if isinstance(record.result, str) else f"hive-{hive_number}"
            writer.hives[handle] = f"hive_{hive_number}"
            writer.hive_paths[handle] = str((record.call_params or record.params)["path"])
            writer.add(f"hive_{hive_number} = s.registry.open_hive("
                       f"{writer.path(str((record.call_params or record.params)['path']), 'hive')})")
            continue
        _cell(writer, kept, index)
    heading = title or "Playbook written from a session"
    touched = "\n".join(f"- `{where}`" for where in writer.touched) or "- nothing (it only reads)"
    undo = []
    if writer.file_changes:
        undo.append(f"`s.files.undo()` {writer.file_changes} time(s), newest change first (each change to the "
                    "customer's files was kept by the agent)")
    if writer.registry_changes:
        undo.append(f"`s.registry.undo()` {writer.registry_changes} time(s), newest first (a backup was kept)")
    intro = (f"# {heading}\n\n"
             "**What it fixes:** TODO — say in one line which fault this playbook fixes, and how to tell it is "
             "there.\n\n"
             f"**What it touches:**\n{touched}\n\n"
             f"**How to undo it:** {'; '.join(undo) or 'nothing to undo: it changes nothing'}.\n\n"
             f"Written by `s.history.to_notebook` from {len(kept)} call(s) of a session ({writer.reads} read(s) "
             "kept as checks; failed calls, dry-run calls and undone changes left out). Run it with "
             "`workbench playbook run`, or `--dry-run` to see what it would change.")
    lines = ['session_code = ""  # the customer\'s code (headless runs)',
             'relay = ""  # the relay\'s URL (headless runs)',
             "dry_run = False  # plan every change, make none"]
    for name, value, comment in writer.params.order:
        lines.append(f"{name} = {value!r}" + (f"  # {comment}" if comment else ""))
    parameters = nbf.new_code_cell("\n".join(lines))
    parameters.metadata["tags"] = ["parameters"]
    cells = [nbf.new_markdown_cell(intro), parameters,
             nbf.new_code_cell("from workbench.playbooks import attach, check\n\n"
                               "s = attach(session_code, relay, dry_run=dry_run)")]
    cells += [nbf.new_code_cell(code) for code in writer.cells]
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def write_notebook(records: Sequence[CallRecord], path: Path, *, title: str | None = None) -> Path:
    """Write the playbook notebook for *records* at *path* (``.ipynb``); returns *path*."""
    nbformat: Any = importlib.import_module("nbformat")

    notebook = build_notebook(records, title=title)
    nbformat.validate(notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path
