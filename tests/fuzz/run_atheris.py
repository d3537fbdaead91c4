"""A coverage-guided run (atheris, i.e. libFuzzer over Python coverage) of one fuzz target.

    python -m tests.fuzz.run_atheris frame|hive [--runs N] [--seed S] [--artifacts DIR] [--corpus DIR]

The code under test (``wire``, ``screenfmt``, ``agent.screen.decode``, ``agent.registry``) is
instrumented; the run starts from seeds made here with the project's own encoders (valid
screen frames, a hive with keys and values of every kind), mutates them for ``--runs``
inputs from a fixed ``--seed``, and stops.  A finding is written by libFuzzer as
``crash-<sha1>`` under ``--artifacts`` and the process exits non-zero; keep it as
``tests/data/fuzz/<target>/<name>`` so :mod:`tests.fuzz.test_fuzz_replay` replays it forever.
``scripts/fuzz`` runs it longer, by time, for a developer hunting new cases.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["wire", "screenfmt", "agent.screen.decode", "agent.registry"]):
    from agent.registry.hive import planned_writes
    from agent.registry.model import RegValue, encode_windows
    from agent.registry.regf_edit import HiveEditor, new_hive
    from tests.fuzz.targets import TARGETS
    from wire import protocol


def frame_seeds() -> list[bytes]:
    """Screen frames as the agent sends them: raw, PNG, JPEG and copy rectangles."""
    import numpy as np
    import simplejpeg
    from PIL import Image

    pixels = np.zeros((8, 8, 4), dtype=np.uint8)
    pixels[2:6, 2:6] = (200, 30, 30, 255)
    png = io.BytesIO()
    Image.fromarray(pixels[:, :, :3]).save(png, format="PNG")
    jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(pixels[:, :, :3]), quality=50, colorspace="RGB")
    raw = pixels.tobytes()
    rects = [
        {"x": 0, "y": 0, "w": 8, "h": 8, "codec": "raw", "len": len(raw)},
        {"x": 8, "y": 0, "w": 8, "h": 8, "codec": "png", "len": len(png.getvalue())},
        {"x": 0, "y": 8, "w": 8, "h": 8, "codec": "jpeg", "len": len(jpeg)},
        {"x": 8, "y": 8, "w": 8, "h": 8, "codec": "copy", "sx": 0, "sy": 0, "len": 0},
    ]
    body = {"seq": 1, "key": True, "width": 16, "height": 16, "captured_at": 0.0, "rects": rects,
            "hidden": [{"x": 0, "y": 0, "w": 2, "h": 2, "label": "Hidden by the customer"}], "paused": False}
    frame = protocol.encode(protocol.event("screen.frame", body, raw + png.getvalue() + jpeg))
    assert isinstance(frame, bytes)
    structured = bytes([1]) + (16).to_bytes(2, "big") + (16).to_bytes(2, "big") + bytes([2])
    structured += bytes([0, 0, 0, 8, 8]) + len(raw).to_bytes(2, "big") + bytes([0, 0])
    structured += bytes([3, 8, 8, 8, 8]) + (0).to_bytes(2, "big") + bytes([0, 0]) + raw
    return [b"\x00" + frame, structured]


def hive_seeds() -> list[bytes]:
    """A new hive, and one with keys, every kind of value and a value in big-data segments."""
    empty = new_hive("ROOT")
    view = bytearray(empty)

    def plan(editor: HiveEditor) -> None:
        for parts, value in [
            (("Vendor", "App"), RegValue("Name", "REG_SZ", "hello")),
            (("Vendor", "App"), RegValue("Count", "REG_DWORD", 42)),
            (("Vendor", "App"), RegValue("Tiny", "REG_BINARY", b"\x01\x02")),
            (("Vendor", "App"), RegValue("List", "REG_MULTI_SZ", ["a", "bé"])),
            (("Vendor", "Ünïcode"), RegValue("Big", "REG_BINARY", bytes(range(256)) * 70)),
        ]:
            number, raw = encode_windows(value)
            editor.set_value(parts, value.name, number, raw)

    for position, data in planned_writes(bytes(view), "seed", plan):
        view[position:position + len(data)] = data
    return [empty, bytes(view)]


SEEDS = {"frame": frame_seeds, "hive": hive_seeds}
#: Tokens the mutator splices in (libFuzzer's -dict): the formats' signatures and field names
#: (written in the dictionary's own syntax: ``\\xNN`` is a byte, ``\\"`` a quote).
TOKENS = {
    "frame": ["WB", '"screen.frame"', '"rects"', '"codec"', '"raw"', '"png"', '"jpeg"', '"copy"', '"len"', '"width"',
              '"height"', '"hidden"', '"seq"', '"sx"', '"sy"', "\\x89PNG", "\\xff\\xd8\\xff", "IHDR", "IDAT"],
    "hive": ["regf", "hbin", "nk", "vk", "sk", "lf", "lh", "li", "ri", "db", "\\xff\\xff\\xff\\xff"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--runs", type=int, default=20000, help="inputs to try (0: until --seconds)")
    parser.add_argument("--seconds", type=int, default=0, help="stop after this long (0: only --runs)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--artifacts", type=Path, default=Path("."))
    parser.add_argument("--corpus", type=Path, help="keep the corpus here (default: a temporary folder)")
    args = parser.parse_args(argv)
    args.artifacts.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{args.target}-") as scratch:
        corpus = args.corpus or Path(scratch)
        corpus.mkdir(parents=True, exist_ok=True)
        for n, seed in enumerate(SEEDS[args.target]()):
            (corpus / f"seed-{n}").write_bytes(seed)
        tokens = Path(scratch) / "tokens.dict"
        tokens.write_text("".join('"' + token.replace('"', '\\"') + '"\n' for token in TOKENS[args.target]))
        options = [f"-dict={tokens}", "-use_value_profile=1", f"-seed={args.seed}",
                   f"-artifact_prefix={args.artifacts}/", "-max_len=65536", "-rss_limit_mb=2048", "-timeout=20",
                   "-print_final_stats=1"]
        options.append(f"-runs={args.runs}" if args.runs else "-runs=-1")
        if args.seconds:
            options.append(f"-max_total_time={args.seconds}")
        atheris.Setup([sys.argv[0], *options, str(corpus)], TARGETS[args.target])
        atheris.Fuzz()  # exits the process: 0 when the runs end without a finding
    return 0


if __name__ == "__main__":
    sys.exit(main())
