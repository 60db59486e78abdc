"""Batched greedy generation: same text as one at a time, stops per row, caches and resumes."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from srllm import generation as gen
from srllm.generation import adapters, batching, decoding, kvcache, methods
from srllm.generation import cache as gcache
from srllm.errors import SrllmError
from srllm.prompts import format_prompt
from conftest import distinct_llama

TEXTS = [
    "Women are bad at math.",
    "Old people cannot learn new technology, they should just retire already and leave the jobs to the young.",
    "hi",
    "Why are men always so loud in meetings? Nobody else can say anything.",
    "Immigrants from that country are all lazy and never work a day in their lives, everyone knows it.",
]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    # Keep generation caches and run folders of the tests out of the user's cache.
    for module in (gcache, adapters, batching):
        monkeypatch.setattr(module, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr("srllm.perf.work_log_path", lambda: tmp_path / "work-log.jsonl")


@pytest.fixture(scope="module")
def diverse(tmp_path_factory):
    """A random Llama whose greedy outputs differ per prompt (conftest.distinct_llama): model, tokenizer, folder."""
    return distinct_llama(tmp_path_factory.mktemp("diverse-llama"))


def _one_by_one(model, tok, prompts, max_new_tokens):
    """Reference: one unpadded model.generate call per prompt (no batching at all)."""
    stops = gen.stop_token_ids(tok, model)
    outs = []
    with torch.inference_mode():
        for p in prompts:
            enc = tok(p, return_tensors="pt", add_special_tokens=False)
            o = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stops,
                               pad_token_id=tok.pad_token_id)
            outs.append(decoding.decode_row(tok, o[0, enc["input_ids"].shape[1]:].tolist(), set(stops))[0])
    return outs


@pytest.mark.parametrize("fmt", ["chat", "alpaca"])
def test_batched_equals_one_at_a_time(diverse, fmt):
    model, tok, _ = diverse
    prompts = [format_prompt(t, fmt, tok) for t in TEXTS]
    lengths = {len(tok(p, add_special_tokens=False)["input_ids"]) for p in prompts}
    assert len(lengths) == len(prompts)  # every row of a batch needs a different amount of padding
    ref = _one_by_one(model, tok, prompts, 10)
    assert all(ref) and len(set(ref)) == len(ref)  # non-trivial, prompt-dependent outputs
    for bs in (1, 3, 5):
        assert gen.generate_texts(model, tok, prompts, max_new_tokens=10, batch_size=bs, progress=False) == ref


def test_uninitialised_cache_memory_is_never_read(diverse, monkeypatch):
    """The preallocated cache is not zeroed; with every uninitialised tensor filled with NaN (torch's
    deterministic mode), batched decoding still equals one-at-a-time, so no unwritten position is read."""
    model, tok, _ = diverse
    prompts = [format_prompt(t, "chat", tok) for t in TEXTS]
    ref = _one_by_one(model, tok, prompts, 6)
    monkeypatch.setattr(decoding, "PREFILL_PAD_SHARE", 0.0)  # one prefill group per length: gaps in the cache
    monkeypatch.setattr(torch.utils.deterministic, "fill_uninitialized_memory", True)
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        layer = kvcache._buffer_layer_class()(4)
        layer.lazy_initialization(torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2))
        assert torch.isnan(layer._k).all()  # the fill is on: unwritten memory would show as NaN
        got = gen.generate_texts(model, tok, prompts, max_new_tokens=6, batch_size=5, progress=False)
    finally:
        torch.use_deterministic_algorithms(was)
    assert got == ref


def test_shared_start_is_encoded_once_and_ended_rows_leave_the_batch(diverse, monkeypatch):
    model, tok, _ = diverse
    prompts = [format_prompt(t, "chat", tok) for t in TEXTS]
    rows = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    shared = decoding.common_prefix_len(rows)
    assert shared >= decoding.MIN_SHARED_TOKENS and all(r[:shared] == rows[0][:shared] for r in rows)
    assert rows[0][shared] != rows[1][shared] or rows[0][shared] != rows[2][shared]
    free = decoding._greedy_batch(model, rows, max_new_tokens=8, stops=[], pad_id=tok.pad_token_id, draft=False)
    # Make row 0's third token a stop token (one no other row emits before its own end).
    stop = free[0][2]
    assert all(stop not in o[:3] for o in free[1:])
    calls = []
    real = type(model.get_decoder()).forward  # the decoder: called on both the screened and the plain path

    def spy(self, *a, **k):
        calls.append(tuple(k["input_ids"].shape))
        return real(self, *a, **k)

    monkeypatch.setattr(type(model.get_decoder()), "forward", spy)
    monkeypatch.setattr(decoding, "COMPACT_SHARE", 0.0)  # drop a finished row at once
    got = decoding._greedy_batch(model, rows, max_new_tokens=8, stops=[stop], pad_id=tok.pad_token_id, draft=False)
    monkeypatch.undo()
    assert got[0] == free[0][:3]  # ends with the stop token
    assert calls[0] == (1, shared)  # the shared start, once
    rest = [len(r) - shared for r in rows]
    groups = decoding.prefill_groups(rest)
    assert sorted(j for g in groups for j in g) == list(range(len(rows)))  # every row prefilled once
    prefill = calls[1:1 + len(groups)]  # the remainders, one padded pass per group of similar length
    assert prefill == [(len(g), max(rest[j] for j in g)) for g in groups]
    decode = calls[1 + len(groups):]
    assert all(c[1] == 1 for c in decode)
    assert decode[0][0] == len(rows) and min(c[0] for c in decode) == len(rows) - 1  # row 0 left after its stop
    # With the default share, one finished row of five stays in the batch (its tokens ignored): same tokens.
    calls.clear()
    monkeypatch.setattr(type(model.get_decoder()), "forward", spy)
    lazy = decoding._greedy_batch(model, rows, max_new_tokens=8, stops=[stop], pad_id=tok.pad_token_id,
                                  draft=False)
    monkeypatch.undo()
    assert lazy == got and min(c[0] for c in calls[1 + len(groups):]) == len(rows)
    # Same tokens as transformers' generate one prompt at a time with that stop token.
    with torch.inference_mode():
        for r, o in zip(rows, got):
            ref = model.generate(input_ids=torch.tensor([r]), attention_mask=torch.ones((1, len(r)), dtype=torch.long),
                                 max_new_tokens=8, do_sample=False, eos_token_id=[stop],
                                 pad_token_id=tok.pad_token_id)[0, len(r):].tolist()
            assert o == ref[:len(o)] and (len(o) == 8 or o[-1] == stop)
    no_share = gen.generate_texts(model, tok, prompts, max_new_tokens=8, batch_size=5, progress=False,
                                  share_prefix=False)
    assert no_share == gen.generate_texts(model, tok, prompts, max_new_tokens=8, batch_size=5, progress=False)


def test_prefill_groups_bound_padding():
    lengths = [100, 12, 95, 40, 98, 11, 38, 60]
    groups = decoding.prefill_groups(lengths)
    assert sorted(j for g in groups for j in g) == list(range(len(lengths)))
    assert groups[0][0] == 0  # longest first
    for g in groups:
        computed = len(g) * max(lengths[j] for j in g)
        assert computed - sum(lengths[j] for j in g) <= decoding.PREFILL_PAD_SHARE * computed
    # far fewer tokens computed than one padded pass over all rows
    assert sum(len(g) * max(lengths[j] for j in g) for g in groups) < 0.7 * len(lengths) * max(lengths)
    assert decoding.prefill_groups([]) == [] and decoding.prefill_groups([5]) == [[0]]


def test_right_padding_would_break_equality(diverse):
    """The equality test above can fail: right padding (no left pad) changes short rows."""
    model, tok, _ = diverse
    prompts = [format_prompt(t, "chat", tok) for t in TEXTS]
    ref = _one_by_one(model, tok, prompts, 8)
    tok_r = copy.deepcopy(tok)
    tok_r.padding_side = "right"
    enc = tok_r(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    wrong = [tok.decode(r, skip_special_tokens=True).strip() for r in out[:, enc["input_ids"].shape[1]:]]
    assert wrong != ref


def test_saved_tiny_random_llama_batched_equals_single(tiny_model):
    model, tok = tiny_model
    prompts = [format_prompt(t, "llama2", tok) for t in TEXTS[:3]]
    ref = _one_by_one(model, tok, prompts, 6)
    assert gen.generate_texts(model, tok, prompts, max_new_tokens=6, batch_size=3, progress=False) == ref


def _prefix_model(base, n_virtual=4):
    from peft import PrefixTuningConfig, get_peft_model

    torch.manual_seed(1)
    pm = get_peft_model(copy.deepcopy(base), PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=n_virtual))
    with torch.no_grad():  # a freshly initialised prefix is near zero; make it matter
        for p in pm.parameters():
            if p.requires_grad:
                p.normal_(0.0, 1.0)
    return pm.eval()


def test_prefix_adapter_is_applied_and_batched_equals_single(diverse):
    model, tok, _ = diverse
    pm = _prefix_model(model)
    prompts = [format_prompt(t, "chat", tok) for t in TEXTS[:4]]
    n = 6
    batched = gen.generate_texts(pm, tok, prompts, max_new_tokens=n, batch_size=4, progress=False)
    single = [gen.generate_texts(pm, tok, [p], max_new_tokens=n, batch_size=1, progress=False)[0] for p in prompts]
    assert batched == single
    # Reference: greedy steps through the peft model's own forward (the training path).
    ref = []
    with torch.inference_mode():
        for p in prompts:
            ids = tok(p, return_tensors="pt", add_special_tokens=False)["input_ids"]
            new = []
            for _ in range(n):
                nxt = int(pm(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, -1].argmax())
                new.append(nxt)
                ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
            ref.append(decoding.decode_row(tok, new, set(gen.stop_token_ids(tok, model)))[0])
    assert single == ref
    base = gen.generate_texts(model, tok, prompts, max_new_tokens=n, batch_size=4, progress=False)
    assert base != batched  # the prefix changed the outputs


@pytest.mark.slow
def test_smollm_batched_equals_single_and_stops_per_row(smollm, tmp_path):
    model, tok = smollm
    texts = ["Women are bad at math.", "hi",
             "Old people cannot learn new technology, they should just retire already."]
    prompts = [format_prompt(t, "chat", tok) for t in texts]
    ref = _one_by_one(model, tok, prompts, 12)
    cache = tmp_path / "smol.jsonl"
    assert gen.generate_texts(model, tok, prompts, max_new_tokens=12, batch_size=3, cache_path=cache,
                              progress=False) == ref
    rows = [json.loads(line) for line in cache.read_text().splitlines()]
    stopped = {r["prompt"]: r["stopped_at_eos"] for r in rows}
    # One short rewrite ends at <|im_end|> within 12 tokens while another runs on.
    assert True in stopped.values() and False in stopped.values()
    assert all("<|im_end|>" not in r for r in ref)


# ----------------------------------------------------------------- cache and resume


def test_cache_reuses_rows_and_keys_differ(diverse, tmp_path):
    model, tok, _ = diverse
    prompts = [format_prompt(t, "chat", tok) for t in TEXTS[:3]]
    path = tmp_path / "c.jsonl"
    st1, st2 = {}, {}
    a = gen.generate_texts(model, tok, prompts, max_new_tokens=5, batch_size=2, cache_path=path, stats=st1,
                           progress=False)
    b = gen.generate_texts(model, tok, prompts + prompts[:1], max_new_tokens=5, batch_size=2, cache_path=path,
                           stats=st2, progress=False)
    assert st1["generated"] == 3 and st1["cached"] == 0
    assert st2["generated"] == 0 and st2["cached"] == 4
    assert b == a + a[:1]
    assert len(path.read_text().splitlines()) == 3
    # A different number of new tokens is a different row, not a cache hit.
    st3 = {}
    gen.generate_texts(model, tok, prompts[:1], max_new_tokens=3, batch_size=1, cache_path=path, stats=st3,
                       progress=False)
    assert st3["generated"] == 1
    p = gen.generation_cache_path
    assert p("m", None, "chat", 8) == p("m", None, "chat", 8)
    assert len({p("m", None, "chat", 8), p("m2", None, "chat", 8), p("m", "a1", "chat", 8),
                p("m", None, "alpaca", 8), p("m", None, "chat", 9)}) == 5


def test_unfinished_last_line_is_dropped_and_file_repaired(tmp_path, capsys):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"key": "k1", "output": "one"}) + "\n" + '{"key": "k2", "outp')
    assert gen.read_cache(path) == {"k1": "one"}
    assert path.read_text().endswith("\n") and "k2" not in path.read_text()
    assert "unfinished last line" in capsys.readouterr().err
    path.write_text("not json\n")
    with pytest.raises(SrllmError, match="line 1"):
        gen.read_cache(path)


CHILD = textwrap.dedent("""
    import sys, time
    from srllm.models import load_model
    from srllm.prompts import format_prompt
    folder, cache, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    import srllm.generation.decoding as g
    model, tok = load_model(folder, device="cpu")
    real = g._greedy_batch
    def slow(*a, **k):  # make each batch take a while so the parent can kill us mid-run
        time.sleep(0.4)
        return real(*a, **k)
    g._greedy_batch = slow
    prompts = [format_prompt(f"text number {i} " + "word " * i, "chat", tok) for i in range(n)]
    g.generate_texts(model, tok, prompts, max_new_tokens=6, batch_size=2, cache_path=cache, progress=False)
""")


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_killed_run_resumes_without_regenerating(diverse, tmp_path):
    model, tok, folder = diverse
    n = 16
    cache = tmp_path / "resume.jsonl"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), str(cache), str(n)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while _lines(cache) < 4 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        os.killpg(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    done_before = _lines(cache)
    assert 4 <= done_before < n

    prompts = [format_prompt(f"text number {i} " + "word " * i, "chat", tok) for i in range(n)]
    stats = {}
    resumed = gen.generate_texts(model, tok, prompts, max_new_tokens=6, batch_size=2, cache_path=cache,
                                 stats=stats, progress=False)
    assert stats["cached"] == done_before and stats["generated"] == n - done_before
    keys = [json.loads(line)["key"] for line in cache.read_text().splitlines()]
    assert len(keys) == n and len(set(keys)) == n  # nothing generated twice
    assert resumed == gen.generate_texts(model, tok, prompts, max_new_tokens=6, batch_size=4, progress=False)


# ----------------------------------------------------------------- methods


POOL = [{"text": f"unsafe example {i}", "safe_variation": f"safe example {i}"} for i in range(8)]


def test_build_prompts_methods(diverse):
    _, tok, _ = diverse
    zero = gen.build_prompts(["a text"], tok, method="zero_shot", prompt_format="chat")
    two = gen.build_prompts(["a text", "b"], tok, method="two_shot", prompt_format="chat", shots_pool=POOL, seed=3)
    five = gen.build_prompts(["a text"], tok, method="five_shot", prompt_format="alpaca", shots_pool=POOL, seed=3)
    assert "unsafe example" not in zero[0]
    assert two[0].count("unsafe example") == 2 and five[0].count("unsafe example") == 5
    assert two[0].replace("a text", "b") == two[1]  # one shared set of demonstrations
    assert gen.build_prompts(["a text"], tok, method="sr_llm", prompt_format="chat") == zero
    with pytest.raises(SrllmError, match="five_shot"):
        gen.build_prompts(["x"], tok, method="five_shot", prompt_format="chat", shots_pool=POOL[:3])
    with pytest.raises(SrllmError, match="unknown generation method"):
        gen.build_prompts(["x"], tok, method="ten_shot", prompt_format="chat")


def _save_lora(base, folder):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(2)
    pm = get_peft_model(copy.deepcopy(base), LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=16,
                                                        init_lora_weights=False))
    pm.save_pretrained(folder)
    return folder


def _smoke(folder):
    from srllm.profiles import get_profile

    return get_profile("smoke", model=str(folder), **{"generate.max_new_tokens": 6, "generate.batch_size": 4})


def test_rewrite_methods_and_adapters(diverse, tmp_path):
    model, tok, folder = diverse
    prof = _smoke(folder)
    records = [{"text": t, "id": str(i)} for i, t in enumerate(TEXTS[:3])]
    zero = gen.rewrite(records, method="zero_shot", profile=prof, progress=False)
    assert zero == _one_by_one(model, tok, [format_prompt(t, "chat", tok) for t in TEXTS[:3]], 6)
    two = gen.rewrite(TEXTS[:3], method="two_shot", profile=prof, shots_pool=POOL, progress=False)
    assert two != zero
    lora = _save_lora(model, tmp_path / "lora")
    stats = {}
    sr = gen.rewrite(TEXTS[:3], method="sr_llm", adapter_dir=lora, profile=prof, progress=False, stats=stats)
    assert sr != zero and stats["generated"] == 3
    again = {}
    assert gen.rewrite(TEXTS[:3], method="sr_llm", adapter_dir=lora, profile=prof, progress=False, stats=again) == sr
    assert again["cached"] == 3  # same model, adapter, format and decoding: served from the cache
    with pytest.raises(SrllmError, match="needs a trained adapter"):
        gen.rewrite(TEXTS[:1], method="sr_llm", profile=prof)
    with pytest.raises(SrllmError, match="prefix-tuning adapter"):
        gen.rewrite(TEXTS[:1], method="prefix", adapter_dir=lora, profile=prof)
    with pytest.raises(SrllmError, match="item 1: field 'text'"):
        gen.rewrite(["ok", {"text": "  "}], method="zero_shot", profile=prof)


def test_cached_rows_are_read_without_loading_the_weights(diverse, tmp_path, monkeypatch):
    """A rewrite whose rows are all cached loads no model; one new row loads it (once) and decodes it."""
    from srllm.generation import loading

    model, tok, folder = diverse
    prof = _smoke(folder)
    lora = _save_lora(model, tmp_path / "lora")
    first = gen.rewrite(TEXTS[:3], method="sr_llm", adapter_dir=lora, profile=prof, progress=False)
    loading._load_cached.cache_clear()  # a new process: nothing in memory, the cache file on disk
    loads = []
    real = loading._load_weights
    monkeypatch.setattr(loading, "_load_weights", lambda *a: loads.append(a) or real(*a))
    stats = {}
    assert gen.rewrite(TEXTS[:3], method="sr_llm", adapter_dir=lora, profile=prof, progress=False,
                       stats=stats) == first
    assert loads == [] and stats["cached"] == 3
    more = gen.rewrite(TEXTS[:4], method="sr_llm", adapter_dir=lora, profile=prof, progress=False, stats=stats)
    assert more[:3] == first and stats["generated"] == 1 and len(loads) == 1
    gen.rewrite(TEXTS[4:], method="sr_llm", adapter_dir=lora, profile=prof, progress=False)
    assert len(loads) == 1  # the loaded model is kept for the next call


def test_rewrite_with_saved_prefix_adapter(diverse, tmp_path):
    model, tok, folder = diverse
    pm = _prefix_model(model)
    pm.save_pretrained(tmp_path / "prefix")
    prompts = [format_prompt(t, "chat", tok) for t in TEXTS[:3]]
    expected = [gen.generate_texts(pm, tok, [p], max_new_tokens=6, batch_size=1, progress=False)[0] for p in prompts]
    got = gen.rewrite(TEXTS[:3], method="prefix", adapter_dir=tmp_path / "prefix", profile=_smoke(folder),
                      progress=False)
    assert got == expected


# ----------------------------------------------------------------- debias


def test_debias_uses_the_profiles_sr_llm_run_else_two_shot(diverse, tmp_path, monkeypatch):
    from srllm.training import profile_run_name

    model, tok, folder = diverse
    prof = _smoke(folder)
    monkeypatch.setattr(methods, "default_shots_pool", lambda seed=42: POOL)
    res = gen.debias_detail("Women are bad at math.", profile=prof)
    assert res.method == "two_shot" and res.adapter_dir is None and res.run is None
    assert f"srllm train --profile {prof.name} --method qlora" in res.note
    assert res.text == gen.rewrite(["Women are bad at math."], method="two_shot", profile=prof, shots_pool=POOL,
                                   seed=prof.seed, progress=False)[0]
    # a newer run with other settings (a workshop or sweep adapter) is not the profile's SR_LLM run
    other = tmp_path / "cache" / "runs" / "qlora-workshop"
    _save_lora(model, other / "adapter")
    (other / "manifest.json").write_text(json.dumps({"model": str(folder), "status": "finished",
                                                     "finished_at": "2999-01-01T00:00:00+00:00"}))
    assert gen.debias_detail("Women are bad at math.", profile=prof).method == "two_shot"
    name = profile_run_name(prof)
    assert name.startswith("qlora-") and name == profile_run_name(prof)  # a function of the settings only
    assert profile_run_name(prof.replace(**{"lora.r": 4})) != name
    run = tmp_path / "cache" / "runs" / name
    lora = _save_lora(model, run / "adapter")
    (run / "manifest.json").write_text(json.dumps({"model": str(folder), "status": "finished"}))
    res2 = gen.debias_detail("Women are bad at math.", profile=prof)
    assert res2.method == "sr_llm" and Path(res2.adapter_dir) == lora and res2.run == name and res2.note is None
    assert gen.debias("Women are bad at math.", profile=prof) == res2.text
    assert gen.debias("Women are bad at math.", lora, profile=prof) == res2.text
    with pytest.raises(SrllmError, match="non-empty"):
        gen.debias("  ", profile=prof)


def test_stats_count_tokens_and_only_computed_rows_are_logged_as_work(diverse, tmp_path):
    from srllm.perf import read_work_log

    model, tok, _ = diverse
    prompts = [format_prompt(t, "chat", tok) for t in TEXTS]
    cache = tmp_path / "rows.jsonl"
    stats: dict = {}
    gen.generate_texts(model, tok, prompts[:3], max_new_tokens=6, batch_size=2, cache_path=cache, stats=stats,
                       progress=False)
    assert stats["generated"] == 3 and 3 <= stats["new_tokens"] <= 18 and stats["tokens_per_s"] > 0
    assert stats["decode_row_steps"] >= stats["new_tokens"] - 3  # the first token comes from the prefill pass
    # positions the prefill computed: every real token, plus the padding of each length group (no more than
    # one padded pass over every row would have computed)
    assert stats["prefill_tokens"] <= stats["prefill_padded_tokens"]
    assert stats["prefill_padded_tokens"] >= stats["prefill_tokens"] > 3
    # the decoder's time, split in encoding the prompts and decoding, is within the call's time
    assert stats["prefill_seconds"] > 0 and stats["decode_seconds"] > 0
    assert stats["prefill_seconds"] + stats["decode_seconds"] <= stats["seconds"]
    (row,) = read_work_log(tmp_path / "work-log.jsonl")
    assert row["kind"] == "generation" and row["rows"] == 3 and row["new_tokens"] == stats["new_tokens"]
    gen.generate_texts(model, tok, prompts, max_new_tokens=6, batch_size=2, cache_path=cache, progress=False)
    rows = read_work_log(tmp_path / "work-log.jsonl")
    assert len(rows) == 2 and rows[1]["rows"] == 2 and rows[1]["cached_rows"] == 3
    gen.generate_texts(model, tok, prompts, max_new_tokens=6, batch_size=2, cache_path=cache, progress=False)
    assert len(read_work_log(tmp_path / "work-log.jsonl")) == 2  # all cached: nothing computed, nothing logged


def test_batch_size_choice_is_the_largest_within_the_tolerance_of_the_best_time_per_row():
    # the step times of a 2-core AMD EPYC (ms per row): 64 rows is 4.5% off 32's, so 64
    assert batching.choose_batch_size({8: 12.873, 16: 8.683, 32: 6.431, 64: 6.144}) == 64
    assert batching.choose_batch_size({8: 12.0, 16: 8.0, 32: 5.0, 64: 5.6}) == 32  # 64 is 12% slower per row
    assert batching.choose_batch_size({8: 12.0, 16: 8.0, 32: 5.0, 64: 5.6}, tolerance=0.15) == 64
    assert batching.choose_batch_size({4: 1.0}) == 4


def test_batch_size_is_measured_once_per_machine_and_stored(diverse, tmp_path, monkeypatch):
    model, tok, _ = diverse
    monkeypatch.setattr(batching, "_PICKED", {})
    pick = gen.pick_batch_size(model, candidates=(1, 2, 4), context=16)
    assert pick in (1, 2, 4)
    store = json.loads((tmp_path / "cache" / "perf" / "batch-size.json").read_text())
    (rec,) = store.values()
    assert rec["batch_size"] == pick and set(rec["ms_per_row_step"]) == {"1", "2", "4"}
    best = min(rec["ms_per_row_step"].values())
    # The largest candidate within 10% of the best time per row (the stored times are rounded).
    assert pick == max(int(b) for b, t in rec["ms_per_row_step"].items() if t <= best * 1.1 + 1e-3)
    # A new process (empty memo) reads the stored pick instead of measuring again.
    monkeypatch.setattr(batching, "_PICKED", {})
    with monkeypatch.context() as m:
        m.setattr(type(model), "forward", lambda *a, **k: pytest.fail("measured again"))
        assert gen.resolve_batch_size("auto", model) == pick
    assert gen.resolve_batch_size(3, model) == 3
    for bad in (0, -1, "8", True):
        with pytest.raises(ValueError, match="positive integer or 'auto'"):
            gen.resolve_batch_size(bad, model)
    prompts = [format_prompt(t, "chat", tok) for t in TEXTS]
    stats: dict = {}
    auto = gen.generate_texts(model, tok, prompts, max_new_tokens=6, batch_size="auto", progress=False, stats=stats)
    assert stats["batch_size"] == pick
    assert auto == gen.generate_texts(model, tok, prompts, max_new_tokens=6, batch_size=5, progress=False)


def test_decode_steps_use_the_one_token_attention_on_cpu_and_prefill_the_library_s(diverse, monkeypatch):
    """One-token decoding steps go through srllm's attention (shared start read once); prefill does not."""
    model, tok, _ = diverse
    calls = []
    real_sdpa = torch.nn.functional.scaled_dot_product_attention
    real_one = kvcache.one_token_attention

    def spy_sdpa(q, *a, **k):
        calls.append(("library", q.shape[-2], 0))
        return real_sdpa(q, *a, **k)

    def spy_one(query, key, value, mask, scaling, shared=0):
        calls.append(("srllm", query.shape[-2], shared))
        return real_one(query, key, value, mask, scaling, shared)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy_sdpa)
    monkeypatch.setattr(kvcache, "one_token_attention", spy_one)
    rows = [tok(format_prompt(t, "chat", tok), add_special_tokens=False)["input_ids"] for t in TEXTS[:3]]
    shared = decoding.common_prefix_len(rows)
    with torch.inference_mode():
        decoding._greedy_batch(model, rows, max_new_tokens=3, stops=[], pad_id=tok.pad_token_id)
    monkeypatch.undo()
    layers = model.config.num_hidden_layers
    ours = [c for c in calls if c[0] == "srllm"]
    # prefill (the shared start, then one pass per length group) with the library's attention; then two
    # one-token steps (the first new token comes from the prefill), every layer through srllm's, told the
    # shared start's length
    assert ours == [("srllm", 1, shared)] * (2 * layers) and calls[-2 * layers:] == ours and shared >= 8
    assert len(calls) > 2 * layers and all(c[0] == "library" for c in calls[:-2 * layers])
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    assert "sdpa" not in ALL_ATTENTION_FUNCTIONS._local_mapping  # the library's function is back
    with kvcache.decode_attention(torch.device("cuda")):
        assert "sdpa" not in ALL_ATTENTION_FUNCTIONS._local_mapping  # nothing changes off the CPU


@pytest.mark.parametrize("shared", [0, 5])
@pytest.mark.parametrize("mask_kind", [None, "bool", "additive"])
def test_one_token_attention_equals_scaled_dot_product_attention(shared, mask_kind):
    g = torch.Generator().manual_seed(0)
    rows, heads, kv_heads, length, dim = 4, 6, 2, 12, 8
    query = torch.randn(rows, heads, 1, dim, generator=g)
    key = torch.randn(rows, kv_heads, length, dim, generator=g)
    value = torch.randn(rows, kv_heads, length, dim, generator=g)
    key[:, :, :shared] = key[:1, :, :shared]  # the shared start: the same in every row
    value[:, :, :shared] = value[:1, :, :shared]
    visible = torch.ones(rows, 1, 1, length, dtype=torch.bool)
    visible[1, ..., shared:shared + 3] = False  # left padding of a shorter row
    visible[3, ..., shared:shared + 1] = False
    mask = {None: None, "bool": visible,
            "additive": torch.zeros(visible.shape).masked_fill(~visible, float("-inf"))}[mask_kind]
    scale = 0.3
    got = kvcache.one_token_attention(query, key, value, mask, scale, shared)
    expected = torch.nn.functional.scaled_dot_product_attention(
        query, key.repeat_interleave(heads // kv_heads, dim=1), value.repeat_interleave(heads // kv_heads, dim=1),
        attn_mask=None if mask_kind is None else visible, scale=scale)
    assert got.shape == (rows, 1, heads, dim)
    torch.testing.assert_close(got, expected.transpose(1, 2), rtol=1e-5, atol=1e-6)
