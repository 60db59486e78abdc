"""The srllm entry point lists its commands and reports models."""

from __future__ import annotations

import subprocess
import sys


def _srllm(*args):
    return subprocess.run([sys.executable, "-m", "srllm.cli", *args], capture_output=True, text=True)


def test_help_lists_commands():
    out = _srllm("--help")
    assert out.returncode == 0
    for cmd in ("models", "profiles", "book"):
        assert cmd in out.stdout


def test_models_command_shows_availability():
    out = _srllm("models")
    assert out.returncode == 0
    line = next(l for l in out.stdout.splitlines() if l.startswith("smollm2-135m-instruct"))
    assert "yes" in line


def test_unknown_profile_is_one_line_error():
    out = _srllm("book", "--profile", "huge", "--no-html")
    assert out.returncode == 2
    assert "invalid choice: 'huge'" in out.stderr and "smoke" in out.stderr
    assert "Traceback" not in out.stderr
