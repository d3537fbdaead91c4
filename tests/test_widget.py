"""ScreenWidget's Python side, and screen.js's pure parts run under Node (no browser).

screen.js is the esbuild bundle of workbench/widget_src/ (tests/test_widget_src.py checks that it
is up to date); these tests import the bundle, so they check what the browser gets.

The browser behaviour (drawing, visibility, cleanup in JupyterLab) is in
tests/e2e/test_widget_browser.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import traitlets

from tests import requires
from wire import protocol
from workbench import widget as widget_module
from workbench.widget import ScreenWidget

SCREEN_JS = Path(__file__).parents[1] / "workbench" / "static" / "screen.js"
URL = "ws://127.0.0.1:8765"


def make(**kwargs: Any) -> ScreenWidget:
    return ScreenWidget(URL, "session-1", "token-1", **kwargs)


def sent_by(widget: ScreenWidget, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append(content))
    return sent


# ------------------------------------------------------------------ Python side


def test_contract_traits_are_synced_with_their_defaults() -> None:
    widget = make()
    expected = {
        "relay_url": URL, "session_id": "session-1", "token": "token-1", "monitor": "all", "zoom": "fit",
        "max_fps": 40, "can_refresh_token": False, "connected": False, "fps": 0.0, "latency_ms": None,
        "latency_kind": "", "kbps": 0.0, "monitors": [], "paused": False, "hidden_count": 0,
    }
    for name, value in expected.items():
        assert getattr(widget, name) == value, name
        assert widget.trait_metadata(name, "sync"), f"{name} is not synced"
    assert widget.status
    assert widget.trait_metadata("status", "sync")


def test_the_front_end_is_the_packaged_es_module() -> None:
    # Loaded from beside widget.py, which the package data ships (pyproject: workbench = ["static/*", …]).
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert re.search(r'^workbench = \[.*"static/\*"', pyproject, re.MULTILINE)
    assert Path(widget_module.__file__).parent / "static" / "screen.js" == SCREEN_JS
    state = make().get_state()  # what the browser receives
    assert state["_esm"] == SCREEN_JS.read_text()
    # esbuild gathers every export in one `export { …, x as default }` clause.
    assert re.search(r"^export \{[^}]*\bas default\b", state["_esm"], re.MULTILINE)
    assert ".wb-screen" in state["_css"]
    # No static imports at all (no CDN, no bare specifiers): the bundle loads offline on its own.
    assert not re.search(r"^\s*import\b", state["_esm"], re.MULTILINE)


@pytest.mark.parametrize("monitor", ["all", 0, 3])
def test_monitor_accepts_all_or_an_index(monitor: str | int) -> None:
    assert make(monitor=monitor).monitor == monitor


@pytest.mark.parametrize("zoom", ["fit", "readable", "width", "1:1", 0.75, 2])
def test_zoom_is_a_mode_or_a_share_of_one_to_one(zoom: str | float) -> None:
    assert make(zoom=zoom).zoom == zoom


@pytest.mark.parametrize(
    ("name", "value"),
    [("relay_url", "http://127.0.0.1:8765"), ("monitor", -1), ("monitor", "left"), ("monitor", True),
     ("zoom", "2x"), ("zoom", 0.0), ("zoom", 9.0), ("max_fps", 0), ("max_fps", 61)],
)
def test_bad_settings_are_refused(name: str, value: Any) -> None:
    widget = make()
    with pytest.raises(traitlets.TraitError):
        setattr(widget, name, value)


def test_a_bad_url_is_refused_at_construction() -> None:
    with pytest.raises(traitlets.TraitError):
        ScreenWidget("127.0.0.1:8765", "s", "t")


def test_refresh_asks_views_for_a_key_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    widget = make()
    sent = sent_by(widget, monkeypatch)
    widget.refresh()
    assert sent == [{"type": "key_request"}]


def test_a_refused_view_gets_a_new_token_from_the_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    widget = make(token_provider=lambda: "token-2")
    assert widget.can_refresh_token
    sent = sent_by(widget, monkeypatch)
    widget._handle_custom_msg({"type": "refresh_token"}, [])
    assert widget.token == "token-2"
    assert sent == [{"type": "token", "ok": True}]


def test_a_failing_provider_is_reported_to_the_view(monkeypatch: pytest.MonkeyPatch) -> None:
    def provider() -> str:
        raise RuntimeError("the relay is gone")

    widget = make(token_provider=provider)
    sent = sent_by(widget, monkeypatch)
    widget._handle_custom_msg({"type": "refresh_token"}, [])
    assert widget.token == "token-1"
    assert sent == [{"type": "token", "ok": False, "message": "RuntimeError: the relay is gone"}]


def test_without_a_provider_the_view_is_told_so(monkeypatch: pytest.MonkeyPatch) -> None:
    widget = make()
    sent = sent_by(widget, monkeypatch)
    widget._handle_custom_msg({"type": "refresh_token"}, [])
    widget._handle_custom_msg({"type": "something else"}, [])
    assert [message["ok"] for message in sent] == [False]


# ------------------------------------------------------------------ screen.js under Node



def run_node(script: str) -> Any:
    """Run *script* (an ES module body with `mod` = screen.js) and return what it prints as JSON."""
    node = requires.tool("node", "nodejs")
    source = f"const mod = await import({json.dumps(SCREEN_JS.as_uri())});\n{script}"
    done = subprocess.run([node, "--input-type=module", "-e", source], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_js_decodes_the_frames_python_encodes() -> None:
    body = {"seq": 7, "key": True, "width": 4, "height": 2, "rects": [{"x": 0, "y": 0, "w": 4, "h": 2,
            "codec": "raw", "len": 32}], "hidden": [], "monitor": "all", "captured_at": 1.5}
    frame = protocol.encode(protocol.event("screen.frame", body, bytes(range(32))))
    assert isinstance(frame, bytes)
    result = run_node(f"""
        const {{ msg, payload }} = mod.decodeMessage(new Uint8Array({json.dumps(list(frame))}));
        const text = mod.decodeMessage({json.dumps(protocol.encode(protocol.event("screen.state", {"paused": True})))});
        const back = mod.encodeBinary({{ type: "event", name: "x", body: {{ a: 1 }} }}, new Uint8Array([1, 2, 3]));
        let refused = null;
        try {{
          mod.decodeMessage(new Uint8Array([0x57, 0x42, 2, 0, 0, 0, 2, 123, 125]));
        }} catch (e) {{
          refused = e.message;
        }}
        console.log(JSON.stringify({{ msg, payload: Array.from(payload), text: text.msg, back: Array.from(back),
                                     refused }}));
    """)
    assert result["msg"] == {"v": 1, "type": "event", "name": "screen.frame", "body": body}
    assert result["payload"] == list(range(32))
    assert result["text"]["body"] == {"paused": True}
    decoded = protocol.decode(bytes(result["back"]))
    assert (decoded.type, decoded["name"], decoded["body"], decoded.data) == ("event", "x", {"a": 1}, b"\x01\x02\x03")
    assert "version" in result["refused"]


def test_js_backoff_doubles_up_to_a_cap() -> None:
    delays = run_node("""
        const it = mod.backoffDelays({ random: () => 0.5 });
        console.log(JSON.stringify(Array.from({ length: 8 }, () => it.next().value)));
    """)
    assert delays == [250, 500, 1000, 2000, 4000, 8000, 10000, 10000]


# A fake WebSocket that records what the link does, driven by the script.
_FAKE_SOCKET = """
const sockets = [];
class FakeSocket {
  constructor(url) { this.url = url; this.sent = []; this.readyState = 0; this.closedWith = null; sockets.push(this); }
  send(data) { this.sent.push(JSON.parse(data)); }
  close(code, reason) { this.closedWith = [code, reason]; this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.(); }
  receive(obj) { this.onmessage?.({ data: JSON.stringify({ v: 1, ...obj }) }); }
  drop(code) { this.readyState = 3; this.onclose?.({ code, reason: "" }); }
}
const states = [];
const received = [];
const link = new mod.ScreenLink({
  url: "ws://relay", sessionId: "S", token: "T", WebSocketImpl: FakeSocket,
  onMessage: (msg) => received.push(msg.name), onState: (state, detail) => states.push([state, detail.delay ?? null]),
});
link.delays = (function* () { for (;;) yield 5; })();
const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
"""


def test_js_link_says_hello_reconnects_and_stops() -> None:
    result = run_node(_FAKE_SOCKET + """
        link.start();
        const first = sockets[0];
        first.open();
        const hello = first.sent[0];
        first.receive({ type: "event", name: "screen.frame", body: {} });  // before welcome: ignored
        first.receive({ type: "welcome", viewer_id: "v1" });
        const sentWhenLive = link.send("screen.ack", { seq: 1 });
        first.receive({ type: "event", name: "screen.info", body: {} });
        first.drop(1006);                                   // the relay went away
        const notLive = link.send("screen.ack", { seq: 2 });
        await tick(50);                                     // past the (5 ms) retry delay
        const second = sockets[1];
        second.open();
        second.receive({ type: "welcome", viewer_id: "v2" });
        link.stop();
        await tick(50);
        console.log(JSON.stringify({ hello, ack: first.sent[1], sentWhenLive, notLive, received, states,
          count: sockets.length, closed: second.closedWith, viewerId: link.viewerId }));
    """)
    assert result["hello"] == {"v": 1, "type": "hello", "role": "viewer", "session_id": "S", "token": "T"}
    assert result["ack"] == {"v": 1, "type": "event", "name": "screen.ack", "body": {"seq": 1}}
    assert (result["sentWhenLive"], result["notLive"]) == (True, False)
    assert result["received"] == ["screen.info"]
    assert [state for state, _ in result["states"]] == ["connecting", "live", "retrying", "connecting", "live", "idle"]
    assert result["states"][2] == ["retrying", 5]
    assert result["count"] == 2  # stop() left nothing to reconnect
    assert result["closed"] == [1000, "view closed"]
    assert result["viewerId"] == "v2"


def test_js_link_does_not_retry_a_refused_token_until_given_a_new_one() -> None:
    result = run_node(_FAKE_SOCKET + """
        link.start();
        sockets[0].open();
        sockets[0].receive({ type: "error", id: null, code: "unauthorized", message: "bad token" });
        await tick(50);
        const afterRefusal = sockets.length;
        link.restart({ token: "T2" });
        sockets[1].open();
        sockets[1].receive({ type: "error", id: null, code: "session_ended", message: "over" });
        await tick(50);
        console.log(JSON.stringify({ afterRefusal, total: sockets.length, hello2: sockets[1].sent[0], states,
          terminal: link.terminal }));
    """)
    assert result["afterRefusal"] == 1
    assert result["total"] == 2
    assert result["hello2"]["token"] == "T2"
    assert [state for state, _ in result["states"]] == ["connecting", "refused", "connecting", "ended"]
    assert result["terminal"] == "ended"


def test_js_stats_measure_rate_bandwidth_and_latency() -> None:
    result = run_node("""
        let now = 0;
        const stats = new mod.StreamStats(() => now);
        performance.now = () => now;                                      // the drawing clock too
        for (let i = 0; i < 20; i += 1) {
          now += 100;
          stats.frameReceived(1000);
          stats.frameDrawn(performance.timeOrigin + performance.now() - 20);  // drawn 20 ms after capture
        }
        const capture = stats.snapshot();
        stats.reset();
        for (let i = 0; i < 10; i += 1) {
          stats.ackSent(); now += 30; stats.frameReceived(500);
          stats.frameDrawn(0);                                            // a clock from 1970: not comparable
        }
        console.log(JSON.stringify({ capture, rtt: stats.snapshot() }));
    """)
    capture, rtt = result["capture"], result["rtt"]
    assert capture["fps"] == pytest.approx(10)
    assert capture["kbps"] == pytest.approx(80)  # 1000 B per 100 ms
    assert capture["latencyKind"] == "capture"
    assert capture["latencyMs"] == pytest.approx(20)
    assert rtt["latencyKind"] == "rtt"
    assert rtt["latencyMs"] == pytest.approx(30)
