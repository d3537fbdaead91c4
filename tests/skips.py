"""The skips the suite may take on CI's machine (Debian, run as root): nothing else may skip.

Every entry is a test this machine cannot run, with the reason it gives.  A missing tool is
never one of them: scripts/setup installs every tool, and tests/requires.py fails a test whose
tool is missing.  Tests limited to another platform (``skipif(sys.platform != ...)``) are
listed here only when they skip on CI's Linux; the others never skip here.
tests/skip_policy.py fails the run on any skip, xfail or xpass not listed.
"""

from __future__ import annotations

from tests.skip_policy import Allowed

ALLOWED = (
    # macOS only: the `defaults` command exists nowhere else; the backend's mapping runs above
    # it in the same file over a stand-in.
    Allowed("tests/test_registry_defaults.py::test_the_real_defaults_command", r"exists only on macOS"),
    # Windows only: the live registry (winreg) exists nowhere else; the adapter runs over a
    # stand-in in the same file.
    Allowed("tests/test_registry_winreg.py::test_the_live_windows_registry", r"exists only on Windows"),
    # A kernel feature: a case-insensitive (ext4 casefold) directory needs a kernel built with
    # CONFIG_UNICODE, which the CI machine's kernel lacks (/sys/fs/ext4/features/casefold absent).
    Allowed("tests/forbidden/test_mounts.py::test_case_variant_on_a_case_insensitive_disk", r"no ext4 case-folding"),
)
