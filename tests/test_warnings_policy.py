"""Warnings are errors (pyproject.toml's filterwarnings), in the processes the tests start too
(tests/conftest.py hands the filters on as PYTHONWARNINGS)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest


def run_python(code: str) -> subprocess.CompletedProcess:
    """`code` in a new interpreter with this run's environment, as the tests start processes."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_warning_is_an_error_in_the_tests_own_process():
    with pytest.raises(UserWarning, match="not silenced"):
        warnings.warn("not silenced", stacklevel=1)


def test_a_warning_in_a_process_the_tests_start_is_an_error_there():
    result = run_python("import warnings; warnings.warn('in a child process'); print('went on')")
    assert result.returncode != 0
    assert "UserWarning: in a child process" in result.stderr
    assert "went on" not in result.stdout


def test_a_process_the_tests_start_ignores_what_the_tests_ignore():
    warning = "You're running the worker with superuser privileges: this is absolutely not recommended!"
    result = run_python(f"import warnings; warnings.warn({warning!r}); print('went on')")
    assert (result.returncode, result.stdout, result.stderr) == (0, "went on\n", "")
