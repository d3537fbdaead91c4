"""Facts every platform gives the same way: psutil (disks, processes) and :mod:`platform`.

Availability: Linux, Windows, macOS (wherever psutil runs).
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from wire.facts import Fact, missing, ok, text_fact

#: File systems that are images or views of other volumes, never a place to free space.
_SKIPPED_FSTYPES = frozenset({"squashfs", "iso9660", "udf", "cramfs", "erofs"})
#: How many volumes are reported at most.
MAX_VOLUMES = 32
#: Columns of a row of the ``processes`` fact.
PROCESS_COLUMNS = ("pid", "name", "user", "cpu_percent", "rss_bytes")
#: The busiest processes by CPU that are kept even when they use little memory.
BUSIEST_KEPT = 10


def host_facts() -> list[Fact]:
    """Return ``os.kernel``, ``os.architecture``, ``os.boot_time`` and ``machine.hostname``; raises nothing."""
    uname = platform.uname()
    facts = [
        text_fact("os.kernel", f"{uname.system} {uname.release} {uname.version}".strip(), "platform.uname"),
        text_fact("os.architecture", uname.machine, "platform.machine"),
    ]
    try:
        booted = datetime.fromtimestamp(psutil.boot_time(), tz=timezone.utc)
        facts.append(ok("os.boot_time", booted.isoformat(timespec="seconds"), "psutil.boot_time"))
    except (OSError, RuntimeError) as err:
        facts.append(missing("os.boot_time", "unavailable", "psutil.boot_time", str(err)))
    # The host name often carries the person's name ("Jeans-MacBook"): personal data.
    facts.append(text_fact("machine.hostname", socket.gethostname(), "socket.gethostname", personal=True))
    return facts


def disk_facts() -> list[Fact]:
    """Return one ``disk.free`` fact per mounted volume (subject: its mount point); raises nothing.

    Bind mounts of a device already listed are left out; so are read-only
    images (squashfs, ISO).  When psutil lists no physical volume (a container
    whose root is an overlay), the root of the system drive is measured.
    """
    try:
        partitions = psutil.disk_partitions(all=False)
    except (OSError, RuntimeError) as err:
        return [missing("disk.free", "unavailable", "psutil.disk_partitions", str(err))]
    seen_devices: set[str] = set()
    volumes: list[tuple[str, str, str]] = []
    for part in partitions:
        if part.fstype in _SKIPPED_FSTYPES or (part.device and part.device in seen_devices):
            continue
        if part.device:
            seen_devices.add(part.device)
        volumes.append((part.mountpoint, part.fstype, part.device))
    if not volumes:
        volumes.append((_system_root(), "", ""))
    facts = [_usage_fact(mount, fstype, device) for mount, fstype, device in volumes[:MAX_VOLUMES]]
    if len(volumes) > MAX_VOLUMES:
        facts.append(missing("disk.free", "unavailable", "psutil.disk_partitions",
                             f"{len(volumes) - MAX_VOLUMES} more volumes not measured", subject="…"))
    return facts


def _system_root() -> str:
    if sys.platform == "win32":
        return os.environ.get("SYSTEMDRIVE", "C:") + "\\"
    return "/"


def _usage_fact(mountpoint: str, fstype: str, device: str) -> Fact:
    source = "psutil.disk_usage"
    try:
        usage = psutil.disk_usage(mountpoint)
    except PermissionError as err:
        return missing("disk.free", "denied", source, f"{mountpoint}: {err.strerror or err}", subject=mountpoint)
    except OSError as err:  # e.g. a card reader or DVD drive without a medium
        return missing("disk.free", "unavailable", source, f"{mountpoint}: {err.strerror or err}", subject=mountpoint)
    value: dict[str, Any] = {"free_bytes": usage.free, "total_bytes": usage.total, "used_bytes": usage.used}
    if fstype:
        value["fstype"] = fstype
    if device:
        value["device"] = device
    return ok("disk.free", value, source, subject=mountpoint)


def process_fact(limit: int = 200, interval: float = 0.25) -> Fact:
    """Return ``processes``: the *limit* largest processes by memory, plus the busiest by CPU.

    CPU percent is measured over *interval* seconds (100 = one full core).
    The value holds ``total`` (every process seen), ``columns`` and ``rows``
    (largest resident memory first).  Process names and user names are
    personal data.  Raises nothing.
    """
    source = "psutil.process_iter"
    started = time.monotonic()
    seen: dict[int, tuple[psutil.Process, str | None, str | None, int | None, float | None]] = {}
    try:
        for proc in psutil.process_iter(["name", "username", "memory_info", "cpu_times"], ad_value=None):
            info = proc.info
            memory = info.get("memory_info")
            times = info.get("cpu_times")
            seen[proc.pid] = (
                proc, info.get("name"), info.get("username"),
                int(memory.rss) if memory is not None else None,
                float(times.user + times.system) if times is not None else None,
            )
    except (OSError, RuntimeError) as err:
        return missing("processes", "unavailable", source, str(err), personal=True)
    time.sleep(max(0.0, interval - (time.monotonic() - started)))
    elapsed = time.monotonic() - started
    rows: list[list[Any]] = []
    for pid, (proc, name, user, rss, cpu_before) in seen.items():
        cpu: float | None = None
        if cpu_before is not None:
            try:
                after = proc.cpu_times()
                cpu = round(max(0.0, (after.user + after.system - cpu_before) / elapsed * 100), 1)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue  # ended while we measured
            except psutil.AccessDenied:
                cpu = None
        rows.append([pid, name, user, cpu, rss])
    by_memory = sorted(rows, key=lambda r: (r[4] or 0, r[0]), reverse=True)
    kept = by_memory[:limit]
    kept_pids = {r[0] for r in kept}
    busiest = sorted(rows, key=lambda r: r[3] or 0.0, reverse=True)[:BUSIEST_KEPT]
    kept += [r for r in busiest if r[0] not in kept_pids and (r[3] or 0) > 0]
    kept.sort(key=lambda r: (r[4] or 0, r[0]), reverse=True)
    value = {
        "total": len(rows),
        "shown": len(kept),
        "columns": list(PROCESS_COLUMNS),
        "rows": kept,
        "sorted_by": "rss_bytes",
        "cpu_interval_s": round(elapsed, 3),
    }
    note = None
    if len(kept) < len(rows):
        note = f"{len(rows) - len(kept)} smaller processes left out"
    return ok("processes", value, source, personal=True, note=note)


def path_exists(path: Path) -> bool:
    """True when *path* exists and can be looked at; raises nothing."""
    try:
        return path.exists()
    except OSError:
        return False
