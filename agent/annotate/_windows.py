"""The overlay on Windows: a topmost, layered, click-through window, visible only where marks are.

Availability: Windows, through ctypes (user32, gdi32).  Imported only by
:mod:`agent.annotate.overlay`, which chooses it on ``win32``.

How it is made:

- One popup window with the extended styles ``WS_EX_LAYERED | WS_EX_TRANSPARENT |
  WS_EX_TOPMOST | WS_EX_TOOLWINDOW | WS_EX_NOACTIVATE``: layered and transparent together make
  it click-through (every click, wheel and hover goes to the window under it, and
  ``WindowFromPoint`` skips it), tool window keeps it off the taskbar and Alt+Tab, no-activate
  keeps the focus where the customer has it.  It has no title, so it never shows in the
  customer's "hide a window" picker.
- Its picture is given with ``UpdateLayeredWindow`` (``ULW_ALPHA``): a premultiplied 32-bit
  DIB of :func:`agent.annotate.render.render`, whose alpha is the marks' mask (0 elsewhere, so
  the desktop shows as it is).  The system keeps the picture and repaints it by itself: no
  ``WM_PAINT`` to handle.  The window is sized and placed to the marks' bounding box, on the
  virtual screen (monitors left of or above the primary have negative coordinates).  A
  colour key (``LWA_COLORKEY``) would work too, but would turn a mark drawn in the key's
  colour invisible.
- ``HWND_TOPMOST`` is asserted again every time marks change, and every
  :data:`RAISE_EVERY_MS` while marks show (a topmost window opened later would otherwise
  cover them); with no mark it is hidden.
- The process is made per-monitor DPI aware (as for the capture), so the virtual screen and
  the marks' coordinates are physical pixels, the captured picture's.
- The window belongs to the agent's process: it dies with it, even on a crash or a kill.
- mss captures with ``CAPTUREBLT``, which includes layered windows: the technician sees each
  mark in the live view, once.

One thread owns the window (a window belongs to the thread that created it, and only that
thread receives its messages): it runs a ``GetMessageW`` loop, and the callers'
:meth:`~WindowsOverlay.show` and :meth:`~WindowsOverlay.close` reach it as jobs, woken by a
posted ``WM_APP`` message.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from ctypes import wintypes
from typing import Any, Final

from agent.annotate.base import OverlayError
from agent.annotate.model import Mark
from agent.annotate.render import premultiplied_bgra, render
from agent.screen._windows_windows import dpi_aware
from agent.screen.hidden import Rect

log = logging.getLogger(__name__)

#: How long a caller waits for the overlay's thread to draw.
JOB_TIMEOUT_SECONDS: Final = 30.0
#: The window class's name, so tools (and tests) can tell the overlay apart; it has no title.
CLASS_NAME: Final = "WorkbenchMarks"

WS_POPUP: Final = 0x80000000
WS_EX_LAYERED: Final = 0x00080000
WS_EX_TRANSPARENT: Final = 0x00000020
WS_EX_TOPMOST: Final = 0x00000008
WS_EX_TOOLWINDOW: Final = 0x00000080
WS_EX_NOACTIVATE: Final = 0x08000000
EX_STYLE: Final = WS_EX_LAYERED | WS_EX_TRANSPARENT | WS_EX_TOPMOST | WS_EX_TOOLWINDOW | WS_EX_NOACTIVATE
WM_CLOSE: Final = 0x0010
WM_DESTROY: Final = 0x0002
WM_NCHITTEST: Final = 0x0084
WM_APP: Final = 0x8000
WM_TIMER: Final = 0x0113
#: While marks show, topmost is asserted again this often (ms): a topmost window opened later goes above
#: ours, and Windows sends no notice of it.  Twice a second bounds a tug of war with another topmost program.
RAISE_EVERY_MS: Final = 500
_RAISE_TIMER: Final = 1
HTTRANSPARENT: Final = -1
SW_HIDE: Final = 0
SW_SHOWNOACTIVATE: Final = 4
HWND_TOPMOST: Final = -1
SWP_NOSIZE: Final = 0x0001
SWP_NOMOVE: Final = 0x0002
SWP_NOACTIVATE: Final = 0x0010
SWP_SHOWWINDOW: Final = 0x0040
ULW_ALPHA: Final = 0x00000002
AC_SRC_OVER: Final = 0x00
AC_SRC_ALPHA: Final = 0x01
BI_RGB: Final = 0
DIB_RGB_COLORS: Final = 0
SM_XVIRTUALSCREEN, SM_YVIRTUALSCREEN, SM_CXVIRTUALSCREEN, SM_CYVIRTUALSCREEN = 76, 77, 78, 79

ERROR_CLASS_ALREADY_EXISTS: Final = 1410

LRESULT = ctypes.c_ssize_t


def _last_error() -> int:
    """The calling thread's last Win32 error, as ctypes saved it (0 off Windows)."""
    if sys.platform != "win32":
        return 0
    return ctypes.get_last_error()


class _BLENDFUNCTION(ctypes.Structure):
    _fields_ = [("BlendOp", ctypes.c_ubyte), ("BlendFlags", ctypes.c_ubyte),
                ("SourceConstantAlpha", ctypes.c_ubyte), ("AlphaFormat", ctypes.c_ubyte)]


class _BITMAPINFOHEADER(ctypes.Structure):
    _fields_ = [("biSize", wintypes.DWORD), ("biWidth", wintypes.LONG), ("biHeight", wintypes.LONG),
                ("biPlanes", wintypes.WORD), ("biBitCount", wintypes.WORD), ("biCompression", wintypes.DWORD),
                ("biSizeImage", wintypes.DWORD), ("biXPelsPerMeter", wintypes.LONG),
                ("biYPelsPerMeter", wintypes.LONG), ("biClrUsed", wintypes.DWORD),
                ("biClrImportant", wintypes.DWORD)]


class _Win32:
    """The user32 and gdi32 functions the overlay calls, with their types (64-bit handles)."""

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OverlayError(f"the Win32 API exists only on Windows, not {sys.platform}")
        try:
            self.user32: Any = ctypes.WinDLL("user32", use_last_error=True)
            self.gdi32: Any = ctypes.WinDLL("gdi32", use_last_error=True)
            self.kernel32: Any = ctypes.WinDLL("kernel32", use_last_error=True)
            self.wndproc_type: Any = ctypes.WINFUNCTYPE(LRESULT, wintypes.HWND, wintypes.UINT, wintypes.WPARAM,
                                                        wintypes.LPARAM)
        except (OSError, AttributeError) as err:
            raise OverlayError(f"the Win32 API cannot be loaded: {err}") from err
        u, g = self.user32, self.gdi32
        H, P = wintypes.HANDLE, ctypes.c_void_p
        signatures: list[tuple[Any, list[Any], Any]] = [
            (u.DefWindowProcW, [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM], LRESULT),
            (u.RegisterClassExW, [P], wintypes.ATOM),
            (u.CreateWindowExW, [wintypes.DWORD, wintypes.LPCWSTR, wintypes.LPCWSTR, wintypes.DWORD, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_int, ctypes.c_int, wintypes.HWND, wintypes.HMENU,
                                 wintypes.HINSTANCE, P], wintypes.HWND),
            (u.DestroyWindow, [wintypes.HWND], wintypes.BOOL),
            (u.ShowWindow, [wintypes.HWND, ctypes.c_int], wintypes.BOOL),
            (u.SetWindowPos, [wintypes.HWND, wintypes.HWND, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              wintypes.UINT], wintypes.BOOL),
            (u.UpdateLayeredWindow, [wintypes.HWND, wintypes.HDC, ctypes.POINTER(wintypes.POINT),
                                     ctypes.POINTER(wintypes.SIZE), wintypes.HDC, ctypes.POINTER(wintypes.POINT),
                                     wintypes.COLORREF, ctypes.POINTER(_BLENDFUNCTION), wintypes.DWORD],
                                    wintypes.BOOL),
            (u.GetMessageW, [ctypes.POINTER(wintypes.MSG), wintypes.HWND, wintypes.UINT, wintypes.UINT],
                            wintypes.BOOL),
            (u.TranslateMessage, [ctypes.POINTER(wintypes.MSG)], wintypes.BOOL),
            (u.DispatchMessageW, [ctypes.POINTER(wintypes.MSG)], LRESULT),
            (u.PostMessageW, [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM], wintypes.BOOL),
            (u.PostQuitMessage, [ctypes.c_int], None),
            (u.SetTimer, [wintypes.HWND, ctypes.c_size_t, wintypes.UINT, ctypes.c_void_p], ctypes.c_size_t),
            (u.KillTimer, [wintypes.HWND, ctypes.c_size_t], wintypes.BOOL),
            (u.GetSystemMetrics, [ctypes.c_int], ctypes.c_int),
            (u.GetDC, [wintypes.HWND], wintypes.HDC),
            (u.ReleaseDC, [wintypes.HWND, wintypes.HDC], ctypes.c_int),
            (g.CreateCompatibleDC, [wintypes.HDC], wintypes.HDC),
            (g.DeleteDC, [wintypes.HDC], wintypes.BOOL),
            (g.CreateDIBSection, [wintypes.HDC, P, wintypes.UINT, ctypes.POINTER(P), H, wintypes.DWORD],
                                 wintypes.HBITMAP),
            (g.SelectObject, [wintypes.HDC, H], H),
            (g.DeleteObject, [H], wintypes.BOOL),
            (self.kernel32.GetModuleHandleW, [wintypes.LPCWSTR], wintypes.HMODULE),
        ]
        for function, argtypes, restype in signatures:
            function.argtypes = argtypes
            function.restype = restype

    def failed(self, what: str) -> OverlayError:
        if sys.platform != "win32":
            return OverlayError(f"{what} failed")
        return OverlayError(f"{what} failed: {ctypes.FormatError(ctypes.get_last_error()).strip()}")


class _WNDCLASSEXW(ctypes.Structure):
    _fields_ = [("cbSize", wintypes.UINT), ("style", wintypes.UINT), ("lpfnWndProc", ctypes.c_void_p),
                ("cbClsExtra", ctypes.c_int), ("cbWndExtra", ctypes.c_int), ("hInstance", wintypes.HINSTANCE),
                ("hIcon", wintypes.HICON), ("hCursor", wintypes.HANDLE), ("hbrBackground", wintypes.HBRUSH),
                ("lpszMenuName", wintypes.LPCWSTR), ("lpszClassName", wintypes.LPCWSTR),
                ("hIconSm", wintypes.HICON)]


class WindowsOverlay:
    """Marks over the whole virtual screen, click-through.  Raises :class:`OverlayError` when it cannot be made."""

    name = "windows"

    def __init__(self) -> None:
        self._api = _Win32()
        dpi_aware()  # marks are in captured (physical) pixels: the virtual screen must be measured in them too
        self._jobs: queue.SimpleQueue[tuple[Callable[[], None], Future[None]]] = queue.SimpleQueue()
        self._closing = False
        self._hwnd: int | None = None
        self._shown = False
        self._wndproc: Any = None  # kept alive as long as the window: Windows calls it
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="annotate-overlay", daemon=True)
        self._thread.start()
        ready.result(JOB_TIMEOUT_SECONDS)

    @property
    def window_handle(self) -> int | None:
        """The overlay's HWND (for tests and diagnostics)."""
        return self._hwnd

    def show(self, marks: Sequence[Mark]) -> None:
        """Draw exactly *marks* (oldest first), topmost; blocks until the window shows them.

        Raises :class:`OverlayError` when Windows refuses a call or the overlay is closed.
        """
        marks = list(marks)
        self._call(lambda: self._show(marks))

    def close(self) -> None:
        """Destroy the window and end its thread; safe to call twice."""
        if self._closing:
            return
        self._closing = True
        if self._thread.is_alive():
            with contextlib.suppress(OverlayError):
                self._call(self._teardown, closing=True)
            self._thread.join(JOB_TIMEOUT_SECONDS)

    # Callers' side.

    def _call(self, job: Callable[[], None], closing: bool = False) -> None:
        if (self._closing and not closing) or not self._thread.is_alive() or self._hwnd is None:
            raise OverlayError("the overlay is closed")
        done: Future[None] = Future()
        self._jobs.put((job, done))
        self._api.user32.PostMessageW(self._hwnd, WM_APP, 0, 0)
        try:
            done.result(JOB_TIMEOUT_SECONDS)
        except TimeoutError as err:
            raise OverlayError("the overlay did not answer in time") from err

    # The overlay's thread.

    def _run(self, ready: Future[None]) -> None:
        try:
            self._open()
        except Exception as err:
            ready.set_exception(err if isinstance(err, OverlayError) else OverlayError(str(err)))
            return
        ready.set_result(None)
        try:
            self._loop()
        except Exception:
            log.exception("the marks overlay's message loop failed")
        finally:
            if self._hwnd is not None:
                with contextlib.suppress(Exception):
                    self._api.user32.DestroyWindow(self._hwnd)
                self._hwnd = None
            while True:
                try:
                    _, done = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if not done.done():
                    done.set_exception(OverlayError("the overlay is closed"))

    def _open(self) -> None:
        u = self._api.user32

        def wndproc(hwnd: int, message: int, wparam: int, lparam: int) -> int:
            if message == WM_NCHITTEST:
                return HTTRANSPARENT  # belt and braces: WS_EX_TRANSPARENT already passes clicks on
            if message == WM_DESTROY:
                u.PostQuitMessage(0)
                return 0
            return int(u.DefWindowProcW(hwnd, message, wparam, lparam))

        self._wndproc = self._api.wndproc_type(wndproc)
        instance = self._api.kernel32.GetModuleHandleW(None)
        klass = _WNDCLASSEXW(cbSize=ctypes.sizeof(_WNDCLASSEXW),
                             lpfnWndProc=ctypes.cast(self._wndproc, ctypes.c_void_p), hInstance=instance,
                             lpszClassName=CLASS_NAME)
        # A second overlay in one process finds the class registered already.
        if not u.RegisterClassExW(ctypes.byref(klass)) and _last_error() != ERROR_CLASS_ALREADY_EXISTS:
            raise self._api.failed("RegisterClassExW")
        hwnd = u.CreateWindowExW(EX_STYLE, CLASS_NAME, None, WS_POPUP, 0, 0, 1, 1, None, None, instance, None)
        if not hwnd:
            raise self._api.failed("CreateWindowExW")
        self._hwnd = hwnd

    def _loop(self) -> None:
        u = self._api.user32
        message = wintypes.MSG()
        while True:
            got = u.GetMessageW(ctypes.byref(message), None, 0, 0)
            if got == 0 or got == -1:  # WM_QUIT, or an error
                return
            if message.message == WM_APP:
                if self._run_jobs():
                    return
                continue
            if message.message == WM_TIMER and message.wParam == _RAISE_TIMER:
                if self._shown:
                    self._raise()
                continue
            u.TranslateMessage(ctypes.byref(message))
            u.DispatchMessageW(ctypes.byref(message))

    def _run_jobs(self) -> bool:
        """Run the queued jobs; True once the teardown ran."""
        while True:
            try:
                job, done = self._jobs.get_nowait()
            except queue.Empty:
                return False
            try:
                job()
            except Exception as err:
                done.set_exception(err if isinstance(err, OverlayError) else OverlayError(str(err)))
            else:
                done.set_result(None)
            if job == self._teardown:
                return True

    def _teardown(self) -> None:
        if self._hwnd is not None:
            self._api.user32.DestroyWindow(self._hwnd)
            self._hwnd = None

    def _virtual_screen(self) -> Rect:
        metric = self._api.user32.GetSystemMetrics
        return Rect(metric(SM_XVIRTUALSCREEN), metric(SM_YVIRTUALSCREEN), metric(SM_CXVIRTUALSCREEN),
                    metric(SM_CYVIRTUALSCREEN))

    def _show(self, marks: list[Mark]) -> None:
        u = self._api.user32
        rendering = render(marks, self._virtual_screen())
        if rendering is None:
            if self._shown:
                u.ShowWindow(self._hwnd, SW_HIDE)
                u.KillTimer(self._hwnd, _RAISE_TIMER)
                self._shown = False
            return
        self._update(rendering.area, premultiplied_bgra(rendering))
        if not self._shown:
            u.ShowWindow(self._hwnd, SW_SHOWNOACTIVATE)
            u.SetTimer(self._hwnd, _RAISE_TIMER, RAISE_EVERY_MS, None)
            self._shown = True
        if not self._raise():
            raise self._api.failed("SetWindowPos")

    def _raise(self) -> bool:
        """Put the overlay above every other topmost window, without taking the focus."""
        return bool(self._api.user32.SetWindowPos(self._hwnd, HWND_TOPMOST, 0, 0, 0, 0,
                                                  SWP_NOMOVE | SWP_NOSIZE | SWP_NOACTIVATE | SWP_SHOWWINDOW))

    def _update(self, area: Rect, pixels: bytes) -> None:
        """Give the window *pixels* (premultiplied BGRA, top-down) at *area* of the virtual screen."""
        u, g = self._api.user32, self._api.gdi32
        header = _BITMAPINFOHEADER(biSize=ctypes.sizeof(_BITMAPINFOHEADER), biWidth=area.w, biHeight=-area.h,
                                   biPlanes=1, biBitCount=32, biCompression=BI_RGB)
        screen = u.GetDC(None)
        memory = g.CreateCompatibleDC(screen)
        bits = ctypes.c_void_p()
        bitmap = g.CreateDIBSection(memory, ctypes.byref(header), DIB_RGB_COLORS, ctypes.byref(bits), None, 0)
        try:
            if not bitmap or not bits.value:
                raise self._api.failed("CreateDIBSection")
            ctypes.memmove(bits.value, pixels, len(pixels))
            previous = g.SelectObject(memory, bitmap)
            blend = _BLENDFUNCTION(AC_SRC_OVER, 0, 255, AC_SRC_ALPHA)
            ok = u.UpdateLayeredWindow(self._hwnd, screen, ctypes.byref(wintypes.POINT(area.x, area.y)),
                                       ctypes.byref(wintypes.SIZE(area.w, area.h)), memory,
                                       ctypes.byref(wintypes.POINT(0, 0)), 0, ctypes.byref(blend), ULW_ALPHA)
            g.SelectObject(memory, previous)
            if not ok:
                raise self._api.failed("UpdateLayeredWindow")
        finally:
            if bitmap:
                g.DeleteObject(bitmap)
            g.DeleteDC(memory)
            u.ReleaseDC(None, screen)
