"""agent.annotate.AnnotationService behind a real dispatcher and journal, and workbench.annotate on top.

The service runs on its own event loop in a thread, as in the agent; the overlay is a fake that
records what it was asked to show (the real X11 one is in tests/e2e/test_annotate_x11.py).
Requests go through the wire format both ways, as the relay would deliver them.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from agent.annotate import AnnotationService, Mark, OverlayError
from agent.annotate import model as annotate_model
from agent.annotate.service import NOT_SHOWN_WORDS
from agent.dispatch import Dispatcher, MethodTable
from agent.journal import Journal
from agent.policy import Permissions, Policy
from wire import protocol
from wire.errors import BadParams, NotFound, NotGranted, error_from_wire
from workbench.annotate import AnnotateNamespace
from workbench.calls import CallResult

WAIT = 10.0


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
    return value


class FakeOverlay:
    name = "fake"

    def __init__(self) -> None:
        self.shows: list[list[Mark]] = []
        self.closed = False
        self.broken = False
        self.gate = threading.Event()  # show() waits until it is set
        self.gate.set()

    def show(self, marks: Sequence[Mark]) -> None:
        self.gate.wait(WAIT)
        if self.broken:
            raise OverlayError("the display went away")
        self.shows.append(list(marks))

    def close(self) -> None:
        self.closed = True

    def shown(self) -> list[str]:
        return [mark.id for mark in self.shows[-1]] if self.shows else []


class Agent:
    """The service on its own loop thread, its methods behind a dispatcher; a Caller for the namespace."""

    def __init__(self, root: Path, *, permissions: Permissions | None = None,
                 permitted: Callable[[], bool] | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.journal = Journal(root / "journal.jsonl")
        self.told: list[str] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.overlay = FakeOverlay()

        async def send_event(name: str, body: dict[str, Any], data: bytes | None) -> None:
            self.events.append((name, body))

        self.service = AnnotationService(send_event, self.told.append, self.journal.append, None,
                                         permitted=permitted, overlay_factory=lambda display: self.overlay)
        self.run(self.service.start())
        self.dispatcher = Dispatcher(MethodTable(self.service.METHODS), self.journal,
                                     Policy(permissions=permissions or Permissions()), root / "state", self.told.append)
        self._ids = itertools.count(1)

    def run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(WAIT)

    def call(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
             *, timeout: float | None = None) -> CallResult:
        frame = protocol.encode(protocol.request(f"r{next(self._ids)}", method, params or {}, data))
        decoded = protocol.decode(protocol.encode(self.run(self.dispatcher.handle(protocol.decode(frame)))))
        if decoded.type == "error":
            raise error_from_wire(decoded.fields)
        return CallResult(decoded["result"], decoded.data)

    def submit(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
               *, timeout: float | None = None) -> Future[CallResult]:
        future: Future[CallResult] = Future()
        future.set_result(self.call(method, params, data))
        return future

    def event(self, name: str, body: dict[str, Any]) -> None:
        self.run(self.service.on_event(name, body))

    def records(self, kind: str = "annotate") -> list[dict[str, Any]]:
        return [record for record in self.journal.records if record["kind"] == kind]

    def marks_events(self) -> list[dict[str, Any]]:
        return [body for name, body in self.events if name == "screen.marks"]

    def close(self) -> None:
        self.run(self.service.stop())
        self.dispatcher.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()
        self.journal.close()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    harness = Agent(tmp_path)
    yield harness
    harness.close()


@pytest.fixture
def annotate(agent: Agent) -> AnnotateNamespace:
    return AnnotateNamespace(agent)


def arrow(mark_id: str = "v1-1", **fields: Any) -> dict[str, Any]:
    return {"id": mark_id, "tool": "arrow", "points": [[10, 10], [200, 120]], "colour": "#e53935", "width": 4,
            **fields}


def test_a_notebook_mark_is_journaled_told_drawn_and_announced(agent: Agent, annotate: AnnotateNamespace) -> None:
    before = time.time() * 1000
    mark_id = annotate.arrow(400, 300, 520, 360)
    # The call returns once the overlay shows it.
    assert agent.overlay.shown() == [mark_id]
    assert agent.overlay.shows[-1][0].points == ((400, 300), (520, 360))
    assert agent.told == ["The technician drew a red arrow on your screen"]  # once, by the dispatcher
    kinds = [(r["kind"], r.get("action")) for r in agent.journal.records]
    assert kinds == [("call", None), ("annotate", "add"), ("outcome", None)]
    record = agent.records()[0]
    assert (record["id"], record["tool"], record["by"], record["bounds"]) == (mark_id, "arrow", "notebook",
                                                                              [400, 300, 121, 61])
    assert record["words"] == "The technician drew a red arrow on your screen"
    marks = wait_until(agent.marks_events, "screen.marks")
    shown_at = marks[-1].pop("shown_at")
    assert marks[-1] == {"marks": [{"id": mark_id, "tool": "arrow", "points": [[400, 300], [520, 360]],
                                    "colour": "#e53935", "width": 4}], "overlay": "fake"}
    assert before - 0.1 <= shown_at <= time.time() * 1000 + 0.1  # the agent's wall clock, as frames' captured_at

    label = annotate.text(530, 340, "Cliquez ici, ça marche", colour="blue")
    assert agent.told[-1] == "The technician wrote 'Cliquez ici, ça marche' on your screen"
    listed = annotate.list()
    assert [m["id"] for m in listed] == [mark_id, label]
    assert listed[1]["colour"] == "#1e88e5" and listed[1]["text"] == "Cliquez ici, ça marche"
    annotate.remove(mark_id)
    assert agent.overlay.shown() == [label]
    with pytest.raises(NotFound):
        annotate.remove(mark_id)
    annotate.highlight(0, 50, 300, 50)
    annotate.pen([(0, 0), (10, 10), (20, 5)], colour="#8e24aa")
    annotate.ellipse(5, 5, 50, 50)
    annotate.rect(5, 5, 50, 50)
    assert [m.tool for m in agent.overlay.shows[-1]] == ["text", "highlighter", "pen", "ellipse", "rect"]
    assert annotate.clear() == 5
    assert agent.overlay.shown() == [] and annotate.list() == []
    assert agent.records()[-1]["action"] == "clear" and agent.records()[-1]["count"] == 5
    assert agent.told[-2:] == ["The technician cleared the marks from your screen",
                               "The technician looked at the list of marks on your screen"]


def test_bad_calls_are_refused_and_journaled(agent: Agent, annotate: AnnotateNamespace) -> None:
    with pytest.raises(BadParams):
        annotate.arrow(0, 0, 99999, 0)
    with pytest.raises(BadParams):
        annotate.text(0, 0, "x" * 500)
    with pytest.raises(BadParams):
        annotate.arrow(0, 0, 1, 1, colour="crimson")
    assert [r["outcome"] for r in agent.records("outcome")] == ["error"] * 3
    assert agent.records() == [] and agent.overlay.shows == []
    assert agent.told[0] == "The technician tried to draw on your screen"


def test_without_the_customers_leave_nothing_is_drawn(tmp_path: Path) -> None:
    harness = Agent(tmp_path, permissions=Permissions(annotate=False), permitted=lambda: False)
    try:
        with pytest.raises(NotGranted):
            AnnotateNamespace(harness).arrow(0, 0, 10, 10)
        harness.event("annotate.mark", {"mark": arrow(), "viewer_id": "v1"})
        refusal = wait_until(harness.marks_events, "a refusal")[-1]
        assert refusal["refused"]["id"] == "v1-1" and "does not allow" in refusal["refused"]["message"]
        assert harness.overlay.shows == [] and harness.records() == []
    finally:
        harness.close()


def test_viewer_marks_are_told_journaled_and_drawn(agent: Agent) -> None:
    agent.event("annotate.mark", {"mark": arrow(), "viewer_id": "v1"})
    wait_until(lambda: agent.overlay.shown() == ["v1-1"], "the arrow on screen")
    assert agent.told == ["The technician drew a red arrow on your screen"]
    record = agent.records()[-1]
    assert (record["action"], record["by"], record["viewer_id"], record["id"]) == ("add", "viewer", "v1", "v1-1")
    wait_until(lambda: [[m["id"] for m in b["marks"]] for b in agent.marks_events()][-1:] == [["v1-1"]],
               "screen.marks")

    # A malformed or duplicate mark is refused to the viewers; the session goes on.
    agent.event("annotate.mark", {"mark": arrow(), "viewer_id": "v1"})
    agent.event("annotate.mark", {"mark": {"tool": "arrow", "id": "v1-2", "points": "everywhere"},
                                  "viewer_id": "v1"})
    refusals = wait_until(lambda: [b["refused"] for b in agent.marks_events() if "refused" in b], "refusals")
    assert [r["id"] for r in refusals] == ["v1-1", "v1-2"]
    assert "already on the screen" in refusals[0]["message"]
    assert len(agent.records()) == 1 and len(agent.told) == 1

    agent.event("annotate.mark", {"mark": arrow("v1-3"), "viewer_id": "v1"})
    agent.event("annotate.remove", {"id": "v1-1", "viewer_id": "v1"})
    agent.event("annotate.remove", {"id": "gone-already", "viewer_id": "v1"})
    wait_until(lambda: agent.overlay.shown() == ["v1-3"], "the removal on screen")
    assert agent.told[-1] == "The technician removed a mark from your screen"
    agent.event("annotate.clear", {"viewer_id": "v2"})
    wait_until(lambda: agent.overlay.shown() == [] and agent.overlay.shows, "the clear on screen")
    assert [(r["action"], r.get("viewer_id")) for r in agent.records()] == [
        ("add", "v1"), ("add", "v1"), ("remove", "v1"), ("clear", "v2")]
    assert agent.told[-1] == "The technician cleared the marks from your screen"
    agent.event("annotate.clear", {"viewer_id": "v2"})  # nothing to clear: nothing said
    assert agent.told[-1] == "The technician cleared the marks from your screen" and len(agent.records()) == 4


def test_a_new_viewer_gets_the_marks_as_they_stand(agent: Agent) -> None:
    agent.event("annotate.mark", {"mark": arrow(), "viewer_id": "v1"})
    wait_until(lambda: agent.marks_events(), "screen.marks")
    before = len(agent.marks_events())
    agent.event("relay.viewers", {"count": 2, "viewers": ["v1", "v2"]})
    assert len(agent.marks_events()) == before + 1
    assert [m["id"] for m in agent.marks_events()[-1]["marks"]] == ["v1-1"]


def test_a_laser_burst_is_told_once_fades_and_is_journaled_once(agent: Agent) -> None:
    for index in range(3):
        agent.event("annotate.mark", {"mark": {"id": f"l{index}", "tool": "laser", "points": [[100 + index, 50]]},
                                      "viewer_id": "v1"})
    wait_until(lambda: "l2" in agent.overlay.shown(), "the laser on screen")
    assert agent.told == ["The technician is pointing at something on your screen"]
    fades = wait_until(lambda: {m.fade for show in agent.overlay.shows for m in show} >= {1.0, 0.5, 0.25},
                       "the fade steps")
    assert fades
    wait_until(lambda: agent.overlay.shown() == [] and agent.marks_events()[-1]["marks"] == [],
               "the laser gone by itself")
    point = wait_until(lambda: [r for r in agent.records() if r["action"] == "point"], "the burst's record")
    assert (point[0]["count"], point[0]["bounds"], point[0]["viewer_id"]) == (3, [100, 50, 3, 1], "v1")


def test_stop_removes_every_mark_and_closes_the_overlay(agent: Agent, annotate: AnnotateNamespace) -> None:
    annotate.arrow(0, 0, 50, 50)
    agent.event("annotate.mark", {"mark": {"id": "l", "tool": "laser", "points": [[5, 5]]}, "viewer_id": "v1"})
    agent.run(agent.service.stop())
    assert agent.overlay.closed
    assert [(r["action"], r["by"]) for r in agent.records()][-2:] == [("point", "viewer"), ("clear", "agent")]
    agent.run(agent.service.stop())  # twice is fine
    agent.event("annotate.mark", {"mark": arrow(), "viewer_id": "v1"})  # after the end: ignored
    with pytest.raises(Exception, match="not available"):
        annotate.arrow(0, 0, 1, 1)


def test_when_the_overlay_breaks_the_customer_is_told_and_marks_go_on(agent: Agent,
                                                                      annotate: AnnotateNamespace) -> None:
    agent.overlay.broken = True
    mark_id = annotate.arrow(0, 0, 50, 50)
    assert NOT_SHOWN_WORDS in agent.told
    assert agent.overlay.closed
    assert agent.service.overlay.name == "none"
    assert [m["id"] for m in annotate.list()] == [mark_id]
    assert agent.marks_events()[-1]["overlay"] == "none"


def test_drawing_is_coalesced_newest_state_wins(agent: Agent) -> None:
    agent.overlay.gate.clear()  # the overlay is busy drawing the first mark while 29 more arrive
    for index in range(30):
        agent.event("annotate.mark", {"mark": arrow(f"m{index}"), "viewer_id": "v1"})
    agent.overlay.gate.set()
    wait_until(lambda: len(agent.overlay.shown()) == 30, "every mark on screen")
    assert [len(show) for show in agent.overlay.shows] == [1, 30]
    assert len(agent.records()) == 30 and len(agent.told) == 30


def test_the_limits_are_the_models(annotate: AnnotateNamespace) -> None:
    assert annotate_model.MAX_MARKS == 200
    with pytest.raises(BadParams):
        annotate.pen([(i, i) for i in range(annotate_model.MAX_STROKE_POINTS + 1)])


def test_the_customer_can_remove_the_marks(agent: Agent, annotate: AnnotateNamespace) -> None:
    annotate.arrow(0, 0, 50, 50)
    agent.service.clear_from_customer()  # from the customer window's thread
    wait_until(lambda: agent.overlay.shown() == [] and agent.records()[-1]["action"] == "clear", "the clear")
    assert agent.records()[-1]["by"] == "customer"
    assert agent.told[-1] == "You removed the technician's marks from your screen"
    wait_until(lambda: agent.marks_events()[-1]["marks"] == [], "viewers told")
