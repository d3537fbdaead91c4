"""System inventory (MISSION.md R4): what the technician may know of the customer's computer.

One public function, :func:`collect`, and the agent method ``inventory.collect``
(:data:`METHODS`).  The platform backend (:mod:`.linux`, :mod:`.windows`,
:mod:`.macos`) is chosen once, at import; each has the same two functions,
``platform_facts`` (OS, machine, peripherals) and ``browser_fact``.  Disks
and processes come from psutil everywhere (:mod:`.portable`), browser settings
from the profile folders (:mod:`.browser_settings`).

Every fact carries a status and a source (:class:`.facts.Fact`); nothing is
guessed.  The cost is bounded: the groups run concurrently, every program
has a timeout (3 s for a browser's ``--version``, 6 s for ``system_profiler``,
8 s for PowerShell), and the process list is capped.

The fact names are listed in :data:`FACT_NAMES`.

Availability: Linux, Windows, macOS; elsewhere the platform facts are ``unsupported``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from types import ModuleType
from typing import Any, Final

from agent.dispatch import CallContext, Method
from agent.inventory import browser_settings, portable
from agent.panel.catalogue import say
from agent.params import get_int
from wire.facts import COLLECT_METHOD, WIRE_VERSION, Fact, missing

log = logging.getLogger(__name__)

_backend: ModuleType | None
if sys.platform.startswith("linux"):
    from agent.inventory import linux as _backend
elif sys.platform == "win32":
    from agent.inventory import windows as _backend
elif sys.platform == "darwin":
    from agent.inventory import macos as _backend
else:  # pragma: no cover - no such machine here
    _backend = None

#: Every fact name an inventory may hold; ``disk.free`` and ``browser.settings`` once per subject.
FACT_NAMES: Final = (
    "os.edition", "os.version", "os.build", "os.service_pack", "os.kernel", "os.architecture", "os.boot_time",
    "machine.vendor", "machine.model", "machine.serial", "machine.uuid", "machine.firmware", "machine.chassis",
    "machine.hostname", "disk.free", "processes", "peripherals", "browsers", "browser.settings",
)
#: Facts that are personal data wherever they come from.
PERSONAL_FACTS: Final = frozenset({"machine.serial", "machine.uuid", "machine.hostname", "processes"})
#: The facts each collector group gives, so that a failed group still names them.
_GROUP_FACTS: Final = {
    "platform": ("os.edition", "os.version", "os.build", "os.service_pack", "machine.vendor", "machine.model",
                 "machine.serial", "machine.uuid", "machine.firmware", "machine.chassis", "peripherals"),
    "host": ("os.kernel", "os.architecture", "os.boot_time", "machine.hostname"),
    "disk.free": ("disk.free",),
    "processes": ("processes",),
    "browsers": ("browsers",),
}
#: Default and largest number of process rows.
DEFAULT_MAX_PROCESSES: Final = 200
MAX_PROCESSES: Final = 2000
#: Seconds a platform program (PowerShell, system_profiler) gets; a browser's ``--version`` gets 3.
PLATFORM_TIMEOUT: Final = 8.0
BROWSER_TIMEOUT: Final = 3.0


def _platform_group() -> list[Fact]:
    if _backend is None:
        return [missing(name, "unsupported", sys.platform, f"no inventory backend for {sys.platform}")
                for name in ("os.edition", "machine.model", "machine.serial", "peripherals")]
    facts: list[Fact] = _backend.platform_facts(PLATFORM_TIMEOUT)
    return facts


def _browser_group() -> list[Fact]:
    if _backend is None:
        return [missing("browsers", "unsupported", sys.platform, f"no inventory backend for {sys.platform}")]
    browsers_fact: Fact = _backend.browser_fact(BROWSER_TIMEOUT if _backend.SYSTEM == "linux" else PLATFORM_TIMEOUT)
    installs = browsers_fact.value if browsers_fact.ok and isinstance(browsers_fact.value, list) else []
    return [browsers_fact, *browser_settings.settings_facts(installs, _backend.SYSTEM)]


def _guarded(group: str, collector: Callable[[], list[Fact]]) -> list[Fact]:
    """Run one group; a bug in it costs that group's facts, never the whole inventory."""
    try:
        return collector()
    except Exception as err:  # a collector bug: say so in the inventory rather than fail the call
        log.exception("inventory group %s failed", group)
        why = f"collector failed: {type(err).__name__}: {err}"
        return [missing(name, "unavailable", "inventory collector", why, personal=name in PERSONAL_FACTS)
                for name in _GROUP_FACTS[group]]


def collect(max_processes: int = DEFAULT_MAX_PROCESSES) -> dict[str, Any]:
    """Collect every fact and return the JSON-able wire value.

    The value is ``{"version": 1, "collected_at": ISO time, "duration_s": …,
    "platform": sys.platform, "facts": [fact dicts]}``, facts in a stable
    order: OS, machine, disks, processes, peripherals, browsers, browser
    settings.  Raises nothing: what cannot be read is a fact whose status
    says why.
    """
    started = time.monotonic()
    collected_at = datetime.now(timezone.utc)
    groups: list[tuple[str, Callable[[], list[Fact]]]] = [
        ("platform", _platform_group),
        ("host", portable.host_facts),
        ("disk.free", portable.disk_facts),
        ("processes", lambda: [portable.process_fact(max_processes)]),
        ("browsers", _browser_group),
    ]
    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="inventory") as pool:
        futures = [pool.submit(_guarded, name, fn) for name, fn in groups]
        facts = [fact for future in futures for fact in future.result()]
    order = {name: i for i, name in enumerate(FACT_NAMES)}
    facts.sort(key=lambda f: order.get(f.name, len(order)))  # stable: subjects keep their collector's order
    return {
        "version": WIRE_VERSION,
        "collected_at": collected_at.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 3),
        "platform": sys.platform,
        "facts": [fact.to_wire() for fact in facts],
    }


def _handle_collect(ctx: CallContext) -> dict[str, Any]:
    """``inventory.collect`` ``{max_processes?: int}``; raises BadParams on a bad parameter."""
    limit = get_int(ctx.params, "max_processes", DEFAULT_MAX_PROCESSES, minimum=1, maximum=MAX_PROCESSES)
    value = collect(limit)
    statuses: dict[str, int] = {}
    for fact in value["facts"]:
        statuses[fact["status"]] = statuses.get(fact["status"], 0) + 1
    ctx.journal_details["facts"] = statuses
    return value


METHODS: list[Method] = [
    Method(
        name=COLLECT_METHOD,
        handler=_handle_collect,
        permission="inventory",
        describe=lambda params: say("inventory.collect"),
        blocking=True,
    ),
]

__all__ = ["FACT_NAMES", "METHODS", "PERSONAL_FACTS", "Fact", "collect"]
