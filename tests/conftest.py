"""Shared test fixtures.

Tests use the real offline models: ``tiny-random-llama`` for speed and
SmolLM2-135M-Instruct where the behaviour of a real instruct model matters.
Both are built once into $SRLLM_CACHE (default ~/.cache/srllm) and reused.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the suite never needs the Hub

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO_ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_model():
    from srllm.models import load_model

    return load_model("tiny-random-llama", device="cpu")


@pytest.fixture(scope="session")
def smollm():
    from srllm.models import load_model

    return load_model("smollm2-135m-instruct", device="cpu")
