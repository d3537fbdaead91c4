"""A recorder for the real annotation and control test: a Tk window that logs every input it receives.

Run on an X display (no window manager needed)::

    python input_recorder.py WIDTH HEIGHT

It covers (0, 0, WIDTH, HEIGHT) in one flat colour (:data:`BACKGROUND`, far from every mark
colour, so a screenshot shows marks as the only pixels of their colour), takes the keyboard
focus, and prints one JSON line per input, in the order the X server delivered them::

    {"t": "ready", "x": 0, "y": 0, "w": 1280, "h": 800}
    {"t": "key", "char": "é", "keysym": "eacute"}        key press, with the character it typed
    {"t": "keyup", "keysym": "eacute"}
    {"t": "down", "b": 1, "x": 412, "y": 230}            button press at root x, y ("up": release)
    {"t": "motion", "x": 413, "y": 230}                  pointer motion at root x, y
    {"t": "focus", "in": true}                           the window gained (false: lost) the focus

Imported, it only provides the constants the test needs.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final

#: A pale grey-blue: none of the mark colours (red, green, blue, yellow) is near it.
BACKGROUND: Final = "#d5dde6"
TITLE: Final = "Input recorder"


def emit(**fields: Any) -> None:
    # ASCII-only JSON: the line survives any locale on the way to the test.
    sys.stdout.write(json.dumps(fields, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    import tkinter as tk

    width, height = (int(argv[1]), int(argv[2])) if len(argv) > 2 else (1280, 800)
    root = tk.Tk()
    root.title(TITLE)
    root.geometry(f"{width}x{height}+0+0")
    root.configure(background=BACKGROUND, highlightthickness=0, borderwidth=0)
    # Tk's own traversal and menu keys would act instead of being reported.
    for sequence in ("<Tab>", "<<PrevWindow>>", "<<NextWindow>>", "<Alt-Key>", "<Key-F10>"):
        root.unbind_all(sequence)
    root.bind_all("<KeyPress>", lambda e: emit(t="key", char=e.char, keysym=e.keysym))
    root.bind_all("<KeyRelease>", lambda e: emit(t="keyup", keysym=e.keysym))
    root.bind_all("<ButtonPress>", lambda e: emit(t="down", b=e.num, x=e.x_root, y=e.y_root))
    root.bind_all("<ButtonRelease>", lambda e: emit(t="up", b=e.num, x=e.x_root, y=e.y_root))
    root.bind_all("<Motion>", lambda e: emit(t="motion", x=e.x_root, y=e.y_root))
    root.bind("<FocusIn>", lambda e: emit(t="focus", **{"in": True}) if e.widget is root else None)
    root.bind("<FocusOut>", lambda e: emit(t="focus", **{"in": False}) if e.widget is root else None)

    def ready() -> None:
        root.focus_force()
        root.update_idletasks()
        root.tk.call("update")  # drawn and flushed: the screen shows the window when "ready" is read
        emit(t="ready", x=root.winfo_rootx(), y=root.winfo_rooty(), w=root.winfo_width(), h=root.winfo_height())

    root.after(100, ready)
    root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
