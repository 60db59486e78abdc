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


def write_notebook(path: Path, cells: list[str]) -> None:
    """A python3 notebook at ``path``: a ``parameters`` cell (``profile``, ``seed``), then ``cells`` as code cells.
    A plain function (``from conftest import write_notebook``) for the book runner's tests."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "cpu"\nseed = 42')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def distinct_llama(folder: Path):
    """tiny-random-llama's shape and tokenizer with larger random weights, saved in ``folder``:
    ``(model, tokenizer, folder)``.

    The saved tiny-random-llama (init std 0.02, tied embeddings) emits a newline at every
    step whatever the prompt and gives nearly flat log-probabilities, which could not tell
    a correct batched decoder or scorer from a broken one. With std 0.3 and untied heads
    every prompt gets its own token sequence, top-1/top-2 logit gaps (~0.1) dwarf float
    noise, and what a token attends to changes its log-probabilities.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from srllm.models import load_tokenizer

    tok = load_tokenizer("tiny-random-llama")
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, initializer_range=0.3,
                      tie_word_embeddings=False, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return model, tok, folder


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
