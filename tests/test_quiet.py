"""srllm.quiet: the one switch for execution noise, and the library notices dropped for every user."""

from __future__ import annotations

import os
import subprocess
import sys

from srllm.quiet import QUIET_ENV


def _stderr(code: str) -> str:
    """stderr of ``code`` in a fresh interpreter, as a user starts one (without the quiet environment
    that an earlier in-process ``--quiet`` command may have left in this one's)."""
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENV}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True,
                          env=env).stderr


def test_importing_srllm_drops_the_misleading_bitsandbytes_kernel_notice_only():
    err = _stderr(
        "import logging, srllm\n"
        "log = logging.getLogger('bitsandbytes.backends.cpu.ops')\n"
        "log.warning('Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please pip install kernels', 'x')\n"
        "log.warning('another bitsandbytes notice')\n"
        "srllm.quiet.drop_misleading_notices()  # idempotent\n"
        "assert len(log.filters) == 1\n")
    assert "another bitsandbytes notice" in err
    assert "gemm_4bit_forward" not in err


def test_bitsandbytes_imported_after_srllm_prints_no_kernel_notice():
    """On CPUs with AVX512-BF16 bitsandbytes logs the notice while it is imported; elsewhere it never does."""
    assert "kernels-community" not in _stderr("import srllm, bitsandbytes")


def test_a_deprecation_meant_for_peft_is_not_shown_but_other_warnings_are():
    err = _stderr(
        "import warnings, srllm\n"
        "warnings.warn('`is_gradient_checkpointing` is deprecated and will be removed in v6.', FutureWarning)\n"
        "warnings.warn('some other future change', FutureWarning)\n")
    assert "some other future change" in err and "is_gradient_checkpointing" not in err
