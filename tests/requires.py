"""What a test needs from this machine: the test FAILS, naming the package, when it is missing.

``scripts/setup --test`` installs every program and module the tests use, so a missing one
means the setup is incomplete, never that the test may be skipped (a skip in CI is a pass
that tested nothing).  Use the marks ``@pytest.mark.needs(program, package)`` and
``@pytest.mark.needs_root(why)`` on a test or a module (tests/conftest.py checks them before
the test's fixtures run), or call :func:`tool`, :func:`root` and :func:`module` inline.
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest


def tool(program: str, package: str) -> str:
    """Return the path of *program* (a name on PATH, or an absolute path).

    Raises pytest's failure, naming the Debian *package* that provides it, when it is not installed.
    """
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is not installed: scripts/setup installs it (Debian package {package})",
                    pytrace=False)
    return found


def root(why: str) -> None:
    """Raise pytest's failure unless this process runs as root (CI does); *why* says what needs it."""
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None or geteuid() != 0:
        pytest.fail(f"needs root ({why}): run the suite as root, as CI does", pytrace=False)


def module(name: str, requirement: str) -> ModuleType:
    """Import and return the Python module *name*.

    Raises pytest's failure, naming the *requirement* of the project's ``test`` extra that
    provides it, when it cannot be imported.
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        pytest.fail(f"{name} cannot be imported ({err}): scripts/setup --test installs {requirement}",
                    pytrace=False)
