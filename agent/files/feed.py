"""A transfer's one line in the customer's feed: what, how big, how far, and how it ended.

The dispatcher tells the line when the transfer opens (``files.download_open`` /
``files.upload_open``) and then asks :class:`TransferFeed` after each call of the
transfer for the line's new words (:class:`agent.dispatch.Progress`).  The journal
keeps every chunk as before; only the feed is one line per transfer.

Chunks run in worker threads in any order, so "how far" is the sum of the bytes
moved, and "done" is said once, when every byte moved; a late chunk's words
never overwrite the end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from agent.dispatch import Progress, error_words
from agent.panel.catalogue import Bytes, Said, say
from wire.errors import WorkbenchError

Kind = Literal["download", "upload"]

#: transfers followed at once, at most (a forgotten one only stops being updated)
MAX_FOLLOWED = 256


@dataclass
class _Transfer:
    path: str
    size: int
    moved: int = 0
    over: bool = False


class TransferFeed:
    """The state of the transfers under way, by kind and id; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._transfers: dict[str, _Transfer] = {}

    def _words(self, kind: Kind, outcome: str, transfer: _Transfer, err: WorkbenchError | None = None) -> Said:
        params: dict[str, Any] = {"path": transfer.path, "size": Bytes(transfer.size),
                                  "done": Bytes(min(transfer.moved, transfer.size))}
        if outcome == "done":
            del params["done"]
        if err is not None:
            params["reason"] = error_words(err)
        return say(f"transfer.{kind}.{outcome}", **params)

    def opened(self, kind: Kind, show: Callable[[dict[str, Any]], str]) -> Callable[..., Progress | None]:
        """The progress of ``files.<kind>_open``: the transfer's line is this call's line."""

        def progress(params: dict[str, Any], value: Any, err: WorkbenchError | None) -> Progress | None:
            if err is not None or not isinstance(value, dict) or not isinstance(value.get("id"), str):
                return None
            transfer = _Transfer(show(params), int(value.get("size") or 0))
            with self._lock:
                while len(self._transfers) >= MAX_FOLLOWED:
                    self._transfers.pop(next(iter(self._transfers)))
                self._transfers[f"{kind}:{value['id']}"] = transfer
            return Progress(f"{kind}:{value['id']}", self._words(kind, "progress", transfer), opens=True)

        return progress

    def moved(self, kind: Kind) -> Callable[..., Progress | None]:
        """The progress of a chunk: how far; done once every byte moved; failed on an error."""

        def progress(params: dict[str, Any], value: Any, err: WorkbenchError | None) -> Progress | None:
            action = f"{kind}:{params.get('id')}"
            with self._lock:
                transfer = self._transfers.get(action)
                if transfer is None or transfer.over:
                    return None
                if err is not None:
                    transfer.over = True
                    self._transfers.pop(action, None)
                    return Progress(action, self._words(kind, "failed", transfer, err), ends=True)
                if kind == "download":
                    transfer.moved += int(value.get("length", 0)) if isinstance(value, dict) else 0
                elif isinstance(value, dict):
                    transfer.moved = max(transfer.moved, int(value.get("received", 0)))
                if kind == "download" and transfer.moved >= transfer.size:
                    transfer.over = True
                    return Progress(action, self._words(kind, "done", transfer), ends=True)
                return Progress(action, self._words(kind, "progress", transfer))

        return progress

    def closed(self, kind: Kind, outcome: str) -> Callable[..., Progress | None]:
        """The progress of the call that ends a transfer: *outcome* (``done``, ``cancelled``) unless already said.

        A download closed before every byte moved was cancelled, whatever *outcome* says.
        """

        def progress(params: dict[str, Any], value: Any, err: WorkbenchError | None) -> Progress | None:
            action = f"{kind}:{params.get('id')}"
            with self._lock:
                transfer = self._transfers.pop(action, None)
            if transfer is None or transfer.over:
                return Progress(action, ends=True)  # the line said how it ended already
            transfer.over = True
            if err is not None:
                return Progress(action, self._words(kind, "failed", transfer, err), ends=True)
            said = outcome
            if outcome == "done" and transfer.moved < transfer.size:
                said = "cancelled"
            if said == "done" and kind == "upload":
                transfer.moved = transfer.size
            return Progress(action, self._words(kind, said, transfer), ends=True)

        return progress


FEED = TransferFeed()
