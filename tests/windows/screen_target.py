"""Windows-side helper for tests/windows/test_screen_wine.py, run by the download's python.exe under Wine.

A full-screen green window titled "under the marks" (it prints each click it receives) and,
above it, a blue window titled by argv[1] at argv[2..3].  It prints READY with each window's
outer rectangle (GetWindowRect), and, whenever the file argv[4] appears holding "X Y", moves
the blue window there with SetWindowPos, deletes the file and prints MOVED with the new rectangle.
"""

import ctypes
import os
import sys
import tkinter as tk
from ctypes import wintypes

title, x, y, command = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
user32 = ctypes.WinDLL("user32")
user32.GetParent.restype = wintypes.HWND
user32.GetParent.argtypes = [wintypes.HWND]
user32.GetWindowRect.argtypes = [wintypes.HWND, ctypes.POINTER(wintypes.RECT)]
user32.SetWindowPos.argtypes = [wintypes.HWND, wintypes.HWND] + [ctypes.c_int] * 4 + [wintypes.UINT]
SWP_NOSIZE, SWP_NOZORDER, SWP_NOACTIVATE = 0x1, 0x4, 0x10

root = tk.Tk()
root.title("under the marks")
root.geometry(f"{root.winfo_screenwidth()}x{root.winfo_screenheight()}+0+0")
root.configure(background="#2e7d32", highlightthickness=0)
root.bind("<ButtonPress>", lambda e: print("CLICK", e.x_root, e.y_root, e.num, flush=True))
secret = tk.Toplevel(root)
secret.title(title)
secret.geometry(f"320x200+{x}+{y}")
secret.configure(background="#1565c0")


def frame_of(window: tk.Misc) -> str:
    hwnd = user32.GetParent(window.winfo_id())  # Tk's wrapper: the top-level with the title
    box = wintypes.RECT()
    user32.GetWindowRect(hwnd, ctypes.byref(box))
    return f"{box.left} {box.top} {box.right - box.left} {box.bottom - box.top}"


def ready() -> None:
    root.update_idletasks()
    secret.lift()
    print("READY", frame_of(secret), flush=True)
    root.after(100, watch)


def watch() -> None:
    if os.path.exists(command):
        with open(command) as file:
            new_x, new_y = (int(v) for v in file.read().split())
        os.remove(command)
        hwnd = user32.GetParent(secret.winfo_id())
        user32.SetWindowPos(hwnd, None, new_x, new_y, 0, 0, SWP_NOSIZE | SWP_NOZORDER | SWP_NOACTIVATE)
        root.update_idletasks()
        print("MOVED", frame_of(secret), flush=True)
    root.after(100, watch)


root.after(300, ready)
root.mainloop()
