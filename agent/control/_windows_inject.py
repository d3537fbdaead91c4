"""SendInput injection on Windows: the control backend's :class:`~agent.control.base.InputBackend`.

:class:`WindowsInjector` (the service's injection thread) turns each step of an action into
one ``SendInput`` call, so that Windows inserts the step's events together, never
interleaved with the customer's.  Every event carries the agent's *mark* in
``dwExtraInfo``: the keyboard and mouse hooks of :mod:`agent.control._windows_watch`
read it back to tell the agent's events from the customer's.

- The pointer moves by absolute position, normalised to 0..65535 over the *virtual
  screen* (every monitor; ``MOUSEEVENTF_VIRTUALDESK``): the technician's desktop pixel
  (0, 0) is the virtual screen's top-left corner, as in the screen capture of every
  monitor.  Relative moves are not used (Windows accelerates them).
- Buttons 1, 2, 3 are left, middle, right; wheel notches are ``WHEEL_DELTA`` (120) each.
- Keys go by virtual-key code (:mod:`agent.control._windows_keymap`), with their scan
  code and the extended flag; typed text goes as Unicode (``KEYEVENTF_UNICODE``), which
  lands as the character whatever the customer's keyboard layout (Enter, Tab, Backspace
  and Escape as their keys).

What Windows forbids, said as :class:`wire.errors.InputBlocked` (nothing of the step is
injected): its secure desktop (a UAC prompt, the Ctrl+Alt+Del or lock screen), seen
before each step with ``OpenInputDesktop``; ``SendInput`` inserting fewer events than
given (the secure desktop appeared meanwhile, or UIPI: a window of higher integrity than
the agent, e.g. an application run as administrator); and Ctrl+Alt+Del.  Microsoft
documents that UIPI may also drop input *silently* (neither the return value nor
``GetLastError`` tells): then the technician sees nothing happen on the screen.

Availability: Windows; imported only through :mod:`agent.control._windows`.  The
constructor raises :class:`OSError` elsewhere.  The pure functions (:func:`normalised`,
:func:`desktop_refusal`, :func:`short_send_refusal`) load everywhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from collections.abc import Callable, Sequence
from ctypes import wintypes

from agent.control import _windows_api as w
from agent.control._windows_keymap import MODIFIER_VKS, WinKey, vk_from_scan_result, vk_of, windows_refusal
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
from agent.control.keys import Key, char_keysym, modifier_of, refusal
from wire.errors import BadParams, InputBlocked, Unavailable

log = logging.getLogger(__name__)

#: Intermediate pointer positions in a drag (applications see a motion, not a jump).
DRAG_STEPS = 8
#: Most wheel notches in one action.
MAX_NOTCHES = 50
#: The name of the desktop a user's applications run on; the secure desktop is ``Winlogon``.
DEFAULT_DESKTOP = "Default"

_BUTTON_FLAGS = {1: (w.MOUSEEVENTF_LEFTDOWN, w.MOUSEEVENTF_LEFTUP),
                 2: (w.MOUSEEVENTF_MIDDLEDOWN, w.MOUSEEVENTF_MIDDLEUP),
                 3: (w.MOUSEEVENTF_RIGHTDOWN, w.MOUSEEVENTF_RIGHTUP)}
_SPECIAL_CHARS = {"\n": "Return", "\r": "Return", "\t": "Tab", "\b": "BackSpace", "\x1b": "Escape", "\x7f": "Delete"}

#: One key event: (virtual key, scan code or UTF-16 unit, KEYEVENTF_* flags without KEYUP).
Stroke = tuple[int, int, int]


# --- pure decisions ------------------------------------------------------------------------------


def normalised(x: int, y: int, virtual: tuple[int, int, int, int]) -> tuple[int, int]:
    """The ``MOUSEINPUT`` dx, dy (0..65535, with ``MOUSEEVENTF_VIRTUALDESK``) that land on desktop pixel (x, y).

    *virtual* is (left, top, width, height) of the virtual screen; (x, y) counts from its
    top-left corner and is clamped to it.  Windows maps a normalised coordinate back to
    ``left + dx * width // 65536``, so the centre of the pixel's range is sent: the
    pointer lands on that very pixel on every screen width.
    """
    _, _, width, height = virtual
    x = min(max(int(x), 0), max(width, 1) - 1)
    y = min(max(int(y), 0), max(height, 1) - 1)
    return (min((2 * x + 1) * 32768 // max(width, 1), 65535), min((2 * y + 1) * 32768 // max(height, 1), 65535))


def desktop_refusal(name: str | None, error: int = 0) -> str | None:
    """Why input cannot go to the input desktop now, or None when it is the user's own (``Default``).

    *name* is ``GetUserObjectInformationW(OpenInputDesktop(), UOI_NAME)``, or None when
    ``OpenInputDesktop`` failed (*error*: its ``GetLastError``; access denied is what a
    user's program gets while the secure desktop shows).
    """
    if name == DEFAULT_DESKTOP:
        return None
    if name is None and error != w.ERROR_ACCESS_DENIED:
        return None  # cannot tell: try, and let SendInput's answer speak
    where = f"the {name!r} desktop" if name else "the secure desktop"
    return (f"Windows is showing {where} (a UAC prompt, the Ctrl+Alt+Del screen or the lock screen): "
            "no program may use the mouse and keyboard there; the customer must answer it themselves")


def short_send_refusal(inserted: int, given: int, error: int) -> str | None:
    """Why ``SendInput`` inserted *inserted* of *given* events (*error*: ``GetLastError``), or None when all went in."""
    if inserted >= given:
        return None
    return (f"Windows refused the input ({inserted} of {given} events taken, error {error}): the window "
            "under the pointer or in front belongs to a program of higher integrity than the agent (run as "
            "administrator: Windows' UIPI), or the secure desktop is showing; the customer must do this themselves")


def _mouse(flags: int, mark: int, dx: int = 0, dy: int = 0, data: int = 0) -> w.INPUT:
    event = w.INPUT(type=w.INPUT_MOUSE)
    event.mi = w.MOUSEINPUT(dx, dy, data & 0xFFFFFFFF, flags, 0, mark)
    return event


def _key(stroke: Stroke, up: bool, mark: int) -> w.INPUT:
    vk, scan, flags = stroke
    event = w.INPUT(type=w.INPUT_KEYBOARD)
    event.ki = w.KEYBDINPUT(vk, scan, flags | (w.KEYEVENTF_KEYUP if up else 0), 0, mark)
    return event


def unicode_strokes(char: str) -> list[Stroke]:
    """The ``KEYEVENTF_UNICODE`` strokes that type *char* (two UTF-16 units beyond the BMP)."""
    data = char.encode("utf-16-le")
    return [(0, int.from_bytes(data[i:i + 2], "little"), w.KEYEVENTF_UNICODE) for i in range(0, len(data), 2)]


class WindowsInjector:
    """SendInput on the service's injection thread; see the module docstring.  One thread only."""

    def __init__(self, mark: int, api: w.Win32 | None = None) -> None:
        self._api = api or w.load()
        self._user32 = self._api.user32
        self._mark = mark
        #: keysym -> (strokes held down for it, modifier strokes pressed for it)
        self._held_keys: dict[int, tuple[list[Stroke], list[Stroke]]] = {}
        self._held_buttons: set[int] = set()

    # -- the protocol of InputBackend ------------------------------------------------

    def perform(self, action: Action, start: int, may_inject: Callable[[], bool]) -> int:
        if isinstance(action, TypeText):
            return self._type(action.text, start, may_inject)
        if not may_inject():
            return start
        if isinstance(action, Move):
            self._send([self._move(action.x, action.y)])
        elif isinstance(action, Click):
            down, up = self._button_flags(action.button)
            events = [self._move(action.x, action.y)]
            for _ in range(max(1, action.count)):
                events += [_mouse(down, self._mark), _mouse(up, self._mark)]
            self._send(events)
        elif isinstance(action, Button):
            self._press_button(action)
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

    def held(self) -> bool:
        return bool(self._held_keys or self._held_buttons)

    def release_all(self) -> None:
        events = []
        for keysym in reversed(list(self._held_keys)):
            strokes, extra = self._held_keys.pop(keysym)
            events += [_key(stroke, True, self._mark) for stroke in reversed(strokes + extra)]
        for button in sorted(self._held_buttons):
            events.append(_mouse(self._button_flags(button)[1], self._mark))
        self._held_buttons.clear()
        if events:
            self._send(events, check=False)

    def maintain(self) -> None:
        """Nothing to tidy: Windows needs no temporary key bindings."""

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.release_all()

    # -- sending ---------------------------------------------------------------------------

    def input_desktop(self) -> tuple[str | None, int]:
        """The input desktop's name (None when it cannot be opened), and the error when it cannot."""
        handle = self._user32.OpenInputDesktop(0, False, w.DESKTOP_READOBJECTS)
        if not handle:
            return None, w.last_error()
        try:
            buffer = ctypes.create_unicode_buffer(256)
            needed = wintypes.DWORD(0)
            if not self._user32.GetUserObjectInformationW(handle, w.UOI_NAME, buffer, ctypes.sizeof(buffer),
                                                          ctypes.byref(needed)):
                return None, w.last_error()
            return buffer.value, 0
        finally:
            self._user32.CloseDesktop(handle)

    def _send(self, events: Sequence[w.INPUT], check: bool = True) -> None:
        """Insert *events* with one SendInput; raises :class:`InputBlocked` (then nothing stays pressed)."""
        if check:
            why = desktop_refusal(*self.input_desktop())
            if why:
                raise InputBlocked(why, reason="secure_desktop")
        array = (w.INPUT * len(events))(*events)
        inserted = int(self._user32.SendInput(len(events), array, ctypes.sizeof(w.INPUT)))
        why = short_send_refusal(inserted, len(events), w.last_error())
        if why is None:
            return
        self._undo(events[:inserted])
        if not check:
            log.warning("releasing held input: %s", why)
            return
        raise InputBlocked(why, reason="uipi", inserted=inserted, given=len(events))

    def _undo(self, inserted: Sequence[w.INPUT]) -> None:
        """Release what the inserted part of a refused step pressed (best effort)."""
        ups = []
        for event in reversed(inserted):
            if event.type == w.INPUT_KEYBOARD and not event.ki.dwFlags & w.KEYEVENTF_KEYUP:
                ups.append(_key((event.ki.wVk, event.ki.wScan, event.ki.dwFlags), True, self._mark))
            elif event.type == w.INPUT_MOUSE:
                for down, up in _BUTTON_FLAGS.values():
                    if event.mi.dwFlags & down:
                        ups.append(_mouse(up, self._mark))
        if ups:
            array = (w.INPUT * len(ups))(*ups)
            self._user32.SendInput(len(ups), array, ctypes.sizeof(w.INPUT))

    # -- pointer -----------------------------------------------------------------------

    def virtual_screen(self) -> tuple[int, int, int, int]:
        """(left, top, width, height) of the virtual screen: every monitor."""
        metric = self._user32.GetSystemMetrics
        return (int(metric(w.SM_XVIRTUALSCREEN)), int(metric(w.SM_YVIRTUALSCREEN)),
                int(metric(w.SM_CXVIRTUALSCREEN)), int(metric(w.SM_CYVIRTUALSCREEN)))

    def _move(self, x: int, y: int) -> w.INPUT:
        dx, dy = normalised(x, y, self.virtual_screen())
        return _mouse(w.MOUSEEVENTF_MOVE | w.MOUSEEVENTF_ABSOLUTE | w.MOUSEEVENTF_VIRTUALDESK
                      | w.MOUSEEVENTF_MOVE_NOCOALESCE, self._mark, dx, dy)

    @staticmethod
    def _button_flags(button: int) -> tuple[int, int]:
        try:
            return _BUTTON_FLAGS[button]
        except KeyError:
            raise BadParams("'button' must be 1 (left), 2 (middle) or 3 (right)", param="button") from None

    def _press_button(self, action: Button) -> None:
        down, up = self._button_flags(action.button)
        events = [self._move(action.x, action.y)]
        if action.down:
            events.append(_mouse(down, self._mark))
        elif action.button in self._held_buttons:
            events.append(_mouse(up, self._mark))
        self._send(events)
        if action.down:
            self._held_buttons.add(action.button)
        else:
            self._held_buttons.discard(action.button)

    def _drag(self, action: Drag) -> None:
        down, up = self._button_flags(action.button)
        (x0, y0), (x1, y1) = action.start, action.end
        events = [self._move(x0, y0), _mouse(down, self._mark)]
        events += [self._move(x0 + (x1 - x0) * n // DRAG_STEPS, y0 + (y1 - y0) * n // DRAG_STEPS)
                   for n in range(1, DRAG_STEPS + 1)]
        events.append(_mouse(up, self._mark))
        self._send(events)

    def _scroll(self, action: Scroll) -> None:
        events = [self._move(action.x, action.y)]
        # WHEEL: positive is away from the user (up); HWHEEL: positive is to the right
        for delta, flag, sign in ((action.dy, w.MOUSEEVENTF_WHEEL, -1), (action.dx, w.MOUSEEVENTF_HWHEEL, 1)):
            notches = min(abs(delta), MAX_NOTCHES)
            if notches:
                direction = sign if delta > 0 else -sign
                events += [_mouse(flag, self._mark, data=direction * w.WHEEL_DELTA) for _ in range(notches)]
        self._send(events)

    # -- keyboard ----------------------------------------------------------------------

    def _stroke(self, key: WinKey) -> Stroke:
        scan = int(self._user32.MapVirtualKeyW(key.vk, w.MAPVK_VK_TO_VSC)) & 0xFFFF
        return key.vk, scan, w.KEYEVENTF_EXTENDEDKEY if key.extended else 0

    def _strokes_for(self, key: Key, modifiers: Sequence[str]) -> tuple[list[Stroke], list[str]]:
        """(strokes for *key*, modifiers it needs besides *modifiers*); raises Unavailable."""
        found = vk_of(key.keysym)
        if found is not None:
            return [self._stroke(found)], []
        if key.char is not None and len(key.char) == 1:
            scanned = vk_from_scan_result(int(self._user32.VkKeyScanW(key.char)))
            if scanned is not None:
                vk, needs = scanned
                return [self._stroke(WinKey(vk))], [name for name in needs if name not in modifiers]
            if not set(modifiers) - {"shift"}:
                return unicode_strokes(key.char), []
            raise Unavailable(f"no key of the customer's keyboard layout types {key.char!r}, "
                              "so it cannot be pressed with modifiers")
        raise BadParams(f"{key.label} has no key on Windows", param="key")

    def _modifier_strokes(self, names: Sequence[str], skip: set[int]) -> list[Stroke]:
        return [stroke for stroke in (self._stroke(MODIFIER_VKS[name]) for name in names) if stroke[0] not in skip]

    def _held_vks(self) -> set[int]:
        return {stroke[0] for strokes, extra in self._held_keys.values() for stroke in strokes + extra if stroke[0]}

    def _check(self, modifiers: Sequence[str], keysym: int) -> None:
        why = refusal(modifiers, keysym)
        if why:
            raise BadParams(f"not injected: {why}", param="key")
        why = windows_refusal(modifiers, keysym)
        if why:
            raise InputBlocked(why, reason="secure_attention")

    def _combo(self, modifiers: tuple[str, ...], key: Key) -> None:
        self._check(modifiers, key.keysym)
        strokes, needs = self._strokes_for(key, modifiers)
        extra = self._modifier_strokes([*modifiers, *needs], self._held_vks())
        events = [_key(s, False, self._mark) for s in extra + strokes]
        events += [_key(s, True, self._mark) for s in reversed(extra + strokes)]
        self._send(events)

    def _type(self, text: str, start: int, may_inject: Callable[[], bool]) -> int:
        for index in range(start, len(text)):
            if not may_inject():
                return index
            char = text[index]
            char_keysym(char)  # raises KeyNameError for control characters (checked before, by params)
            if char in _SPECIAL_CHARS:
                found = vk_of(char_keysym(char))
                assert found is not None
                strokes = [self._stroke(found)]
            else:
                strokes = unicode_strokes(char)
            self._send([_key(s, False, self._mark) for s in strokes] + [_key(s, True, self._mark) for s in strokes])
        return len(text)

    def _key_down(self, key: Key, modifiers: tuple[str, ...]) -> None:
        if key.keysym in self._held_keys:
            self._release(key.keysym)  # a second keydown without keyup: start again
        held = self._held_vks()
        if key.modifier is not None:
            found = vk_of(key.keysym) or MODIFIER_VKS[key.modifier]
            stroke = self._stroke(found)
            if stroke[0] not in held:
                self._send([_key(stroke, False, self._mark)])
            self._held_keys[key.keysym] = ([stroke], [])
            return
        held_names = {modifier_of(k) for k in self._held_keys}
        wanted = set(modifiers) | {name for name in held_names if name}
        self._check(sorted(wanted), key.keysym)
        strokes, needs = self._strokes_for(key, sorted(wanted))
        extra = self._modifier_strokes([*modifiers, *needs], held)
        self._send([_key(s, False, self._mark) for s in extra + strokes])
        self._held_keys[key.keysym] = (strokes, extra)

    def _key_up(self, key: Key) -> None:
        if key.keysym in self._held_keys:
            self._release(key.keysym)

    def _release(self, keysym: int) -> None:
        strokes, extra = self._held_keys.pop(keysym)
        still = self._held_vks()
        ups = [_key(s, True, self._mark) for s in reversed(strokes)]
        ups += [_key(s, True, self._mark) for s in reversed(extra) if s[0] not in still]
        self._send(ups, check=False)
