"""``Session``: the technician's handle on one customer session.

Every call goes through :meth:`Session.call` (or :meth:`Session.submit`),
which records it in :attr:`Session.history` and raises the agent's error as a
:class:`wire.errors.WorkbenchError` subclass.  The namespaces
(``s.files``, ``s.registry``) are thin typed wrappers over that one path;
``s.aio`` offers the same calls as awaitables for async code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import io
import time
from typing import TYPE_CHECKING, Any

from wire.chain import utc_now
from wire.errors import BadParams, ProtocolError, WorkbenchError
from workbench.annotate import AnnotateNamespace
from workbench.calls import CallResult
from workbench.client import RelayClient
from workbench.control import ControlNamespace
from workbench.files import FilesNamespace
from workbench.history import CallRecord, History
from workbench.inventory import Inventory
from workbench.notebook_export import kept_result
from workbench.planned import PlannedCall, PlannedChange, PlannedChanges, is_plan, planning_now
from workbench.playbooks.live import PlaybooksNamespace
from workbench.registry import RegistryNamespace
from workbench.tables import local_time, text_cell

if TYPE_CHECKING:
    from PIL.Image import Image

    from workbench.widget import ScreenWidget


def _short_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if not isinstance(v, str) or len(v) <= 200 else v[:200] + "…") for k, v in params.items()}


class Session:
    """A live session with a customer's agent; made by :func:`workbench.connect`.

    In dry run (*dry_run*, or a view from :meth:`with_dry_run`) every call is sent as a
    preview: the agent runs what changes nothing and plans the rest; the changing
    methods of ``s.files`` and ``s.registry`` then return a
    :class:`~workbench.planned.PlannedChange`, listed in :attr:`planned_changes`.
    """

    def __init__(self, client: RelayClient, paired: dict[str, Any], relay_url: str, *, dry_run: bool = False) -> None:
        self._client = client
        #: every call is a preview: changes are planned by the agent, not made
        self.dry_run = dry_run
        self._planned = PlannedChanges()
        self._root: Session = self
        self.relay_url = relay_url
        self.session_id: str = str(paired["session_id"])
        self.started_at: str = str(paired.get("started_at", ""))
        self.technician: str = str(paired.get("technician", ""))
        self.machine: dict[str, Any] = dict(paired.get("machine") or {})
        self.consent: dict[str, Any] = dict(paired.get("consent") or {})
        self.policy: dict[str, Any] = dict(paired.get("policy") or {})
        self.ended_at: str | None = None
        self.end_reason: str | None = None
        self.history = History()
        self.files = FilesNamespace(self, history=self.history)
        self.registry = RegistryNamespace(self)
        self.annotate = AnnotateNamespace(self)
        self.control = ControlNamespace(self)
        self.playbooks = PlaybooksNamespace(self)
        client.on_ended = self._on_ended

    # -- dry runs ------------------------------------------------------------

    def with_dry_run(self, dry_run: bool = True) -> Session:
        """This session, with every call sent as a preview when *dry_run* (same connection, same history).

        ``with_dry_run(False)`` on a normal session, and ``with_dry_run(True)`` on a dry-run
        view, return the session itself; otherwise a view of the session made now, whose
        :attr:`planned_changes` start empty.
        """
        if bool(dry_run) == self.dry_run:
            return self
        root = self._root
        if not dry_run:
            return root
        view = object.__new__(Session)
        view.__dict__.update(root.__dict__)
        view.dry_run = True
        view._planned = PlannedChanges()
        view._root = root
        view.files = FilesNamespace(view, history=root.history)
        view.registry = RegistryNamespace(view)
        view.annotate = AnnotateNamespace(view)
        view.control = ControlNamespace(view)
        return view

    @property
    def planned_changes(self) -> PlannedChanges:
        """The changes planned (not made) through this dry-run view, in order; empty otherwise."""
        return self._planned

    def announce_playbook(self, name: str, step: int, total: int, title: str, state: str = "running") -> None:
        """Show the customer one line for the playbook being run: "playbook: *name* — step *step* of *total*:
        *title*" (``state``: ``running``, ``done``, ``failed``, ``stopped``).

        Raises BadParams for a step past *total*, an empty name or an unknown state (checked by the agent).
        """
        self.call("session.playbook", {"name": name, "step": step, "total": total, "title": title,
                                       "state": state})

    # -- the one call path -------------------------------------------------

    def submit(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
               *, timeout: float | None = None, record: bool = True) -> concurrent.futures.Future[CallResult]:
        """Send a call without waiting; it is recorded in the history when it ends (unless not *record*:
        part of an action recorded as one entry, such as a transfer's chunks)."""
        params = dict(params or {})
        started_wall, started = utc_now(), time.perf_counter()
        future = self._client.submit(method, params, data, timeout=timeout, preview=self.dry_run)
        if not record:
            return future

        def add_to_history(done: concurrent.futures.Future[CallResult]) -> None:
            err = done.exception()
            planned = err is None and is_plan(done.result().value)
            self.history.add(CallRecord(
                time=started_wall, method=method, params=_short_params(params),
                outcome="planned" if planned else "ok" if err is None else "error",
                duration_s=time.perf_counter() - started,
                error=None if err is None else f"{getattr(err, 'code', type(err).__name__)}: {err}",
                preview=self.dry_run, call_params=params,
                result=kept_result(method, done.result().value) if err is None and not planned else None))

        future.add_done_callback(add_to_history)
        return future

    def call(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
             *, timeout: float | None = None, record: bool = True) -> CallResult:
        """Run *method* on the customer's agent and wait for the answer.

        Raises the agent's error (a WorkbenchError subclass: Forbidden,
        NotFound, NotGranted, …), SessionEnded once the session is over,
        Timeout or ConnectionLost when no answer came in time.
        """
        future = self.submit(method, params, data, timeout=timeout, record=record)
        try:
            result = future.result()
        except WorkbenchError as err:
            raise err.with_traceback(None) from None
        if self.dry_run and is_plan(result.value):
            change = PlannedChange.from_wire(method, dict(params or {}), result.value, utc_now())
            self._planned.append(change)
            if planning_now():  # a namespace's changing method: it returns the plan instead of its result
                raise PlannedCall(change)
        return result

    # -- what every session offers ---------------------------------------

    def ping(self) -> float:
        """Round trip of a no-op call to the agent, in seconds."""
        started = time.perf_counter()
        self.call("session.ping")
        return time.perf_counter() - started

    def describe(self) -> dict[str, Any]:
        """What the agent says of this session: machine, consent, what the customer allowed.

        Raises ProtocolError when the answer is not an object.
        """
        return _object(self.call("session.describe").value, "session.describe")

    def inventory(self) -> Inventory:
        """The customer's system information (R4): every fact with its status and source."""
        result = self.call("inventory.collect", timeout=120)
        return Inventory.from_wire(result.value, session_id=self.session_id, started_at=self.started_at)

    def screen(self, monitor: str | int = "all", **options: Any) -> ScreenWidget:
        """A live view of the customer's screen, for a notebook cell (T1).

        The widget's own websocket reaches the relay with a viewing token
        minted here, so the view keeps streaming while other cells run.
        *monitor* is ``"all"`` or a monitor index; *options* go to
        :class:`workbench.widget.ScreenWidget`.  Raises SessionEnded once
        the session is over.
        """
        from workbench.widget import ScreenWidget

        return ScreenWidget(self.relay_url, self.session_id, self._viewer_token(), monitor=monitor,
                            token_provider=self._viewer_token, **options)

    def _viewer_token(self) -> str:
        return str(self.call("relay.viewer_token").value["token"])

    def screenshot(self, monitor: str | int = "all") -> Image:
        """The customer's screen now, as a PIL image; what the customer hid is filled (journaled).

        *monitor* is ``"all"`` (every monitor side by side, the default) or a monitor's 0-based
        index, as in :meth:`screen` and the view's selector (``s.screenshot(monitor=1)`` is the
        second monitor).  Raises BadParams for a monitor that is neither (or that the customer's
        machine does not have), NotGranted when the customer does not allow viewing, Forbidden
        while the customer pauses the view, Unavailable when the agent has no screen to capture.
        """
        from PIL import Image as PILImage

        if not (monitor == "all" or (isinstance(monitor, int) and not isinstance(monitor, bool) and monitor >= 0)):
            raise BadParams(f'monitor must be "all" or an index >= 0, not {monitor!r}', param="monitor")
        result = self.call("screen.screenshot", {"monitor": monitor}, timeout=60)
        if result.data is None:
            raise WorkbenchError("the agent sent no picture")
        image = PILImage.open(io.BytesIO(result.data))
        image.load()
        return image

    def relay_status(self) -> dict[str, Any]:
        """What the relay holds for this session: agent connected, viewers, journal head, alerts."""
        return _object(self.call("relay.status").value, "relay.status")

    @property
    def journal_alerts(self) -> list[dict[str, Any]]:
        """The relay's alerts, as they came: the customer's journal and the relay's copy disagree.

        Each is ``{"time", "at", "reason"}`` (``at``: the last record the relay's copy shares);
        ``relay_status()["journal_alerts"]`` holds the same, as the relay recorded them.
        """
        return list(self._client.journal_alerts)

    @property
    def ended(self) -> bool:
        return self._root.ended_at is not None

    def close(self) -> None:
        """End the session; the agent records the end and the customer's window says so."""
        self._client.close()
        if self._root.ended_at is None:
            self._root._on_ended("technician_closed")

    def _on_ended(self, reason: str) -> None:
        if self.ended_at is None:
            self.ended_at = utc_now()
            self.end_reason = reason

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def aio(self) -> AsyncView:
        """The same API as awaitables: ``await s.aio.inventory()``, ``await s.aio.files.read(p)``."""
        return AsyncView(self)

    # -- display -----------------------------------------------------------

    def _allowed(self) -> list[str]:
        permissions = self.policy.get("permissions", {})
        granted = [name for name, on in permissions.items() if on]
        refused = [name for name, on in permissions.items() if not on]
        words = [f"allowed: {', '.join(granted) or 'nothing'}"]
        if refused:
            words.append(f"not allowed: {', '.join(refused)}")
        folders = self.policy.get("forbidden_folders", 0)
        if folders:
            words.append(f"{folders} forbidden folder(s)")
        return words

    def __repr__(self) -> str:
        ended_at = self._root.ended_at
        state = f"ended {ended_at}" if ended_at else "live"
        if self.dry_run:
            state += ", dry run (changes are planned, not made)"
        return (f"<Session {self.session_id} with {self.machine.get('hostname', '?')} "
                f"({self.machine.get('os', '?')}), started {self.started_at}, {state}; {'; '.join(self._allowed())}>")

    def _repr_html_(self) -> str:
        def row(label: str, value: str) -> str:
            return f"<tr>{text_cell(html.escape(label), 'th')}{text_cell(html.escape(value))}</tr>"

        rows = [
            row("session", self.session_id),
            row("customer machine", f"{self.machine.get('hostname', '?')} — {self.machine.get('os', '?')}"),
            row("started", _local(self.started_at)),
            row("state", f"ended {_local(self.ended_at)} ({self.end_reason})" if self.ended_at else "live"),
            row("technician", self.technician),
            row("terms accepted", f"{self.consent.get('terms', '?')} at {_local(self.consent.get('accepted_at'))}"
                f" ({self.consent.get('how', '?')})"),
            row("the customer", "; ".join(self._allowed())),
            row("calls so far", str(len(self.history))),
        ]
        return f"<table>{''.join(rows)}</table>"


def _object(value: Any, method: str) -> dict[str, Any]:
    """*value* when it is a JSON object; raises :class:`ProtocolError` (``bad_message``) when not."""
    if not isinstance(value, dict):
        raise ProtocolError(f"the answer to {method} is a {type(value).__name__}, not an object")
    return value


def _local(stamp: Any) -> str:
    return local_time(stamp) or "?"


class AsyncView:
    """Mirrors an object's methods as coroutines that run the plain call in a worker thread.

    The plain calls only wait on the client's own loop, so running them in a
    thread never blocks the caller's loop (Jupyter's included).
    """

    def __init__(self, target: object) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return AsyncView(attribute) if hasattr(attribute, "__dict__") else attribute

        async def call_in_thread(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(attribute, *args, **kwargs)

        return call_in_thread



