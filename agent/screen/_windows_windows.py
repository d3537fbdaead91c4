"""Window tracking on Windows: the top-level windows, their titles and where they are, read with Win32.

Availability: Windows, through ctypes (user32; dwmapi where present).  Imported only by
:mod:`agent.screen._windows`, chosen by :mod:`agent.screen.backend` and
:mod:`agent.screen.tracking`.

Windows has no X-style event stream a capture could be bracketed with exactly, so the
windows are read afresh with ``EnumWindows`` (topmost first) at each end of a capture
bracket; :class:`agent.screen.window_frames.HiddenWindowTable` decides what to fill.  Per
window:

- the title with ``InternalGetWindowText``, not ``GetWindowTextW``: for a window of this very
  process (the customer's own Tk window) ``GetWindowTextW`` *sends* ``WM_GETTEXT`` to the
  thread that owns it, so the streamer would wait on the panel's thread;
  ``InternalGetWindowText`` reads the stored caption and never blocks;
- ``IsWindowVisible``, ``IsIconic``, ``GetWindowRect``, and
  ``DwmGetWindowAttribute(DWMWA_EXTENDED_FRAME_BOUNDS)`` for the visible frame, falling back
  to the window rectangle where DWM does not answer (Wine, see
  :func:`agent.screen.window_frames.frame_rect`); ``DWMWA_CLOAKED`` for windows that are
  "visible" but not drawn.

The process is made DPI aware first (per monitor), as mss does when it captures: window
rectangles, DWM frames and captured pixels are then all physical pixels.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from ctypes import wintypes
from typing import Any, Final

from agent.screen.window_frames import TopLevel, frame_rect, is_minimized_rect, rect_from_ltrb

DWMWA_EXTENDED_FRAME_BOUNDS: Final = 9
DWMWA_CLOAKED: Final = 14
#: DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 (Windows 10 1703 and later).
_PER_MONITOR_AWARE_V2: Final = -4
_PROCESS_PER_MONITOR_DPI_AWARE: Final = 2
_TITLE_MAX: Final = 512



class Win32Windows:
    """The Win32 calls that read top-level windows.  Raises :class:`OSError` when user32 cannot be loaded."""

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError(f"the Win32 API exists only on Windows, not {sys.platform}")
        try:
            self._user32: Any = ctypes.WinDLL("user32", use_last_error=True)
            self._enum_proc: Any = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.HWND, wintypes.LPARAM)
        except (OSError, AttributeError) as err:  # AttributeError: no WinDLL (not Windows)
            raise OSError(f"the Win32 API cannot be loaded: {err}") from err
        u = self._user32
        u.EnumWindows.argtypes = [self._enum_proc, wintypes.LPARAM]
        u.EnumWindows.restype = wintypes.BOOL
        u.InternalGetWindowText.argtypes = [wintypes.HWND, wintypes.LPWSTR, ctypes.c_int]
        u.InternalGetWindowText.restype = ctypes.c_int
        for name in ("IsWindowVisible", "IsIconic"):
            getattr(u, name).argtypes = [wintypes.HWND]
            getattr(u, name).restype = wintypes.BOOL
        u.GetWindowRect.argtypes = [wintypes.HWND, ctypes.POINTER(wintypes.RECT)]
        u.GetWindowRect.restype = wintypes.BOOL
        self._dwm_get: Any = None
        try:
            dwmapi = ctypes.WinDLL("dwmapi")
            self._dwm_get = dwmapi.DwmGetWindowAttribute
            self._dwm_get.argtypes = [wintypes.HWND, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD]
            self._dwm_get.restype = ctypes.c_long  # an HRESULT, read here rather than raised
        except (OSError, AttributeError):
            self._dwm_get = None
        dpi_aware()

    def top_levels(self) -> list[TopLevel]:
        """The visible top-level windows, topmost first (hidden ones are left out: they draw nothing)."""
        handles: list[int] = []

        def collect(hwnd: int | None, _lparam: int) -> bool:
            if hwnd:
                handles.append(hwnd)
            return True

        self._user32.EnumWindows(self._enum_proc(collect), 0)
        found = []
        for hwnd in handles:
            if not self._user32.IsWindowVisible(hwnd):
                continue
            window = self._read(hwnd)
            if window is not None:
                found.append(window)
        return found

    def _read(self, hwnd: int) -> TopLevel | None:
        """One window, or None when it vanished meanwhile."""
        box = wintypes.RECT()
        if not self._user32.GetWindowRect(hwnd, ctypes.byref(box)):
            return None
        window = rect_from_ltrb(box.left, box.top, box.right, box.bottom)
        buffer = ctypes.create_unicode_buffer(_TITLE_MAX)
        length = self._user32.InternalGetWindowText(hwnd, buffer, _TITLE_MAX)
        minimized = bool(self._user32.IsIconic(hwnd)) or is_minimized_rect(window)
        return TopLevel(handle=hwnd, title=buffer.value[:length], rect=frame_rect(window, self._frame(hwnd)),
                        visible=True, minimized=minimized, cloaked=self._cloaked(hwnd))

    def _frame(self, hwnd: int) -> Any:
        """DWM's visible frame (a Rect), or None where DWM does not answer."""
        if self._dwm_get is None:
            return None
        box = wintypes.RECT()
        if self._dwm_get(hwnd, DWMWA_EXTENDED_FRAME_BOUNDS, ctypes.byref(box), ctypes.sizeof(box)) != 0:
            return None
        return rect_from_ltrb(box.left, box.top, box.right, box.bottom)

    def _cloaked(self, hwnd: int) -> bool:
        if self._dwm_get is None:
            return False
        value = wintypes.DWORD()
        if self._dwm_get(hwnd, DWMWA_CLOAKED, ctypes.byref(value), ctypes.sizeof(value)) != 0:
            return False
        return value.value != 0


@functools.cache
def dpi_aware() -> None:
    """Make this process DPI aware (per monitor), once; harmless where it already is or cannot be.

    The first call that succeeds wins for the process (later ones fail with
    ``E_ACCESSDENIED``, ignored): mss makes the same request when it opens the screen.
    """
    if sys.platform != "win32":
        return
    try:
        user32 = ctypes.WinDLL("user32")
        if hasattr(user32, "SetProcessDpiAwarenessContext"):
            user32.SetProcessDpiAwarenessContext.argtypes = [ctypes.c_void_p]
            if user32.SetProcessDpiAwarenessContext(ctypes.c_void_p(_PER_MONITOR_AWARE_V2)):
                return
        shcore = ctypes.WinDLL("shcore")
        shcore.SetProcessDpiAwareness(_PROCESS_PER_MONITOR_DPI_AWARE)
    except (OSError, AttributeError):
        pass
