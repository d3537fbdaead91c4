"""A stand-in for the relay's viewer side of docs/screen-protocol.md, for the widget's browser tests.

It stands in for ``workbench/relay.py`` + an agent until those run the live screen; it speaks
the same wire format through :mod:`wire.protocol`.  Run as its own process::

    python viewer_stub.py --session S --token T [--port 0] [--fps 15]

and it prints ``READY ws://127.0.0.1:PORT`` once listening.

Viewers (``hello`` role ``viewer`` with the right ``session_id`` and ``token``) get ``welcome``,
``screen.info`` (two monitors side by side), ``screen.state`` (one hidden area), a key frame
on every ``screen.key_request`` / ``screen.configure``, and then a small changing "ticker"
frame at ``--fps`` while fewer than :data:`MAX_IN_FLIGHT` of their frames are unacked.  Key
frames carry the left third of the stream as JPEG, the middle third as PNG and the right third
as raw B,G,R,X, with the hidden area already filled (as the agent does) and listed in
``hidden``.  Viewers that announced ``copy: true`` also get a ``copy`` rect in every frame
(the ticker copied to :data:`COPY_TARGET`).  A wrong token gets
``error unauthorized`` and the socket is closed.

A status query is a websocket too: ``hello`` role ``stub-status`` (optionally
``"action": "drop"`` to drop every viewer, or ``"action": "state", "body": {...}`` to send a
``screen.state`` to every viewer) answered by one ``event stub.status`` whose body holds the
counters (live viewers, acks, frames, …); then the stub closes that socket.

The pictures are deterministic (:func:`desktop_image`, :func:`stream_image`) so a test can
compare the browser's canvas against them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from wire import protocol
from wire.errors import ProtocolError

MONITORS: list[dict[str, Any]] = [
    {"index": 0, "x": 0, "y": 0, "width": 640, "height": 360, "primary": True},
    {"index": 1, "x": 640, "y": 0, "width": 320, "height": 360, "primary": False},
]
DESKTOP_SIZE = (960, 360)
#: The customer hid this desktop rectangle; it straddles the two monitors.
HIDDEN_DESKTOP = (520, 60, 180, 120)
HIDDEN_FILL = (48, 48, 48)  # the agent's (agent/screen/hidden.py FILL_BGRA)
HIDDEN_LABEL = "Hidden by the customer"
#: The changing area, in stream px (top-left of whatever is streamed); tests avoid it.
TICKER = (8, 8, 64, 32)
#: Where ticker frames copy the ticker to (a "copy" rect) for viewers that draw copies.
COPY_TARGET = (8, 48)
CELL = (80, 60)
MAX_IN_FLIGHT = 2

#: One rect of a frame: (x, y, image, codec), or (x, y, (sx, sy, w, h), "copy").
Part = tuple[int, int, "Image.Image | tuple[int, int, int, int]", str]


def cell_colour(column: int, row: int) -> tuple[int, int, int]:
    """A solid colour per 80×60 cell, distinct from its neighbours (so misplacement shows)."""
    return ((40 + 67 * column) % 256, (90 + 101 * row + 29 * column) % 256, (150 + 47 * (column + 2 * row)) % 256)


def desktop_image() -> Image.Image:
    """The customer's whole virtual screen, before hiding: a grid of solid cells and a few lines."""
    image = Image.new("RGB", DESKTOP_SIZE)
    draw = ImageDraw.Draw(image)
    for column in range(DESKTOP_SIZE[0] // CELL[0]):
        for row in range(DESKTOP_SIZE[1] // CELL[1]):
            x, y = column * CELL[0], row * CELL[1]
            draw.rectangle((x, y, x + CELL[0] - 1, y + CELL[1] - 1), fill=cell_colour(column, row))
    draw.line((0, 0, DESKTOP_SIZE[0] - 1, DESKTOP_SIZE[1] - 1), fill=(255, 255, 255), width=3)
    return image


def stream_origin(monitor: str | int) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the streamed area in desktop px."""
    if monitor == "all":
        return (0, 0, *DESKTOP_SIZE)
    shown = MONITORS[int(monitor)]
    return (shown["x"], shown["y"], shown["width"], shown["height"])


def hidden_in_stream(monitor: str | int) -> list[tuple[int, int, int, int]]:
    """The hidden area clipped to the stream, in stream px (empty if it is not on that monitor)."""
    ox, oy, width, height = stream_origin(monitor)
    hx, hy, hw, hh = HIDDEN_DESKTOP
    left, top = max(hx - ox, 0), max(hy - oy, 0)
    right, bottom = min(hx + hw - ox, width), min(hy + hh - oy, height)
    return [(left, top, right - left, bottom - top)] if right > left and bottom > top else []


def stream_image(monitor: str | int) -> Image.Image:
    """What the agent streams for *monitor*: the crop, with hidden pixels already replaced."""
    ox, oy, width, height = stream_origin(monitor)
    image = desktop_image().crop((ox, oy, ox + width, oy + height))
    draw = ImageDraw.Draw(image)
    for x, y, w, h in hidden_in_stream(monitor):
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=HIDDEN_FILL)
    return image


def ticker_colour(count: int) -> tuple[int, int, int]:
    return ((count * 37) % 256, (count * 73 + 40) % 256, 200)


def encode_image(image: Image.Image, codec: str) -> bytes:
    if codec == "raw":  # B, G, R, X bytes
        red, green, blue = image.convert("RGB").split()
        return Image.merge("RGBX", (blue, green, red, Image.new("L", image.size, 255))).tobytes()
    out = io.BytesIO()
    if codec == "jpeg":
        image.save(out, "JPEG", quality=90)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def frame_message(
    seq: int, monitor: str | int, parts: list[Part], *, key: bool, paused: bool = False
) -> bytes:
    """A binary ``screen.frame`` event: *parts* are (x, y, image, codec) in stream px, or
    (x, y, (sx, sy, w, h), "copy")."""
    _, _, width, height = stream_origin(monitor)
    rects: list[dict[str, Any]] = []
    payloads = []
    for x, y, image, codec in parts:
        if isinstance(image, tuple):
            sx, sy, w, h = image
            rects.append({"x": x, "y": y, "w": w, "h": h, "codec": "copy", "len": 0, "sx": sx, "sy": sy})
            continue
        data = encode_image(image, codec)
        rects.append({"x": x, "y": y, "w": image.width, "h": image.height, "codec": codec, "len": len(data)})
        payloads.append(data)
    body = {
        "seq": seq,
        "key": key,
        "width": width,
        "height": height,
        "captured_at": time.time() * 1000,
        "rects": rects,
        "hidden": [
            {"x": x, "y": y, "w": w, "h": h, "label": HIDDEN_LABEL}
            for x, y, w, h in hidden_in_stream(monitor)
        ],
        "paused": paused,
        "monitor": monitor,
    }
    encoded = protocol.encode(protocol.event("screen.frame", body, b"".join(payloads)))
    assert isinstance(encoded, bytes)
    return encoded


def send_text(message: protocol.Message) -> str:
    encoded = protocol.encode(message)
    assert isinstance(encoded, str)
    return encoded


@dataclass
class Viewer:
    ws: ServerConnection
    viewer_id: str
    monitor: str | int = "all"
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    unacked: set[int] = field(default_factory=set)
    keyed: bool = False
    ticks: int = 0
    draws_copies: bool = False


@dataclass
class Stub:
    session_id: str
    token: str
    fps: float
    live: dict[str, Viewer] = field(default_factory=dict)
    counters: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("connections_total", "acks_total", "frames_sent", "key_frames_sent", "key_requests",
             "auth_failures", "bad_messages"), 0)
    )
    configures: list[dict[str, Any]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    #: The customer paused the view: no new pictures (the agent sends nothing while paused).
    paused: bool = False
    #: The customer's screen is still: no change, so no frame after the key frames.
    still: bool = False

    def status(self) -> dict[str, Any]:
        return {
            **self.counters,
            "live_viewers": len(self.live),
            "viewer_monitors": [viewer.monitor for viewer in self.live.values()],
            "configures": self.configures[-20:],
        }

    async def handle(self, ws: ServerConnection) -> None:
        try:
            hello = protocol.decode(await asyncio.wait_for(ws.recv(), 10))
        except (TimeoutError, ConnectionClosed, ProtocolError):
            return
        if hello.type != "hello":
            await ws.send(send_text(protocol.error(None, {"code": "bad_message", "message": "hello first"})))
            return
        if hello["role"] == "stub-status":
            await self.answer_status(ws, hello)
        elif hello["role"] != "viewer":
            await ws.send(send_text(protocol.error(None, {"code": "bad_message", "message": "unknown role"})))
        elif hello.get("session_id") != self.session_id or hello.get("token") != self.token:
            self.counters["auth_failures"] += 1
            await ws.send(send_text(protocol.error(None, {"code": "unauthorized", "message": "bad viewer token"})))
        else:
            await self.serve_viewer(ws)

    async def answer_status(self, ws: ServerConnection, hello: protocol.Message) -> None:
        action = hello.get("action")
        if action == "drop":
            for viewer in list(self.live.values()):
                await viewer.ws.close(1012, "stub dropped viewers")
        elif action == "state":
            body = hello.get("body") or {}
            self.paused = bool(body.get("paused"))
            message = send_text(protocol.event("screen.state", body))
            for viewer in list(self.live.values()):
                await viewer.ws.send(message)
        await ws.send(send_text(protocol.event("stub.status", self.status())))

    async def serve_viewer(self, ws: ServerConnection) -> None:
        viewer = Viewer(ws, f"v{next(self.ids)}")
        self.live[viewer.viewer_id] = viewer
        self.counters["connections_total"] += 1
        ticker = asyncio.create_task(self.tick(viewer))
        try:
            await ws.send(send_text(protocol.Message("welcome", {"viewer_id": viewer.viewer_id})))
            info = {"monitors": MONITORS, "stream": {"codecs": ["jpeg", "png"]}}
            await ws.send(send_text(protocol.event("screen.info", info)))
            await ws.send(send_text(protocol.event(
                "screen.state", {"paused": False, "hidden_count": 1, "reason": "an area the customer chose"})))
            async for raw in ws:
                await self.on_viewer_message(viewer, raw)
        except ConnectionClosed:
            pass
        finally:
            ticker.cancel()
            self.live.pop(viewer.viewer_id, None)

    async def on_viewer_message(self, viewer: Viewer, raw: str | bytes) -> None:
        try:
            message = protocol.decode(raw)
        except ProtocolError as err:
            self.counters["bad_messages"] += 1
            await viewer.ws.send(send_text(protocol.error(None, err.to_wire())))
            return
        name = message.get("name") if message.type == "event" else None
        body = message.get("body") or {}
        if name == "screen.ack" and isinstance(body.get("seq"), int):
            self.counters["acks_total"] += 1
            viewer.unacked.discard(body["seq"])
        elif name == "screen.key_request":
            self.counters["key_requests"] += 1
            await self.send_key(viewer)
        elif name == "screen.configure":
            self.configures.append(body)
            viewer.draws_copies = body.get("copy") is True
            monitor = body.get("monitor", "all")
            if monitor == "all" or (isinstance(monitor, int) and 0 <= monitor < len(MONITORS)):
                viewer.monitor = monitor
            await self.send_key(viewer)
        else:
            self.counters["bad_messages"] += 1
            refusal = {"code": "bad_message", "message": f"not for viewers: {name}"}
            await viewer.ws.send(send_text(protocol.error(None, refusal)))

    async def send_key(self, viewer: Viewer) -> None:
        image = stream_image(viewer.monitor)
        ImageDraw.Draw(image).rectangle(ticker_box(), fill=ticker_colour(viewer.ticks))
        third = image.width // 3
        parts: list[Part] = [
            (0, 0, image.crop((0, 0, third, image.height)), "jpeg"),
            (third, 0, image.crop((third, 0, 2 * third, image.height)), "png"),
            (2 * third, 0, image.crop((2 * third, 0, image.width, image.height)), "raw"),
        ]
        if viewer.draws_copies:  # as a tick would leave it
            parts.append((*COPY_TARGET, TICKER, "copy"))
        await self.send_frame(viewer, parts, key=True)
        viewer.keyed = True
        self.counters["key_frames_sent"] += 1

    async def send_frame(self, viewer: Viewer, parts: list[Part], *, key: bool) -> None:
        seq = next(viewer.seq)
        viewer.unacked.add(seq)
        await viewer.ws.send(frame_message(seq, viewer.monitor, parts, key=key, paused=self.paused))
        self.counters["frames_sent"] += 1

    async def tick(self, viewer: Viewer) -> None:
        """Send a small changed area at the frame rate while the viewer keeps up (newest wins:
        a tick skipped for want of acks is simply never sent)."""
        while True:
            await asyncio.sleep(1 / self.fps)
            if self.paused or self.still or not viewer.keyed or len(viewer.unacked) >= MAX_IN_FLIGHT:
                continue
            viewer.ticks += 1
            patch = Image.new("RGB", TICKER[2:], ticker_colour(viewer.ticks))
            parts: list[Part] = [(TICKER[0], TICKER[1], patch, "png")]
            if viewer.draws_copies:
                parts.append((*COPY_TARGET, TICKER, "copy"))
            try:
                await self.send_frame(viewer, parts, key=False)
            except ConnectionClosed:
                return


def ticker_box() -> tuple[int, int, int, int]:
    x, y, w, h = TICKER
    return (x, y, x + w - 1, y + h - 1)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--session", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--fps", type=float, default=15.0)
    args = parser.parse_args(argv)
    stub = Stub(args.session, args.token, args.fps)
    async with serve(stub.handle, args.host, args.port, compression=None,
                     max_size=protocol.MAX_MESSAGE_BYTES) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"READY ws://{args.host}:{port}", flush=True)
        await server.serve_forever()


def query(url: str, action: str | None = None, **fields: Any) -> dict[str, Any]:
    """Ask a running stub for its counters (optionally performing *action* first)."""
    from websockets.sync.client import connect

    hello: dict[str, Any] = {"v": protocol.PROTOCOL_VERSION, "type": "hello", "role": "stub-status", **fields}
    if action:
        hello["action"] = action
    with connect(url, open_timeout=10, compression=None) as ws:
        ws.send(json.dumps(hello))
        reply = protocol.decode(ws.recv(timeout=10))
    body: dict[str, Any] = reply["body"]
    return body


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1:]))
