"""Run under Wine by ``test_control_wine.py``: Wine's notepad, and what is typed into it, read back.

Starts ``notepad.exe``, prints ``{"t": "ready", "edit": [left, top, right, bottom]}`` (its
text area on screen, desktop pixels), then ``{"t": "text", "text": ...}`` each time the
text changes (read with ``WM_GETTEXT``, not from the screen), until the file named by the
first argument exists; then it closes notepad and ends.  Windows-only (ctypes.WinDLL).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time
from ctypes import wintypes

WM_GETTEXT = 0x000D

if sys.platform != "win32":
    raise SystemExit("this target runs on Windows (under Wine)")

user32 = ctypes.WinDLL("user32", use_last_error=True)
user32.FindWindowW.restype, user32.FindWindowW.argtypes = wintypes.HWND, [wintypes.LPCWSTR, wintypes.LPCWSTR]
user32.FindWindowExW.restype = wintypes.HWND
user32.FindWindowExW.argtypes = [wintypes.HWND, wintypes.HWND, wintypes.LPCWSTR, wintypes.LPCWSTR]
user32.SendMessageW.restype = ctypes.c_ssize_t
user32.SendMessageW.argtypes = [wintypes.HWND, wintypes.UINT, wintypes.WPARAM, ctypes.c_void_p]
user32.GetWindowRect.argtypes = [wintypes.HWND, ctypes.POINTER(wintypes.RECT)]


def say(**message: object) -> None:
    print(json.dumps(message, ensure_ascii=False), flush=True)


def main(stop_file: str) -> int:
    notepad = subprocess.Popen(["notepad.exe"])
    try:
        deadline = time.monotonic() + 60
        window = edit = None
        while not edit:
            if time.monotonic() > deadline:
                say(t="error", message="notepad did not open")
                return 1
            window = user32.FindWindowW("Notepad", None)
            edit = user32.FindWindowExW(window, None, "Edit", None) if window else None
            time.sleep(0.05)
        rect = wintypes.RECT()
        user32.GetWindowRect(edit, ctypes.byref(rect))
        say(t="ready", edit=[rect.left, rect.top, rect.right, rect.bottom])
        buffer = ctypes.create_unicode_buffer(4096)
        last = None
        while not os.path.exists(stop_file):
            user32.SendMessageW(edit, WM_GETTEXT, len(buffer), ctypes.cast(buffer, ctypes.c_void_p))
            if buffer.value != last:
                last = buffer.value
                say(t="text", text=last)
            time.sleep(0.05)
        return 0
    finally:
        notepad.kill()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
