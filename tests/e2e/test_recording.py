"""Session recordings (R5, issue 8) with real processes: relay, agent on Xvfb, the scripted fault.

- What the relay recorded equals, pixel for pixel, what a technician's view (a raw viewer drawing
  like the widget) showed for each frame it received, and the recording also covers the time no
  view was open (the relay asks the agent for a low-rate stream then).
- The window the customer hid is in the recording only as the fill: no secret-colour pixel in any
  recorded frame (the raw-viewer check of tests/e2e/test_screen_real.py, run on the recording).
- A relay killed with SIGKILL mid-recording leaves a recording that opens to its last complete
  segment, and a relay restarted on the same data goes on recording the resumed session in the
  same chain; a torn last segment is reported as where it stops; an altered segment is named by
  ``workbench recording verify``; a missing or corrupt file is a clear RecordingError.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from wire.errors import RecordingError
from wire.recording import FILE_NAME, scan
from workbench import recordings
from workbench.lab import python_env, start_relay

pytestmark = [pytest.mark.e2e, pytest.mark.needs("Xvfb", "xvfb")]

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import training_session as scripted  # noqa: E402

SECRET_RGB = np.array([0x12, 0xD4, 0xA7], dtype=np.int16)


def secret_pixels(pixels: np.ndarray) -> int:
    return int(np.all(np.abs(pixels.astype(np.int16) - SECRET_RGB) <= 40, axis=2).sum())


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "recording", "verify", str(path)],
                          capture_output=True, text=True, timeout=120, env=python_env(), cwd=ROOT, check=False)


def toggle(stage: scripted.Stage, times: int) -> None:
    for n in range(times):
        stage.ini.write_text(scripted.GOOD_INI if n % 2 == 0 else scripted.BAD_INI, encoding="utf-8")
        time.sleep(0.8)


def test_the_recording_is_what_the_view_showed_and_covers_the_unviewed_time(tmp_path: Path) -> None:
    stage = scripted.start_stage(tmp_path)
    try:
        s = stage.session
        session_dir = tmp_path / "relay" / "sessions" / s.session_id
        toggle(stage, 3)  # nobody views: the recorder alone
        viewer = scripted.RawViewer(stage.relay_url, s.session_id, scripted.view_token(s))
        assert viewer.welcomed.wait(20)
        toggle(stage, 4)
        scripted.wait_until(lambda: len(viewer.pictures) >= 3, 30, "frames reaching the view")
        viewer.stop()
        toggle(stage, 3)  # the view closed: recorded still
        s.screenshot()
        s.close()
        # The relay closes the records (and the recording) when the agent's last journal records came.
        scripted.wait_until(lambda: "journal_end" in (session_dir / "session.json").read_text(), 30,
                            "the session's records closed")
    finally:
        stage.stop()

    r = recordings.open(tmp_path / "relay", s.session_id)
    assert r.note == ""
    log = r.frame_log
    seen = sorted(viewer.pictures)
    first_seen = next(t for t, seq, _key in log if seq == seen[0])
    last_seen = next(t for t, seq, _key in log if seq == seen[-1])
    assert any(t < first_seen for t, _s, _k in log), "nothing recorded before the view opened"
    assert any(t > last_seen for t, _s, _k in log), "nothing recorded after the view closed"
    compared = 0
    for t, seq, _key in log:
        if seq in viewer.pictures:
            recorded = np.asarray(r.frame_at(t))
            assert np.array_equal(recorded, viewer.pictures[seq]), f"frame {seq} at {t:.3f} s differs"
            compared += 1
    assert compared == len(viewer.pictures) >= 3
    for t, seq, _key in log:
        assert secret_pixels(np.asarray(r.frame_at(t))) == 0, f"secret pixels in recorded frame {seq}"
    # The hidden window shows as the fill in the recording.
    last = np.asarray(r.frame_at(r.duration))
    assert (last[500:700, 920:1240] == 0x30).all()
    assert [e.kind for e in r.events].count("screenshot") == 1
    assert r.screenshots()[0].image.size == (1280, 800)
    assert "tied to the journal" in r.verify()
    assert recordings.list(tmp_path / "relay").loc[0, "complete"]
    done = verify(session_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    out = r.export(tmp_path / "part.mp4", start=0, end=4, fps=5)
    import av

    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) >= 15


def test_a_relay_killed_mid_recording_leaves_a_readable_file_and_tampering_is_named(tmp_path: Path) -> None:
    stage = scripted.start_stage(tmp_path)
    relay = stage.procs[0]
    try:
        s = stage.session
        path = tmp_path / "relay" / "sessions" / s.session_id / "recording" / FILE_NAME
        toggle(stage, 2)
        scripted.wait_until(lambda: path.exists() and len(scan(path).segments) >= 3, 30, "three segments")
        toggle(stage, 2)
        relay.kill()  # SIGKILL mid-recording
        r = recordings.open(path)
        assert r.frames >= 3 and r.frame_at(r.duration).size == (1280, 800)
        killed_at = r.duration
        r.close()
        # The relay comes back on the same data: the agent resumes, the recording goes on after the
        # last complete segment, its chain unbroken.
        port = stage.relay_url.rsplit(":", 1)[1]
        relay, _ = start_relay(tmp_path / "relay", int(port))
        stage.procs.append(relay)
        scripted.wait_until(lambda: s.relay_status()["agent_connected"], 60, "the agent to resume")
        toggle(stage, 3)
        scripted.wait_until(lambda: scan(path).segments[-1].t1 > killed_at + 2, 30, "recording after the restart")
        s.close()
        scripted.wait_until(lambda: "journal_end" in (path.parent.parent / "session.json").read_text(), 30,
                            "the session's records closed")
    finally:
        stage.stop()

    assert verify(path).returncode == 0, verify(path).stdout
    r = recordings.open(path)
    assert any(t > killed_at for t in r.frame_times)
    segments = scan(path).segments
    assert len(segments) >= 3
    # A segment torn by the kill (cut inside it): opens up to the one before, and says where it stops.
    torn = tmp_path / "torn.wbrec"
    torn.write_bytes(path.read_bytes()[: segments[-1].payload_offset + 3])
    r = recordings.open(torn)
    assert f"after segment {len(segments) - 1}" in r.note and "incomplete" in r.note
    assert verify(torn).returncode == 3
    # A segment altered: verify names it, and the recording refuses to vouch for it.
    data = bytearray(path.read_bytes())
    data[segments[1].payload_offset + 10] ^= 0xFF
    tampered = tmp_path / "tampered.wbrec"
    tampered.write_bytes(bytes(data))
    done = verify(tampered)
    assert done.returncode == 1 and "first bad segment is 2" in done.stdout, done.stdout
    with pytest.raises(RecordingError, match="first bad segment is 2"):
        recordings.open(tampered).verify()
    # Missing, and not a recording at all.
    with pytest.raises(RecordingError, match="no recording at"):
        recordings.open(tmp_path / "nothing.wbrec")
    (tmp_path / "junk.wbrec").write_bytes(b"PK\x03\x04 not a recording")
    with pytest.raises(RecordingError, match="not a session recording"):
        recordings.open(tmp_path / "junk.wbrec")
    assert verify(tmp_path / "junk.wbrec").returncode == 2


def test_record_none_keeps_no_recording_and_the_agent_streams_only_for_views(tmp_path: Path) -> None:
    stage = scripted.start_stage(tmp_path, "--record", "none")
    try:
        s = stage.session
        toggle(stage, 2)
        assert s.relay_status()["recording"] is False
        s.close()
    finally:
        stage.stop()
    session_dir = tmp_path / "relay" / "sessions" / s.session_id
    assert not (session_dir / "recording").exists()
    assert '"recording": "none"' in (session_dir / "session.json").read_text()
