"""Looking at and clicking on a real X screen, as a person would: screenshots, OCR, xdotool."""

from __future__ import annotations

import csv
import io
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests import requires

SCALE = 2  # small text reads better enlarged


def need(tool: str, package: str) -> str:
    """The path of *tool*; the test fails (never skips) when it is missing: scripts/setup installs it."""
    return requires.tool(tool, package)


def run_x(display: str, *command: str, timeout: float = 20.0) -> str:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, check=True,
                            env={"DISPLAY": display, "PATH": "/usr/bin:/bin:/usr/local/bin"})
    return result.stdout


def screenshot(display: str, path: Path) -> Image.Image:
    """The whole X screen, captured by ImageMagick (independently of our own capture code)."""
    need("import", "imagemagick")
    run_x(display, "import", "-window", "root", str(path))
    with Image.open(path) as shot:
        return shot.convert("RGB")


def words_on_screen(display: str, path: Path) -> list[tuple[str, int, int, int, int]]:
    """OCR the screen; each word with its box (left, top, width, height) in screen pixels.

    The screen is read twice, as is and inverted, so light text on a dark
    button is read as well as dark text on a light page.
    """
    tesseract = need("tesseract", "tesseract-ocr")
    shot = screenshot(display, path).convert("L")
    enlarged = shot.resize((shot.width * SCALE, shot.height * SCALE), Image.Resampling.LANCZOS)
    words = []
    for variant, image in (("plain", enlarged), ("inverted", ImageOps.invert(enlarged))):
        ocr_input = path.with_suffix(f".{variant}.png")
        image.save(ocr_input)
        tsv = subprocess.run([tesseract, str(ocr_input), "-", "--psm", "11", "tsv"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
        for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
            text = (row.get("text") or "").strip()
            if text:
                box = [int(row[k]) // SCALE for k in ("left", "top", "width", "height")]
                words.append((text, box[0], box[1], box[2], box[3]))
    return words


def wait_for_words(display: str, path: Path, phrase: str, timeout: float = 30.0, *,
                   exact: bool = False) -> list[tuple[str, int, int, int, int]]:
    """Poll the screen (bounded) until OCR reads *phrase*; return its words (the last place it shows).

    With *exact*, each word must be read exactly (a button's label, not the
    same word inside a sentence that ends with a full stop).
    """
    deadline = time.monotonic() + timeout
    wanted = phrase.lower().split()
    while True:
        words = words_on_screen(display, path)
        texts = [w[0].lower() for w in words]
        found = [i for i in range(len(texts) - len(wanted) + 1)
                 if all((wanted[j] == texts[i + j]) if exact else (wanted[j] in texts[i + j])
                        for j in range(len(wanted)))]
        if found:
            return words[found[-1]:found[-1] + len(wanted)]
        if time.monotonic() > deadline:
            pytest.fail(f"{phrase!r} never showed on screen; OCR read: {' '.join(texts)!r}")


def click_words(display: str, path: Path, phrase: str) -> None:
    """Find the label *phrase* on screen by OCR (exact words) and click its middle with xdotool."""
    need("xdotool", "xdotool")
    words = wait_for_words(display, path, phrase, exact=True)
    left = min(w[1] for w in words)
    right = max(w[1] + w[3] for w in words)
    middle_y = sum(w[2] + w[4] // 2 for w in words) // len(words)
    run_x(display, "xdotool", "mousemove", "--sync", str((left + right) // 2), str(middle_y), "click", "1")


def click_colour(display: str, path: Path, rgb: tuple[int, int, int], tolerance: int = 12) -> None:
    """Click the middle of the area painted in *rgb* (a button OCR cannot read, e.g. white on red)."""
    need("xdotool", "xdotool")
    shot = screenshot(display, path)
    pixels = shot.load()
    assert pixels is not None
    found = [(x, y) for y in range(0, shot.height, 2) for x in range(0, shot.width, 2)
             if all(abs(int(c) - t) <= tolerance for c, t in zip(pixels[x, y], rgb, strict=True))]
    assert found, f"no area painted in {rgb} on screen"
    xs, ys = [p[0] for p in found], [p[1] for p in found]
    run_x(display, "xdotool", "mousemove", "--sync", str((min(xs) + max(xs)) // 2), str((min(ys) + max(ys)) // 2),
          "click", "1")
