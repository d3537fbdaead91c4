"""Building blocks of the training notebooks (notebooks/training/): jump links, folded answers, side by side.

Each returns an ipywidgets widget to display in a notebook cell.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from workbench.recordings import RecordedEvent, Recording


def jump_links(replay: Any, moments: Sequence[tuple[float, str]]) -> widgets.Widget:
    """A button per moment (time, caption) that moves *replay* (a ReplayWidget) there."""
    buttons = []
    for t, caption in moments:
        button = widgets.Button(description=f"{t:5.1f} s  {caption}", layout=widgets.Layout(width="auto"))
        button.on_click(lambda _b, t=t: replay.seek(t))
        buttons.append(button)
    return widgets.VBox(buttons)


def question(text: str, answer: str) -> widgets.Widget:
    """A question, its answer folded away until the trainee opens it."""
    folded = widgets.Accordion(children=[widgets.HTML(f"<p>{html.escape(answer)}</p>")])
    folded.set_title(0, "Show the answer")
    folded.selected_index = None
    return widgets.VBox([widgets.HTML(f"<b>{html.escape(text)}</b>"), folded])


def _journal_lines(events: Sequence[RecordedEvent], t: float, window: float) -> str:
    rows = [f"<tr><td>{e.t:6.1f} s</td><td>{html.escape(e.name)}</td><td>{html.escape(e.detail)}</td></tr>"
            for e in events if t - window <= e.t <= t + 0.5]
    if not rows:
        rows = ["<tr><td colspan=3><i>nothing in the journal around this moment</i></td></tr>"]
    return "<table>" + "".join(rows) + "</table>"


def side_by_side(recording: Recording, t: float, window: float = 3.0, width: int = 520) -> widgets.Widget:
    """What the technician saw at *t* (left) beside what the journal says of the seconds before (right)."""
    out = io.BytesIO()
    recording.frame_at(t).save(out, format="PNG")
    picture = widgets.Image(value=out.getvalue(), format="png", layout=widgets.Layout(width=f"{width}px"))
    seen = widgets.VBox([widgets.HTML(f"<b>What the technician saw at {t:.1f} s</b>"), picture])
    said = widgets.VBox([widgets.HTML("<b>What the journal says</b>"),
                         widgets.HTML(_journal_lines(recording.events, t, window))])
    return widgets.HBox([seen, said])
