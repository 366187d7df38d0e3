"""Under CI=true a test that would skip for something missing fails instead, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SKIPPING = """
import pytest

def test_needs_a_browser():
    pytest.skip("Debian's chromium is not installed")

@pytest.mark.skipif(True, reason="binutils' readelf is not installed")
def test_needs_readelf():
    pass

@pytest.mark.xfail(reason="a known fault")
def test_known_fault():
    assert False

def test_runs():
    pass
"""


@pytest.mark.parametrize("ci", ["true", None])
def test_a_skip_fails_under_ci_naming_what_is_missing(pytester, monkeypatch, ci):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_skipping=SKIPPING)
    if ci:
        monkeypatch.setenv("CI", ci)
    else:
        monkeypatch.delenv("CI", raising=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    if ci:
        result.assert_outcomes(passed=1, failed=1, errors=1, xfailed=1)
        result.stdout.fnmatch_lines(
            [
                "*test_needs_a_browser - skipped under CI=true, which must provide what it needs: "
                "Skipped: Debian's chromium is not installed",
                "*test_needs_readelf - skipped under CI=true, * Skipped: binutils' readelf is not installed",
            ]
        )
    else:
        result.assert_outcomes(passed=1, skipped=2, xfailed=1)


def test_a_module_that_skips_itself_fails_under_ci(pytester, monkeypatch):
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(
        test_module='import pytest\npytest.importorskip("no_such_package")\n\ndef test_x():\n    pass\n'
    )
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*skipped under CI=true, * could not import 'no_such_package'*"])
