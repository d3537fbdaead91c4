"""Reading a real agent's customer window from outside its process, and the French catalogue as patterns.

:func:`geometry`, :func:`overlap` and :func:`bar_on_screen` find windows and the session bar with
independent X clients (xdotool, xwininfo, ImageMagick's ``import``).

:func:`read_widgets` asks the agent's Tk interpreter through the X server (Tk's ``send``), from a
separate Python process on the same display: what the widgets hold, not what the agent logs.
:func:`french_line_pattern` turns the French catalogue into one regular expression that a line
matches only when it is the rendering of a French entry (sentences nested in sentences included).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from agent.panel import catalogue_en, catalogue_fr
from agent.panel.wording import FRENCH
from tests.e2e.x11tools import run_x, screenshot

#: The Tk interpreter of the agent's window (its class is RemoteSupport; Tk names the app "remoteSupport",
#: "remoteSupport #2"… when several run on a display).
APP_PREFIX = "remoteSupport"

#: The session bar's End session red (agent/panel/bar.py).
BAR_RED = (0xB3, 0x26, 0x1E)

_READER = r"""
import json, sys, tkinter as tk
root = tk.Tk()
root.withdraw()
apps = [a for a in root.tk.splitlist(root.tk.call("winfo", "interps")) if a.startswith(sys.argv[1])]
out = {}
for app in apps:
    values = {}
    for name, command in json.loads(sys.argv[2]).items():
        try:
            values[name] = root.tk.call("send", app, command)
        except tk.TclError as err:
            values[name] = None
    out[app] = values
print(json.dumps(out))
"""


def read_widgets(display: str, commands: dict[str, str], timeout: float = 30.0) -> dict[str, dict[str, str | None]]:
    """Run each Tcl *command* (e.g. ``.session.main.activity.log get 1.0 end-1c``) in every agent window on
    *display*; return {app name: {name: result, or None when that widget is not there}}."""
    done = subprocess.run([sys.executable, "-c", _READER, APP_PREFIX, json.dumps(commands)],
                          env={"DISPLAY": display, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=timeout, check=True)
    result: dict[str, dict[str, str | None]] = json.loads(done.stdout)
    return result


#: Placeholders whose values are sentences of their own, by the ids they may take.
_NESTED = {
    "where": "registry.where.", "value": "registry.value.", "noun": "registry.noun.", "shape": "annotate.shape.",
    "colour": "colour.", "button": "control.button.", "hotkeys": "control.hotkeys", "reason": "error.",
}


def _template_pattern(template: str, messages: dict[str, str], depth: int) -> str:
    out = []
    position = 0
    for match in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[position:match.start()]))
        name = match.group(1)
        if name in _NESTED and depth > 0:
            out.append(_alternatives(messages, _NESTED[name], depth - 1))
        elif name == "actions" and depth > 0:
            part = _alternatives(messages, "control.part.", depth - 1)
            joined = r"(?:{p})(?:, (?:{p}))*(?: et (?:{p}))?" if messages is catalogue_fr.MESSAGES else \
                r"(?:{p})(?:, (?:{p}))*(?: and (?:{p}))?"
            out.append(joined.format(p=part))
        elif name == "action" and depth > 0:
            out.append(_alternatives(messages, "", depth - 1))
        else:
            out.append(r".+?" if name not in ("count", "offset", "number") else r"\d+")
        position = match.end()
    out.append(re.escape(template[position:]))
    return "".join(out)


def _alternatives(messages: dict[str, str], prefix: str, depth: int) -> str:
    keys = [key for key in messages if key.startswith(prefix)]
    return "(?:" + "|".join(_template_pattern(messages[key], messages, depth) for key in keys) + ")"


def catalogue_line_pattern(messages: dict[str, str]) -> re.Pattern[str]:
    """A line that is the rendering of one sentence of *messages* (a catalogue's MESSAGES)."""
    return re.compile(_alternatives(messages, "", 2))


def french_window_patterns() -> re.Pattern[str]:
    """Every line the French window may add to its feed: the French catalogue, and the window's own French
    lines (retention, the end, the customer's own actions, the core's status lines)."""
    own = [FRENCH.retention_line, FRENCH.ended_line, FRENCH.forbidden_added, FRENCH.forbidden_removed,
           FRENCH.journal_saved]
    parts = [catalogue_line_pattern(catalogue_fr.MESSAGES).pattern]
    parts += [_template_pattern(template, {}, 0) for template in own]
    parts += [re.escape(line) for line in FRENCH.core_lines.values()]
    return re.compile("(?:" + "|".join(parts) + ")")


ENGLISH_LINE = catalogue_line_pattern(catalogue_en.MESSAGES)


def geometry(display: str, *search: str) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the first window xdotool finds, frame excluded, from the X server."""
    window = run_x(display, "xdotool", "search", "--sync", *search).split()[0]
    info = run_x(display, "xwininfo", "-id", window)
    value = {key: int(re.search(rf"{key}:\s+(-?\d+)", info).group(1))  # type: ignore[union-attr]
             for key in ("Absolute upper-left X", "Absolute upper-left Y", "Width", "Height")}
    return (value["Absolute upper-left X"], value["Absolute upper-left Y"], value["Width"], value["Height"])


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def bar_on_screen(display: str, shot: Path, bar: tuple[int, int, int, int]) -> bool:
    """The bar's End session red shows inside the bar's rectangle of an independent capture."""
    image = screenshot(display, shot).convert("RGB").crop((bar[0], bar[1], bar[0] + bar[2], bar[1] + bar[3]))
    colours = image.getcolors(image.width * image.height) or []
    red = 0
    for count, colour in colours:
        if isinstance(colour, tuple) and all(abs(int(c) - r) <= 12 for c, r in zip(colour, BAR_RED, strict=True)):
            red += count
    return red > 100
