"""Watching the customer's input on X11: RECORD of every device event, and the take-back hotkeys.

:class:`X11Watch` owns two connections.  Its *record* thread enables a RECORD
context of core device events (key, button, motion), only while control is
granted, and hands each event to the service (the watch thread makes a round
trip every :data:`NUDGE_S` meanwhile, because the server sends recorded data
only when it flushes output to some client); its *watch* thread grabs the
customer's take-back hotkeys on the root window, also only while control is
granted (so the customer's applications keep Pause the rest of the time), and
manages the RECORD context's life.

Availability: X11 with the RECORD extension, and python-xlib; imported only
through :mod:`agent.control._x11`.  Raises :class:`OSError` from the
constructor otherwise.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import threading
from collections.abc import Callable
from typing import Any

import Xlib.error
from Xlib import X
from Xlib.ext import record
from Xlib.protocol import rq

from agent.control._x11_keymap import LOCK_MASK, modifier_masks, open_connection
from agent.control.keys import HOTKEYS, Hotkey
from agent.control.ledger import BUTTON_PRESS, BUTTON_RELEASE, KEY_PRESS, KEY_RELEASE, MOTION, DeviceEvent

log = logging.getLogger(__name__)

#: While recording, a round trip this often: the X server sends recorded events only when it
#: flushes output to some client, and a quiet server (nobody drawing) may not for seconds.
NUDGE_S = 0.02


class X11Watch:
    """RECORD of device events while watching, and the take-back hotkeys; see the module docstring.

    Callbacks run on this object's threads and must be quick and thread-safe:
    ``on_event(DeviceEvent)`` for every device event recorded, ``on_ready(bool)``
    when recording starts (True) or stops (False), ``on_hotkey(label)`` when
    the customer presses a hotkey.
    """

    def __init__(self, display: str | None, on_event: Callable[[DeviceEvent], None],
                 on_ready: Callable[[bool], None], on_hotkey: Callable[[str], None],
                 hotkeys: tuple[Hotkey, ...] = HOTKEYS) -> None:
        self._on_event = on_event
        self._on_ready = on_ready
        self._on_hotkey = on_hotkey
        self._hotkeys = hotkeys
        self._ctrl = open_connection(display, "RECORD")
        try:
            self._data = open_connection(display, "RECORD")
        except OSError:
            self._ctrl.close()
            raise
        self._ctrl.set_error_handler(lambda *args: None)
        self._root = self._ctrl.screen().root
        self._wake_r, self._wake_w = os.pipe()
        self._want = False
        self._stopping = False
        self._lock = threading.Lock()
        self._context: int | None = None
        self._contexts: list[int | None] = []
        self._contexts_ready = threading.Condition()
        self._record_done = threading.Event()
        self._record_done.set()
        self._grabbed: list[tuple[int, int]] = []
        #: hotkey label -> (keycodes, modifier mask, or None for any modifiers); what is grabbed
        self._grabs: dict[str, tuple[set[int], int | None]] = {}
        self._ignorable = 0
        self.hotkeys_available: list[str] = []
        self._watch_thread = threading.Thread(target=self._watch_loop, name="control-watch", daemon=True)
        self._record_thread = threading.Thread(target=self._record_loop, name="control-record", daemon=True)

    def start(self) -> None:
        self._record_thread.start()
        self._watch_thread.start()

    def set_watching(self, on: bool) -> None:
        """Record the customer's input (while control is granted) or stop recording."""
        with self._lock:
            self._want = on
        self._wake()

    def close(self) -> None:
        """Stop recording, ungrab the hotkeys, join both threads, close the connections."""
        with self._lock:
            self._want = False
            self._stopping = True
        self._wake()
        if self._watch_thread.is_alive():
            self._watch_thread.join(10)
        with self._contexts_ready:
            self._contexts.append(None)  # ends the record thread
            self._contexts_ready.notify_all()
        if self._record_thread.is_alive():
            self._record_thread.join(10)
        for connection in (self._ctrl, self._data):
            with contextlib.suppress(Exception):
                connection.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # -- the watch thread: hotkeys and the RECORD context ---------------------------------

    def _watch_loop(self) -> None:
        try:
            while True:
                with self._lock:
                    want, stopping = self._want and not self._stopping, self._stopping
                if want and self._context is None:
                    self._grab_hotkeys()
                    self._enable()
                elif not want and self._context is not None:
                    self._disable()
                    self._ungrab_hotkeys()
                    self._ctrl.sync()
                if stopping:
                    break
                recording = self._context is not None
                readable, _, _ = select.select([self._ctrl.fileno(), self._wake_r], [], [],
                                               NUDGE_S if recording else 1.0)
                if self._wake_r in readable:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 4096)
                if recording:
                    self._ctrl.sync()  # the nudge: the server flushes what it recorded
                while self._ctrl.pending_events():
                    self._handle(self._ctrl.next_event())
        except Exception:
            log.exception("the control watch thread failed")
        finally:
            with contextlib.suppress(Exception):
                if self._context is not None:
                    self._disable()
            with contextlib.suppress(Exception):
                self._ungrab_hotkeys()
                self._ctrl.sync()

    def _handle(self, event: Any) -> None:
        if event.type == X.KeyPress:
            state = int(event.state) & ~self._ignorable & 0xFF
            for label, (keycodes, mask) in self._grabs.items():
                if event.detail in keycodes and (mask is None or state == mask):
                    self._on_hotkey(label)
                    return
        elif event.type == X.MappingNotify:
            if event.request == X.MappingKeyboard:
                self._ctrl.refresh_keyboard_mapping(event)
            if event.request in (X.MappingKeyboard, X.MappingModifier) and self._grabs:
                self._grab_hotkeys()  # the hotkeys' key codes or modifier bits may have moved

    def _enable(self) -> None:
        self._record_done.clear()
        context = self._ctrl.record_create_context(0, [record.AllClients], [{
            "core_requests": (0, 0), "core_replies": (0, 0), "ext_requests": (0, 0, 0, 0),
            "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
            "device_events": (X.KeyPress, X.MotionNotify), "errors": (0, 0),
            "client_started": False, "client_died": False}])
        self._ctrl.sync()
        self._context = context
        with self._contexts_ready:
            self._contexts.append(context)
            self._contexts_ready.notify_all()

    def _disable(self) -> None:
        context, self._context = self._context, None
        if context is None:
            return
        self._ctrl.record_disable_context(context)
        self._ctrl.sync()
        if not self._record_done.wait(5):
            log.warning("the RECORD context did not end in time")
        self._ctrl.record_free_context(context)
        self._ctrl.sync()

    # -- the record thread -----------------------------------------------------------------

    def _record_loop(self) -> None:
        while True:
            with self._contexts_ready:
                while not self._contexts:
                    self._contexts_ready.wait()
                context = self._contexts.pop(0)
            if context is None:
                return
            try:
                self._data.record_enable_context(context, self._on_reply)
            except Exception:
                log.exception("recording input failed")
            finally:
                self._on_ready(False)
                self._record_done.set()

    def _on_reply(self, reply: Any) -> None:
        if reply.category == record.StartOfData:
            self._on_ready(True)
            return
        if reply.category != record.FromServer or reply.client_swapped:
            return
        data = reply.data
        field = rq.EventField("event")
        while len(data) >= 32:
            event, data = field.parse_binary_value(data, self._data.display, None, None)
            kind = event.type & 0x7F
            if kind == MOTION:
                self._on_event(DeviceEvent(MOTION, 0, int(event.root_x), int(event.root_y)))
            elif kind in (KEY_PRESS, KEY_RELEASE, BUTTON_PRESS, BUTTON_RELEASE):
                self._on_event(DeviceEvent(kind, int(event.detail), int(event.root_x), int(event.root_y)))

    # -- hotkeys ---------------------------------------------------------------------------

    def _ungrab_hotkeys(self) -> None:
        for keycode, modifiers in self._grabbed:
            self._root.ungrab_key(keycode, modifiers)
        self._grabbed = []
        self._grabs = {}

    def _grab_hotkeys(self) -> None:
        """Grab the hotkeys on the root window (while control is granted; released when taken back).

        A hotkey without modifiers (Pause) is grabbed with any modifiers, so that a
        modifier the technician holds down cannot make it miss; one with modifiers
        is grabbed with each combination of Caps Lock, Num Lock and Scroll Lock.
        """
        self._ungrab_hotkeys()
        masks = modifier_masks(self._ctrl)
        ignorable = [LOCK_MASK] + [masks[name] for name in ("numlock", "scrolllock") if name in masks]
        self._ignorable = 0
        for bit in ignorable:
            self._ignorable |= bit
        variants = sorted({sum(combo) for n in range(len(ignorable) + 1)
                           for combo in itertools.combinations(ignorable, n)})
        available = []
        for hotkey in self._hotkeys:
            if any(name not in masks for name in hotkey.modifiers):
                log.info("hotkey %s: a modifier is missing from this keyboard", hotkey.label)
                continue
            mask = 0
            for name in hotkey.modifiers:
                mask |= masks[name]
            keycodes = {code for code, _ in self._ctrl.keysym_to_keycodes(hotkey.keysym)}
            if not keycodes:
                log.info("hotkey %s: no such key on this keyboard", hotkey.label)
                continue
            grabbed = self._grab(keycodes, [X.AnyModifier]) if not hotkey.modifiers else None
            if grabbed is not None:
                self._grabs[hotkey.label] = (keycodes, None)
            else:
                grabbed = self._grab(keycodes, [mask | extra for extra in variants])
                if grabbed is None:
                    log.warning("hotkey %s is taken by another program; it does not work", hotkey.label)
                    continue
                self._grabs[hotkey.label] = (keycodes, mask)
            self._grabbed.extend(grabbed)
            available.append(hotkey.label)
        self.hotkeys_available = available
        self._ctrl.sync()

    def _grab(self, keycodes: set[int], modifier_sets: list[int]) -> list[tuple[int, int]] | None:
        """Grab each key code with each modifier set; None (and nothing grabbed) when another program has one."""
        catcher = Xlib.error.CatchError(Xlib.error.BadAccess)
        grabbed = []
        for keycode in sorted(keycodes):
            for modifiers in modifier_sets:
                self._root.grab_key(keycode, modifiers, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catcher)
                grabbed.append((keycode, modifiers))
        self._ctrl.sync()
        if catcher.get_error():
            for keycode, modifiers in grabbed:
                self._root.ungrab_key(keycode, modifiers)
            self._ctrl.sync()
            return None
        return grabbed
