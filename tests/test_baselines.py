"""The registry of the paper's compared methods and its one entry point, run_baseline."""

from __future__ import annotations

import json
import math

import pytest
import torch

from srllm import generation as gen
from srllm.generation import baselines as bl
from srllm.generation import cache as gcache

TEXTS = ["Women are bad at math.", "Old people cannot learn new things."]
POOL = [{"text": f"unsafe example {i}", "safe_variation": f"safe example {i}"} for i in range(6)]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(gcache, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(bl, "cache_dir", lambda: tmp_path / "cache")


def test_registry_covers_the_papers_methods():
    assert {"original", "zero_shot", "two_shot", "five_shot", "prefix", "sr_llm"} <= set(bl.BASELINES)
    for key in ("zero_shot", "two_shot", "five_shot", "sr_llm", "prefix"):
        assert key in gen.METHODS  # every decoder method can be generated
    assert [bl.BASELINES[k].shots for k in ("zero_shot", "two_shot", "five_shot")] == [0, 2, 5]
    seq2seq = [b for b in bl.BASELINES.values() if b.family == "seq2seq"]
    assert {b.hub_id for b in seq2seq} >= {"google-t5/t5-large", "facebook/bart-large"}
    assert all("7" in bl.BASELINES[k].tables for k in ("zero_shot", "two_shot", "five_shot", "prefix", "sr_llm"))
    with pytest.raises(Exception, match="unknown method"):
        bl.get_baseline("gpt-5")


def test_original_is_the_text_itself():
    res = bl.run_baseline("original", [{"text": t} for t in TEXTS])
    assert res.ok and res.outputs == tuple(TEXTS)


def test_encoder_decoder_offline_is_not_run_never_faked(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for key in ("t5_large", "bart_large", "flan_t5_large"):
        res = bl.run_baseline(key, TEXTS)
        assert res.status == "not_run" and res.outputs is None
        assert bl.BASELINES[key].hub_id in res.reason and "Hub" in res.reason
        assert json.loads(json.dumps(res.to_dict()))["status"] == "not_run"


def test_adapter_methods_without_adapter_are_not_run():
    for key in ("sr_llm", "prefix"):
        res = bl.run_baseline(key, TEXTS, profile="smoke")
        assert res.status == "not_run" and "adapter" in res.reason


def test_prompting_baseline_matches_rewrite():
    res = bl.run_baseline("two_shot", TEXTS, profile="smoke", shots_pool=POOL, progress=False)
    assert res.ok and len(res.outputs) == 2
    assert list(res.outputs) == gen.rewrite(TEXTS, method="two_shot", profile="smoke", shots_pool=POOL,
                                            progress=False)


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory):
    """A small random BART with the SmolLM2 tokenizer, standing in for a hub checkpoint (offline)."""
    from transformers import BartConfig, BartForConditionalGeneration

    from srllm.models import load_tokenizer

    tok = load_tokenizer("tiny-random-llama")
    cfg = BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                     decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
                     pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                     decoder_start_token_id=tok.bos_token_id, forced_eos_token_id=None)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bart")
    BartForConditionalGeneration(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_encoder_decoder_path_trains_and_generates(tiny_bart, tmp_path):
    settings = bl.Seq2SeqSettings(max_steps=3, batch_size=2, learning_rate=1e-3, max_new_tokens=6,
                                  max_source_length=32, max_target_length=32)
    pairs = [(p["text"], p["safe_variation"]) for p in POOL]
    res = bl.run_baseline("bart_large", TEXTS, model_name=str(tiny_bart), train_pairs=pairs, seq2seq=settings,
                          progress=False)
    assert res.ok and len(res.outputs) == 2 and all(isinstance(o, str) for o in res.outputs)
    done = json.loads((tmp_path / "cache" / "seq2seq").glob("*/done.json").__next__().read_text())
    assert done["steps"] == 3 and math.isfinite(done["train_loss"])
    # The trained folder is reused for the same model, pairs and settings (no second training).
    again = bl.run_baseline("bart_large", TEXTS, model_name=str(tiny_bart), train_pairs=pairs, seq2seq=settings,
                            progress=False)
    assert again.outputs == res.outputs and again.details["trained_dir"] == res.details["trained_dir"]
    with pytest.raises(Exception, match="pair 1: field 'safe_variation'"):
        bl.train_seq2seq(str(tiny_bart), [("a", "b"), ("c", "")], settings=settings)
