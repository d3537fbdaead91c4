"""Control on X11: XTEST to inject, RECORD to see every input, a passive grab for the hotkey.

Three X connections, each used by one thread:

- :class:`X11Injector` (the service's injection thread) sends XTEST fake
  input.  Before sending an event it writes it in the
  :class:`~agent.control.ledger.InjectionLedger`.  Characters are typed by
  keysym: the key that gives the character in the current layout and group
  (with Shift when needed), else a spare key code (one with no keysym)
  temporarily bound to it with ChangeKeyboardMapping.  A binding stays until
  it has been unused for :data:`RESTORE_AFTER_S` (the application must have
  read its key event by then: a client translates a key with the mapping of
  the moment it reads the event, so undoing at once would turn "é" into
  nothing), and is undone when control stops.
- :class:`X11Watch` owns two connections.  Its *record* thread enables a
  RECORD context of core device events (key, button, motion), only while
  control is granted, and hands each event to the service (the watch thread
  makes a round trip every :data:`NUDGE_S` meanwhile, because the server sends
  recorded data only when it flushes output to some client); its *watch*
  thread grabs the customer's take-back hotkeys on the root window, also only
  while control is granted (so the customer's applications keep Pause the
  rest of the time), and manages the RECORD context's life.

Availability: X11 with the XTEST, RECORD and XKEYBOARD extensions (every
Xorg and Xvfb has them), and python-xlib.  Raises :class:`OSError` otherwise.
On a Wayland session XTEST reaches only XWayland applications: not supported.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from agent.control.actions import (
    Action,
    Button,
    Click,
    Drag,
    KeyDown,
    KeyUp,
    Move,
    PressCombo,
    Scroll,
    TypeText,
    steps,
)
from agent.control.keys import HOTKEYS, KEYSYMS, MODIFIER_KEYSYMS, Hotkey, Key, char_keysym, modifier_of, refusal
from agent.control.ledger import (
    BUTTON_PRESS,
    BUTTON_RELEASE,
    KEY_PRESS,
    KEY_RELEASE,
    MOTION,
    DeviceEvent,
    InjectionLedger,
)
from wire.errors import BadParams, Unavailable

log = logging.getLogger(__name__)

try:  # python-xlib is a Linux dependency; elsewhere this backend is simply absent
    import Xlib.display
    import Xlib.error
    from Xlib import X
    from Xlib.ext import record, xtest
    from Xlib.protocol import rq
except ImportError:  # pragma: no cover - exercised only where python-xlib is missing
    Xlib = None  # type: ignore[assignment]

#: A temporary key binding is undone once unused for this long.
RESTORE_AFTER_S = 5.0
#: A spare key code is rebound to another character only when its last use is at least this old.
MIN_REUSE_S = 0.5
#: After changing the key mapping, the agent waits this long before pressing the new key: every
#: application re-reads its mapping when told of the change, and a busy one that reads the key
#: event first would see no character (xdotool waits likewise).  Only the first use of a
#: character outside the layout pays it; a text's characters are bound together, with one wait.
BIND_SETTLE_S = 0.05
#: Intermediate pointer positions in a drag (applications see a motion, not a jump).
DRAG_STEPS = 8
#: Most wheel notches in one action.
MAX_NOTCHES = 50
#: While recording, a round trip this often: the X server sends recorded events only when it
#: flushes output to some client, and a quiet server (nobody drawing) may not for seconds.
NUDGE_S = 0.02

_SHIFT, _LOCK, _CONTROL = 1, 2, 4
_MOD_INDEX_MASKS = (1, 2, 4, 8, 16, 32, 64, 128)  # Shift, Lock, Control, Mod1…Mod5
_XKB_USE_CORE_KBD = 0x100


def _xkb_requests() -> tuple[Any, Any]:
    """XkbUseExtension and XkbGetState, which python-xlib does not provide."""

    class UseExtension(rq.ReplyRequest):
        _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(0), rq.RequestLength(),
                             rq.Card16("wanted_major"), rq.Card16("wanted_minor"))
        _reply = rq.Struct(rq.ReplyCode(), rq.Bool("supported"), rq.Card16("sequence_number"), rq.ReplyLength(),
                           rq.Card16("server_major"), rq.Card16("server_minor"), rq.Pad(20))

    class GetState(rq.ReplyRequest):
        _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(4), rq.RequestLength(),
                             rq.Card16("device_spec"), rq.Pad(2))
        _reply = rq.Struct(rq.ReplyCode(), rq.Card8("device_id"), rq.Card16("sequence_number"), rq.ReplyLength(),
                           rq.Card8("mods"), rq.Card8("base_mods"), rq.Card8("latched_mods"),
                           rq.Card8("locked_mods"), rq.Card8("group"), rq.Card8("locked_group"),
                           rq.Int16("base_group"), rq.Int16("latched_group"), rq.Card8("compat_state"),
                           rq.Card8("grab_mods"), rq.Card8("compat_grab_mods"), rq.Card8("lookup_mods"),
                           rq.Card8("compat_lookup_mods"), rq.Pad(1), rq.Card16("ptr_btn_state"), rq.Pad(6))

    return UseExtension, GetState


def _open(display: str | None, *extensions: str) -> Any:
    if Xlib is None:
        raise OSError("python-xlib is not installed")
    if display is None and not os.environ.get("DISPLAY"):
        raise OSError("no X display (DISPLAY is not set)")
    try:
        connection = Xlib.display.Display(display)
    except (Xlib.error.DisplayError, Xlib.error.ConnectionClosedError, OSError) as err:
        raise OSError(f"cannot open X display {display or os.environ.get('DISPLAY')!r}: {err}") from err
    for name in extensions:
        if connection.query_extension(name) is None:
            connection.close()
            raise OSError(f"the X server has no {name} extension")
    return connection


@dataclass
class _Keymap:
    """The keyboard mapping as read from the server, with a keysym index."""

    first: int
    rows: list[list[int]]
    #: keysym -> [(index in the row, keycode)], best first
    where: dict[int, list[tuple[int, int]]]
    #: key codes with no keysym at all
    empty: list[int]

    @classmethod
    def read(cls, connection: Any) -> _Keymap:
        info = connection.display.info
        first, last = info.min_keycode, info.max_keycode
        rows = [list(row) for row in connection.get_keyboard_mapping(first, last - first + 1)]
        where: dict[int, list[tuple[int, int]]] = {}
        empty = []
        for offset, row in enumerate(rows):
            keycode = first + offset
            if not any(row):
                empty.append(keycode)
            for index, keysym in enumerate(row):
                if keysym:
                    where.setdefault(keysym, []).append((index, keycode))
        for places in where.values():
            places.sort()
        return cls(first, rows, where, empty)

    def find(self, keysym: int, indexes: Iterable[int]) -> tuple[int, int] | None:
        """(keycode, index) of *keysym* at one of *indexes* (in that order of preference)."""
        places = self.where.get(keysym, [])
        for wanted in indexes:
            for index, keycode in places:
                if index == wanted:
                    return keycode, index
        return None


class X11Injector:
    """XTEST injection on one connection; see the module docstring.  One thread only."""

    def __init__(self, display: str | None, ledger: InjectionLedger,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._d = _open(display, "XTEST", "XKEYBOARD")
        self._ledger = ledger
        self._clock = clock
        self._d.set_error_handler(self._on_error)
        self._root = self._d.screen().root
        use, self._get_state = _xkb_requests()
        self._xkb = self._d.query_extension("XKEYBOARD").major_opcode
        reply = use(display=self._d.display, opcode=self._xkb, wanted_major=1, wanted_minor=0)
        if not reply.supported:
            self._d.close()
            raise OSError("the X server's XKEYBOARD extension is not usable")
        self._keymap = _Keymap.read(self._d)
        #: keysym -> (keycode pressed, key codes of the modifiers pressed for it)
        self._held_keys: dict[int, tuple[int, tuple[int, ...]]] = {}
        self._held_buttons: set[int] = set()
        #: temporary bindings: keysym -> keycode, and when each keycode was last used
        self._bound: dict[int, int] = {}
        self._used: dict[int, float] = {}

    def _on_error(self, error: Any, request: Any = None) -> None:
        log.warning("X error while injecting: %s", error)

    # -- the protocol of InputBackend ------------------------------------------------

    def perform(self, action: Action, start: int, may_inject: Callable[[], bool]) -> int:
        try:
            if isinstance(action, TypeText):
                return self._type(action.text, start, may_inject)
            if not may_inject():
                return start
            if isinstance(action, Move):
                self._move(action.x, action.y)
            elif isinstance(action, Click):
                self._move(action.x, action.y)
                for _ in range(max(1, action.count)):
                    self._button(action.button, True)
                    self._button(action.button, False)
            elif isinstance(action, Button):
                self._move(action.x, action.y)
                if action.down or action.button in self._held_buttons:
                    self._button(action.button, action.down)
            elif isinstance(action, Drag):
                self._drag(action)
            elif isinstance(action, Scroll):
                self._scroll(action)
            elif isinstance(action, PressCombo):
                self._combo(action.combo.modifiers, action.combo.key)
            elif isinstance(action, KeyDown):
                self._key_down(action.key, action.modifiers)
            elif isinstance(action, KeyUp):
                self._key_up(action.key)
            return steps(action)
        finally:
            self._d.flush()

    def held(self) -> bool:
        return bool(self._held_keys or self._held_buttons)

    def release_all(self) -> None:
        for keysym in reversed(list(self._held_keys)):
            self._release_held(keysym)
        for button in sorted(self._held_buttons):
            self._button(button, False)
        self._d.flush()

    def maintain(self) -> None:
        now = self._clock()
        held = {keycode for keycode, _ in self._held_keys.values()}
        stale = [keysym for keysym, keycode in self._bound.items()
                 if now - self._used.get(keycode, 0.0) >= RESTORE_AFTER_S and keycode not in held]
        for keysym in stale:
            self._unbind(keysym)
        if stale:
            self._d.flush()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.release_all()
        with contextlib.suppress(Exception):
            for keysym in list(self._bound):
                self._unbind(keysym)
            self._d.sync()
        with contextlib.suppress(Exception):
            self._d.close()

    # -- pointer -----------------------------------------------------------------------

    def screen_size(self) -> tuple[int, int]:
        geometry = self._root.get_geometry()
        return int(geometry.width), int(geometry.height)

    def _clamp(self, x: int, y: int) -> tuple[int, int]:
        width, height = self.screen_size()
        return min(max(int(x), 0), width - 1), min(max(int(y), 0), height - 1)

    def _fake(self, kind: int, detail: int = 0, x: int = 0, y: int = 0) -> None:
        self._ledger.expect(DeviceEvent(kind, detail, x, y))
        xtest.fake_input(self._d, kind, detail, x=x, y=y)

    def _move(self, x: int, y: int) -> None:
        x, y = self._clamp(x, y)
        self._fake(MOTION, 0, x, y)

    def _button(self, button: int, down: bool) -> None:
        if down:
            self._held_buttons.add(button)
        elif button in self._held_buttons:
            self._held_buttons.discard(button)
        else:
            return  # the server drops the release of a button that is not down
        self._fake(BUTTON_PRESS if down else BUTTON_RELEASE, button)

    def _drag(self, action: Drag) -> None:
        (x0, y0), (x1, y1) = self._clamp(*action.start), self._clamp(*action.end)
        self._move(x0, y0)
        self._button(action.button, True)
        for n in range(1, DRAG_STEPS + 1):
            self._move(x0 + (x1 - x0) * n // DRAG_STEPS, y0 + (y1 - y0) * n // DRAG_STEPS)
        self._button(action.button, False)

    def _scroll(self, action: Scroll) -> None:
        self._move(action.x, action.y)
        for delta, negative, positive in ((action.dy, 4, 5), (action.dx, 6, 7)):
            button = positive if delta > 0 else negative
            for _ in range(min(abs(delta), MAX_NOTCHES)):
                self._button(button, True)
                self._button(button, False)

    # -- keyboard ----------------------------------------------------------------------

    def _state(self) -> Any:
        return self._get_state(display=self._d.display, opcode=self._xkb, device_spec=_XKB_USE_CORE_KBD)

    def _key(self, keycode: int, down: bool) -> None:
        self._fake(KEY_PRESS if down else KEY_RELEASE, keycode)

    def _refresh(self) -> int:
        """Read the mapping and the keyboard state afresh; return the active group (0 = first)."""
        self._keymap = _Keymap.read(self._d)
        return int(self._state().group)

    def _modifier_keycode(self, name: str) -> int:
        keysym = MODIFIER_KEYSYMS[name]
        found = self._keymap.find(keysym, (0, 1, 2, 3))
        if found is None and name == "alt":
            found = self._keymap.find(KEYSYMS["Meta_L"], (0, 1))
        if found is None and name == "altgr":
            found = self._keymap.find(KEYSYMS["Mode_switch"], (0, 1))
        if found is None:
            index = {"shift": 0, "ctrl": 2}.get(name)
            if index is not None:
                codes = [code for code in self._d.get_modifier_mapping()[index] if code]
                if codes:
                    return int(codes[0])
            raise Unavailable(f"this keyboard layout has no {name} key")
        return found[0]

    def _keycode_for(self, keysym: int, group: int, char: bool) -> tuple[int, bool]:
        """(keycode, needs Shift) for *keysym*: the layout's key, else a temporary binding.

        A character is taken from the layout only in the first group (other
        groups are laid out differently per key); a temporary binding has one
        group, which every group falls back to.
        """
        bound = self._bound.get(keysym)
        if bound is not None:
            self._used[bound] = self._clock()
            return bound, False
        if group == 0 or not char:
            found = self._keymap.find(keysym, (0, 1))
            if found is not None:
                return found[0], found[1] == 1
        return self._bind(keysym), False

    def _bind(self, keysym: int, *, settle: bool = True) -> int:
        """Bind a spare key code to *keysym* (evicting the least recently used binding when
        none is free); with *settle*, wait :data:`BIND_SETTLE_S` for the applications."""
        held = {keycode for keycode, _ in self._held_keys.values()}
        taken = set(self._bound.values())
        free = [code for code in self._keymap.empty if code not in taken and code not in held]
        if free:
            keycode = free[-1]
        else:
            candidates = [(self._used.get(code, 0.0), ks) for ks, code in self._bound.items() if code not in held]
            if not candidates:
                raise Unavailable("no free key code to type this character")
            last_used, oldest = min(candidates)
            wait = last_used + MIN_REUSE_S - self._clock()
            if wait > 0:  # pacing: the application may still be reading the previous character
                time.sleep(wait)
            keycode = self._bound.pop(oldest)
        self._d.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self._bound[keysym] = keycode
        self._used[keycode] = self._clock()
        self._keymap = _Keymap.read(self._d)  # a round trip: the server has the new mapping
        if settle:
            time.sleep(BIND_SETTLE_S)
        return keycode

    def _bind_ahead(self, keysyms: Iterable[int], group: int) -> None:
        """Bind the characters of a text that need a spare key code, while free ones last, then wait once."""
        bound = False
        for keysym in dict.fromkeys(keysyms):
            if keysym in self._bound or (group == 0 and self._keymap.find(keysym, (0, 1)) is not None):
                continue
            taken = set(self._bound.values())
            if not any(code not in taken for code in self._keymap.empty):
                break  # the rest are bound one by one, evicting older bindings
            self._bind(keysym, settle=False)
            bound = True
        if bound:
            time.sleep(BIND_SETTLE_S)

    def _unbind(self, keysym: int) -> None:
        keycode = self._bound.pop(keysym, None)
        if keycode is None:
            return
        self._used.pop(keycode, None)
        self._d.change_keyboard_mapping(keycode, [(0, 0)])

    def _held_modifier_codes(self) -> list[int]:
        return [code for keysym, (code, _) in self._held_keys.items() if _is_modifier(keysym)]

    def _type(self, text: str, start: int, may_inject: Callable[[], bool]) -> int:
        """Type *text* from *start*; the technician's held modifiers are lifted meanwhile,
        and Caps Lock, when on, is turned off for the text and on again after it."""
        if start >= len(text):
            return len(text)
        group = self._refresh()
        caps = None
        if self._state().locked_mods & _LOCK and any(c.lower() != c.upper() for c in text[start:]):
            found = self._keymap.find(KEYSYMS["Caps_Lock"], (0, 1))
            caps = found[0] if found is not None else None
        lifted = self._held_modifier_codes()
        shift = self._modifier_keycode("shift")
        try:
            self._bind_ahead((char_keysym(c) for c in text[start:]), group)
        except ValueError as err:
            raise BadParams(str(err), param="text") from err
        done, prepared = start, False
        try:
            for char in text[start:]:
                try:
                    keysym = char_keysym(char)
                except ValueError as err:
                    raise BadParams(str(err), param="text") from err
                if not may_inject():
                    break
                if not prepared:
                    prepared = True
                    for code in lifted:
                        self._key(code, False)
                    if caps is not None:
                        self._key(caps, True)
                        self._key(caps, False)
                keycode, needs_shift = self._keycode_for(keysym, group, True)
                if needs_shift:
                    self._key(shift, True)
                self._key(keycode, True)
                self._key(keycode, False)
                if needs_shift:
                    self._key(shift, False)
                self._d.flush()
                done += 1
        finally:
            if prepared:
                if caps is not None:
                    self._key(caps, True)
                    self._key(caps, False)
                for code in lifted:
                    self._key(code, True)
            self._d.flush()
        return done

    def _combo(self, modifiers: tuple[str, ...], key: Key) -> None:
        why = refusal(modifiers, key.keysym)
        if why:
            raise BadParams(f"not injected: {why}", param="combo")
        group = self._refresh()
        keycode, needs_shift = self._keycode_for(key.keysym, group, key.char is not None)
        wanted = list(modifiers)
        if needs_shift and "shift" not in wanted:
            wanted.append("shift")
        pressed = [self._modifier_keycode(name) for name in wanted]
        already = set(self._held_modifier_codes())
        pressed = [code for code in pressed if code not in already]
        for code in pressed:
            self._key(code, True)
        self._key(keycode, True)
        self._key(keycode, False)
        for code in reversed(pressed):
            self._key(code, False)

    def _key_down(self, key: Key, modifiers: tuple[str, ...]) -> None:
        if key.keysym in self._held_keys:
            self._release_held(key.keysym)  # a second keydown without keyup: start again
        held = {self._held_keys[k][0] for k in self._held_keys}
        group = self._refresh()
        if key.modifier is not None:
            found = self._keymap.find(key.keysym, (0, 1, 2, 3))
            keycode = found[0] if found is not None else self._modifier_keycode(key.modifier)
            if keycode not in held:
                self._key(keycode, True)
            self._held_keys[key.keysym] = (keycode, ())
            return
        held_names = {modifier_of(k) for k in self._held_keys}
        why = refusal(set(modifiers) | {n for n in held_names if n}, key.keysym)
        if why:
            raise BadParams(f"not injected: {why}", param="key")
        keycode, needs_shift = self._keycode_for(key.keysym, group, key.char is not None)
        wanted = list(modifiers)
        if needs_shift and "shift" not in wanted:
            wanted.append("shift")
        extra = [code for code in (self._modifier_keycode(name) for name in wanted) if code not in held]
        for code in extra:
            self._key(code, True)
        self._key(keycode, True)
        self._held_keys[key.keysym] = (keycode, tuple(extra))

    def _key_up(self, key: Key) -> None:
        if key.keysym in self._held_keys:
            self._release_held(key.keysym)

    def _release_held(self, keysym: int) -> None:
        keycode, extra = self._held_keys.pop(keysym)
        self._key(keycode, False)
        if keycode in self._used:
            self._used[keycode] = self._clock()
        still = {code for code, _ in self._held_keys.values()}
        for code in reversed(extra):
            if code not in still:
                self._key(code, False)


def _is_modifier(keysym: int) -> bool:
    return modifier_of(keysym) is not None


# -- watching the customer's input, and the hotkey ---------------------------------------


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
        self._ctrl = _open(display, "RECORD")
        try:
            self._data = _open(display, "RECORD")
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

    def _modifier_masks(self) -> dict[str, int]:
        """Which modifier bit Alt, Super, AltGr and Num Lock are on, in the current mapping."""
        keysym_bits: dict[int, int] = {}
        for index, codes in enumerate(self._ctrl.get_modifier_mapping()):
            for code in codes:
                if code:
                    for column in range(4):
                        keysym = self._ctrl.keycode_to_keysym(code, column)
                        if keysym:
                            keysym_bits.setdefault(keysym, _MOD_INDEX_MASKS[index])
        masks = {"shift": _SHIFT, "ctrl": _CONTROL}
        for name, names in (("alt", ("Alt_L", "Alt_R", "Meta_L")), ("meta", ("Super_L", "Super_R")),
                            ("altgr", ("ISO_Level3_Shift", "Mode_switch")), ("numlock", ("Num_Lock",)),
                            ("scrolllock", ("Scroll_Lock",))):
            for keysym_name in names:
                if KEYSYMS[keysym_name] in keysym_bits:
                    masks[name] = keysym_bits[KEYSYMS[keysym_name]]
                    break
        return masks

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
        masks = self._modifier_masks()
        ignorable = [_LOCK] + [masks[name] for name in ("numlock", "scrolllock") if name in masks]
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
