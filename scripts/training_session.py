"""The scripted support session that training recordings (and the recording tests) are made from.

:func:`record_training_session` runs it with real processes: Xvfb, ``workbench relay --record all``,
the customer's faulty program (``scripts/fault_app.py``), ``workbench-agent`` hiding the "Bank
statement" window, and a technician's ``workbench.connect`` session.  :class:`RawViewer` is a
technician's view without a browser: a ``viewer`` websocket that decodes frames like the widget and
keeps what it drew, by frame number.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from websockets.sync.client import connect as ws_connect  # noqa: E402

from screenfmt.h264 import available as h264_available  # noqa: E402
from wire import protocol  # noqa: E402
from workbench.lab import Proc, Xvfb, start_agent, start_relay  # noqa: E402
from workbench.replay_canvas import ReplayCanvas  # noqa: E402

BAD_INI = "[mail]\nserver = mail.exmaple.net\nport = 993\n"
GOOD_INI = "[mail]\nserver = mail.example.net\nport = 993\n"
SECRET_TITLE = "Bank statement"


@dataclass
class RawViewer:
    """A technician's view on the relay in a thread: draws every frame, acks it, keeps each picture by seq.

    *canvas_factory* makes the canvas it draws on (the widget's steps); pictures are kept for the
    frames whose seq *keep* accepts (all by default).  *h264*: it says it decodes ``h264`` rectangles,
    as the widget does where WebCodecs decodes H.264 (by default, where PyAV is installed).
    """

    url: str
    session_id: str
    token: str
    canvas: ReplayCanvas = field(default_factory=ReplayCanvas)
    keep: Callable[[int], bool] = lambda seq: True
    pictures: dict[int, npt.NDArray[np.uint8]] = field(default_factory=dict)
    error: BaseException | None = None
    h264: bool = field(default_factory=h264_available)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self.welcomed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with ws_connect(self.url, max_size=None, compression=None, open_timeout=20) as ws:
                ws.send(protocol.encode(protocol.Message("hello", {
                    "role": "viewer", "session_id": self.session_id, "token": self.token})))
                welcome = protocol.decode(ws.recv(timeout=20))
                assert welcome.type == "welcome", f"relay answered {welcome}"
                ws.send(protocol.encode(protocol.event("screen.configure", {"copy": True, "max_fps": 20,
                                                                            "h264": self.h264})))
                ws.send(protocol.encode(protocol.event("screen.key_request", {})))
                self.welcomed.set()
                while not self._stop.is_set():
                    try:
                        frame = ws.recv(timeout=0.2)
                    except TimeoutError:
                        continue
                    message = protocol.decode(frame)
                    if message.type != "event" or message["name"] != "screen.frame":
                        continue
                    body, data = message["body"], message.data or b""
                    self.canvas.apply(body, data)  # any format: the canvas keeps format 3's stream state
                    body = {**body, "seq": self.canvas.seq}
                    if self.keep(int(body["seq"])):
                        self.pictures[int(body["seq"])] = self.canvas.pixels.copy()
                    ws.send(protocol.encode(protocol.event("screen.ack", {"seq": body["seq"]})))
        except BaseException as err:  # reported by stop()
            self.error = err

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(20)
        if self.error is not None:
            raise RuntimeError(f"the viewer failed: {self.error!r}") from self.error


@dataclass
class Stage:
    """Everything running for the scripted session."""

    work: Path
    xvfb: Xvfb
    procs: list[Proc]
    relay_url: str
    ini: Path
    session: Any = None

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.xvfb.stop()


def start_stage(work: Path, *relay_args: str) -> Stage:
    """Xvfb, the relay (``--record all`` unless told), the faulty program, the agent; the technician connected."""
    from workbench import connect

    work.mkdir(parents=True, exist_ok=True)
    xvfb = Xvfb(1280, 800)
    procs: list[Proc] = []
    stage = Stage(work, xvfb, procs, "", work / "mail.ini")
    try:
        stage.ini.write_text(BAD_INI, encoding="utf-8")
        relay, url = start_relay(work / "relay", 0, *(relay_args or ("--record", "all")))
        procs.append(relay)
        stage.relay_url = url
        app = Proc([sys.executable, str(ROOT / "scripts" / "fault_app.py"), str(stage.ini)], env=xvfb.env(),
                   name="fault-app")
        procs.append(app)
        time.sleep(0.1)
        agent, code = start_agent(url, work / "agent", "--hide-window", SECRET_TITLE, env=xvfb.env())
        procs.append(agent)
        stage.session = connect(code, relay=url, name="Alice")
    except BaseException:
        stage.stop()
        raise
    return stage


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.1)


def view_token(session: Any) -> str:
    return str(session._viewer_token())


def record_training_session(work: Path) -> str:
    """Run the scripted fault and its fix; returns the session id (records under ``work/relay``)."""
    stage = start_stage(work)
    try:
        s = stage.session
        time.sleep(3)  # the customer explains; nobody views yet: recorded at the low rate
        viewer = RawViewer(stage.relay_url, s.session_id, view_token(s), keep=lambda seq: False)
        viewer.welcomed.wait(20)
        time.sleep(3)
        s.screenshot()
        content = s.files.read(str(stage.ini))
        time.sleep(1.5)
        s.files.write(str(stage.ini), content.replace("exmaple", "example"))
        time.sleep(3)  # the program turns green
        s.screenshot()
        viewer.stop()
        time.sleep(3)  # the view is closed: still recorded
        session_id = str(s.session_id)
        s.close()
        relay_dir = work / "relay" / "sessions" / session_id
        wait_until(lambda: (relay_dir / "recording" / "screen.wbrec").exists(), 10, "the recording")
        time.sleep(1.5)
    finally:
        stage.stop()
    return session_id
