"""A minimal RFB 3.8 (VNC) viewer for the benchmark: reads x11vnc like a VNC client would.

``python bench/screen_rfb.py --port P --marker X,Y,W,H --region X,Y,W,H [--quality 0-9] [--compress 0-9]``
connects to 127.0.0.1:P without authentication, asks for 32-bit true colour
and the encodings Tight (with JPEG at the given quality level), CopyRect and
Raw, and keeps one incremental FramebufferUpdateRequest outstanding (a new
one as soon as an update is drawn, as common viewers do).  After each update
it records the same observations as bench/screen_client.py and prints them
as JSON when stdin closes.

Protocol: RFC 6143 (RFB 3.8); Tight encoding as documented by the RFB
community specification (rfbproto), section "Tight Encoding".
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import threading
import time
import zlib

import numpy as np
import numpy.typing as npt
import simplejpeg
from screen_observe import Observer, parse_rect

RAW, COPYRECT, TIGHT = 0, 1, 7
QUALITY_LEVEL_0 = -32  # -32 … -23
COMPRESS_LEVEL_0 = -256  # -256 … -247


class RFBError(RuntimeError):
    """The server said something this viewer does not understand."""


class Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = 0

    def read(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = self.sock.recv(min(size, 1 << 20))
            if not chunk:
                raise EOFError("server closed the connection")
            self.received += len(chunk)
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def u8(self) -> int:
        return self.read(1)[0]

    def compact_length(self) -> int:
        value, shift = 0, 0
        for _ in range(3):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return value


class Viewer:
    def __init__(self, port: int, quality: int, compress: int, observer: Observer) -> None:
        self.conn = Connection(socket.create_connection(("127.0.0.1", port)))
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.observer = observer
        self.streams = [zlib.decompressobj() for _ in range(4)]
        self._handshake(quality, compress)

    def _handshake(self, quality: int, compress: int) -> None:
        conn = self.conn
        version = conn.read(12)
        if not version.startswith(b"RFB 003."):
            raise RFBError(f"not an RFB server: {version!r}")
        conn.sock.sendall(b"RFB 003.008\n")
        count = conn.u8()
        if count == 0:
            reason = conn.read(struct.unpack(">I", conn.read(4))[0])
            raise RFBError(f"refused: {reason!r}")
        if 1 not in conn.read(count):
            raise RFBError("the server wants a password")
        conn.sock.sendall(b"\x01")
        if struct.unpack(">I", conn.read(4))[0] != 0:
            raise RFBError("security handshake failed")
        conn.sock.sendall(b"\x01")  # shared
        self.width, self.height = struct.unpack(">HH", conn.read(4))
        conn.read(16)
        conn.read(struct.unpack(">I", conn.read(4))[0])
        # 32 bpp, depth 24, little endian, true colour, 255 max, shifts R16 G8 B0: BGRX in memory.
        pixel_format = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
        conn.sock.sendall(b"\x00\x00\x00\x00" + pixel_format)
        encodings = [TIGHT, COPYRECT, RAW, QUALITY_LEVEL_0 + quality, COMPRESS_LEVEL_0 + compress]
        conn.sock.sendall(struct.pack(">BxH", 2, len(encodings)) + struct.pack(f">{len(encodings)}i", *encodings))
        self.pixels: npt.NDArray[np.uint8] = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        self.request(incremental=False)

    def request(self, incremental: bool) -> None:
        self.conn.sock.sendall(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, self.width, self.height))

    def run(self, stop: threading.Event) -> None:
        conn = self.conn
        while not stop.is_set():
            kind = conn.u8()
            if kind == 0:
                conn.read(1)
                (count,) = struct.unpack(">H", conn.read(2))
                for _ in range(count):
                    x, y, w, h, encoding = struct.unpack(">HHHHi", conn.read(12))
                    self._rect(x, y, w, h, encoding)
                self.request(incremental=True)
                self.observer.observe(time.monotonic(), conn.received, self.pixels, count > 0)
            elif kind == 1:
                conn.read(3)
                (colours,) = struct.unpack(">H", conn.read(2))
                conn.read(6 * colours)
            elif kind == 2:
                pass
            elif kind == 3:
                conn.read(3)
                conn.read(struct.unpack(">I", conn.read(4))[0])
            else:
                raise RFBError(f"unknown server message {kind}")

    def _rect(self, x: int, y: int, w: int, h: int, encoding: int) -> None:
        conn = self.conn
        if encoding == RAW:
            data = np.frombuffer(conn.read(w * h * 4), dtype=np.uint8).reshape(h, w, 4)
            self.pixels[y : y + h, x : x + w] = data[:, :, 2::-1]
        elif encoding == COPYRECT:
            sx, sy = struct.unpack(">HH", conn.read(4))
            self.pixels[y : y + h, x : x + w] = self.pixels[sy : sy + h, sx : sx + w].copy()
        elif encoding == TIGHT:
            self._tight(x, y, w, h)
        else:
            raise RFBError(f"encoding {encoding} was not asked for")

    def _tight(self, x: int, y: int, w: int, h: int) -> None:
        conn = self.conn
        control = conn.u8()
        for stream in range(4):
            if control & (1 << stream):
                self.streams[stream] = zlib.decompressobj()
        kind = control >> 4
        target = self.pixels[y : y + h, x : x + w]
        if kind == 8:  # fill
            target[:] = np.frombuffer(conn.read(3), dtype=np.uint8)
            return
        if kind == 9:  # JPEG
            data = conn.read(conn.compact_length())
            target[:] = simplejpeg.decode_jpeg(data, colorspace="RGB")
            return
        if kind & 8:
            raise RFBError(f"tight compression {kind:#x}")
        stream = kind & 3
        filter_id = conn.u8() if kind & 4 else 0
        if filter_id == 0:  # copy: TPIXELs (RGB)
            raw = self._tight_data(stream, w * h * 3)
            target[:] = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
        elif filter_id == 1:  # palette
            colours = conn.u8() + 1
            palette = np.frombuffer(conn.read(colours * 3), dtype=np.uint8).reshape(colours, 3)
            if colours == 2:
                row_bytes = (w + 7) // 8
                raw = self._tight_data(stream, row_bytes * h)
                bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(h, row_bytes), axis=1)[:, :w]
                target[:] = palette[bits]
            else:
                raw = self._tight_data(stream, w * h)
                target[:] = palette[np.frombuffer(raw, dtype=np.uint8).reshape(h, w)]
        else:
            raise RFBError(f"tight filter {filter_id} (gradient is not used with JPEG on)")

    def _tight_data(self, stream: int, size: int) -> bytes:
        if size < 12:
            return self.conn.read(size)
        compressed = self.conn.read(self.conn.compact_length())
        data = self.streams[stream].decompress(compressed)
        if len(data) != size:
            raise RFBError(f"tight data of {len(data)} bytes, expected {size}")
        return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--marker", type=parse_rect, required=True)
    parser.add_argument("--region", type=parse_rect, required=True)
    parser.add_argument("--quality", type=int, default=7)
    parser.add_argument("--compress", type=int, default=2)
    args = parser.parse_args()
    observer = Observer(args.marker, args.region)
    viewer = Viewer(args.port, args.quality, args.compress, observer)
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            viewer.run(stop)
        except (EOFError, OSError):
            pass
        except BaseException as err:  # report it with the results
            errors.append(err)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    sys.stdin.read()
    stop.set()
    viewer.conn.sock.close()
    thread.join(5)
    result = observer.result()
    result["errors"] = [repr(e) for e in errors]
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
