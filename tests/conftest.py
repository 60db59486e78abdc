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
def benchmark_script():
    """A loader of ``benchmarks/<name>.py`` as a module (the scripts are not a package), for testing their parts."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def tiny_model():
    from srllm.models import load_model

    return load_model("tiny-random-llama", device="cpu")


@pytest.fixture(scope="session")
def smollm():
    from srllm.models import load_model

    return load_model("smollm2-135m-instruct", device="cpu")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private $SRLLM_CACHE for the requesting test module: models linked from the shared
    cache (converted once), training runs and generations kept apart from other modules."""
    from srllm.cache import cache_dir

    shared_models = cache_dir() / "models"
    shared_models.mkdir(parents=True, exist_ok=True)
    root = tmp_path_factory.mktemp("srllm-cache")
    (root / "models").symlink_to(shared_models)
    old = os.environ.get("SRLLM_CACHE")
    os.environ["SRLLM_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("SRLLM_CACHE", None)
    else:
        os.environ["SRLLM_CACHE"] = old
