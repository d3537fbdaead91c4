"""Walking a large offline hive from the notebook, against regipy reading the same file, in one run.

    python bench/registry_walk.py [--keys 30000] [--rounds 2] [--sample 400] [--dir DIR]

The hive: a SYSTEM-shaped tree of --keys keys and about three values per key
(tests/hive_factory.py), written once to a temporary folder.

Ours: ``hive.walk()`` from the technician's plain API (``s.registry.open_hive``)
through a real relay process on 127.0.0.1 to a real agent process: every key
with its values and subkey names, decoded into Python objects, one journaled
call per page of 1000 keys.
The old way, for scale: the walk a notebook had to do before ``walk`` existed,
``keys(path)`` and ``values(path)`` per key, over the first --sample keys.
Peer: regipy (an independent pure-Python reader) in this process, walking the
same file with ``recurse_subkeys`` (every key and its values).

Ours and regipy are measured in interleaved rounds; each one's best run gives
its keys/s, and the ratios are printed.  Everything runs in a temporary folder
(under --dir) removed at the end; only processes started here are stopped,
by their own PIDs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from regipy.registry import RegistryHive

from tests.hive_factory import build_hive, system_like_tree
from workbench import connect
from workbench.lab import start_agent, start_relay


def regipy_walk(path: Path) -> tuple[int, int]:
    """(keys, values) regipy reads walking the whole hive."""
    hive: Any = RegistryHive(str(path))  # type: ignore[no-untyped-call]
    keys = values = 0
    for subkey in hive.recurse_subkeys(as_json=False):
        keys += 1
        values += len(subkey.values)
    return keys, values


def timed(run: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=30_000, help="keys in the generated hive (default 30000)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of regipy and ours (default 2)")
    parser.add_argument("--sample", type=int, default=400, help="keys walked the old way, per call (default 400)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temporary folder goes (default: $TMPDIR)")
    args = parser.parse_args()
    if args.keys < 2 or args.rounds < 1 or args.sample < 1:
        parser.error("--keys, --rounds and --sample must be positive")
    logging.disable(logging.WARNING)  # regipy logs per value it finds odd
    with tempfile.TemporaryDirectory(prefix="registry-bench-", dir=args.dir) as tmp:
        folder = Path(tmp)
        path = folder / "SYSTEM"
        seconds, data = timed(lambda: build_hive(system_like_tree(args.keys)))
        path.write_bytes(data)
        print(f"hive: {args.keys} keys, {len(data) / 1e6:.1f} MB (generated in {seconds:.1f} s)")
        relay, url = start_relay(folder / "relay-data")
        agent = None
        try:
            agent, code = start_agent(url, folder / "agent-data")
            session = connect(code, relay=url, name="bench")
            try:
                with session.registry.open_hive(str(path)) as hive:
                    ours: list[float] = []
                    theirs: list[float] = []
                    for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits both alike
                        seconds, (keys, values) = timed(lambda: regipy_walk(path))
                        assert keys == args.keys, keys
                        theirs.append(seconds)
                        seconds, listings = timed(lambda: list(hive.walk()))
                        assert len(listings) == args.keys, len(listings)
                        assert sum(len(item.values) for item in listings) == values
                        ours.append(seconds)

                    def old_way() -> int:
                        pending: list[tuple[str, ...]] = [()]
                        done = 0
                        while pending and done < args.sample:
                            key = pending.pop()
                            names = hive.keys(key)
                            hive.values(key)
                            pending.extend(names.path_of(name) for name in reversed(names))
                            done += 1
                        return done

                    old_seconds, old_keys = timed(old_way)
            finally:
                session.close()
                agent.wait(60)
        finally:
            if agent is not None:
                agent.stop()
            relay.stop()
    ours_rate = args.keys / min(ours)
    theirs_rate = args.keys / min(theirs)
    old_rate = old_keys / old_seconds
    print(f"regipy recurse_subkeys, same file:        {theirs_rate:9.0f} keys/s (best of {args.rounds})")
    print(f"ours, hive.walk() through relay + agent:  {ours_rate:9.0f} keys/s (best of {args.rounds})")
    print(f"ours the old way, keys()+values() per key: {old_rate:8.0f} keys/s ({old_keys} keys)")
    print(f"ratio ours / regipy:   {ours_rate / theirs_rate:.2f}")
    print(f"ratio walk / old way:  {ours_rate / old_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
