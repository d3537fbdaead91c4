"""The technician's live view of the customer's screen (MISSION T1, C4), as an anywidget.

The kernel does not carry frames.  It hands the browser the relay's URL, the session id and
a short-lived viewing token; the widget's JavaScript (``static/screen.js``) opens its own
websocket to the relay as a ``viewer`` (see ``docs/screen-protocol.md``), draws frames on a
canvas, acknowledges them, and keeps streaming while notebook cells run — browser→kernel
messages wait while a cell runs, a direct websocket does not.

Python sets what to show (:attr:`ScreenWidget.monitor`, :attr:`~ScreenWidget.zoom`,
:attr:`~ScreenWidget.max_fps`); the browser reports how it goes (:attr:`~ScreenWidget.status`,
:attr:`~ScreenWidget.connected`, :attr:`~ScreenWidget.fps`, …).  Those reports reach the
kernel only between cells: a change of state at once, the stream's figures (fps, kbps, latency)
about every five seconds (each report makes the kernel busy for a moment, which JupyterLab
redraws its kernel status for).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

__all__ = ["ScreenWidget"]

_STATIC = pathlib.Path(__file__).parent / "static"

#: The monitor value meaning "every monitor, side by side" (the whole virtual screen).
ALL_MONITORS = "all"

#: The zoom modes by name; a number is a share of 1:1 instead (0.75 is 75 %).
ZOOM_MODES = ("fit", "readable", "width", "1:1")
#: The shares of 1:1 a numeric zoom may take.
ZOOM_RANGE = (0.1, 4.0)


class ScreenWidget(anywidget.AnyWidget):
    """A live view of the customer's screen, fitted to the window.

    ``ScreenWidget(relay_url, session_id, token)`` shows the screen of session *session_id*
    as streamed by the relay at *relay_url* (``ws://`` or ``wss://``), admitted with the
    viewing *token*.  Display it (last expression of a cell, or ``display(w)``) as many times
    as you like: each visible view streams on its own connection; a view that is scrolled
    out of sight, hidden, closed or reloaded stops streaming.

    The view's bar picks the zoom (also :attr:`zoom`), shows the view full screen (the
    browser's Fullscreen API), and pops it out into a JupyterLab panel of its own (JupyterLab's
    "Create New View for Cell Output", run for you where the page exposes ``window.jupyterapp``,
    i.e. ``jupyter lab --LabApp.expose_app_in_browser=True`` as the demo starts it).  A still
    screen reads "Live · idle, screen unchanged since …"; once the session ends, the picture
    stays and marks and control are disabled.

    *token_provider*, when given, is called (in the kernel) to get a new token when the relay
    refuses the current one, e.g. after a page reload outlived a short-lived token.  It returns
    the new token or raises; the error text is shown in the view.

    Raises :class:`traitlets.TraitError` for a URL that is not ``ws://``/``wss://``, a monitor
    that is neither ``"all"`` nor an index ≥ 0, or an unknown zoom mode.
    """

    _esm = _STATIC / "screen.js"
    _css = _STATIC / "screen.css"

    # Set by Python (and by the view's own controls).
    relay_url = traitlets.Unicode(help="The relay's websocket URL, ws:// or wss://.").tag(sync=True)
    session_id = traitlets.Unicode(help="The session to view.").tag(sync=True)
    token = traitlets.Unicode(help="The viewing token the relay admits (minted by the kernel).").tag(sync=True)
    monitor = traitlets.Union(
        [traitlets.Unicode(), traitlets.Int()],
        default_value=ALL_MONITORS,
        help='"all" (every monitor side by side) or a monitor index from `monitors`.',
    ).tag(sync=True)
    zoom = traitlets.Union(
        [traitlets.Enum(ZOOM_MODES), traitlets.Float()],
        default_value="fit",
        help='"fit" (the whole screen in the room there is: the cell\'s width and the window\'s height, a '
        'panel, the full screen), "readable" (fit, but never below 75 % of 1:1: pan for the rest), '
        '"width" (the cell\'s width), "1:1", or a share of 1:1 such as 0.75.',
    ).tag(sync=True)
    max_fps = traitlets.Int(40, help="The most frames per second the view asks for (the agent caps at 60).").tag(
        sync=True
    )
    can_refresh_token = traitlets.Bool(False, help="Whether the view may ask the kernel for a new token.").tag(
        sync=True
    )

    # Reported by the browser (read them; setting them has no effect on the view).
    status = traitlets.Unicode("Not shown yet", help="The view's connection state, in words.").tag(sync=True)
    connected = traitlets.Bool(False, help="Whether a view is connected to the relay.").tag(sync=True)
    fps = traitlets.Float(0.0, help="Frames drawn per second.").tag(sync=True)
    latency_ms = traitlets.Float(None, allow_none=True, help="Capture→draw latency, or ack round trip.").tag(
        sync=True
    )
    latency_kind = traitlets.Unicode("", help='"capture" (clocks comparable), "rtt", or "" (unknown).').tag(
        sync=True
    )
    kbps = traitlets.Float(0.0, help="Bandwidth received, kbit/s.").tag(sync=True)
    monitors = traitlets.List(traitlets.Dict(), help="The customer's monitors, from screen.info.").tag(sync=True)
    paused = traitlets.Bool(False, help="Whether the customer paused the view.").tag(sync=True)
    hidden_count = traitlets.Int(0, help="How many areas the customer hid.").tag(sync=True)

    def __init__(
        self,
        relay_url: str,
        session_id: str,
        token: str,
        *,
        token_provider: Callable[[], str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            relay_url=relay_url,
            session_id=session_id,
            token=token,
            can_refresh_token=token_provider is not None,
            **kwargs,
        )
        self._token_provider = token_provider
        self.on_msg(self._on_view_message)

    def refresh(self) -> None:
        """Ask every live view for a full key frame (e.g. after the picture looks wrong)."""
        self.send({"type": "key_request"})

    @traitlets.validate("relay_url")
    def _check_relay_url(self, proposal: dict[str, Any]) -> str:
        url: str = proposal["value"]
        if not url.startswith(("ws://", "wss://")):
            raise traitlets.TraitError(f"relay_url must be a ws:// or wss:// URL, not {url!r}")
        return url

    @traitlets.validate("monitor")
    def _check_monitor(self, proposal: dict[str, Any]) -> str | int:
        value: str | int = proposal["value"]
        if value == ALL_MONITORS or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return value
        raise traitlets.TraitError(f'monitor must be "all" or an index >= 0, not {value!r}')

    @traitlets.validate("zoom")
    def _check_zoom(self, proposal: dict[str, Any]) -> str | float:
        value: str | float = proposal["value"]
        if isinstance(value, str) or ZOOM_RANGE[0] <= value <= ZOOM_RANGE[1]:
            return value
        raise traitlets.TraitError(f"a numeric zoom must be between {ZOOM_RANGE[0]} and {ZOOM_RANGE[1]}, not {value}")

    @traitlets.validate("max_fps")
    def _check_max_fps(self, proposal: dict[str, Any]) -> int:
        value: int = proposal["value"]
        if not 1 <= value <= 60:
            raise traitlets.TraitError(f"max_fps must be between 1 and 60, not {value}")
        return value

    def _on_view_message(self, _widget: object, content: Any, _buffers: object) -> None:
        """Answer a view's request; the only one is a token refresh after the relay refused."""
        if not isinstance(content, dict) or content.get("type") != "refresh_token":
            return
        if self._token_provider is None:
            self.send({"type": "token", "ok": False, "message": "this widget has no token provider"})
            return
        try:
            new_token = self._token_provider()
        except Exception as err:  # shown to the technician in the view; the kernel goes on
            self.send({"type": "token", "ok": False, "message": f"{type(err).__name__}: {err}"})
            return
        self.token = new_token  # synced before the reply below, so the view reads the new one
        self.send({"type": "token", "ok": True})
