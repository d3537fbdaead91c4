"""A Tk window that draws known pixels on command: for the screen tests and benchmark.

Usage: ``python screen_painter.py --title T --geometry WxH+X+Y [--fill #rrggbb] [--stripes C1,C2]
[--images N]``.  Prints ``ready <window id>`` once shown.  Then reads commands
on stdin, one a line, and answers each with ``drawn <monotonic time>`` (the
time just before it drew):

- ``fill #rrggbb``: fill the window with one colour;
- ``image K``: show pre-rendered image K (``--images N``: noisy gradients,
  different each, like photos; ``--markers C1,C2``: a 64×64 block of colour
  Ck at (64, 64) in image k);
- ``marker #rrggbb``: fill a 32×32 square at the window's top-left corner;
- ``quit``.
"""

from __future__ import annotations

import argparse
import sys
import time
import tkinter as tk

import numpy as np


def photo_pixels(width: int, height: int, seed: int, marker: str = "") -> np.ndarray:
    """A photo-like picture, ``(height, width, 3)`` RGB: smooth gradients plus noise (JPEG's home
    ground, PNG's worst case).

    *marker* (``#rrggbb``) paints a 64×64 block at (64, 64), for telling the pictures apart.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * (seed + 1) * 0.13) % 256, (y * 0.21 + seed * 40) % 256, ((x + y) * 0.07) % 256], axis=2)
    pixels = np.clip(base + rng.normal(0, 18, base.shape), 0, 255).astype(np.uint8)
    if marker:
        pixels[64:128, 64:128] = [int(marker[i : i + 2], 16) for i in (1, 3, 5)]
    return pixels


def photo(width: int, height: int, seed: int, marker: str = "") -> tk.PhotoImage:
    """:func:`photo_pixels` as a Tk image."""
    pixels = photo_pixels(width, height, seed, marker)
    header = f"P6 {width} {height} 255 ".encode()
    return tk.PhotoImage(data=header + pixels.tobytes(), format="PPM")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--title", default="painter")
    parser.add_argument("--geometry", default="200x200+0+0")
    parser.add_argument("--fill", default="#ffffff")
    parser.add_argument("--stripes", default="")
    parser.add_argument("--images", type=int, default=0)
    parser.add_argument("--markers", default="", help="one colour per image, for its 64x64 block")
    args = parser.parse_args()
    size = args.geometry.partition("+")[0]
    width, height = (int(v) for v in size.split("x"))
    root = tk.Tk()
    root.title(args.title)
    root.geometry(args.geometry)
    root.overrideredirect(False)
    canvas = tk.Canvas(root, width=width, height=height, highlightthickness=0, borderwidth=0, background=args.fill)
    canvas.pack()
    if args.stripes:
        colours = args.stripes.split(",")
        for i, x in enumerate(range(0, width, 8)):
            canvas.create_rectangle(x, 0, x + 8, height, fill=colours[i % len(colours)], width=0)
    markers = args.markers.split(",") if args.markers else []
    images = [photo(width, height, seed, markers[seed] if seed < len(markers) else "") for seed in range(args.images)]
    shown = canvas.create_image(0, 0, anchor="nw", image=images[0]) if images else None
    marker = canvas.create_rectangle(0, 0, 32, 32, fill=args.fill, width=0, state="hidden")
    root.update()
    print("ready", root.winfo_id(), flush=True)

    def on_command(*_unused: object) -> None:
        line = sys.stdin.readline()
        if not line or line.strip() == "quit":
            root.destroy()
            return
        verb, _, value = line.strip().partition(" ")
        started = time.monotonic()
        if verb == "fill":
            canvas.configure(background=value)
            for item in canvas.find_all():
                if item != marker:
                    canvas.delete(item)
        elif verb == "image" and shown is not None:
            canvas.itemconfigure(shown, image=images[int(value) % len(images)])
        elif verb == "marker":
            canvas.itemconfigure(marker, fill=value, state="normal")
            canvas.tag_raise(marker)
        root.update()
        print("drawn", started, flush=True)

    root.tk.createfilehandler(sys.stdin, tk.READABLE, on_command)
    root.mainloop()


if __name__ == "__main__":
    main()
