"""workbench.control: the notebook's ``s.control`` sends plain calls with the wait and a longer round trip."""

from __future__ import annotations

from typing import Any

from workbench.calls import CallResult
from workbench.control import ControlNamespace

# -- the notebook side ----------------------------------------------------------------------------------


class FakeCaller:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], float | None]] = []

    def call(self, method: str, params: dict[str, Any] | None = None, data: bytes | None = None,
             *, timeout: float | None = None) -> CallResult:
        self.calls.append((method, dict(params or {}), timeout))
        return CallResult({"ok": True})


def test_control_namespace_sends_plain_calls_with_the_wait_and_a_longer_round_trip() -> None:
    caller = FakeCaller()
    s = ControlNamespace(caller)  # type: ignore[arg-type]
    s.click(10, 20)
    s.click(10, 20, button=3, double=True, timeout=2)
    s.move(1, 2)
    s.drag((1, 2), (3, 4))
    s.scroll(5, 6, dy=-3)
    s.type("héllo")
    s.key("ctrl+s")
    assert caller.calls == [
        ("control.click", {"x": 10, "y": 20, "button": 1, "double": False, "timeout": 10.0}, 30.0),
        ("control.click", {"x": 10, "y": 20, "button": 3, "double": True, "timeout": 2}, 22),
        ("control.move", {"x": 1, "y": 2, "timeout": 10.0}, 30.0),
        ("control.drag", {"from": [1, 2], "to": [3, 4], "button": 1, "timeout": 10.0}, 30.0),
        ("control.scroll", {"x": 5, "y": 6, "dx": 0, "dy": -3, "timeout": 10.0}, 30.0),
        ("control.type", {"text": "héllo", "timeout": 10.0}, 30.0),
        ("control.key", {"combo": "ctrl+s", "timeout": 10.0}, 30.0),
    ]
