"""A test program for control: a Tk window that prints every input it receives, one JSON line each.

Run: ``python tests/e2e/control_target.py [WIDTH HEIGHT]`` on an X display; it covers
(0, 0, WIDTH, HEIGHT), takes the keyboard focus and prints ``ready``.  Lines::

    {"t": "key", "char": "é", "keysym": "eacute", "ks": 233, "kc": 93}  key press (key release: "t": "keyup")
    {"t": "down", "b": 1, "x": 120, "y": 80}                        button press at root x, y ("up": release)
    {"t": "double", "b": 1, "x": 120, "y": 80}                      the second press of a double click
    {"t": "motion", "x": 121, "y": 80}                              pointer motion at root x, y
"""

from __future__ import annotations

import json
import sys
import tkinter as tk
from typing import Any


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def main() -> None:
    width, height = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (800, 600)
    root = tk.Tk(className="ControlTarget")
    root.title("control target")
    root.geometry(f"{width}x{height}+0+0")
    root.configure(background="#dfe8f0")
    for sequence in ("<Tab>", "<<PrevWindow>>", "<<NextWindow>>", "<Alt-Key>", "<Key-F10>"):
        root.unbind_all(sequence)  # Tk's own focus and menu keys: this program reports them instead
    root.bind_all("<KeyPress>", lambda e: emit(t="key", char=e.char, keysym=e.keysym, ks=e.keysym_num, kc=e.keycode))
    root.bind_all("<KeyRelease>", lambda e: emit(t="keyup", keysym=e.keysym, ks=e.keysym_num))
    root.bind_all("<ButtonPress>", lambda e: emit(t="down", b=e.num, x=e.x_root, y=e.y_root))
    root.bind_all("<ButtonRelease>", lambda e: emit(t="up", b=e.num, x=e.x_root, y=e.y_root))
    root.bind_all("<Double-ButtonPress-1>", lambda e: emit(t="double", b=1, x=e.x_root, y=e.y_root))
    root.bind_all("<Motion>", lambda e: emit(t="motion", x=e.x_root, y=e.y_root))

    def ready() -> None:
        root.focus_force()
        root.update_idletasks()
        emit(t="ready", x=root.winfo_rootx(), y=root.winfo_rooty(), w=root.winfo_width(), h=root.winfo_height())

    root.after(200, ready)
    root.mainloop()


if __name__ == "__main__":
    main()
