"""The ``h264`` codec end to end (issues 8 and 15): motion from a real agent on Xvfb, through a real relay
that records it, to a Python viewer (PyAV) and to the widget's modules in headless Chromium (WebCodecs).

One scenario: a full-screen window on Xvfb cycles through four photo-like pictures 10 times a second
(large motion: consecutive frames differ, whatever the load does to the frame rate); both views say
they decode h264, so the agent sends it.  Checked:

1. the browser decoded and drew h264 frames (WebCodecs in Debian's Chromium), with no decoding
   error, and its canvas after an h264 frame is, pixel for pixel, that frame as the Python viewer
   drew it (both convert the decoded planes with the one integer formula, screenfmt/yuv.py and
   widget_src/yuv.js: the whole canvas's SHA-256 is compared, and a grid of points for the report);
2. the recording holds the same frames: ``frame_at`` equals, pixel for pixel, every picture the
   Python viewer drew (the replay decodes h264 from the IDR key frame before the time asked).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.needs("Xvfb", "xvfb")]

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e import lab_browser as lab  # noqa: E402
from workbench import recordings  # noqa: E402
from workbench.lab import serve_page  # noqa: E402

pytestmark.append(pytest.mark.needs(lab.CHROMIUM, "chromium"))

ROOT = Path(__file__).resolve().parents[2]
for folder in ("scripts", "bench"):
    if str(ROOT / folder) not in sys.path:
        sys.path.insert(0, str(ROOT / folder))

import training_session as scripted  # noqa: E402
from screen_x import Painter  # noqa: E402

PAGE = """<!doctype html><html><body><script type="module">
import { decodeMessage, eventMessage, helloMessage } from "/workbench/widget_src/protocol.js";
import { ScreenSurface } from "/workbench/widget_src/surface.js";
import { h264Supported } from "/workbench/widget_src/h264.js";
const params = new URLSearchParams(location.search);
const canvas = document.createElement("canvas");
document.body.append(canvas);
const stats = window.stats = { frames: 0, h264: 0, errors: [], snapshots: [], supported: null };
const ws = new WebSocket(params.get("relay"));
ws.binaryType = "arraybuffer";
async function snapshot(seq) {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const points = [];
  for (let y = 3; y < canvas.height; y += 16) {
    for (let x = 2; x < canvas.width; x += 16) {
      const i = (y * canvas.width + x) * 4;
      points.push([x, y, data[i], data[i + 1], data[i + 2]]);
    }
  }
  const rgb = new Uint8Array((data.length / 4) * 3);
  for (let i = 0, o = 0; i < data.length; i += 4, o += 3) {
    rgb[o] = data[i];
    rgb[o + 1] = data[i + 1];
    rgb[o + 2] = data[i + 2];
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", rgb));
  const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  stats.snapshots.push({ seq, points, sha256 });
}
const surface = new ScreenSurface(canvas, { onFrameDone: (body, outcome) => {
  if (outcome.error) stats.errors.push(String(outcome.error));
  else if (!outcome.skipped) {
    stats.frames += 1;
    if ((body.rects || []).some((rect) => rect.codec === "h264")) {
      stats.h264 += 1;
      if (stats.h264 % 4 === 2 && stats.snapshots.length < 4) snapshot(body.seq);
    }
  }
  ws.send(eventMessage("screen.ack", { seq: body.seq }));
} });
ws.onopen = () => ws.send(helloMessage(params.get("session"), params.get("token")));
ws.onmessage = async (event) => {
  const { msg, payload } = decodeMessage(event.data);
  if (msg.type === "welcome") {
    stats.supported = await h264Supported();
    ws.send(eventMessage("screen.configure", { copy: true, max_fps: 20, h264: stats.supported }));
    ws.send(eventMessage("screen.key_request", {}));
    stats.welcomed = true;
  } else if (msg.type === "event" && msg.name === "screen.frame") {
    surface.push(msg.body, payload);
  }
};
</script></body></html>"""


def test_motion_streams_as_h264_to_python_and_chromium_and_replays_exactly(tmp_path: Path) -> None:
    stage = scripted.start_stage(tmp_path)
    painter = None
    try:
        s = stage.session
        session_dir = tmp_path / "relay" / "sessions" / s.session_id
        painter = Painter(stage.xvfb.display, "--title", "motion", "--geometry", "1280x800+0+0", "--images", "4")
        viewer = scripted.RawViewer(stage.relay_url, s.session_id, scripted.view_token(s), h264=True)
        assert viewer.welcomed.wait(20)
        with serve_page(ROOT, PAGE, "h264.html") as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=lab.CHROMIUM, headless=True,
                                                 args=list(lab.CHROMIUM_ARGS))
            try:
                page = browser.new_page()
                page.goto(f"{url}?relay={stage.relay_url}&session={s.session_id}&token={scripted.view_token(s)}")
                page.wait_for_function("window.stats && window.stats.welcomed === true", timeout=30_000)
                deadline = time.monotonic() + 60
                k = 0
                while time.monotonic() < deadline:
                    painter.command(f"image {k % 4}")
                    k += 1
                    time.sleep(0.1)  # the scene's pace: ten pictures a second, whatever the stream does
                    # Counts only: the snapshots' points are fetched once, at the end (a second each).
                    taken = page.evaluate("window.stats.snapshots.length")
                    if k >= 30 and taken >= 2:
                        break
                stats = page.evaluate("window.stats")
            finally:
                browser.close()
        viewer.stop()
        s.close()
        scripted.wait_until(lambda: "journal_end" in (session_dir / "session.json").read_text(), 30,
                            "the session's records closed")
    finally:
        if painter is not None:
            painter.close()
        stage.stop()

    assert stats["supported"] is True, "WebCodecs does not decode H.264 in this Chromium"
    assert stats["errors"] == [], stats["errors"]
    assert stats["h264"] >= 2 and len(stats["snapshots"]) >= 2, json.dumps({k: v for k, v in stats.items()
                                                                             if k != "snapshots"})
    for snap in stats["snapshots"]:
        picture = viewer.pictures[snap["seq"]]
        points = np.array(snap["points"], dtype=np.int16)
        ours = picture[points[:, 1], points[:, 0]].astype(np.int16)
        difference = np.abs(ours - points[:, 2:])
        assert difference.max() == 0 and snap["sha256"] == hashlib.sha256(picture.tobytes()).hexdigest(), (
            f"frame {snap['seq']}: Chromium's canvas is not the frame the Python viewer drew "
            f"(sampled points: mean difference {difference.mean():.2f}, max {difference.max()})")

    r = recordings.open(tmp_path / "relay", s.session_id)
    compared = 0
    for t, seq, _key in r.frame_log:
        if seq in viewer.pictures:
            assert np.array_equal(np.asarray(r.frame_at(t)), viewer.pictures[seq]), f"frame {seq} at {t:.3f} s"
            compared += 1
    assert compared == len(viewer.pictures) and {snap["seq"] for snap in stats["snapshots"]} <= set(viewer.pictures)
