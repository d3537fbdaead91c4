"""The agent's control service: viewer input and notebook calls in, injected input out,
under the customer's grant and the customer's priority.

See :mod:`agent.control` for the rules; this module wires the parts:

- one *injection thread* (:class:`~agent.control.worker.InjectionWorker`) owns the backend (XTEST on X11) and
  performs every action, viewer or notebook, in arrival order;
- the backend's *watch* reports every device event the server processed; the
  :class:`~agent.control.ledger.InjectionLedger` tells the agent's own from the
  customer's; a customer event suspends injection (:class:`~agent.control.priority.PriorityGate`);
- the event loop resumes injection once the customer has been idle for the grace
  period, and tells the widgets (``screen.control``) in order with everything else;
- viewer input is journaled in bursts (:mod:`agent.control.bursts`); notebook calls
  are journaled by the dispatcher like every call.

The backend is chosen by :mod:`agent.control.backend`; viewer events become
actions in :mod:`agent.control.viewer`, and call parameters are checked in
:mod:`agent.control.params`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from agent.control import actions as act
from agent.control import params as check
from agent.control.backend import open_backend
from agent.control.base import BackendFactory, InputBackend, Watch
from agent.control.bursts import Burst, BurstRecorder, click_words, did, typed_words
from agent.control.keys import HOTKEYS, KeyNameError, parse_combo
from agent.control.ledger import DeviceEvent, InjectionLedger
from agent.control.priority import PriorityGate
from agent.control.viewer import viewer_action
from agent.control.worker import InjectionWorker
from agent.dispatch import CallContext, Method, SendEvent
from agent.panel.catalogue import say
from agent.policy import Policy
from wire.errors import BadParams, CustomerPriority, NotGranted, Unavailable, WorkbenchError

log = logging.getLogger(__name__)

#: Most characters in one ``control.type`` call.
MAX_CALL_TEXT = 10_000
#: Longest one injection may take (pacing new key bindings for text outside the layout included).
INJECTION_TIMEOUT_S = 600.0

HOTKEY_WORDS = " or ".join(hotkey.label for hotkey in HOTKEYS)  # the catalogues' "control.hotkeys" (a test checks)
GRANTED_WORDS = say("control.granted", hotkeys=say("control.hotkeys"))
REVOKED_WORDS = say("control.revoked")
UNAVAILABLE_WORDS = say("control.unavailable")


class ControlService:
    """T6 under C1 and C2: the technician's mouse and keyboard on the customer's computer.

    See :mod:`agent.control`.  ``grant`` and ``revoke`` may be called from any
    thread; ``on_event``, ``start`` and ``stop`` from the agent's event loop;
    the methods in :attr:`METHODS` run in the dispatcher's worker threads.
    """

    def __init__(self, policy: Policy, send_event: SendEvent, tell_customer: Callable[[str], None],
                 journal_append: Callable[..., dict[str, Any]], display: str | None, grace_s: float = 2.0,
                 *, backend_factory: BackendFactory = open_backend, clock: Callable[[], float] = time.monotonic,
                 burst_window_s: float = 1.0) -> None:
        self.policy = policy
        self._send_event = send_event
        self._tell_customer = tell_customer
        self._journal_append = journal_append
        self._display = display
        self._factory = backend_factory
        self._clock = clock
        self.gate = PriorityGate(grace_s, clock)
        self.ledger = InjectionLedger(clock)
        self._bursts = BurstRecorder(burst_window_s, clock)
        self._bursts_lock = threading.Lock()
        self._backend: InputBackend | None = None
        self._watch: Watch | None = None
        self._worker: InjectionWorker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._resumer: asyncio.Task[None] | None = None
        self._burst_timer: asyncio.TimerHandle | None = None
        self._ready = False
        self._stopped = False
        #: why control is unavailable here (None: available, or not started yet)
        self.unavailable: str | None = None
        #: the take-back hotkeys, as the customer window words them
        self.hotkeys = [hotkey.label for hotkey in HOTKEYS]
        self.METHODS: list[Method] = [
            Method("control.click", self._click, "control", self._describe_click),
            Method("control.move", self._move, "control",
                   lambda p: did(say("control.part.moved_to", at=f"({p.get('x')}, {p.get('y')})"))),
            Method("control.drag", self._drag, "control", self._describe_drag),
            Method("control.scroll", self._scroll, "control",
                   lambda p: did(say("control.part.scrolled_at", at=f"({p.get('x')}, {p.get('y')})"))),
            Method("control.type", self._type, "control", self._describe_type),
            Method("control.key", self._key, "control", self._describe_key),
        ]

    # -- state ------------------------------------------------------------------------------

    @property
    def granted(self) -> bool:
        return bool(self.policy.permissions.control)

    @property
    def watching(self) -> bool:
        """True while the customer's input is being watched (injection needs it)."""
        return self._ready

    @property
    def injecting(self) -> bool:
        """True when technician input would be injected now (granted, watched, customer idle)."""
        return (self.granted and self._backend is not None and self._ready and not self._stopped
                and not self.gate.suspended)

    def _may_inject(self) -> bool:
        return self.injecting

    def state(self) -> dict[str, Any]:
        """The body of ``screen.control``."""
        resume_in = self.gate.resume_in() if self.granted else None
        return {"granted": self.granted, "customer_active": self.granted and self.gate.suspended,
                "resume_in": None if resume_in is None else round(resume_in, 2), "grace_s": self.gate.grace_s}

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the backend (a few X connections) and its threads; watch at once if granted."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._sender = asyncio.create_task(self._send_loop(), name="control-sender")
        try:
            backend, watch = await self._loop.run_in_executor(
                None, self._factory, self._display, self.ledger, self._on_device_event, self._on_ready,
                self._on_hotkey)
        except Exception as err:  # OSError where there is no X server, or it lacks an extension
            self.unavailable = str(err) or type(err).__name__
            log.info("control is not available: %s", err)
            return
        self._backend, self._watch = backend, watch
        self._worker = InjectionWorker("control-inject", backend.maintain)
        watch.start()
        if self.granted:
            watch.set_watching(True)

    async def stop(self) -> None:
        """Release what the agent holds down, undo key bindings, ungrab the hotkeys, end every thread."""
        if self._stopped:
            return
        self._stopped = True
        self.gate.reset()
        if self._burst_timer is not None:
            self._burst_timer.cancel()
            self._burst_timer = None
        self._write(self._flush_bursts())
        if self._resumer is not None:
            self._resumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resumer
        loop = asyncio.get_running_loop()
        watch, worker, backend = self._watch, self._worker, self._backend
        self._watch = self._worker = None
        if watch is not None:
            await loop.run_in_executor(None, watch.close)
        if worker is not None and backend is not None:
            worker.submit(backend.close)  # after what is queued, which injects nothing any more
            await loop.run_in_executor(None, worker.close)
        self._backend = None
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None

    # -- the customer's grant ---------------------------------------------------------------

    def grant(self, by: str) -> None:
        """The customer lets the technician use their mouse and keyboard; thread-safe, journaled."""
        with self.policy.lock:
            if self.policy.permissions.control or self._stopped:
                return
            self.policy.permissions.control = True
        self.gate.reset()
        self._write(self._flush_bursts())
        self._journal_policy("grant_control", by)
        self._tell(GRANTED_WORDS if self.unavailable is None else UNAVAILABLE_WORDS)
        watch = self._watch
        if watch is not None:
            watch.set_watching(True)
        self._post_state()

    def revoke(self, by: str) -> None:
        """The customer takes back control; thread-safe, journaled; held keys and buttons are released."""
        with self.policy.lock:
            if not self.policy.permissions.control:
                return
            self.policy.permissions.control = False
        self.gate.reset()  # waiting notebook calls wake up and fail with not_granted
        self._release_everything()
        watch = self._watch
        if watch is not None:
            watch.set_watching(False)
        self._write(self._flush_bursts())
        self._journal_policy("revoke_control", by)
        self._tell(REVOKED_WORDS)
        self._post_state()

    def _journal_policy(self, change: str, by: str) -> None:
        try:
            self._journal_append("policy", change=change, by=by)
        except Exception:  # e.g. the journal closed with the session: the policy still changed
            log.exception("could not journal %s", change)

    def _release_everything(self) -> int:
        """Drop queued viewer input and let go of every key and button; return how many inputs were dropped."""
        worker, backend = self._worker, self._backend
        if worker is None or backend is None:
            return 0
        dropped = worker.drop_viewer_jobs()
        worker.submit(backend.release_all, urgent=True)
        return dropped

    # -- callbacks from the backend's threads ---------------------------------------------------

    def _on_ready(self, ready: bool) -> None:
        if ready:
            # nothing injected before the record started can come back through it: a stale
            # expectation would only hide the customer's first events
            self.ledger.forget()
        self._ready = ready
        self.gate.notify()

    def _on_hotkey(self, label: str) -> None:
        if self.granted:
            self.revoke(f"customer (hotkey {label})")

    def _on_device_event(self, event: DeviceEvent) -> None:
        if self.ledger.observe(event) or not self.granted:
            return
        if not self.gate.customer_input():
            return
        # a new suspension: nothing of the technician's stays pressed or queued
        dropped = self._release_everything()
        if dropped:
            self._call_in_loop(lambda: self._note_dropped(None, "pointer", dropped))
        self._call_in_loop(self._suspended)

    def _call_in_loop(self, function: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(function)

    # -- the event loop's side ----------------------------------------------------------------

    def _suspended(self) -> None:
        self._emit_state()  # first: journaling waits for the disk
        self._write(self._flush_bursts())
        if self._resumer is None or self._resumer.done():
            self._resumer = asyncio.get_running_loop().create_task(self._resume_when_idle(), name="control-resume")

    async def _resume_when_idle(self) -> None:
        while True:
            wait = self.gate.resume_in()
            if wait is None:  # control was taken back or granted again meanwhile
                return
            if wait > 0:
                await asyncio.sleep(min(wait, 0.25))  # short naps: the clock is the gate's, maybe not the loop's
                continue
            if self.gate.try_resume():
                self._emit_state()
                return

    def _post_state(self) -> None:
        self._call_in_loop(self._emit_state)

    def _emit_state(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(("screen.control", self.state()))

    async def _send_loop(self) -> None:
        assert self._queue is not None
        while True:
            name, body = await self._queue.get()
            try:
                await self._send_event(name, body, None)
            except Exception:  # the link may be down; the next state event says it again
                log.info("could not send %s", name, exc_info=True)

    # -- viewer events ------------------------------------------------------------------------

    async def on_event(self, name: str, body: dict[str, Any]) -> None:
        """``control.pointer`` / ``control.key`` / ``control.text`` from viewers; ``relay.viewers``.

        Never raises: a malformed body is logged and dropped.  Input that
        arrives while it cannot be injected (not granted, the customer has
        priority, no backend) is dropped, never queued.
        """
        if name == "relay.viewers":
            if body.get("count") == 0:  # nobody watches any more: nothing stays pressed
                self._release_everything()
            self._emit_state()
            return
        if name == "control.state":
            self._emit_state()
            return
        viewer = body.get("viewer_id")
        viewer = viewer if isinstance(viewer, str) else None
        try:
            parsed = viewer_action(name, body, self._bursts)
        except (WorkbenchError, KeyNameError) as err:
            log.info("control event %s dropped: %s", name, err)
            return
        if parsed is None:
            return
        action, note = parsed
        category: Any = "pointer" if act.is_pointer(action) else "keyboard"
        if not self.injecting:
            if self.granted:
                self._note_dropped(viewer, category, act.steps(action))
            return
        worker = self._worker
        if worker is None:
            return
        key = f"move:{viewer}" if isinstance(action, act.Move) else None
        future = worker.submit(self._viewer_job(action, viewer, category), viewer=True, key=key,
                                     weight=act.steps(action))
        future.add_done_callback(_log_failure)
        with self._bursts_lock:
            ended = note(viewer)
        self._write(ended)
        self._arm_burst_timer()

    def _viewer_job(self, action: act.Action, viewer: str | None, category: Any) -> Callable[[], None]:
        backend = self._backend
        assert backend is not None

        def run() -> None:
            done = backend.perform(action, 0, self._may_inject)
            left = act.steps(action) - done
            if left > 0:  # the customer took priority meanwhile: the rest is dropped
                self._call_in_loop(lambda: self._note_dropped(viewer, category, left))

        return run

    # -- bursts ---------------------------------------------------------------------------------

    def _note_dropped(self, viewer: str | None, category: Any, count: int) -> None:
        with self._bursts_lock:
            ended = self._bursts.dropped(viewer, category, count)
        self._write(ended)
        self._arm_burst_timer()

    def _flush_bursts(self) -> list[Burst]:
        with self._bursts_lock:
            return self._bursts.flush()

    def _arm_burst_timer(self) -> None:
        loop = self._loop
        if loop is None or self._burst_timer is not None:
            return
        with self._bursts_lock:
            due = self._bursts.next_due()
        if due is not None:
            self._burst_timer = loop.call_later(max(0.0, due - self._clock()), self._burst_timer_fired)

    def _burst_timer_fired(self) -> None:
        self._burst_timer = None
        with self._bursts_lock:
            ended = self._bursts.due()
        self._write(ended)
        self._arm_burst_timer()

    def _write(self, bursts: list[Burst]) -> None:
        for burst in bursts:
            record = burst.record()
            try:
                self._journal_append("control", **record)
            except Exception:
                log.exception("could not journal the technician's input")
            words = burst.words()
            if words:
                self._tell(words)

    def _tell(self, line: str) -> None:
        try:
            self._tell_customer(line)
        except Exception:
            log.exception("could not tell the customer")

    # -- notebook calls (dispatcher worker threads) ---------------------------------------------

    def _inject(self, context: CallContext, action: act.Action, timeout: float) -> int:
        """Perform *action* for a notebook call, waiting (up to *timeout*) while the customer has priority."""
        deadline = self._clock() + timeout
        total, done = act.steps(action), 0
        while True:
            self._wait_turn(deadline, timeout, done, total)
            worker, backend = self._worker, self._backend
            if worker is None or backend is None:
                raise Unavailable("control has stopped")
            job = worker.submit(functools.partial(backend.perform, action, done, self._may_inject))
            try:
                done = int(job.result(timeout=INJECTION_TIMEOUT_S))
            except concurrent.futures.TimeoutError:  # not the builtin one before Python 3.11
                raise Unavailable("the X server did not take the input in time") from None
            if done >= total:
                context.journal_details["steps"] = total
                return done

    def _wait_turn(self, deadline: float, timeout: float, done: int, total: int) -> None:
        def ready() -> bool:
            if not self.granted:
                raise NotGranted("the customer has taken back control", permission="control")
            if self._backend is None or self._stopped:
                raise Unavailable(f"control is not available on this computer: {self.unavailable or 'stopped'}")
            return self._ready

        if self.gate.wait_clear(deadline, ready):
            return
        if not self.gate.suspended:
            raise Unavailable("the agent could not watch the customer's input, so nothing was injected")
        left = f" ({done} of {total} done)" if done else ""
        raise CustomerPriority(f"the customer is using their computer; nothing more was injected{left} "
                               f"after waiting {timeout:g} s", waited_s=timeout, done=done, total=total)

    def _click(self, context: CallContext) -> dict[str, Any]:
        params = context.params
        x, y, button = check.coordinate(params, "x"), check.coordinate(params, "y"), check.button(params)
        count = 2 if params.get("double") is True else 1
        self._inject(context, act.Click(x, y, button, count), check.timeout(params))
        return {"x": x, "y": y, "button": button, "count": count}

    def _move(self, context: CallContext) -> dict[str, Any]:
        params = context.params
        x, y = check.coordinate(params, "x"), check.coordinate(params, "y")
        self._inject(context, act.Move(x, y), check.timeout(params))
        return {"x": x, "y": y}

    def _drag(self, context: CallContext) -> dict[str, Any]:
        params = context.params
        start, end, button = check.point(params, "from"), check.point(params, "to"), check.button(params)
        self._inject(context, act.Drag(start, end, button), check.timeout(params))
        return {"from": list(start), "to": list(end), "button": button}

    def _scroll(self, context: CallContext) -> dict[str, Any]:
        params = context.params
        x, y = check.coordinate(params, "x"), check.coordinate(params, "y")
        dx, dy = (round(check.number(params, name, 0)) for name in ("dx", "dy"))
        if (not dx and not dy) or max(abs(dx), abs(dy)) > 50:
            raise BadParams("'dx' / 'dy' must be whole wheel notches, not both 0, at most 50", param="dy")
        self._inject(context, act.Scroll(x, y, dx, dy), check.timeout(params))
        return {"x": x, "y": y, "dx": dx, "dy": dy}

    def _type(self, context: CallContext) -> dict[str, Any]:
        text = check.text(context.params.get("text"), MAX_CALL_TEXT)
        if text:
            self._inject(context, act.TypeText(text), check.timeout(context.params))
        return {"typed": len(text)}

    def _key(self, context: CallContext) -> dict[str, Any]:
        combo = check.combo(context.params.get("combo"))
        self._inject(context, act.PressCombo(combo), check.timeout(context.params))
        return {"pressed": combo.label}

    @staticmethod
    def _describe_click(params: dict[str, Any]) -> str:
        count = 2 if params.get("double") is True else 1
        return did(click_words(int(params.get("button", 1)), count, int(params["x"]), int(params["y"])))

    @staticmethod
    def _describe_drag(params: dict[str, Any]) -> str:
        start, end = params.get("from"), params.get("to")
        return did(say("control.part.dragged", start=str(tuple(start or ())), end=str(tuple(end or ()))))

    @staticmethod
    def _describe_type(params: dict[str, Any]) -> str:
        text = params.get("text")
        count = len(text) if isinstance(text, str) else 0
        return did(typed_words(count))

    @staticmethod
    def _describe_key(params: dict[str, Any]) -> str:
        try:
            return did(say("control.part.pressed", keys=parse_combo(str(params.get("combo"))).label))
        except KeyNameError:
            return did(say("control.part.pressed_a_key"))


def _log_failure(future: Future[Any]) -> None:
    if future.cancelled():
        return
    err = future.exception()
    if err is not None:
        log.info("technician input not injected: %s", err)
