"""X11 helpers for the streamer: DAMAGE (is anything drawn?) and top-level window tracking.

Availability: X11 (Linux, BSD), through python-xlib; :func:`open_watcher`
returns None where either is missing, and the streamer then polls and treats
hidden windows as unlocatable (it hides the whole view rather than guess).

One :class:`X11Watcher` holds one connection, used by one thread (the
streamer's worker).  It selects ``SubstructureNotify`` on the root window, so
the X server reports every top-level window's creation, mapping and move; no
per-frame geometry queries are needed.  To mask a moving window exactly,
the streamer brackets each capture between :meth:`X11Watcher.begin` and
:meth:`X11Watcher.end`: each ends with a round trip, so every move the server
made before the capture was reported by the time ``end`` returns, and ``end``
returns every position a hidden window held in between.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from agent.screen.hidden import Rect

log = logging.getLogger(__name__)

try:  # python-xlib is optional: absent means no DAMAGE and no window tracking
    import Xlib.display
    import Xlib.error
    import Xlib.Xatom
    from Xlib import X
    from Xlib.ext import damage as xdamage
except ImportError:  # pragma: no cover - exercised only where python-xlib is missing
    Xlib = None  # type: ignore[assignment]

#: How deep under a top-level window (a window manager's frame) the client window with the title may sit.
_TITLE_DEPTH = 2


@dataclass
class _TopLevel:
    rect: Rect
    mapped: bool
    #: titles of the window and its descendants (None: to be read again)
    titles: set[str] | None = None
    #: descendants whose properties we watch, for title changes
    watched: set[int] = field(default_factory=set)


class X11Watcher:
    """DAMAGE and top-level windows on one X connection; one thread only.

    Raises :class:`OSError` from the constructor when the display cannot be
    opened (the caller then falls back to polling).
    """

    def __init__(self, display: str | None = None, *, use_damage: bool = True) -> None:
        if Xlib is None:
            raise OSError("python-xlib is not installed")
        try:
            self._display = Xlib.display.Display(display)
        except (Xlib.error.DisplayError, Xlib.error.ConnectionClosedError, OSError) as err:
            raise OSError(f"cannot open X display {display or os.environ.get('DISPLAY')!r}: {err}") from err
        # Windows vanish between an event and a query; their errors are expected and harmless.
        self._display.set_error_handler(lambda *args: None)
        self._root = self._display.screen().root
        self._net_wm_name = self._display.intern_atom("_NET_WM_NAME")
        self._utf8 = self._display.intern_atom("UTF8_STRING")
        self._title_atoms = {self._net_wm_name, Xlib.Xatom.WM_NAME}
        self._toplevels: dict[int, _TopLevel] = {}
        self._owner: dict[int, int] = {}  # watched descendant -> its top-level
        self._sticky: dict[str, set[int]] = {}  # title -> top-levels matched once
        self._seen: list[Rect] = []
        self._titles: frozenset[str] = frozenset()
        self.damaged = True
        self._damage: int | None = None
        self._damage_event = -1
        self._root.change_attributes(event_mask=X.SubstructureNotifyMask)
        if use_damage and self._display.has_extension("DAMAGE"):
            xdamage.query_version(self._display)
            self._damage = xdamage.damage_create(self._root, xdamage.DamageReportNonEmpty)
            # python-xlib registers a copy of the event class: compare codes, not classes.
            extension = self._display.query_extension("DAMAGE")
            if extension is not None:
                self._damage_event = extension.first_event + xdamage.DamageNotifyCode
        self._scan()
        self._display.sync()

    @property
    def has_damage(self) -> bool:
        """True when the server reports drawing (DAMAGE); otherwise the caller polls."""
        return self._damage is not None

    def fileno(self) -> int:
        """The connection's socket, to wait on with select()."""
        return int(self._display.fileno())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._damage is not None:
                xdamage.damage_destroy(self._display, self._damage)
            self._display.close()

    # Events.

    def poll(self) -> None:
        """Handle every event already received; sets :attr:`damaged` on drawing."""
        while self._display.pending_events():
            self._handle(self._display.next_event())

    def rearm(self) -> None:
        """Clear the accumulated damage, so that the next drawing reports again.

        Call it just before a capture: whatever is drawn from then on is
        reported, so no change is missed between two captures.
        """
        self.damaged = False
        if self._damage is not None:
            xdamage.damage_subtract(self._display, self._damage, 0, 0)
            # python-xlib buffers requests: without this round trip the subtract could reach
            # the server after the capture (made on another connection) and wipe out drawing
            # done in between, which DAMAGE would then never report again.
            self._display.sync()
            # The subtraction must reach the server before the capture does (another
            # connection): drawing after it is then reported, and none is lost.
            self._display.sync()

    def _handle(self, event: Any) -> None:
        kind = event.type
        if kind == self._damage_event:
            self.damaged = True
            return
        if kind == X.ConfigureNotify and event.window.id in self._toplevels:
            top = self._toplevels[event.window.id]
            top.rect = _outer(event.x, event.y, event.width, event.height, event.border_width)
            self._note(event.window.id)
        elif kind == X.CreateNotify and event.parent.id == self._root.id:
            wid = event.window.id
            self._toplevels[wid] = _TopLevel(_outer(event.x, event.y, event.width, event.height,
                                                   event.border_width), mapped=False)
        elif kind == X.MapNotify and event.window.id in self._toplevels:
            self._toplevels[event.window.id].mapped = True
            self._toplevels[event.window.id].titles = None
            self._note(event.window.id)
        elif kind == X.UnmapNotify and event.window.id in self._toplevels:
            self._toplevels[event.window.id].mapped = False
        elif kind == X.DestroyNotify:
            self._forget(event.window.id)
        elif kind == X.ReparentNotify:
            wid = event.window.id
            if event.parent.id == self._root.id:
                self._toplevels[wid] = _TopLevel(_outer(event.x, event.y, 0, 0, 0), mapped=False)
                self._refresh_geometry(wid)
            else:
                self._forget(wid)
                parent = self._owner.get(event.parent.id, event.parent.id)
                if parent in self._toplevels:
                    self._toplevels[parent].titles = None
        elif kind == X.PropertyNotify and event.atom in self._title_atoms:
            owner = self._owner.get(event.window.id)
            if owner is not None and owner in self._toplevels:
                self._toplevels[owner].titles = None

    def _forget(self, wid: int) -> None:
        top = self._toplevels.pop(wid, None)
        if top is not None:
            for child in top.watched:
                self._owner.pop(child, None)
        self._owner.pop(wid, None)
        for windows in self._sticky.values():
            windows.discard(wid)

    def _note(self, wid: int) -> None:
        """Remember a position a hidden window held during the current capture."""
        top = self._toplevels[wid]
        if top.mapped and any(wid in windows for windows in self._sticky.values()):
            self._seen.append(top.rect)

    # Windows.

    def _scan(self) -> None:
        try:
            children = self._root.query_tree().children
        except Xlib.error.XError:
            return
        for window in children:
            try:
                geometry = window.get_geometry()
                attributes = window.get_attributes()
            except Xlib.error.XError:
                continue
            self._toplevels[window.id] = _TopLevel(
                _outer(geometry.x, geometry.y, geometry.width, geometry.height, geometry.border_width),
                mapped=attributes.map_state != X.IsUnmapped)

    def _refresh_geometry(self, wid: int) -> None:
        window = self._display.create_resource_object("window", wid)
        try:
            geometry = window.get_geometry()
            attributes = window.get_attributes()
        except Xlib.error.XError:
            self._forget(wid)
            return
        top = self._toplevels[wid]
        top.rect = _outer(geometry.x, geometry.y, geometry.width, geometry.height, geometry.border_width)
        top.mapped = attributes.map_state != X.IsUnmapped

    def _read_titles(self, wid: int, top: _TopLevel) -> None:
        titles: set[str] = set()
        level = [self._display.create_resource_object("window", wid)]
        for depth in range(_TITLE_DEPTH + 1):
            below = []
            for window in level:
                if window.id not in top.watched:
                    window.change_attributes(event_mask=X.PropertyChangeMask)
                    top.watched.add(window.id)
                    self._owner[window.id] = wid
                titles.update(self._window_titles(window))
                if depth < _TITLE_DEPTH:
                    with contextlib.suppress(Xlib.error.XError):
                        below.extend(window.query_tree().children)
            level = below
        top.titles = titles

    def _window_titles(self, window: Any) -> set[str]:
        titles: set[str] = set()
        try:
            prop = window.get_full_property(self._net_wm_name, self._utf8)
            if prop is not None and prop.value:
                value = prop.value
                titles.add(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
            name = window.get_wm_name()
            if name:
                titles.add(name.decode("latin-1") if isinstance(name, bytes) else str(name))
        except Xlib.error.XError:
            pass
        return titles

    def _match(self, titles: frozenset[str]) -> None:
        for title in list(self._sticky):
            if title not in titles:
                del self._sticky[title]
        if not titles:
            return
        for wid, top in list(self._toplevels.items()):
            if top.titles is None:
                self._read_titles(wid, top)
            for title in titles & (top.titles or set()):
                self._sticky.setdefault(title, set()).add(wid)

    def _hidden_rects(self) -> list[Rect]:
        rects = []
        for windows in self._sticky.values():
            for wid in windows:
                top = self._toplevels.get(wid)
                if top is not None and top.mapped:
                    rects.append(top.rect)
        return rects

    def begin(self, titles: frozenset[str]) -> None:
        """Start a capture bracket for the windows titled *titles*.

        Does a round trip, so that the server's state up to now is known.
        """
        self._display.sync()
        self.poll()
        self._match(titles)
        self._seen = self._hidden_rects()

    def end(self, titles: frozenset[str]) -> list[Rect]:
        """End the bracket: every rectangle a hidden window covered since :meth:`begin`.

        A window that took a hidden title during the capture is included.
        """
        self._display.sync()
        self.poll()
        self._match(titles)
        seen = self._seen + self._hidden_rects()
        self._seen = []
        return _dedupe(seen)

    def windows(self) -> list[dict[str, Any]]:
        """The visible top-level windows, for the customer's picker: title and rectangle."""
        self._display.sync()
        self.poll()
        found = []
        for wid, top in self._toplevels.items():
            if not top.mapped:
                continue
            if top.titles is None:
                self._read_titles(wid, top)
            for title in sorted(top.titles or ()):
                found.append({"title": title, **top.rect.to_dict()})
        return found


def _outer(x: int, y: int, width: int, height: int, border: int) -> Rect:
    return Rect(x, y, width + 2 * border, height + 2 * border)


def _dedupe(rects: list[Rect]) -> list[Rect]:
    return list(dict.fromkeys(rects))


def open_watcher(display: str | None, *, use_damage: bool = True) -> X11Watcher | None:
    """An :class:`X11Watcher`, or None where X11 or python-xlib is not available."""
    if Xlib is None:
        return None
    if display is None and not os.environ.get("DISPLAY"):
        return None
    try:
        return X11Watcher(display, use_damage=use_damage)
    except OSError as err:
        log.info("no X11 window tracking: %s", err)
        return None
