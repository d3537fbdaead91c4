"""The hypothesis settings every property test of the suite uses: bounded, untimed, no database in the tree.

CI runs each property a fixed number of times with a fixed seed (``derandomize``), so a
run is repeatable and cannot flake; no deadline, since the machine is shared and timing
is not what these tests check.  ``WORKBENCH_FUZZ=long`` explores further: twenty times the
examples, drawn at random, for a developer hunting new cases (keep what it finds as an
``@example`` next to the property).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("WORKBENCH_FUZZ") == "long"


def bounded(max_examples: int) -> settings:
    """Settings for one property: *max_examples* in CI (twenty times that with ``WORKBENCH_FUZZ=long``)."""
    return settings(
        max_examples=max_examples * (20 if LONG else 1),
        deadline=None,
        database=None,
        derandomize=not LONG,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.data_too_large],
    )
