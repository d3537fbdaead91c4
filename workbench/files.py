"""``s.files``: the customer's files from a notebook cell.

:class:`FilesNamespace` turns each method into a call to the agent's
``files.*`` methods (see :mod:`agent.files`) through a
:class:`~workbench.calls.Caller`, which journals it and raises the agent's
error (a :class:`~wire.errors.WorkbenchError` subclass: ``Forbidden`` when
the customer protected the folder, ``NotFound``, ``Conflict``…).

Results display well in a notebook: a listing is a table, an edit shows its
diff, a transfer shows a progress bar while it runs.

Transfers (:meth:`FilesNamespace.download`, :meth:`FilesNamespace.upload`)
are chunked and pipelined (a few chunks in flight), keep memory flat (at most
``in_flight`` chunks are held), write the local file atomically (``.part``
then rename), check the sha256 at the end, and resume from the last good
offset when the connection drops (:class:`~wire.errors.ConnectionLost`,
:class:`~wire.errors.Timeout`), a bounded number of times and for a bounded
time: a transfer that made no progress for ``give_up_after`` seconds (the
customer's agent is gone) stops with :class:`~wire.errors.ConnectionLost`.
A download left half-done (its ``.part``) is resumed by the next call for the
same file.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import os
import posixpath
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, overload

from wire.errors import AlreadyExists, Conflict, ConnectionLost, Forbidden, NotFound, ProtocolError, Timeout
from workbench.calls import Caller, CallResult
from workbench.history import ActionEntry, History
from workbench.planned import PlannedCall, plans
from workbench.tables import local_time, number_cell, text_cell

#: Largest chunk the agent serves or takes.
CHUNK_MAX: Final = 4 * 1024 * 1024
#: Largest content :meth:`FilesNamespace.write` sends in one call; more goes as an upload.
WRITE_MAX: Final = 4 * 1024 * 1024
#: Longest text sent as text by :meth:`FilesNamespace.write` (longer goes as bytes: escapes cannot swell it).
TEXT_PARAM_MAX: Final = 64 * 1024
_RETRYABLE: Final = (ConnectionLost, Timeout)
#: How long a transfer goes on without progress (no chunk arrives) before it stops with ConnectionLost.
GIVE_UP_AFTER: Final = 120.0
#: A call of a transfer waits at most this long when the patience left is longer (the client's own default).
_CALL_TIMEOUT: Final = 60.0
#: How long the courtesy close of a failed download may wait for the agent.
_CLOSE_AFTER_FAILURE: Final = 5.0
#: How a download's ``.part`` is opened: binary on Windows, not inherited by child processes where POSIX can say so.
_PART_FLAGS: Final = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def _human(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(size)


# ----------------------------------------------------------------- records


@dataclass(frozen=True)
class Entry:
    """One entry of a folder listing."""

    name: str
    kind: str
    size: int | None
    modified: str | None
    mode: str | None = None
    protected: bool = False
    target: str | None = None

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> Entry:
        return cls(str(body.get("name", "")), str(body.get("kind", "other")), body.get("size"),
                   body.get("modified"), body.get("mode"), bool(body.get("protected", False)), body.get("target"))


class Listing(Sequence[Entry]):
    """A folder's entries: iterate, index, or look at it in a notebook (a table)."""

    def __init__(self, path: str, entries: list[Entry], truncated: bool) -> None:
        self.path = path
        self.entries = entries
        self.truncated = truncated

    @overload
    def __getitem__(self, index: int) -> Entry: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Entry]: ...

    def __getitem__(self, index: int | slice) -> Entry | Sequence[Entry]:
        return self.entries[index]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]

    def __repr__(self) -> str:
        lines = [f"{self.path}: {len(self.entries)} entries" + (" (cut)" if self.truncated else "")]
        for entry in self.entries:
            what = "protected" if entry.protected else _human(entry.size) if entry.kind == "file" else entry.kind
            lines.append(f"  {entry.name}{'/' if entry.kind == 'folder' else ''}  {what}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        protected = 0
        for entry in self.entries:
            name = html.escape(entry.name) + ("/" if entry.kind == "folder" else "")
            if entry.target is not None:
                name += f" → {html.escape(entry.target)}"
            if entry.protected:
                protected += 1
                rows.append(f"<tr>{text_cell(f'{name} <i>(protected)</i>')}{text_cell('folder')}"
                            f"{number_cell('')}{text_cell('')}</tr>")
                continue
            rows.append(f"<tr>{text_cell(name)}{text_cell(html.escape(entry.kind))}"
                        f"{number_cell(_human(entry.size))}{text_cell(html.escape(local_time(entry.modified)))}</tr>")
        notes = []
        if protected:  # said once for the table, not on every row
            notes.append(f"{protected} folder(s) marked <i>(protected)</i>: protected by the customer, "
                         "never opened.")
        if self.truncated:
            notes.append("The list was cut; ask for a larger limit.")
        note = "".join(f"<p><i>{n}</i></p>" for n in notes)
        head = (text_cell("name", "th") + text_cell("kind", "th") + number_cell("size", "th")
                + text_cell("modified", "th"))
        return (f"<p><b>{html.escape(self.path)}</b> — {len(self.entries)} entries</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}")


@dataclass(frozen=True)
class FileInfo:
    """What :meth:`FilesNamespace.stat` found."""

    path: str
    name: str
    kind: str
    size: int
    modified: str
    mode: str
    links: int
    target: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Change:
    """A change made on the customer's machine (undo it with ``s.files.undo()``)."""

    action: str
    path: str
    sha256_before: str | None = None
    sha256_after: str | None = None
    details: dict[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        text = f"{self.action}: {self.path}"
        if self.sha256_before or self.sha256_after:
            text += f" (sha256 {(self.sha256_before or 'none')[:12]} → {(self.sha256_after or 'none')[:12]})"
        return text


@dataclass(frozen=True, repr=False)
class EditResult(Change):
    """A change made by :meth:`FilesNamespace.edit`; shows its diff in a notebook."""

    diff: str = ""

    def __repr__(self) -> str:
        return f"{Change.__repr__(self)}\n{self.diff}"

    def _repr_html_(self) -> str:
        colours = {"+": "#1a7f37", "-": "#cf222e", "@": "#0969da"}
        lines = []
        for line in self.diff.splitlines():
            colour = colours.get(line[:1]) if not line.startswith(("+++", "---")) else "#57606a"
            style = f" style='color:{colour}'" if colour else ""
            lines.append(f"<span{style}>{html.escape(line)}</span>")
        return f"<p><b>edited {html.escape(self.path)}</b></p><pre>{chr(10).join(lines)}</pre>"


@dataclass(frozen=True)
class Transfer:
    """A finished download or upload."""

    direction: Literal["download", "upload"]
    remote: str
    local: str
    size: int
    sha256: str
    resumed: int = 0


# ---------------------------------------------------------------- progress


def _in_kernel() -> bool:
    """True when running in an IPython kernel that can show widgets."""
    try:
        from IPython.core.getipython import get_ipython
    except ImportError:
        return False
    shell: Any = get_ipython()  # type: ignore[no-untyped-call,unused-ignore]
    return shell is not None and getattr(shell, "kernel", None) is not None


class Progress:
    """A progress bar in the notebook, or nothing outside one."""

    def __init__(self, total: int, label: str, enabled: bool, entry: ActionEntry | None = None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self._shown = -1
        self.bar: Any = None
        self.text: Any = None
        self._entry = entry  # the history's entry for this transfer, which follows the bar
        if entry is not None:
            entry.sized(total)
        if not enabled:
            return
        import ipywidgets
        from IPython.display import display

        self.bar = ipywidgets.IntProgress(value=0, min=0, max=1000, description="", bar_style="info")
        self.text = ipywidgets.HTML(value=html.escape(label))
        display(ipywidgets.HBox([self.bar, self.text]))  # type: ignore[no-untyped-call]
        self._label = label

    def update(self, done: int) -> None:
        self.done = done
        permille = min(1000, done * 1000 // self.total)
        if permille == self._shown:  # at most a thousand updates, however many chunks
            return
        self._shown = permille
        if self._entry is not None:
            self._entry.progress(done)
        if self.bar is not None:
            self.bar.value = permille
            self.text.value = html.escape(f"{self._label}: {_human(done)} of {_human(self.total)}")

    def note(self, words: str) -> None:
        if self.text is not None:
            self.text.value = html.escape(f"{self._label}: {words}")

    def finish(self, ok: bool, words: str) -> None:
        if self.bar is None:
            return
        self.bar.bar_style = "success" if ok else "danger"
        if ok:
            self.bar.value = 1000
        self.text.value = html.escape(f"{self._label}: {words}")


# -------------------------------------------------------------- namespace


def _default_delay(attempt: int) -> float:
    return float(min(5.0, 0.25 * 2 ** (attempt - 1)))


class _Patience:
    """How long a transfer may still go on without progress (monotonic clock); reset by every chunk that arrives."""

    def __init__(self, limit: float, what: str) -> None:
        self.limit = limit
        self.what = what
        self._since = time.monotonic()

    def progressed(self) -> None:
        self._since = time.monotonic()

    def left(self) -> float:
        return self.limit - (time.monotonic() - self._since)

    def call_timeout(self) -> float | None:
        """The timeout for the next call: the caller's own while patience is long, what is left once short."""
        left = self.left()
        return None if left >= _CALL_TIMEOUT else max(left, 0.1)

    def check(self, err: Exception) -> None:
        """Raise ConnectionLost (from *err*) when the patience is used up."""
        if self.left() <= 0:
            raise ConnectionLost(
                f"{self.what}: no progress for {self.limit:g} s, the customer's agent cannot be reached "
                f"({err}); the transfer stopped (call it again to resume)") from err


class FilesNamespace:
    """The customer's files: ``s.files.list("/home/ana")``, ``s.files.read(...)``…

    Every method raises the agent's error for a refused call (Forbidden,
    NotFound, BadParams, Conflict, AlreadyExists, PermissionDenied, NoSpace…)
    and SessionEnded once the session is over.

    ``chunk_size`` and ``in_flight`` shape transfers (by default 4 chunks in flight
    for a download and 8 for an upload, whose chunks each wait at the agent for two
    journal syncs and a disk write: the deeper window keeps the wire busy meanwhile;
    an ``in_flight`` given applies to both); ``max_retries`` bounds
    the reconnects a transfer waits through without progress, and
    ``give_up_after`` (seconds, default :data:`GIVE_UP_AFTER`) how long it
    goes on without progress: then it stops with ConnectionLost; ``retry_delay``
    gives the pause before a retry (attempt number → seconds); ``in_kernel``
    says whether progress bars can be shown (default: detect IPython).  With *history*
    (the session's), a transfer is one entry there, kept up to date (size, bytes moved,
    result), and its many calls are not recorded one by one.
    """

    def __init__(self, caller: Caller, *, chunk_size: int = CHUNK_MAX, in_flight: int | None = None,
                 max_retries: int = 8, retry_delay: Callable[[int], float] = _default_delay,
                 in_kernel: Callable[[], bool] = _in_kernel, history: History | None = None,
                 give_up_after: float = GIVE_UP_AFTER) -> None:
        if not 0 < chunk_size <= CHUNK_MAX:
            raise ValueError(f"chunk_size must be between 1 and {CHUNK_MAX}")
        if in_flight is not None and in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        if not give_up_after > 0:
            raise ValueError("give_up_after must be a positive number of seconds")
        self.give_up_after = give_up_after
        self._caller = caller
        self.chunk_size = chunk_size
        self.in_flight = in_flight if in_flight is not None else 4
        self.upload_in_flight = in_flight if in_flight is not None else 8
        self.max_retries = max_retries
        self._retry_delay = retry_delay
        self._in_kernel = in_kernel
        self._uploads: dict[tuple[str, int, int, str], str] = {}
        self._history = history
        #: whether a call is recorded on its own: not a transfer's when the history has the transfer's entry
        self._record_each = history is None

    def _call(self, method: str, params: dict[str, Any], data: bytes | None = None) -> CallResult:
        return self._caller.call(method, params, data)

    def _transfer_call(self, method: str, params: dict[str, Any], data: bytes | None = None, *,
                       timeout: float | None = None) -> CallResult:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        if self._record_each:  # a caller without history may not know ``record``
            return self._caller.call(method, params, data, **extra)
        return self._caller.call(method, params, data, record=False, **extra)

    def _transfer_submit(self, method: str, params: dict[str, Any], data: bytes | None = None, *,
                         timeout: float | None = None) -> Future[CallResult]:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        if self._record_each:
            return self._caller.submit(method, params, data, **extra)
        return self._caller.submit(method, params, data, record=False, **extra)

    @contextlib.contextmanager
    def _recorded(self, method: str, params: dict[str, Any]) -> Iterator[ActionEntry | None]:
        """The transfer's one history entry (None without a history); it ends with the block's result."""
        entry = self._history.begin(method, params) if self._history is not None else None
        try:
            yield entry
        except PlannedCall:
            if entry is not None:
                entry.planned()
            raise
        except BaseException as err:
            if entry is not None:
                entry.finish(err)
            raise
        if entry is not None:
            entry.finish()

    # -- looking

    def list(self, path: str, *, limit: int | None = None) -> Listing:
        """The entries of the folder *path* (folders protected by the customer are marked, never opened)."""
        params: dict[str, Any] = {"path": path}
        if limit is not None:
            params["limit"] = limit
        value = self._call("files.list", params).value
        return Listing(value["path"], [Entry.from_wire(e) for e in value["entries"]], bool(value.get("truncated")))

    def stat(self, path: str, *, follow: bool = True) -> FileInfo:
        """Kind, size, dates and mode of *path* (of a link itself with ``follow=False``)."""
        v = self._call("files.stat", {"path": path, "follow": follow}).value
        return FileInfo(v["path"], v["name"], v["kind"], v["size"], v["modified"], v["mode"], v["links"],
                        v.get("target"), v)

    @overload
    def read(self, path: str, *, encoding: str = ..., offset: int | None = ..., length: int | None = ...,
             errors: str = ...) -> str: ...

    @overload
    def read(self, path: str, *, encoding: None, offset: int | None = ..., length: int | None = ...,
             errors: str = ...) -> bytes: ...

    def read(self, path: str, *, encoding: str | None = "utf-8", offset: int | None = None,
             length: int | None = None, errors: str = "strict") -> str | bytes:
        """The file's text (``encoding``), or its bytes with ``encoding=None``; optionally a byte range.

        At most 4 MiB at once; use :meth:`download` for more.  Raises BadParams
        when the text does not decode (read bytes, or pass ``errors="replace"``).
        """
        params: dict[str, Any] = {"path": path, "encoding": encoding, "errors": errors}
        if offset is not None:
            params["offset"] = offset
        if length is not None:
            params["length"] = length
        result = self._call("files.read", params)
        if encoding is None:
            return result.data or b""
        return str(result.value["text"])

    # -- changing

    @plans
    def write(self, path: str, content: str | bytes, *, encoding: str = "utf-8", overwrite: bool = True) -> Change:
        """Write *content* to *path* atomically (the old content is kept for undo).

        Content over 4 MiB goes as an upload (chunked, checked).
        """
        if isinstance(content, str):
            if len(content) <= TEXT_PARAM_MAX:  # sent as text: the customer's journal shows its start
                v = self._call("files.write", {"path": path, "text": content, "encoding": encoding,
                                               "overwrite": overwrite}).value
                return self._change("changed", v)
            content = content.encode(encoding)
        if len(content) <= WRITE_MAX:
            v = self._call("files.write", {"path": path, "overwrite": overwrite}, bytes(content)).value
            return self._change("changed", v)
        with self._recorded("files.write", {"path": path, "overwrite": overwrite}) as entry:
            transfer = self._upload_stream(io.BytesIO(content), len(content), path, overwrite=overwrite,
                                           progress=False, label=path, key=None, entry=entry)
        return Change("changed", path, None, transfer.sha256, {"size": transfer.size})

    @plans
    def edit(self, path: str, old: str, new: str, *, encoding: str = "utf-8") -> EditResult:
        """Replace the one occurrence of *old* by *new*; the result shows the diff.

        Raises Conflict when *old* is absent or found more than once (nothing changes).
        """
        v = self._call("files.edit", {"path": path, "old": old, "new": new, "encoding": encoding}).value
        return EditResult("edited", v["path"], v.get("sha256_before"), v.get("sha256"), v, v.get("diff", ""))

    @plans
    def move(self, src: str, dst: str, *, overwrite: bool = False) -> Change:
        """Move or rename *src* to *dst* (a *dst* ending with a separator means "into that folder")."""
        v = self._call("files.move", {"src": src, "dst": dst, "overwrite": overwrite}).value
        return Change("moved", f"{v['src']} → {v['dst']}", details=v)

    @plans
    def copy(self, src: str, dst: str, *, overwrite: bool = False) -> Change:
        """Copy the file or folder *src* to *dst*."""
        v = self._call("files.copy", {"src": src, "dst": dst, "overwrite": overwrite}).value
        return Change("copied", f"{v['src']} → {v['dst']}", details=v)

    @plans
    def delete(self, path: str) -> Change:
        """Move *path* to the agent's trash on the customer's machine (undo brings it back)."""
        v = self._call("files.delete", {"path": path}).value
        return Change("deleted", v["path"], details=v)

    @plans
    def mkdir(self, path: str, *, parents: bool = False, exist_ok: bool = False) -> Change:
        """Create the folder *path* (and missing parents with ``parents=True``)."""
        v = self._call("files.mkdir", {"path": path, "parents": parents, "exist_ok": exist_ok}).value
        return Change("created", v["path"], details=v)

    @plans
    def undo(self) -> Change:
        """Undo the newest change still recorded on the agent (Conflict if the files changed since)."""
        v = self._call("files.undo", {}).value
        return Change("undone", v.get("summary", ""), details=v)

    @staticmethod
    def _change(action: str, v: dict[str, Any]) -> Change:
        return Change(action, v["path"], v.get("sha256_before"), v.get("sha256"), v)

    # -- transfers

    def _pause(self, attempt: int, progress: Progress, err: Exception, patience: _Patience) -> None:
        if attempt > self.max_retries:
            if isinstance(err, ConnectionLost):
                raise err
            raise ConnectionLost(f"{patience.what}: {attempt - 1} retries made no progress ({err}); the transfer "
                                 "stopped (call it again to resume)") from err
        patience.check(err)
        progress.note(f"connection lost, resuming (attempt {attempt})")
        delay = min(self._retry_delay(attempt), max(patience.left(), 0.0))
        if delay > 0:
            time.sleep(delay)

    def download(self, remote: str, local: str | os.PathLike[str], *, progress: bool = True,
                 overwrite: bool = True, resume: bool = True) -> Transfer:
        """Copy the customer's file *remote* to *local* (a folder: keep the name).

        Chunked and pipelined; the local file appears only once complete and
        checked (sha256).  A ``.part`` left by an interrupted call is resumed
        when *resume*.  Raises the agent's errors, Conflict when the checksum
        does not match (the file changed during the download), AlreadyExists
        when *local* exists and not *overwrite*, ConnectionLost once
        ``max_retries`` attempts or ``give_up_after`` seconds made no progress
        (the ``.part`` is kept: the next call resumes it), Timeout when the
        agent does not answer the first call, OSError for the local side.
        """
        with self._recorded("files.download", {"path": remote, "local": os.fspath(local)}) as entry:
            return self._download(remote, local, progress, overwrite, resume, entry)

    def _download(self, remote: str, local: str | os.PathLike[str], progress: bool, overwrite: bool, resume: bool,
                  entry: ActionEntry | None) -> Transfer:
        target = Path(local).expanduser()
        if target.is_dir():
            target = target / posixpath.basename(remote.replace("\\", "/").rstrip("/"))
        if target.exists() and not overwrite:
            raise AlreadyExists(f"{target}: already exists")
        part = target.with_name(target.name + ".part")
        opened = self._transfer_call("files.download_open", {"path": remote}).value
        size = int(opened["size"])
        bar = Progress(size, f"download {remote}", progress and self._in_kernel(), entry)
        fd = os.open(part, _PART_FLAGS, 0o666)
        state = _Pull(remote, str(opened["id"]), size, fd)
        patience = _Patience(self.give_up_after, remote)
        failed = True
        try:
            if resume:
                state.resume_from_local()
            else:
                os.ftruncate(fd, 0)
            bar.update(state.offset)
            for restart in (False, True):
                agent_sha = self._pull(state, bar, patience)
                if agent_sha == state.hasher.hexdigest():
                    break
                if restart or state.started_at == 0:
                    bar.finish(False, "checksum mismatch")
                    raise Conflict(f"{remote}: the sha256 of the bytes received does not match the file's "
                                   "(it changed during the download); the local file was not written")
                state.restart()  # the .part came from an older version of the file
            os.ftruncate(fd, size)
            os.fsync(fd)
            failed = False
        except BaseException as err:
            # A .part stays for the next call to resume, unless it is wrong or unwanted.
            if isinstance(err, (Conflict, Forbidden)) or not resume:
                part.unlink(missing_ok=True)
            bar.finish(False, "stopped")
            raise
        finally:
            os.close(fd)
            self._close_download(state.id, _CLOSE_AFTER_FAILURE if failed else None)
        os.replace(part, target)
        _fsync_dir(target.parent)
        bar.finish(True, f"done, {_human(size)}")
        return Transfer("download", remote, str(target), size, state.hasher.hexdigest(), state.resumes)

    def _close_download(self, transfer_id: str, timeout: float | None) -> None:
        with contextlib.suppress(Exception):  # best effort: the agent forgets old downloads anyway
            self._transfer_call("files.download_close", {"id": transfer_id}, timeout=timeout)

    def _pull(self, state: _Pull, bar: Progress, patience: _Patience) -> str:
        attempt = 0
        while True:
            before = state.offset
            try:
                return self._pull_once(state, bar, patience)
            except _RETRYABLE as err:
                attempt = 1 if state.offset > before else attempt + 1
                state.resumes += 1
                self._pause(attempt, bar, err, patience)
            except NotFound:
                # The agent forgot the download (it restarted): open it again, same size or start over.
                attempt += 1
                if attempt > self.max_retries:
                    raise
                try:
                    opened = self._transfer_call("files.download_open", {"path": state.remote},
                                                 timeout=patience.call_timeout()).value
                except _RETRYABLE as err:
                    self._pause(attempt, bar, err, patience)
                    continue
                state.id = str(opened["id"])
                if int(opened["size"]) != state.size:
                    raise Conflict(f"{state.remote}: the file changed size during the download") from None

    def _pull_once(self, state: _Pull, bar: Progress, patience: _Patience) -> str:
        pending: deque[tuple[int, int, Future[CallResult]]] = deque()
        chunks = state.chunks(self.chunk_size)

        def fill() -> None:
            while len(pending) < self.in_flight:
                nxt = next(chunks, None)
                if nxt is None:
                    return
                offset, length = nxt
                params = {"id": state.id, "offset": offset, "length": length, "path": state.remote}
                pending.append((offset, length, self._transfer_submit("files.download_chunk", params,
                                                                      timeout=patience.call_timeout())))

        sha: str | None = None
        try:
            fill()
            while pending:
                offset, length, future = pending.popleft()
                result = future.result()
                data = result.data or b""
                if result.value.get("offset") != offset or len(data) != length:
                    raise ProtocolError(f"chunk at {offset}: {len(data)} bytes instead of {length}")
                if offset != state.offset:
                    raise ProtocolError(f"chunk at {offset} while expecting {state.offset}")
                state.write(data)
                patience.progressed()
                bar.update(state.offset)
                if result.value.get("eof"):
                    sha = str(result.value["sha256"])
                fill()
        finally:
            for _, _, future in pending:
                future.cancel()
        if sha is None:
            raise ProtocolError("the agent never said the download reached the end")
        return sha

    @plans
    def upload(self, local: str | os.PathLike[str], remote: str, *, progress: bool = True,
               overwrite: bool = False) -> Transfer:
        """Copy the local file *local* to *remote* on the customer's machine.

        Chunked and pipelined; the agent checks the sha256 and puts the file in
        place atomically (a file it replaces is kept for undo).  An upload
        interrupted in this session is resumed by the next call for the same
        file.  Raises the agent's errors (AlreadyExists unless *overwrite*,
        Forbidden, NoSpace, Conflict when the checksum does not match),
        ConnectionLost once ``max_retries`` attempts or ``give_up_after``
        seconds made no progress (the next call in this session resumes),
        Timeout when the agent does not answer the first call, OSError when
        the local file cannot be read.
        """
        source = Path(local).expanduser()
        with open(source, "rb") as stream:
            st = os.fstat(stream.fileno())
            key = (str(source.resolve()), st.st_size, st.st_mtime_ns, remote)
            with self._recorded("files.upload", {"local": str(source), "path": remote}) as entry:
                return self._upload_stream(stream, st.st_size, remote, overwrite=overwrite, progress=progress,
                                           label=str(source), key=key, entry=entry)

    def _upload_stream(self, stream: io.BufferedIOBase | io.BytesIO, size: int, remote: str, *, overwrite: bool,
                       progress: bool, label: str, key: tuple[str, int, int, str] | None,
                       entry: ActionEntry | None = None) -> Transfer:
        state = _Push(remote, size, stream)
        known = self._uploads.get(key) if key is not None else None
        if known is not None:
            try:
                status = self._transfer_call("files.upload_status", {"id": known}).value
                state.id, state.received = known, int(status["received"])
            except NotFound:
                known = None
        if known is None:
            opened = self._transfer_call("files.upload_open",
                                         {"path": remote, "size": size, "overwrite": overwrite}).value
            state.id = str(opened["id"])
        if key is not None:
            self._uploads[key] = state.id
        bar = Progress(size, f"upload {label}", progress and self._in_kernel(), entry)
        bar.update(state.received)
        patience = _Patience(self.give_up_after, remote)
        attempt = 0
        while state.received < size:
            before = state.received
            try:
                self._push_once(state, bar, patience)
            except _RETRYABLE as err:
                attempt = 1 if state.received > before else attempt + 1
                state.resumes += 1
                self._pause(attempt, bar, err, patience)
                try:
                    status = self._transfer_call("files.upload_status", {"id": state.id},
                                                 timeout=patience.call_timeout())
                    state.received = int(status.value["received"])
                except _RETRYABLE:
                    continue
        state.hash_to(size)
        try:
            self._transfer_call("files.upload_finish", {"id": state.id, "sha256": state.hasher.hexdigest()})
        except BaseException:
            bar.finish(False, "failed")
            raise
        finally:
            if key is not None:
                self._uploads.pop(key, None)
        bar.finish(True, f"done, {_human(size)}")
        return Transfer("upload", remote, label, size, state.hasher.hexdigest(), state.resumes)

    def _push_once(self, state: _Push, bar: Progress, patience: _Patience) -> None:
        pending: deque[Future[CallResult]] = deque()
        offset = state.received
        try:
            while offset < state.size or pending:
                while len(pending) < self.upload_in_flight and offset < state.size:
                    data = state.read_at(offset, min(self.chunk_size, state.size - offset))
                    params = {"id": state.id, "offset": offset, "path": state.remote}
                    pending.append(self._transfer_submit("files.upload_chunk", params, data,
                                                         timeout=patience.call_timeout()))
                    offset += len(data)
                received = int(pending.popleft().result().value["received"])
                if received > state.received:
                    patience.progressed()
                state.received = max(state.received, received)
                bar.update(state.received)
        finally:
            for future in pending:
                future.cancel()


def _fsync_dir(folder: Path) -> None:
    """Make a rename in *folder* durable; on Windows a folder cannot be opened, and NTFS journals the rename."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Pull:
    """A download's local side: the .part descriptor, the offset reached, the running hash."""

    def __init__(self, remote: str, transfer_id: str, size: int, fd: int) -> None:
        self.remote = remote
        self.id = transfer_id
        self.size = size
        self.fd = fd
        self.offset = 0
        self.started_at = 0
        self.resumes = 0
        self.hasher = hashlib.sha256()

    def resume_from_local(self) -> None:
        """Continue after what an earlier call left in the .part (hashing it, a block at a time)."""
        have = os.fstat(self.fd).st_size
        if have > self.size:
            os.ftruncate(self.fd, 0)
            have = 0
        while self.offset < have:
            os.lseek(self.fd, self.offset, os.SEEK_SET)
            block = os.read(self.fd, min(1 << 20, have - self.offset))
            if not block:
                break
            self.hasher.update(block)
            self.offset += len(block)
        self.started_at = self.offset

    def restart(self) -> None:
        os.ftruncate(self.fd, 0)
        self.offset = self.started_at = 0
        self.hasher = hashlib.sha256()

    def chunks(self, chunk: int) -> Iterator[tuple[int, int]]:
        """(offset, length) from the current offset; the last one reaches the end (length 0 if already there)."""
        offset = self.offset
        while True:
            length = min(chunk, self.size - offset)
            yield offset, length
            offset += length
            if offset >= self.size:
                return

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        os.lseek(self.fd, self.offset, os.SEEK_SET)  # one writer (the calling thread): seek and write, everywhere
        while view:
            written = os.write(self.fd, view)
            self.offset += written
            view = view[written:]
        self.hasher.update(data)


class _Push:
    """An upload's local side: where to read, how much the agent has, the running hash."""

    def __init__(self, remote: str, size: int, stream: io.BufferedIOBase | io.BytesIO) -> None:
        self.remote = remote
        self.size = size
        self.stream = stream
        self.id = ""
        self.received = 0
        self.hashed = 0
        self.resumes = 0
        self.hasher = hashlib.sha256()

    def read_at(self, offset: int, length: int) -> bytes:
        """Read *length* bytes at *offset*, hashing them the first time they are read in order."""
        if offset > self.hashed:
            self.hash_to(offset)
        self.stream.seek(offset)
        data = self.stream.read(length)
        if len(data) != length:
            raise Conflict("the local file became shorter during the upload")
        if offset <= self.hashed < offset + length:
            self.hasher.update(memoryview(data)[self.hashed - offset:])
            self.hashed = offset + length
        return data

    def hash_to(self, end: int) -> None:
        """Hash the local bytes up to *end* that were not hashed yet."""
        while self.hashed < end:
            self.stream.seek(self.hashed)
            block = self.stream.read(min(1 << 20, end - self.hashed))
            if not block:
                raise Conflict("the local file became shorter during the upload")
            self.hasher.update(block)
            self.hashed += len(block)
