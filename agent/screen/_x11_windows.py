"""Window tracking on X11: the top-level windows, their titles and where they are, from events.

Availability: X11 (Linux, BSD), through python-xlib.  Imported only by
:mod:`agent.screen._x11`, whose connection feeds it.

:class:`X11TopLevels` follows every top-level window of one connection that
selected ``SubstructureNotify`` on the root: the X server reports each
creation, mapping, move and reparenting, so no per-frame geometry query is
needed.  Windows are matched to the customer's hidden titles; once matched, a
window stays hidden even if its title changes later (a browser tab title).
Every position a hidden window held between :meth:`X11TopLevels.begin_bracket`
and :meth:`X11TopLevels.end_bracket` is returned, so a window moved during a
capture is masked where it was and where it went.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import Xlib.error
import Xlib.Xatom
from Xlib import X

from agent.screen.hidden import Rect

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


class X11TopLevels:
    """The top-level windows seen through one python-xlib connection; used by that connection's thread only.

    *display* must already select ``SubstructureNotifyMask`` on its root
    window; its owner hands every event to :meth:`handle`.  X errors from
    windows that vanish between an event and a query are absorbed.
    """

    def __init__(self, display: Any) -> None:
        self._display = display
        self._root = display.screen().root
        self._net_wm_name = display.intern_atom("_NET_WM_NAME")
        self._utf8 = display.intern_atom("UTF8_STRING")
        self._title_atoms = {self._net_wm_name, Xlib.Xatom.WM_NAME}
        self._toplevels: dict[int, _TopLevel] = {}
        self._owner: dict[int, int] = {}  # watched descendant -> its top-level
        self._sticky: dict[str, set[int]] = {}  # title -> top-levels matched once
        self._seen: list[Rect] = []
        self._scan()

    # Events.

    def handle(self, event: Any) -> None:
        """Update the windows from one structure or property event (others are ignored)."""
        kind = event.type
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

    # Brackets around a capture; the caller has made a round trip and handled every event first.

    def begin_bracket(self, titles: frozenset[str]) -> None:
        """Start remembering where the windows titled *titles* are, from now on."""
        self._match(titles)
        self._seen = self._hidden_rects()

    def end_bracket(self, titles: frozenset[str]) -> list[Rect]:
        """Every rectangle a hidden window covered since :meth:`begin_bracket`, without duplicates.

        A window that took a hidden title meanwhile is included.
        """
        self._match(titles)
        seen = self._seen + self._hidden_rects()
        self._seen = []
        return list(dict.fromkeys(seen))

    def listing(self) -> list[dict[str, Any]]:
        """The visible top-level windows, for the customer's picker: title and rectangle."""
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
