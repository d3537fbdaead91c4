"""A private D-Bus session bus with dconf's service, for tests that read and write real dconf settings.

The bus is started by a small keeper process that is a child subreaper, so dconf's service (started
by the bus on first use) is reaped with it; closing the keeper's input ends them all.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests import requires

_BUS_KEEPER = """
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
print(bus.stdout.readline().strip(), flush=True)
sys.stdin.read()
bus.terminate()
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""


@contextlib.contextmanager
def private_dconf_session(root: Path) -> Iterator[dict[str, str]]:
    """A whole environment (``os.environ`` plus HOME, XDG folders under *root* and the bus's address)
    in which ``dconf`` reads and writes *root*'s own database; the bus ends when the block does."""
    requires.tool("dconf", "dconf-cli")
    requires.tool("dbus-daemon", "dbus")
    runtime = root / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(root), "XDG_CONFIG_HOME": str(root / "config"),
           "XDG_RUNTIME_DIR": str(runtime), "XDG_CACHE_HOME": str(root / "cache")}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    keeper = subprocess.Popen([sys.executable, "-c", _BUS_KEEPER], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert keeper.stdout is not None
        address = keeper.stdout.readline().strip()  # printed once the bus listens
        assert address, "dbus-daemon did not start"
        yield {**env, "DBUS_SESSION_BUS_ADDRESS": address}
    finally:
        keeper.communicate(timeout=60)  # closing its input ends the bus; it returns once all is reaped
