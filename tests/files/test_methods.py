"""agent.files.methods: the method table, its words for the customer, and the platform's handlers."""

from __future__ import annotations

import json

from agent import files
from tests.files.harness import run_as_on_windows


def test_every_method_has_plain_words() -> None:
    names = {m.name for m in files.METHODS}
    assert {"files.list", "files.stat", "files.read", "files.write", "files.edit", "files.move", "files.copy",
            "files.delete", "files.mkdir", "files.undo", "files.download_open", "files.download_chunk",
            "files.upload_open", "files.upload_chunk", "files.upload_status", "files.upload_finish"} <= names
    params = {"path": "/home/ana/notes.txt", "src": "/home/ana/a", "dst": "/home/ana/b", "id": "x"}
    for method in files.METHODS:
        assert method.permission == "files"
        words = method.describe(params)
        assert words.startswith("The technician "), method.name
    described = {m.name: m.describe(params) for m in files.METHODS}
    assert described["files.read"] == "The technician read the file /home/ana/notes.txt"
    assert described["files.write"] == "The technician changed the file /home/ana/notes.txt"
    assert described["files.move"] == "The technician moved /home/ana/a to /home/ana/b"
    part = files.METHODS[[m.name for m in files.METHODS].index("files.read")].describe({**params, "offset": 9})
    assert part == "The technician read part of the file /home/ana/notes.txt"



def test_on_windows_the_windows_handlers_are_chosen_and_nothing_posix_is_imported() -> None:
    """Windows imitated on Linux: the Windows handlers are loaded, never the POSIX ones; with no kernel32
    here, a call that would touch the disk answers Unsupported, and a POSIX spelling is refused by syntax."""
    out = run_as_on_windows("""
        from pathlib import Path
        from agent import files
        from agent.dispatch import Dispatcher, MethodTable
        from agent.journal import Journal
        from agent.policy import Policy
        from wire import protocol
        from wire.errors import error_from_wire
        root = Path(tempfile.mkdtemp())
        journal = Journal(root / "journal.jsonl")
        dispatcher = Dispatcher(MethodTable(files.METHODS), journal, Policy(), root / "state", lambda words: None)
        answers = {}
        for method in files.METHODS:
            params = {"path": "C:/Users", "src": "C:/a", "dst": "C:/b", "id": "x", "offset": 0, "size": 1}
            reply = asyncio.run(dispatcher.handle(protocol.request("r-" + method.name, method.name, params, b"x")))
            error = error_from_wire(reply.fields) if reply.type == "error" else None
            answers[method.name] = error.code if error is not None else reply.type
        loaded = sorted(name for name in sys.modules if name.startswith("agent.files."))
        not_loadable = []
        for posix_only in ("fdio", "store", "undo", "operations", "transfers"):
            try:
                __import__("agent.files." + posix_only)
            except ImportError as err:
                not_loadable.append(str(err))
        dispatcher.close()
        journal.close()
        print(json.dumps({"answers": answers, "loaded": loaded, "not_loadable": not_loadable}))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    answers = result["answers"]
    assert set(answers) == {m.name for m in files.METHODS}
    for name in ("files.list", "files.stat", "files.read", "files.write", "files.move", "files.delete",
                 "files.mkdir", "files.undo", "files.download_open", "files.upload_open"):
        assert answers[name] == "unsupported", (name, answers[name])
    for name in ("files.download_chunk", "files.upload_chunk", "files.upload_status", "files.upload_finish"):
        assert answers[name] == "not_found", (name, answers[name])  # no such transfer id
    assert result["loaded"] == ["agent.files._windows_io", "agent.files._windows_operations",
                                "agent.files._windows_store", "agent.files._windows_transfers",
                                "agent.files._windows_undo", "agent.files.common", "agent.files.feed",
                                "agent.files.keeping", "agent.files.methods", "agent.files.parts",
                                "agent.files.planning", "agent.files.reading", "agent.files.textual",
                                "agent.files.transferring"]
    assert len(result["not_loadable"]) == 5
    assert all(message.endswith("is POSIX-only") for message in result["not_loadable"])
