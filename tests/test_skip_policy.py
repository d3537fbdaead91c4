"""The skip policy on small suites of its own: only allowed skips pass, everything else fails the run."""

from __future__ import annotations

import pytest

from tests import requires

CONFTEST = """
from tests.skip_policy import Allowed, SkipPolicy

def pytest_configure(config):
    allowed = [Allowed("test_a.py::test_elsewhere", r"only on plan9"), Allowed("test_gone.py", r"plan9 module"),
               Allowed("test_a.py::test_known_bug", r"bug 12")]
    config.pluginmanager.register(SkipPolicy(allowed), "skip-policy")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    return pytester


def test_an_allowed_skip_passes(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_a="""
        import pytest
        def test_runs(): pass
        @pytest.mark.skipif(True, reason="this runs only on plan9")
        def test_elsewhere(): pass
    """)
    result = suite.runpytest()
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.OK
    assert "not allowed by" not in result.stdout.str()


def test_an_unlisted_skip_fails_the_run_and_is_named(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_a="""
        import pytest
        def test_runs(): pass
        def test_needs_a_tool(): pytest.skip("frobnicate is not installed")
    """)
    result = suite.runpytest()
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 not allowed by tests/skips.py: the run fails*",
                                 "SKIPPED test_a.py::test_needs_a_tool: frobnicate is not installed"])


def test_an_allowed_test_skipping_for_another_reason_fails(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_a="""
        import pytest
        def test_elsewhere(): pytest.skip("the disk is full")
    """)
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SKIPPED test_a.py::test_elsewhere: the disk is full"])


def test_a_skip_in_a_fixture_counts(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_b="""
        import pytest
        @pytest.fixture
        def server(): pytest.skip("no server here")
        def test_uses_it(server): pass
    """)
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SKIPPED test_b.py::test_uses_it: no server here"])


def test_a_module_level_skip_fails_unless_listed(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_gone="""
        import pytest
        pytest.skip("a plan9 module", allow_module_level=True)
    """)
    assert suite.runpytest().ret == pytest.ExitCode.NO_TESTS_COLLECTED  # allowed: pytest's own "nothing ran"
    suite.makepyfile(test_c="""
        import pytest
        pytest.importorskip("no_such_module_anywhere")
        def test_never(): pass
    """)
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["SKIPPED test_c.py: could not import 'no_such_module_anywhere'*"])


def test_xfail_and_xpass_fail_unless_listed(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_a="""
        import pytest
        @pytest.mark.xfail(reason="bug 12")
        def test_known_bug(): assert False
        @pytest.mark.xfail(reason="flaky")
        def test_flaky(): assert False
        @pytest.mark.xfail(reason="was broken")
        def test_fixed(): pass
    """)
    result = suite.runpytest()
    result.assert_outcomes(xfailed=2, xpassed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*2 not allowed by*", "XFAILED test_a.py::test_flaky: flaky",
                                 "XPASSED test_a.py::test_fixed: was broken"])
    assert "test_known_bug:" not in result.stdout.str()


def test_a_test_file_without_tests_fails(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_a="def test_runs(): pass", test_empty="def helper(): pass")
    result = suite.runpytest()
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["EMPTY test_empty.py: collected no test"])


def test_a_collection_error_fails_the_run(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_a="def test_runs(): pass", test_broken="import no_such_module_anywhere")
    assert suite.runpytest().ret == pytest.ExitCode.INTERRUPTED


def test_leaving_the_plugin_out_is_explicit(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_a="import pytest\ndef test_needs_a_tool(): pytest.skip('frobnicate is not installed')")
    assert suite.runpytest("-p", "no:skip-policy").ret == pytest.ExitCode.OK


def test_a_missing_program_fails_and_names_its_package() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"frobnicate-9 is not installed: .*Debian package frob-utils"):
        requires.tool("frobnicate-9", "frob-utils")
    assert requires.tool("sh", "dash").endswith("/sh")
