"""The Win32 input API the Windows control backend calls, through ctypes: constants, structures, functions.

The constants and structures are plain data (they load on every system, so the pure
decision functions of :mod:`agent.control._windows_inject` and
:mod:`agent.control._windows_watch` run in Linux unit tests); the functions of
``user32.dll`` and ``kernel32.dll`` are bound only by :func:`load`, on Windows.
Every function gets its ``argtypes`` and ``restype``: on 64-bit Windows a handle or an
``LPARAM`` passed without them would be cut to 32 bits.

Values are those of the Windows SDK headers (``WinUser.h``), as documented on
learn.microsoft.com (SendInput, INPUT, MOUSEINPUT, KEYBDINPUT, MSLLHOOKSTRUCT,
KBDLLHOOKSTRUCT, LowLevelMouseProc, LowLevelKeyboardProc, OpenInputDesktop,
GetUserObjectInformationW).

Availability: :func:`load` raises :class:`OSError` off Windows.
"""

from __future__ import annotations

import ctypes
import sys
from ctypes import wintypes
from dataclasses import dataclass
from typing import Any

# --- SendInput ----------------------------------------------------------------------------------
INPUT_MOUSE, INPUT_KEYBOARD = 0, 1

MOUSEEVENTF_MOVE = 0x0001
MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP = 0x0002, 0x0004
MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP = 0x0008, 0x0010
MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP = 0x0020, 0x0040
MOUSEEVENTF_WHEEL = 0x0800
MOUSEEVENTF_HWHEEL = 0x1000
MOUSEEVENTF_MOVE_NOCOALESCE = 0x2000
MOUSEEVENTF_VIRTUALDESK = 0x4000
MOUSEEVENTF_ABSOLUTE = 0x8000
WHEEL_DELTA = 120

KEYEVENTF_EXTENDEDKEY = 0x0001
KEYEVENTF_KEYUP = 0x0002
KEYEVENTF_UNICODE = 0x0004

SM_XVIRTUALSCREEN, SM_YVIRTUALSCREEN, SM_CXVIRTUALSCREEN, SM_CYVIRTUALSCREEN = 76, 77, 78, 79
MAPVK_VK_TO_VSC = 0

# --- low-level hooks ----------------------------------------------------------------------------
WH_KEYBOARD_LL, WH_MOUSE_LL = 13, 14
HC_ACTION = 0
#: MSLLHOOKSTRUCT.flags
LLMHF_INJECTED, LLMHF_LOWER_IL_INJECTED = 0x01, 0x02
#: KBDLLHOOKSTRUCT.flags
LLKHF_EXTENDED, LLKHF_LOWER_IL_INJECTED, LLKHF_INJECTED, LLKHF_ALTDOWN, LLKHF_UP = 0x01, 0x02, 0x10, 0x20, 0x80

WM_KEYDOWN, WM_KEYUP, WM_SYSKEYDOWN, WM_SYSKEYUP = 0x0100, 0x0101, 0x0104, 0x0105
WM_MOUSEMOVE = 0x0200
WM_LBUTTONDOWN, WM_LBUTTONUP = 0x0201, 0x0202
WM_RBUTTONDOWN, WM_RBUTTONUP = 0x0204, 0x0205
WM_MBUTTONDOWN, WM_MBUTTONUP = 0x0207, 0x0208
WM_MOUSEWHEEL = 0x020A
WM_XBUTTONDOWN, WM_XBUTTONUP = 0x020B, 0x020C
WM_MOUSEHWHEEL = 0x020E
WM_QUIT = 0x0012
WM_APP = 0x8000
PM_NOREMOVE = 0

# --- desktops -----------------------------------------------------------------------------------
UOI_NAME = 2
DESKTOP_READOBJECTS = 0x0001
ERROR_ACCESS_DENIED = 5

ULONG_PTR = ctypes.c_size_t
LRESULT = ctypes.c_ssize_t


class MOUSEINPUT(ctypes.Structure):
    _fields_ = [("dx", wintypes.LONG), ("dy", wintypes.LONG), ("mouseData", wintypes.DWORD),
                ("dwFlags", wintypes.DWORD), ("time", wintypes.DWORD), ("dwExtraInfo", ULONG_PTR)]


class KEYBDINPUT(ctypes.Structure):
    _fields_ = [("wVk", wintypes.WORD), ("wScan", wintypes.WORD), ("dwFlags", wintypes.DWORD),
                ("time", wintypes.DWORD), ("dwExtraInfo", ULONG_PTR)]


class HARDWAREINPUT(ctypes.Structure):
    _fields_ = [("uMsg", wintypes.DWORD), ("wParamL", wintypes.WORD), ("wParamH", wintypes.WORD)]


class _INPUTUNION(ctypes.Union):
    _fields_ = [("mi", MOUSEINPUT), ("ki", KEYBDINPUT), ("hi", HARDWAREINPUT)]


class INPUT(ctypes.Structure):
    _anonymous_ = ("u",)
    _fields_ = [("type", wintypes.DWORD), ("u", _INPUTUNION)]


class MSLLHOOKSTRUCT(ctypes.Structure):
    _fields_ = [("pt", wintypes.POINT), ("mouseData", wintypes.DWORD), ("flags", wintypes.DWORD),
                ("time", wintypes.DWORD), ("dwExtraInfo", ULONG_PTR)]


class KBDLLHOOKSTRUCT(ctypes.Structure):
    _fields_ = [("vkCode", wintypes.DWORD), ("scanCode", wintypes.DWORD), ("flags", wintypes.DWORD),
                ("time", wintypes.DWORD), ("dwExtraInfo", ULONG_PTR)]


#: Bits of dwExtraInfo (a ULONG_PTR: 64 bits on 64-bit Windows).
EXTRA_INFO_BITS = ctypes.sizeof(ULONG_PTR) * 8


@dataclass(frozen=True)
class Win32:
    """The bound functions: ``user32``, ``kernel32`` and the hook procedure's type."""

    user32: Any
    kernel32: Any
    HOOKPROC: Any


def last_error() -> int:
    """The calling thread's last Win32 error (as saved by ctypes); 0 off Windows."""
    if sys.platform == "win32":
        return int(ctypes.get_last_error())
    return 0


def load() -> Win32:
    """``user32.dll`` and ``kernel32.dll`` with typed functions.  Raises :class:`OSError` off Windows."""
    if sys.platform != "win32":
        raise OSError(f"the Win32 input API exists only on Windows, not on {sys.platform}")
    try:
        user32 = ctypes.WinDLL("user32", use_last_error=True)
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        hookproc = ctypes.WINFUNCTYPE(LRESULT, ctypes.c_int, wintypes.WPARAM, wintypes.LPARAM)
    except AttributeError as err:  # a ctypes without Windows' calling conventions (an imitated Windows)
        raise OSError(f"this Python cannot call the Win32 API: {err}") from err
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "SendInput": (wintypes.UINT, [wintypes.UINT, ctypes.POINTER(INPUT), ctypes.c_int]),
        "GetSystemMetrics": (ctypes.c_int, [ctypes.c_int]),
        "MapVirtualKeyW": (wintypes.UINT, [wintypes.UINT, wintypes.UINT]),
        "VkKeyScanW": (ctypes.c_short, [wintypes.WCHAR]),
        "OpenInputDesktop": (wintypes.HANDLE, [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]),
        "CloseDesktop": (wintypes.BOOL, [wintypes.HANDLE]),
        "GetUserObjectInformationW": (wintypes.BOOL, [wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p,
                                                      wintypes.DWORD, ctypes.POINTER(wintypes.DWORD)]),
        "SetWindowsHookExW": (wintypes.HANDLE, [ctypes.c_int, hookproc, wintypes.HINSTANCE, wintypes.DWORD]),
        "UnhookWindowsHookEx": (wintypes.BOOL, [wintypes.HANDLE]),
        "CallNextHookEx": (LRESULT, [wintypes.HANDLE, ctypes.c_int, wintypes.WPARAM, wintypes.LPARAM]),
        "GetMessageW": (wintypes.BOOL, [ctypes.POINTER(wintypes.MSG), wintypes.HWND, wintypes.UINT, wintypes.UINT]),
        "PeekMessageW": (wintypes.BOOL, [ctypes.POINTER(wintypes.MSG), wintypes.HWND, wintypes.UINT,
                                         wintypes.UINT, wintypes.UINT]),
        "PostThreadMessageW": (wintypes.BOOL, [wintypes.DWORD, wintypes.UINT, wintypes.WPARAM, wintypes.LPARAM]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(user32, name)
        function.restype, function.argtypes = restype, argtypes
    kernel32.GetCurrentThreadId.restype, kernel32.GetCurrentThreadId.argtypes = wintypes.DWORD, []
    kernel32.GetModuleHandleW.restype, kernel32.GetModuleHandleW.argtypes = wintypes.HMODULE, [wintypes.LPCWSTR]
    return Win32(user32, kernel32, hookproc)
