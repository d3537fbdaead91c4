"""screen.js's marks and control parts under Node (no browser): wire form, geometry, keys, tools.

The same drawing in a real browser, at both zooms, is in tests/e2e/test_widget_tools_browser.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from agent.annotate.model import DEFAULT_WIDTH, TEXT_SIZE_PER_WIDTH, parse_mark
from agent.annotate.render import mark_box
from tests.test_widget import run_node

# A stand-in for requestAnimationFrame, run by hand: flushFrames() runs what is pending.
_FRAMES = """
let frames = [];
globalThis.requestAnimationFrame = (f) => { frames.push(f); return frames.length; };
globalThis.cancelAnimationFrame = (id) => { frames[id - 1] = null; };
const flushFrames = () => { const due = frames; frames = []; due.forEach((f) => f && f()); };
"""


def test_js_marks_go_out_in_desktop_pixels() -> None:
    result = run_node("""
        const stroke = { id: "w1-1", tool: "arrow", colour: "#e53935", width: 4,
                         points: [{ x: 10.4, y: 20.6 }, { x: 100, y: 50 }] };
        const toDesktop = (x, y) => ({ x: x + 640, y: y + 0 });
        const text = { id: "w1-2", tool: "text", colour: "#fdd835", width: 5, points: [{ x: 1, y: 2 }], text: "Ici ж" };
        console.log(JSON.stringify([mod.markMessage(stroke, toDesktop), mod.markMessage(text, toDesktop)]));
    """)
    assert result[0] == {"id": "w1-1", "tool": "arrow", "points": [[650, 20], [740, 50]], "colour": "#e53935",
                         "width": 4}
    assert result[1]["text"] == "Ici ж" and result[1]["points"] == [[641, 2]]
    for mark in result:  # what the widget sends, the agent accepts as is
        assert parse_mark(mark).to_wire() == mark


def test_js_defaults_and_text_size_match_the_agent() -> None:
    widths, sizes = run_node("""console.log(JSON.stringify([mod.DEFAULT_WIDTHS,
                                                            [1, 5, 30].map((w) => mod.textSize(w))]))""")
    for tool, width in DEFAULT_WIDTH.items():
        assert widths[tool] == width
    assert sizes == [12, 5 * TEXT_SIZE_PER_WIDTH, 96]
    label = parse_mark({"tool": "text", "points": [[0, 0]], "text": "Click here", "width": 5})
    preview = run_node("""
        const label = { tool: "text", points: [[0, 0]], text: "Click here", colour: "#e53935", width: 5 };
        const [box] = mod.markShapes(label);
        console.log(JSON.stringify(box[1]));
    """)
    real = mark_box(label)
    assert abs(preview["height"] - real.h) <= 3 and abs(preview["width"] - real.w) <= real.w * 0.25


def test_js_arrow_preview_has_the_agents_head() -> None:
    shapes = run_node("""
        console.log(JSON.stringify(mod.markShapes({ tool: "arrow", points: [[0, 0], [100, 0]], colour: "#e53935",
                                                    width: 4 })));
    """)
    (line, line_attrs), (head, head_attrs) = shapes
    assert (line, head) == ("line", "polygon")
    assert line_attrs["x2"] == pytest.approx(100 - (3 * 4 + 10))  # agent/annotate/render.py _arrow
    tip, left, right = ([float(v) for v in p.split(",")] for p in head_attrs["points"].split())
    assert tip == [100, 0] and math.isclose(abs(left[1]), 1.5 * 4 + 5) and left[1] == -right[1]


def test_js_finds_the_mark_under_the_eraser_and_what_undo_removes() -> None:
    result = run_node("""
        const marks = [
          { id: "a", tool: "arrow", points: [[0, 0], [100, 0]], width: 4 },
          { id: "r", tool: "rect", points: [[200, 200], [300, 300]], width: 4 },
          { id: "e", tool: "ellipse", points: [[400, 0], [500, 100]], width: 4 },
          { id: "t", tool: "text", points: [[0, 400]], width: 5, text: "Hello" },
          { id: "l", tool: "laser", points: [[50, 0]], width: 6 },
        ];
        const at = (x, y) => mod.markAt(marks, x, y)?.id ?? null;
        console.log(JSON.stringify({
          hits: [at(50, 3), at(200, 250), at(250, 250), at(450, 0), at(450, 50), at(10, 410), at(50, 20)],
          undo: [mod.markToUndo(marks, ["a", "r"]), mod.markToUndo(marks, ["gone"]), mod.markToUndo([], ["a"])],
        }));
    """)
    assert result["hits"] == ["a", "r", None, "e", None, "t", None]  # a laser is never erased
    assert result["undo"] == ["r", "t", None]


@pytest.mark.parametrize(("event", "action"), [
    ({"key": "p"}, "tool:pen"), ({"key": "A"}, "tool:arrow"), ({"key": "r"}, "tool:rect"),
    ({"key": "e"}, "tool:ellipse"), ({"key": "h"}, "tool:highlighter"), ({"key": "t"}, "tool:text"),
    ({"key": "l"}, "tool:laser"), ({"key": "v"}, "tool:view"), ({"key": "x"}, "tool:eraser"),
    ({"key": "2"}, "colour:1"), ({"key": "7"}, None), ({"key": "Backspace"}, "undo"),
    ({"key": "z", "ctrlKey": True}, "undo"), ({"key": "z", "metaKey": True}, "undo"),
    ({"key": "C", "shiftKey": True}, "clear"), ({"key": "c"}, None), ({"key": "p", "ctrlKey": True}, None),
    ({"key": "P", "shiftKey": True}, None), ({"key": "Enter"}, None),
])
def test_js_shortcuts(event: dict[str, Any], action: str | None) -> None:
    assert run_node(f"console.log(JSON.stringify(mod.shortcutFor({event!r})))".replace("True", "true")) == action


def test_js_keys_become_text_or_keys() -> None:
    result = run_node("""
        const altGr = (key) => ({ key, code: "KeyE", ctrlKey: true, altKey: true,
                                  getModifierState: (m) => m === "AltGraph" });
        const events = [
          { key: "é", code: "Digit2" }, { key: "ж", code: "Semicolon" }, { key: "A", code: "KeyA", shiftKey: true },
          altGr("€"), { key: "s", code: "KeyS", ctrlKey: true }, { key: "Enter", code: "Enter" },
          { key: "Shift", code: "ShiftLeft", shiftKey: true }, { key: "Dead", code: "BracketLeft" },
          { key: "F5", code: "F5" }, { key: "a", code: "KeyA", isComposing: true },
        ];
        console.log(JSON.stringify({ down: events.map((e) => mod.keyEvent(e, true)),
                                     up: events.map((e) => mod.keyEvent(e, false)) }));
    """)
    down, up = result["down"], result["up"]
    assert down[:4] == [["control.text", {"text": t}] for t in ("é", "ж", "A", "€")]
    assert down[4] == ["control.key", {"action": "down", "key": "s", "code": "KeyS", "modifiers": ["ctrl"]}]
    assert down[5] == ["control.key", {"action": "down", "key": "Enter", "code": "Enter", "modifiers": []}]
    assert down[6][1]["modifiers"] == ["shift"] and down[8][1]["key"] == "F5"
    assert down[7] is None and down[9] is None
    assert up[:4] == [None] * 4  # text has no key-up
    assert up[4] == ["control.key", {"action": "up", "key": "s", "code": "KeyS", "modifiers": ["ctrl"]}]


def test_js_wheel_turns_into_whole_notches() -> None:
    result = run_node("""
        const wheel = new mod.WheelNotches();
        const steps = [{ deltaX: 0, deltaY: 120, deltaMode: 0 }, { deltaX: 0, deltaY: 80, deltaMode: 0 },
                       { deltaX: 0, deltaY: -3, deltaMode: 1 }, { deltaX: 250, deltaY: 0, deltaMode: 0 }];
        console.log(JSON.stringify(steps.map((e) => wheel.add(e))));
    """)
    assert result == [{"dx": 0, "dy": 1}, {"dx": 0, "dy": 1}, {"dx": 0, "dy": -1}, {"dx": 2, "dy": 0}]


_HOST = """
const log = [];
let ids = 0;
const host = {
  contains: (p) => p.x >= 0 && p.y >= 0 && p.x < 1000 && p.y < 1000,
  clamp: (p) => ({ x: Math.min(Math.max(p.x, 0), 999), y: Math.min(Math.max(p.y, 0), 999) }),
  capture: () => log.push(["capture"]), release: () => log.push(["release"]),
  style: (tool) => ({ colour: "#e53935", width: mod.DEFAULT_WIDTHS[tool] }),
  newId: () => `w-${(ids += 1)}`,
  draft: (s) => log.push(["draft", s.id, s.points.length]), discard: (id) => log.push(["discard", id]),
  finish: (s) => log.push(["finish", s.id, s.tool, s.points.map((p) => [p.x, p.y])]),
  laser: (s) => log.push(["laser", s.id, s.points.length]),
  send: (name, body) => log.push([name, body]), toDesktop: (p) => ({ x: p.x + 640, y: p.y }),
};
const ev = (button = 0, buttons = 1) => ({ button, buttons, preventDefault() {} });
"""


def test_js_drawing_tools() -> None:
    result = run_node(_HOST + """
        const pen = mod.createDrawTool("pen", host);
        pen.down(ev(), { x: 10, y: 10 });
        pen.move(ev(-1), { x: 11, y: 10 });   // too close: no point
        pen.move(ev(-1), { x: 20, y: 10 });
        pen.up(ev(), { x: 30, y: 15 });
        const arrow = mod.createDrawTool("arrow", host);
        arrow.down(ev(), { x: 100, y: 100 });
        arrow.up(ev(), { x: 101, y: 101 });     // a slip: no mark
        arrow.down(ev(2), { x: 100, y: 100 });  // the right button draws nothing
        arrow.down(ev(), { x: 100, y: 100 });
        arrow.move(ev(-1), { x: 1500, y: 50 }); // dragged off the picture: held at its edge
        arrow.up(ev(), { x: 1500, y: 50 });
        const long = mod.createDrawTool("highlighter", host);
        long.down(ev(), { x: 0, y: 0 });
        for (let i = 1; i <= 2100; i += 1) long.move(ev(-1), { x: (i * 3) % 990, y: Math.floor(i / 330) * 3 });
        long.up(ev(), { x: 5, y: 999 });
        console.log(JSON.stringify(log.filter(([kind]) => kind === "finish" || kind === "discard")));
    """)
    assert result[0] == ["finish", "w-1", "pen", [[10, 10], [20, 10], [30, 15]]]
    assert result[1] == ["discard", "w-2"]
    assert result[2] == ["finish", "w-3", "arrow", [[100, 100], [999, 50]]]
    assert [(kind, tool, len(points)) for kind, _, tool, points in result[3:]] == [
        ("finish", "highlighter", 2000), ("finish", "highlighter", 103)]


def test_js_control_tool_sends_desktop_pointer_events() -> None:
    result = run_node(_FRAMES + _HOST + """
        const control = mod.createControlTool(host);
        control.move({ ...ev(-1, 0) }, { x: 5, y: 5 });
        control.move({ ...ev(-1, 0) }, { x: 6.4, y: 7.6 });   // coalesced with the one before
        flushFrames();
        control.move({ ...ev(-1, 0) }, { x: 9, y: 9 });      // pending when the button goes down: sent first
        control.down(ev(0, 1), { x: 10, y: 10 });
        control.move(ev(2, 3), { x: 11, y: 10 });            // right button joins (a chord)
        control.move(ev(2, 1), { x: 12, y: 10 });            // and leaves
        control.wheel({}, { x: 12, y: 10 }, { dx: 0, dy: -2 });
        control.move(ev(-1, 1), { x: 2000, y: 10 });          // dragged off the picture: held at its edge
        flushFrames();
        control.releaseAll();                                // focus lost while the left button is down
        control.releaseAll();
        console.log(JSON.stringify(log.filter(([kind]) => kind === "control.pointer").map(([, body]) => body)));
    """)
    assert result == [
        {"x": 646, "y": 7, "action": "move"},
        {"x": 649, "y": 9, "action": "move"},
        {"x": 650, "y": 10, "action": "down", "button": 1},
        {"x": 651, "y": 10, "action": "down", "button": 3},
        {"x": 652, "y": 10, "action": "up", "button": 3},
        {"x": 652, "y": 10, "action": "wheel", "dx": 0, "dy": -2},
        {"x": 1639, "y": 10, "action": "move"},
        {"x": 1639, "y": 10, "action": "up", "button": 1},
    ]


def test_js_laser_sends_short_trails() -> None:
    result = run_node(_HOST + """
        let t = 0;
        const laser = mod.createLaserTool(host, () => t);
        laser.down(ev(), { x: 10, y: 10 });
        for (let i = 1; i <= 20; i += 1) { t += 20; laser.move(ev(-1), { x: 10 + i * 5, y: 10 }); }
        t += 1000;
        laser.up(ev(), { x: 200, y: 10 });
        console.log(JSON.stringify(log.filter(([kind]) => kind === "laser")));
    """)
    # Every 100 ms, the trail of the last 300 ms (a point every 20 ms); after a pause, only the newest.
    assert [entry[2] for entry in result] == [1, 6, 11, 16, 16, 1]
    assert len({entry[1] for entry in result}) == len(result)  # each one its own short-lived mark
