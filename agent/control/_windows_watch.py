"""Watching the customer's input on Windows: low-level mouse and keyboard hooks, and the take-back hotkeys.

:class:`WindowsWatch` owns one thread with a Win32 message loop (low-level hooks are
called on the thread that installed them, through its message loop).  While control is
granted it installs ``WH_MOUSE_LL`` and ``WH_KEYBOARD_LL``; Windows then shows it every
mouse and keyboard event before any application sees it, with flags that say whether a
program injected it (``LLMHF_INJECTED`` / ``LLKHF_INJECTED``) and the ``dwExtraInfo``
the injector attached.  Outside a grant the hooks are removed, so the customer's input
pays nothing for them.

Whose event it is (:func:`origin`, a pure function the unit tests feed with the documented
values):

- it carries the agent's mark in ``dwExtraInfo``: the technician's (the injector puts the
  mark on every event it sends), whatever the flags say;
- else, injected (``LLMHF_INJECTED`` / ``LLKHF_INJECTED``): ``other program``; counted and
  logged, not the customer's hand.  Windows and other software inject events of their own
  (under Wine, a pointer move follows each injected click while a hook is installed), and
  counting those as the customer's would hold the technician back for nothing;
- else (neither injected nor marked): ``physical``, the customer's own mouse, keyboard,
  touchpad or pen.  It suspends the technician (C1).

One consequence, said plainly: an on-screen keyboard or dictation tool the customer uses
injects like any program, so it does not take priority by itself; their physical mouse
and keyboard, and the take-back hotkeys, always do.

The mark is looked at first, so the agent's own events are known even on a system that
would not set the injected flag (Wine 8 does set it and keeps ``dwExtraInfo``: measured in
``tests/windows/test_control_wine.py``).  The customer's
events go to ``on_event`` (as :class:`~agent.control.ledger.DeviceEvent`, in X's numbering
of buttons; key codes are virtual keys); the agent's own are never reported, so the
service's ledger, which nothing writes to on Windows, counts every reported event as the
customer's.  The take-back hotkeys (Pause, Ctrl+Alt+Shift+Space) are seen in the
keyboard hook, from the customer's own keys only, and swallowed like X11's grab.

A low-level hook must return quickly (Windows drops a hook that keeps input waiting longer
than ``LowLevelHooksTimeout``): the callbacks only hand the event on.

Availability: Windows; imported only through :mod:`agent.control._windows`.  The
constructor raises :class:`OSError` elsewhere; the pure functions load everywhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import threading
from collections import Counter
from collections.abc import Callable
from ctypes import wintypes
from typing import Any

from agent.control import _windows_api as w
from agent.control._windows_keymap import MODIFIER_OF_VK, hotkey_label
from agent.control.ledger import BUTTON_PRESS, BUTTON_RELEASE, KEY_PRESS, KEY_RELEASE, MOTION, DeviceEvent

log = logging.getLogger(__name__)

OURS, PHYSICAL, OTHER_PROGRAM = "ours", "physical", "other program"
#: The origins that are the customer's own input (C1): neither injected nor marked.
CUSTOMER_ORIGINS = frozenset({PHYSICAL})

_WM_SET_WATCHING = w.WM_APP + 1

_BUTTONS = {w.WM_LBUTTONDOWN: (BUTTON_PRESS, 1), w.WM_LBUTTONUP: (BUTTON_RELEASE, 1),
            w.WM_MBUTTONDOWN: (BUTTON_PRESS, 2), w.WM_MBUTTONUP: (BUTTON_RELEASE, 2),
            w.WM_RBUTTONDOWN: (BUTTON_PRESS, 3), w.WM_RBUTTONUP: (BUTTON_RELEASE, 3)}


# --- pure decisions ------------------------------------------------------------------------------


def origin(flags: int, extra_info: int, mark: int, injected_flag: int) -> str:
    """Who sent a hooked event: :data:`OURS`, :data:`PHYSICAL` or :data:`OTHER_PROGRAM`.

    *flags* and *extra_info* are the hook structure's ``flags`` and ``dwExtraInfo``;
    *injected_flag* is ``LLMHF_INJECTED`` (mouse) or ``LLKHF_INJECTED`` (keyboard);
    *mark* is the value the agent puts in every event it injects.
    """
    if extra_info == mark:
        return OURS
    if flags & injected_flag:
        return OTHER_PROGRAM
    return PHYSICAL


def is_customers(flags: int, extra_info: int, mark: int, injected_flag: int) -> bool:
    """True when a hooked event is the customer's input (see :func:`origin`)."""
    return origin(flags, extra_info, mark, injected_flag) in CUSTOMER_ORIGINS


def _signed_high_word(value: int) -> int:
    high = (value >> 16) & 0xFFFF
    return high - 0x10000 if high & 0x8000 else high


def mouse_event(message: int, x: int, y: int, mouse_data: int) -> DeviceEvent | None:
    """A ``WH_MOUSE_LL`` message as a :class:`DeviceEvent` (X numbering: wheel up/down 4/5,
    left/right 6/7, side buttons 8/9); None for messages that are no input."""
    if message == w.WM_MOUSEMOVE:
        return DeviceEvent(MOTION, 0, x, y)
    if message in _BUTTONS:
        kind, button = _BUTTONS[message]
        return DeviceEvent(kind, button, x, y)
    if message in (w.WM_XBUTTONDOWN, w.WM_XBUTTONUP):
        button = 8 if _signed_high_word(mouse_data) == 1 else 9
        return DeviceEvent(BUTTON_PRESS if message == w.WM_XBUTTONDOWN else BUTTON_RELEASE, button, x, y)
    if message in (w.WM_MOUSEWHEEL, w.WM_MOUSEHWHEEL):
        delta = _signed_high_word(mouse_data)
        up_or_right, down_or_left = (4, 5) if message == w.WM_MOUSEWHEEL else (7, 6)
        return DeviceEvent(BUTTON_PRESS, up_or_right if delta > 0 else down_or_left, x, y)
    return None


def key_event(message: int, vk: int) -> DeviceEvent | None:
    """A ``WH_KEYBOARD_LL`` message as a :class:`DeviceEvent` (detail: the virtual key)."""
    if message in (w.WM_KEYDOWN, w.WM_SYSKEYDOWN):
        return DeviceEvent(KEY_PRESS, vk)
    if message in (w.WM_KEYUP, w.WM_SYSKEYUP):
        return DeviceEvent(KEY_RELEASE, vk)
    return None


class WindowsWatch:
    """Low-level hooks while watching, and the take-back hotkeys; see the module docstring.

    Callbacks run on this object's thread and must be quick and thread-safe:
    ``on_event(DeviceEvent)`` for every event of the customer's, ``on_ready(bool)`` when
    the hooks are installed (True) or removed (False), ``on_hotkey(label)`` when the
    customer presses a take-back hotkey.
    """

    def __init__(self, mark: int, on_event: Callable[[DeviceEvent], None], on_ready: Callable[[bool], None],
                 on_hotkey: Callable[[str], None], api: w.Win32 | None = None) -> None:
        self._api = api or w.load()
        self._user32 = self._api.user32
        self._mark = mark
        self._on_event = on_event
        self._on_ready = on_ready
        self._on_hotkey = on_hotkey
        self._lock = threading.Lock()
        self._want = False
        self._hooks: list[Any] = []
        #: the hook procedures, kept alive as long as Windows may call them
        self._procs = (self._api.HOOKPROC(self._mouse_proc), self._api.HOOKPROC(self._keyboard_proc))
        self._customer_keys: set[int] = set()
        self._thread_id = 0
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="control-hooks", daemon=True)
        #: events seen per origin, and how many of ours had Windows' injected flag (for tests and logs)
        self.seen: Counter[str] = Counter()

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(10):
            raise OSError("the input hook thread did not start")

    def set_watching(self, on: bool) -> None:
        """Install the hooks (while control is granted) or remove them."""
        with self._lock:
            self._want = on
        self._post(_WM_SET_WATCHING)

    def close(self) -> None:
        """Remove the hooks, end the thread."""
        with self._lock:
            self._want = False
        self._post(w.WM_QUIT)
        if self._thread.is_alive():
            self._thread.join(10)
        log.info("input hooks saw %s", dict(self.seen))

    def _post(self, message: int) -> None:
        if self._thread_id:
            self._user32.PostThreadMessageW(self._thread_id, message, 0, 0)

    # -- the hook thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        msg = wintypes.MSG()
        try:
            self._thread_id = int(self._api.kernel32.GetCurrentThreadId())
            # a thread has a message queue once it asks for a message: make it before anyone posts
            self._user32.PeekMessageW(ctypes.byref(msg), None, 0, 0, w.PM_NOREMOVE)
            self._started.set()
            self._apply()
            while self._user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
                if msg.message == _WM_SET_WATCHING:
                    self._apply()
        except Exception:
            log.exception("the input hook thread failed")
        finally:
            self._started.set()
            with contextlib.suppress(Exception):
                self._unhook()

    def _apply(self) -> None:
        with self._lock:
            want = self._want
        if want and not self._hooks:
            module = self._api.kernel32.GetModuleHandleW(None)
            for kind, proc in ((w.WH_MOUSE_LL, self._procs[0]), (w.WH_KEYBOARD_LL, self._procs[1])):
                hook = self._user32.SetWindowsHookExW(kind, proc, module, 0)
                if not hook:
                    error = w.last_error()
                    self._unhook()
                    log.error("cannot watch the customer's input: SetWindowsHookExW failed (error %d)", error)
                    return  # not ready: nothing will be injected
                self._hooks.append(hook)
            self._customer_keys.clear()
            self._on_ready(True)
        elif not want and self._hooks:
            self._unhook()

    def _unhook(self) -> None:
        if not self._hooks:
            return
        for hook in self._hooks:
            self._user32.UnhookWindowsHookEx(hook)
        self._hooks = []
        self._on_ready(False)

    def _mouse_proc(self, code: int, wparam: int, lparam: int) -> int:
        if code == w.HC_ACTION:
            try:
                info = ctypes.cast(lparam, ctypes.POINTER(w.MSLLHOOKSTRUCT)).contents
                if self._count(int(info.flags), int(info.dwExtraInfo), w.LLMHF_INJECTED):
                    event = mouse_event(int(wparam), int(info.pt.x), int(info.pt.y), int(info.mouseData))
                    if event is not None:
                        self._on_event(event)
            except Exception:
                log.exception("the mouse hook failed")
        return int(self._user32.CallNextHookEx(None, code, wparam, lparam))

    def _keyboard_proc(self, code: int, wparam: int, lparam: int) -> int:
        if code == w.HC_ACTION:
            try:
                info = ctypes.cast(lparam, ctypes.POINTER(w.KBDLLHOOKSTRUCT)).contents
                if self._count(int(info.flags), int(info.dwExtraInfo), w.LLKHF_INJECTED):
                    event = key_event(int(wparam), int(info.vkCode))
                    if event is not None and self._customer_key(event):
                        return 1  # a take-back hotkey: no application sees it (X11 grabs it likewise)
            except Exception:
                log.exception("the keyboard hook failed")
        return int(self._user32.CallNextHookEx(None, code, wparam, lparam))

    def _count(self, flags: int, extra_info: int, injected_flag: int) -> bool:
        """Count the event by origin; True when it is the customer's."""
        found = origin(flags, extra_info, self._mark, injected_flag)
        self.seen[found] += 1
        if found == OURS and flags & injected_flag:
            self.seen["ours flagged injected"] += 1
        return found in CUSTOMER_ORIGINS

    def _customer_key(self, event: DeviceEvent) -> bool:
        """Hand a customer's key event on; True when it is a take-back hotkey (to be swallowed)."""
        if event.kind == KEY_RELEASE:
            self._customer_keys.discard(event.detail)
            self._on_event(event)
            return False
        held = {MODIFIER_OF_VK[vk] for vk in self._customer_keys if vk in MODIFIER_OF_VK}
        self._customer_keys.add(event.detail)
        self._on_event(event)
        label = hotkey_label(event.detail, held)
        if label is None:
            return False
        self._on_hotkey(label)
        return True
