"""The session bar: once a technician is connected, the customer window shrinks to a thin bar.

The bar (Tk toplevel ``.bar``) says who is connected, whether the session is recorded and
whether the technician may use the mouse and keyboard, shows the latest action, and has
two buttons: End session, and Open window / Hide window for the full window.  It sits at
the top centre of the screen, :data:`BAR_WIDTH` × :data:`BAR_HEIGHT` pixels, out of the
centre where the customer's applications and the technician's work are.

Staying visible: on X11 the bar is an override-redirect window (no window manager frame,
never moved or covered by the manager's placement, also with no window manager at all) and
is raised again when another window covers it (its Visibility events);
on Windows and macOS it is a frameless ``-topmost`` window.  The bar is the agent's own
window like the full one: it is in the screen stream as any window is (the technician sees
what the customer sees), unless the customer hides it.

Everything here runs on the UI thread; :class:`agent.panel.window.TkPanel` decides when.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import font as tkfont
from tkinter import ttk

from agent.panel.model import PanelState
from agent.panel.wording import Wording

BAR_WIDTH = 420
BAR_HEIGHT = 58
#: from the top edge of the screen (pixels)
BAR_MARGIN = 0
#: points: three lines must fit in BAR_HEIGHT
BAR_FONT_SIZE = 10
BAR_COLOUR = "#f3f3f3"
BAR_BORDER = "#8c8c8c"

BAR_WIDGET = ".bar"
BAR_WHO_WIDGET = ".bar.frame.who"
BAR_STATE_WIDGET = ".bar.frame.state"
BAR_LATEST_WIDGET = ".bar.frame.latest"
BAR_END_WIDGET = ".bar.frame.buttons.end"
BAR_OPEN_WIDGET = ".bar.frame.buttons.open"


#: How long the bar waits before raising itself over a window that covered it (milliseconds).
RAISE_DELAY_MS = 1000

def bar_geometry(screen_width: int, screen_height: int) -> tuple[int, int, int, int]:
    """Where the bar goes on a screen of this size: (x, y, width, height), top centre."""
    width = min(BAR_WIDTH, screen_width)
    return (max(0, (screen_width - width) // 2), BAR_MARGIN, width, min(BAR_HEIGHT, screen_height))


def fit(text: str, font: tkfont.Font, width: int) -> str:
    """*text* cut with an ellipsis so that it takes at most *width* pixels in *font*."""
    if font.measure(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if font.measure(text[:middle] + "…") <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


class SessionBar:
    """The bar's widgets; :meth:`draw` updates them from the panel's state."""

    def __init__(self, root: tk.Tk, words: Wording, *, end: Callable[[], None],
                 toggle_window: Callable[[], None]) -> None:
        self.words = words
        self.window = tk.Toplevel(root, name="bar", background=BAR_BORDER)
        self.window.withdraw()
        self.window.title(words.bar_title)
        family = tkfont.nametofont("TkDefaultFont", root=root).actual("family")
        self.small = tkfont.Font(root=root, family=family, size=BAR_FONT_SIZE)
        self.small_bold = tkfont.Font(root=root, family=family, size=BAR_FONT_SIZE, weight="bold")
        style = ttk.Style(root)
        style.configure("Bar.TFrame", background=BAR_COLOUR)
        style.configure("Bar.TLabel", background=BAR_COLOUR, font=self.small)
        style.configure("BarState.TLabel", background=BAR_COLOUR, font=self.small_bold)
        style.configure("Bar.TButton", font=self.small, padding=(6, 1))
        style.configure("BarEnd.TButton", font=self.small_bold, padding=(6, 1), foreground="white",
                        background="#b3261e")
        style.map("BarEnd.TButton", background=[("disabled", "#c9c9c9"), ("active", "#8c1d18")],
                  foreground=[("disabled", "#6d6d6d")])
        frame = ttk.Frame(self.window, name="frame", style="Bar.TFrame", padding=(8, 2))
        frame.pack(fill="both", expand=True, padx=1, pady=1)
        frame.columnconfigure(0, weight=1)
        self.who = ttk.Label(frame, name="who", style="BarState.TLabel")
        self.who.grid(row=0, column=0, sticky="w")
        self.state = ttk.Label(frame, name="state", style="Bar.TLabel")
        self.state.grid(row=1, column=0, sticky="w")
        self.latest = ttk.Label(frame, name="latest", style="Bar.TLabel")
        self.latest.grid(row=2, column=0, sticky="w")
        buttons = ttk.Frame(frame, name="buttons", style="Bar.TFrame")
        self.end = ttk.Button(buttons, name="end", text=words.bar_end, style="BarEnd.TButton", command=end)
        self.end.grid(row=0, column=0, sticky="ew")
        self.open = ttk.Button(buttons, name="open", text=words.bar_open, style="Bar.TButton", command=toggle_window)
        self.open.grid(row=1, column=0, sticky="ew", pady=(2, 0))
        buttons.grid(row=0, column=1, rowspan=3, sticky="e", padx=(8, 0))
        # the bar's width less its border, paddings and the buttons' column (label, padding, gap)
        self.text_width = BAR_WIDTH - 26 - max(self.small_bold.measure(words.bar_end),
                                               self.small.measure(words.bar_open),
                                               self.small.measure(words.bar_hide)) - 20
        self.window.overrideredirect(True)  # no frame; on X11 not placed or covered by the window manager
        self.window.attributes("-topmost", True)  # Windows and macOS keep it above; X11 relies on keep_on_top
        self.window.bind("<Visibility>", self.keep_on_top)
        self._raise_pending = False
        self.shown = False

    def show(self) -> None:
        """Put the bar at the top centre of the screen and show it."""
        x, y, width, height = bar_geometry(self.window.winfo_screenwidth(), self.window.winfo_screenheight())
        self.window.geometry(f"{width}x{height}+{x}+{y}")
        self.window.deiconify()
        self.window.lift()
        self.shown = True

    def hide(self) -> None:
        self.window.withdraw()
        self.shown = False

    def keep_on_top(self, event: object = None) -> None:
        """Raise the bar when another window covers it (X11 has no "always on top" for override-redirect).

        Called on the bar's Visibility events, not on a timer: no restacking while nothing covers it.
        The raise waits a second, once: two bars on one screen (agents side by side, as in the demo)
        take turns every second instead of raising each other without end."""
        state = str(getattr(event, "state", ""))
        if self.shown and state in ("VisibilityPartiallyObscured", "VisibilityFullyObscured") \
                and not self._raise_pending:
            self._raise_pending = True
            self.window.after(RAISE_DELAY_MS, self._raise)

    def _raise(self) -> None:
        self._raise_pending = False
        if self.shown:
            self.window.lift()

    def draw(self, state: PanelState, *, control: bool, full_window: bool, ending: bool, latest: str | None) -> None:
        """The bar's words from *state*: who, recorded or not, control on or off, the latest action."""
        words = self.words
        self.who.configure(text=fit(words.bar_connected.format(technician=state.technician or ""), self.small_bold,
                                    self.text_width))
        parts = [words.bar_recorded if state.recorded else words.bar_not_recorded,
                 words.bar_control_on if control else words.bar_control_off]
        self.state.configure(text=fit(" · ".join(parts), self.small, self.text_width))
        self.latest.configure(text=fit(latest or words.activity_empty, self.small, self.text_width))
        self.open.configure(text=words.bar_hide if full_window else words.bar_open)
        self.end.state(["disabled"] if ending or state.ended is not None else ["!disabled"])

    def destroy(self) -> None:
        self.window.destroy()
        self.shown = False
