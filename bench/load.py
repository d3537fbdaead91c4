"""The machine load a benchmark saw, and whether a verdict may be drawn from it.

    watch = LoadWatch()          # at the start
    ...                          # the benchmark (its own processes are this process's children)
    watch.stop()
    print(watch.describe())
    if watch.too_loaded: print(watch.refusal()) else: print(verdict)

What counts is the CPU that *other* programs took while the benchmark ran: the
machine's busy time (/proc/stat) minus this process's and its children's (live
ones through psutil, ended ones through ``os.times``).  Above
:data:`OTHERS_LIMIT` of the cores, ratios still print (both sides ran under the
same load, interleaved) but no pass/fail verdict does: the other programs' share
of the CPU, not the code, would decide it.  The load averages at the start and
the end are printed beside it.
"""

from __future__ import annotations

import os
import sys
import time

import psutil

#: Most of the machine (as a fraction of all cores) other programs may use for a verdict to be printed.
OTHERS_LIMIT = 0.25


def _load_average() -> float:
    """The 1-minute load average (0 where the system keeps none: Windows)."""
    if sys.platform == "win32":
        return 0.0
    return os.getloadavg()[0]


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _own_seconds() -> float:
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    ended = os.times()
    total += ended.children_user + ended.children_system
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:  # ended meanwhile: counted by os.times once reaped
            continue
    return float(total)


class LoadWatch:
    """CPU used by other programs between its creation and :meth:`stop`."""

    def __init__(self) -> None:
        self.cores = os.cpu_count() or 1
        self.load_start = _load_average()
        self.load_end = self.load_start
        self._started = time.monotonic()
        self._busy = _busy_seconds()
        self._own = _own_seconds()
        self.others_cores = 0.0
        self.own_cores = 0.0

    def stop(self) -> None:
        """Take the end of the measurement (call it while the benchmark's processes still run)."""
        elapsed = max(time.monotonic() - self._started, 1e-6)
        busy = _busy_seconds() - self._busy
        own = _own_seconds() - self._own
        self.own_cores = own / elapsed
        self.others_cores = max(busy - own, 0.0) / elapsed
        self.load_end = _load_average()

    @property
    def too_loaded(self) -> bool:
        return self.others_cores > OTHERS_LIMIT * self.cores

    def describe(self) -> str:
        return (f"machine: {self.cores} cores; other programs used {self.others_cores:.2f} cores on average during "
                f"the run (this benchmark {self.own_cores:.2f}); load average {self.load_start:.2f} at the start, "
                f"{self.load_end:.2f} at the end")

    def refusal(self) -> str:
        return (f"NO VERDICT: other programs used {self.others_cores:.2f} of {self.cores} cores "
                f"(more than {OTHERS_LIMIT:.0%}); the ratios above are what this run measured, not a pass or fail")
