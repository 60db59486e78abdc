"""A GPU plan against the limit: the paper profile's QLoRA and generation throughput, and the predicted full run.

Run (on a GPU): ``.venv/bin/python benchmarks/bench_gpu_plan.py``
Test it anywhere: ``.venv/bin/python benchmarks/bench_gpu_plan.py --shape tiny --steps 2 --gen-rows 4``

Builds a model of Llama-3.2-1B-Instruct's shape with **random weights** (no
Hub: the point is throughput, which does not depend on the weights), then:

1. **training**: the paper profile's QLoRA set-up (4-bit NF4 weights with
   double quantization and fp16 compute through bitsandbytes on CUDA; LoRA
   r/alpha/dropout/target modules from the profile, i.e. Table 3), batches of the
   profile's size made of the bundled CMD training pairs in the paper's prompt
   layout, forward + backward + AdamW step; tokens/s over ``--steps`` timed steps
   after ``--warmup`` untimed ones. Without CUDA (or bitsandbytes) the weights
   stay unquantized fp32, which is said in the output: that is the CPU test mode.
2. **generation**: :func:`srllm.generation.generate_texts` (the book's batched
   greedy decoder) on ``--gen-rows`` CMD test prompts, at the profile's batch
   size and ``max_new_tokens``. Random weights never emit an end token, so every
   row runs to ``max_new_tokens``: the rate is for full-length rows.

Predictions printed next to each other:

* the paper's full QLoRA run: the paper's train split (Table 1) times the profile's
  epochs times the mean tokens of a training example (measured on the bundled
  sample with the tokenizer in use, capped at the profile's ``max_length``),
  over the measured tokens/s; beside the paper's reported minutes on one A100
  (``srllm.paper.training_cost``) and the **compute limit**
  ``6 x N x tokens / peak FLOP/s`` with N the model's parameter count (about
  1.24e9) and the peak from ``--peak-tflops`` or the GPU's name;
* rewriting the paper's CMD test split (Table 1) once at the measured rows/s.

The record goes to ``runs/benchmarks/gpu_plan.json``; the last line is the
predicted training time over the compute limit (how far from the limit the
implementation is), or over the paper's minutes when no peak is known.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

# Dense fp16/bf16 tensor-core peaks (TFLOP/s, without sparsity) from the vendors' data sheets,
# matched against torch.cuda.get_device_name(); pass --peak-tflops for any other device.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "A10G": 125.0, "L40S": 362.0, "L4": 121.0,
               "A40": 150.0, "V100": 125.0, "T4": 65.0, "RTX 4090": 165.0, "RTX 3090": 71.0}

SHAPES = {
    # Llama-3.2-1B-Instruct's config.json (hidden 2048, 16 layers, 32/8 heads, MLP 8192, 128,256 tokens, tied).
    "llama-3.2-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                         num_key_value_heads=8, vocab_size=128256, max_position_embeddings=131072,
                         rope_theta=500000.0, tie_word_embeddings=True, rms_norm_eps=1e-5),
    # For testing the script on a CPU in seconds.
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=32000, max_position_embeddings=2048, tie_word_embeddings=True),
}


def peak_tflops(device_name: str | None, given: float | None) -> float | None:
    if given:
        return given
    if not device_name:
        return None
    for key in sorted(PEAK_TFLOPS, key=len, reverse=True):
        if key in device_name:
            return PEAK_TFLOPS[key]
    return None


def random_model_folder(shape: str, tok, dtype, folder: str) -> None:
    """Save a random-weight Llama of ``shape`` (and the tokenizer) to ``folder``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    shape_cfg = dict(SHAPES[shape], vocab_size=max(SHAPES[shape]["vocab_size"], len(tok)))  # every token id fits
    cfg = LlamaConfig(**shape_cfg, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(dtype)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    del model


def training_examples(prof, tok) -> list[list[int]]:
    """Token ids of the bundled CMD training pairs in the profile's prompt layout, capped at max_length."""
    from srllm.data import load_sample, split_records
    from srllm.prompts import format_prompt, response_suffix

    rows = split_records(load_sample("cmd"), seed=prof.seed)["train"]
    out = []
    for r in rows:
        text = format_prompt(r.text, prof.prompt_format, tok) + r.safe_variation + response_suffix(tok)
        out.append(tok(text, add_special_tokens=False)["input_ids"][:prof.train.max_length])
    return out


def measure_training(model, examples: list[list[int]], batch_size: int, steps: int, warmup: int, device: str,
                     fp16: bool) -> tuple[float, int, float]:
    """(tokens/s, tokens per timed step, seconds) of forward + backward + AdamW on LoRA parameters."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4)
    model.train()
    pad = 0

    def batch(i: int):
        rows = [examples[(i * batch_size + j) % len(examples)] for j in range(batch_size)]
        width = max(len(r) for r in rows)
        ids = torch.full((batch_size, width), pad, dtype=torch.long)
        mask = torch.zeros((batch_size, width), dtype=torch.long)
        for j, r in enumerate(rows):
            ids[j, :len(r)] = torch.tensor(r)
            mask[j, :len(r)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        return ids.to(device), mask.to(device), labels.to(device), int(mask.sum())

    def step(i: int) -> int:
        ids, mask, labels, n = batch(i)
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=fp16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return n

    for i in range(warmup):
        step(i)
    if device == "cuda":
        torch.cuda.synchronize()
    t0, tokens = time.perf_counter(), 0
    for i in range(warmup, warmup + steps):
        tokens += step(i)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return tokens / seconds, tokens // steps, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama-3.2-1b")
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--steps", type=int, default=10, help="timed training steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed training steps first")
    ap.add_argument("--gen-rows", type=int, default=64, help="prompts for the generation measurement")
    ap.add_argument("--max-new-tokens", type=int, help="default: the profile's generate.max_new_tokens")
    ap.add_argument("--peak-tflops", type=float, help="the device's dense fp16 peak (default: from the GPU's name)")
    args = ap.parse_args(argv)

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from srllm import paper
    from srllm.generation import generate_texts
    from srllm.models import bnb_config, load_tokenizer
    from srllm.perf import machine_info, record_benchmark
    from srllm.profiles import get_profile
    from srllm.prompts import format_prompt

    prof = get_profile(args.profile)
    cuda = torch.cuda.is_available()
    if not cuda and args.shape != "tiny":
        # `make bench` runs every script: without a GPU, a 1.24e9-parameter training step in fp32
        # would take many minutes and predict nothing about a GPU.
        print(f"no GPU here: the {args.shape} plan needs CUDA; test the script with --shape tiny. No record written.")
        return 0
    device = "cuda" if cuda else "cpu"
    try:
        import bitsandbytes  # noqa: F401

        have_bnb = True
    except ImportError:
        have_bnb = False
    quantized = cuda and have_bnb and prof.quant.load_in_4bit
    fp16 = cuda and prof.train.fp16
    # Llama-3's tokenizer needs the Hub; the Llama-2-style tokenizer of tiny-random-llama is
    # local. It splits text into somewhat more tokens than Llama-3's, so token counts
    # (and the predicted times) lean high.
    tok = load_tokenizer("tiny-random-llama")
    tok_name = "tiny-random-llama (Llama-2 style, 32k vocabulary)"
    examples = training_examples(prof, tok)
    mean_tokens = sum(len(e) for e in examples) / len(examples)

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tempfile.mkdtemp(prefix="gpu-plan-")
    try:
        random_model_folder(args.shape, tok, torch.float16 if cuda else torch.float32, folder)
        t0 = time.perf_counter()
        if quantized:
            from peft import prepare_model_for_kbit_training

            model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=bnb_config(prof.quant),
                                                         device_map={"": 0})
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        else:
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device)
        load_s = time.perf_counter() - t0
        n_params = sum(p.numel() for p in model.parameters())
        if quantized:  # 4-bit weights are stored two per byte: count the parameters of the shape instead
            from transformers import AutoConfig

            with torch.device("meta"):
                n_params = sum(p.numel() for p in AutoModelForCausalLM.from_config(
                    AutoConfig.from_pretrained(folder)).parameters())
        lora = LoraConfig(r=prof.lora.r, lora_alpha=prof.lora.alpha, lora_dropout=prof.lora.dropout,
                          bias=prof.lora.bias, target_modules=list(prof.lora.target_modules), task_type="CAUSAL_LM")
        peft_model = get_peft_model(model, lora)
        tps, tokens_per_step, train_s = measure_training(peft_model, examples, prof.train.batch_size, args.steps,
                                                         args.warmup, device, fp16)
        peak_mem = torch.cuda.max_memory_allocated() / 2**30 if cuda else None

        # Generation with the base weights (LoRA off), the book's decoder.
        peft_model.eval()
        gen_model = peft_model.get_base_model() if not quantized else peft_model
        from srllm.data import load_sample, split_records

        test = split_records(load_sample("cmd"), seed=prof.seed)["test"]
        texts = [test[i % len(test)].text for i in range(args.gen_rows)]
        prompts = [format_prompt(t, prof.prompt_format, tok) for t in texts]
        n_new = args.max_new_tokens or prof.generate.max_new_tokens
        stats: dict = {}
        with peft_model.disable_adapter():
            generate_texts(gen_model, tok, prompts[:2], max_new_tokens=2, batch_size=2, progress=False)  # warm-up
            generate_texts(gen_model, tok, prompts, max_new_tokens=n_new, batch_size=prof.generate.batch_size,
                           progress=False, stats=stats)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    info = machine_info()
    peak = peak_tflops(info["gpu"], args.peak_tflops)
    split = paper.TABLE1.split
    epochs = prof.train.epochs
    full_tokens = split["train"] * epochs * mean_tokens
    predicted_min = full_tokens / tps / 60
    paper_min = paper.training_cost("qlora").minutes
    limit_min = 6 * n_params * full_tokens / (peak * 1e12) / 60 if peak else None
    gen_rows_s, gen_tok_s = stats["rows_per_s"], stats["tokens_per_s"]
    test_min = split["test"] / gen_rows_s / 60

    where = info["gpu"] or f"CPU ({info['cpu']}, {info['cores']} cores; test mode, not a GPU plan)"
    print(f"device: {where}; torch {info['torch']}")
    print(f"model: {args.shape} shape, random weights, {n_params / 1e9:.3f}e9 parameters "
          f"({'4-bit NF4' + (' + double quant' if prof.quant.double_quant else '') if quantized else 'fp32, not quantized'}"
          f", loaded in {load_s:.1f} s); LoRA r={prof.lora.r} alpha={prof.lora.alpha} on "
          f"{len(prof.lora.target_modules)} module types; {'fp16 autocast' if fp16 else 'fp32 compute'}")
    print(f"training examples: {len(examples)} bundled CMD train pairs in the {prof.prompt_format} layout, "
          f"mean {mean_tokens:.0f} tokens ({tok_name}), capped at {prof.train.max_length}")
    print(f"training: batch {prof.train.batch_size}, {args.steps} timed steps ({args.warmup} warm-up), "
          f"{tokens_per_step} tokens/step: {tps:,.0f} tokens/s"
          + (f", peak GPU memory {peak_mem:.1f} GiB" if peak_mem is not None else ""))
    print(f"generation: {args.gen_rows} rows, batch {prof.generate.batch_size}, {n_new} new tokens each: "
          f"{gen_rows_s:.2f} rows/s, {gen_tok_s:,.0f} new tokens/s")
    print(f"paper's full QLoRA run: {split['train']:,} pairs x {epochs:g} epoch(s) x {mean_tokens:.0f} tokens "
          f"= {full_tokens:,.0f} tokens")
    print(f"  predicted here: {predicted_min:.1f} min | paper: {paper_min:g} min on one A100 | compute limit "
          + (f"(6 x {n_params:.3g} x tokens / {peak:g} TFLOP/s): {limit_min:.1f} min" if limit_min
             else "n/a (no peak FLOP/s known for this device; pass --peak-tflops)"))
    print(f"rewriting the paper's CMD test split once ({split['test']:,} texts, full-length rows): "
          f"predicted {test_min:.1f} min")
    ratio, label = ((predicted_min / limit_min, "predicted training time / compute limit") if limit_min
                    else (predicted_min / paper_min, "predicted training time / paper's A100 minutes"))
    record_benchmark("gpu_plan", {
        "shape": args.shape, "profile": prof.name, "quantized_4bit": quantized, "fp16": fp16, "parameters": n_params,
        "train_tokens_per_s": tps, "train_tokens_per_step": tokens_per_step, "train_seconds": train_s,
        "train_batch_size": prof.train.batch_size, "mean_example_tokens": mean_tokens, "tokenizer": tok_name,
        "full_run_tokens": full_tokens, "predicted_train_minutes": predicted_min, "paper_minutes_a100": paper_min,
        "peak_tflops": peak, "compute_limit_minutes": limit_min, "gen_rows_per_s": gen_rows_s,
        "gen_tokens_per_s": gen_tok_s, "gen_batch_size": prof.generate.batch_size, "gen_max_new_tokens": n_new,
        "predicted_test_rewrite_minutes": test_min, "peak_gpu_memory_gib": peak_mem},
        ratio=ratio, ratio_label=label)
    print(f"{label}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
