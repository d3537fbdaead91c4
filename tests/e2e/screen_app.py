"""A small Tk program for the real end-to-end screen test: known pixels that change on demand.

Run on an X display (no window manager needed)::

    python screen_app.py

It shows two windows:

- ``Public pattern`` (:data:`PUBLIC_GEOMETRY`): a grid of flat blocks in the colours of
  :data:`PUBLIC_COLOURS`, arranged by a *phase* (every block changes colour when the phase
  changes), above a *ticker* strip (:data:`TICKER`, window coordinates) that changes by itself
  ten times a second, so the screen always has something new to stream.
- ``Secret notes`` (:data:`SECRET_GEOMETRY`): stripes and a checkerboard in the colours of
  :data:`SECRET_COLOURS`, which appear nowhere else on the screen: the customer hides this
  window, and none of these colours may reach the technician.

It prints ``ready`` once both windows are drawn, then reads commands on stdin, one a line:

- ``phase N``: redraw the blocks for phase N; answers ``phase N`` once drawn (after a round trip
  to the X server, so the pixels are on screen when the answer is read);
- ``quit``.

Imported, it only provides the constants the test needs.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import Final

TITLE_PUBLIC: Final = "Public pattern"
TITLE_SECRET: Final = "Secret notes"
#: (width, height, x, y) on the screen.
PUBLIC_GEOMETRY: Final = (600, 400, 40, 60)
SECRET_GEOMETRY: Final = (360, 260, 760, 120)
#: Blocks: COLUMNS × ROWS of BLOCK_W × BLOCK_H at the window's top-left.
BLOCK_W: Final = 100
BLOCK_H: Final = 80
COLUMNS: Final = 6
ROWS: Final = 4
#: The strip that changes by itself, in window coordinates (x, y, w, h).
TICKER: Final = (0, 330, 600, 70)
#: Dark blue, yellow, white, brown, sky blue: far from every secret colour (and from each
#: other's blends, which is what lossy coding makes at block edges).
PUBLIC_COLOURS: Final = ("#1e3c8c", "#f0dc28", "#ffffff", "#8c5a1e", "#28b4dc")
#: Saturated green, raspberry and violet: the secret window's only colours.
SECRET_COLOURS: Final = ("#13e75b", "#e7135b", "#5b13e7")


def rgb(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` as an (r, g, b) tuple."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def block_colour(row: int, column: int, phase: int) -> str:
    """The colour of block (*row*, *column*) at *phase*; each phase step changes every block."""
    return PUBLIC_COLOURS[(row + column + phase) % len(PUBLIC_COLOURS)]


def main() -> int:
    import tkinter as tk

    root = tk.Tk()
    root.title(TITLE_PUBLIC)
    width, height, x, y = PUBLIC_GEOMETRY
    root.geometry(f"{width}x{height}+{x}+{y}")
    root.resizable(False, False)
    public = tk.Canvas(root, width=width, height=height, bg="#000000", highlightthickness=0, bd=0)
    public.pack()

    blocks = {(r, c): public.create_rectangle(c * BLOCK_W, r * BLOCK_H, (c + 1) * BLOCK_W, (r + 1) * BLOCK_H,
                                              width=0, fill=block_colour(r, c, 0))
              for r in range(ROWS) for c in range(COLUMNS)}

    def set_phase(phase: int) -> None:
        for (r, c), item in blocks.items():
            public.itemconfigure(item, fill=block_colour(r, c, phase))

    tx, ty, tw, th = TICKER
    public.create_rectangle(tx, ty, tx + tw, ty + th, width=0, fill="#202020")
    bar = public.create_rectangle(tx, ty + 10, tx + 40, ty + th - 10, width=0, fill="#c0c0c0")
    counter = public.create_text(tx + tw - 60, ty + th // 2, text="0", fill="#e0e0e0", font=("Helvetica", 20))
    ticks = [0]

    def tick() -> None:
        ticks[0] += 1
        left = tx + (ticks[0] * 23) % (tw - 160)
        public.coords(bar, left, ty + 10, left + 40, ty + th - 10)
        public.itemconfigure(counter, text=str(ticks[0]))
        root.after(100, tick)

    secret_window = tk.Toplevel(root)
    secret_window.title(TITLE_SECRET)
    s_width, s_height, s_x, s_y = SECRET_GEOMETRY
    secret_window.geometry(f"{s_width}x{s_height}+{s_x}+{s_y}")
    secret = tk.Canvas(secret_window, width=s_width, height=s_height, bg=SECRET_COLOURS[0], highlightthickness=0,
                       bd=0)
    secret.pack()
    for i in range(0, s_width, 40):  # vertical stripes, then a checkerboard in the lower half
        secret.create_rectangle(i, 0, i + 20, s_height // 2, width=0, fill=SECRET_COLOURS[1])
    for row, top in enumerate(range(s_height // 2, s_height, 30)):
        for column, left in enumerate(range(0, s_width, 30)):
            secret.create_rectangle(left, top, left + 30, top + 30, width=0,
                                    fill=SECRET_COLOURS[1 + (row + column) % 2])
    secret.create_text(s_width // 2, s_height // 4, text="PIN 4711", fill=SECRET_COLOURS[2], font=("Helvetica", 28))

    commands: queue.Queue[str] = queue.Queue()

    def read_stdin() -> None:  # Tk is touched only by the main thread; this one only reads
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("quit")

    def serve() -> None:
        while True:
            try:
                command = commands.get_nowait()
            except queue.Empty:
                break
            words = command.split()
            if words[:1] == ["phase"] and len(words) == 2:
                set_phase(int(words[1]))
                root.update_idletasks()
                root.tk.call("update")  # drawn and flushed to the X server
                print(f"phase {words[1]}", flush=True)
            elif words[:1] == ["quit"]:
                root.destroy()
                return
            else:
                print(f"unknown command {command!r}", flush=True)
        root.after(20, serve)

    root.update()
    secret_window.update()
    print("ready", flush=True)
    threading.Thread(target=read_stdin, daemon=True).start()
    root.after(20, serve)
    root.after(100, tick)
    root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
