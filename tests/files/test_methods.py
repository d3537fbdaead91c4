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



def test_on_windows_every_file_method_is_unsupported_and_nothing_posix_is_imported() -> None:
    """Until a Windows walk exists, each method answers Unsupported; the POSIX handlers are never loaded."""
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
            params = {"path": str(root), "src": str(root), "dst": str(root / "x"), "id": "x", "offset": 0, "size": 1}
            reply = asyncio.run(dispatcher.handle(protocol.request("r-" + method.name, method.name, params, b"x")))
            error = error_from_wire(reply.fields) if reply.type == "error" else None
            answers[method.name] = [error.code, error.message] if error is not None else reply.type
        dispatcher.close()
        journal.close()
        loaded = sorted(name for name in sys.modules if name.startswith("agent.files."))
        not_loadable = []
        for posix_only in ("fdio", "store", "undo", "operations", "transfers"):
            try:
                __import__("agent.files." + posix_only)
            except ImportError as err:
                not_loadable.append(str(err))
        print(json.dumps({"answers": answers, "loaded": loaded, "not_loadable": not_loadable}))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result["answers"]) == {m.name for m in files.METHODS}
    for name, answer in result["answers"].items():
        assert answer == ["unsupported", "file access is not available on this operating system yet"], name
    assert result["loaded"] == ["agent.files._unsupported", "agent.files.common", "agent.files.methods"]
    # Each refuses to load (the first POSIX-only module on its import path says so).
    assert len(result["not_loadable"]) == 5
    assert all(message.endswith("is POSIX-only") for message in result["not_loadable"])
