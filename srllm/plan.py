"""What a profile will do before it runs: rows, tokens, steps, time, memory and network, per stage.

``srllm plan --profile paper`` is for a user about to start a long GPU run (issue 15 item 5).
It runs offline and downloads nothing: it reads the profile, the data the profile would read
when that data is on this machine (the bundled samples, a local copy or a copy fetched with
``srllm data fetch``), the benchmark records (``benchmarks/results/`` and ``runs/benchmarks/``,
through :func:`srllm.perf.load_benchmarks`) and what is in the local caches.

How each figure is obtained (every stage says which applies):

* **rows** - from the data when it is here; for a Hub dataset not yet fetched, Table 1's split
  sizes (:data:`srllm.paper.TABLE1`) as the expected sizes;
* **tokens** - prompt + target of every training example (cut at ``max_length``), counted with
  the profile model's tokenizer when it is on this machine, else with the bundled SmolLM2
  tokenizer as a stand-in (said so);
* **steps** - ``max_steps`` when set, else ceil(rows / (batch x accumulation)) x epochs;
* **time and peak memory** - from a benchmark record of the same model on the same kind of
  device (CPU or GPU): training tokens / that record's tokens per second, and its peak memory;
  or, with ``measure=True`` (``srllm plan --measure``), from a few optimizer steps timed on this
  machine when the model and data are here. Without either the plan says "no record" instead of
  guessing; the ``paper`` profile on a GPU has no record in this repository (no GPU was
  available to measure one).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from srllm.data.sources import describe_sources, load_dataset_for, profile_splits
from srllm.errors import SrllmError
from srllm.models import KNOWN_MODELS, hub_local_snapshot, load_tokenizer
from srllm.paper import TABLE1
from srllm.perf import load_benchmarks, machine_info, peak_rss_mib
from srllm.profiles import resolve
from srllm.prompts import format_prompt
from srllm.results.common import TABLE4_METHODS, TABLE7_METHODS, bold_prompts, toxigen_subset
from srllm.training import train


@dataclass
class Stage:
    """One stage of a profile's run, with how its numbers were obtained (``basis``)."""
    name: str
    rows: int | None = None
    tokens: int | None = None
    steps: int | None = None
    seconds: float | None = None
    peak_mib: float | None = None
    network: list[str] = field(default_factory=list)
    basis: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The stage as plain data (what ``srllm plan --json`` prints)."""
        return asdict(self)


def _local_hub_model(hub_id: str) -> bool:
    return hub_local_snapshot(hub_id) is not None


def _tokenizer(model: str) -> tuple[Any, str]:
    """The model's tokenizer if it is on this machine, else the bundled SmolLM2 one (a stand-in)."""
    spec = KNOWN_MODELS.get(model)
    if spec is None or spec.source != "hub" or _local_hub_model(spec.hub_id):
        try:
            return load_tokenizer(model), f"tokens counted with {model}'s tokenizer"
        except Exception:  # not loadable offline after all: fall through to the stand-in
            pass
    return (load_tokenizer("smollm2-135m-instruct"),
            f"tokens counted with the SmolLM2 tokenizer as a stand-in ({model}'s is not on this machine)")


def _example_tokens(records: list[Any], tok: Any, fmt: str, max_length: int) -> list[int]:
    out = []
    for r in records:
        if not r.safe_variation:
            continue
        prompt = format_prompt(r.text, fmt, tok)
        n = len(tok(prompt, add_special_tokens=False)["input_ids"]) + \
            len(tok(r.safe_variation, add_special_tokens=False)["input_ids"]) + 1
        out.append(min(n, max_length))
    return out


def _device_kind(profile: Any) -> str:
    return "cpu" if profile.device == "cpu" else "gpu"


def _matching_record(records: list[dict[str, Any]], name: str, profile: Any) -> dict[str, Any] | None:
    """A benchmark record of ``name`` measured with the profile's model on the same kind of device."""
    for rec in records:
        if rec.get("name") != name:
            continue
        m, machine = rec.get("metrics", {}), rec.get("machine", {})
        on_gpu = bool(machine.get("gpu"))
        if m.get("model") == profile.model and on_gpu == (_device_kind(profile) == "gpu"):
            return rec
    return None


def _fmt_record(rec: dict[str, Any]) -> str:
    mach = rec.get("machine", {})
    where = mach.get("gpu") or f"{mach.get('cpu', '?')} CPU, {mach.get('cores', '?')} cores"
    return f"benchmark record '{rec['name']}' ({rec.get('source', '?')}; {where}, {rec.get('time', '?')})"


def _data_stage(profile: Any) -> tuple[Stage, dict[str, list[Any]] | None, Stage]:
    src = {r["dataset"]: r for r in describe_sources(profile)}
    cmd = Stage("data: CMD")
    splits = None
    if src["cmd"]["network"]:
        t1 = dict(TABLE1.split)
        cmd.rows = sum(t1.values())
        cmd.network.append(f"download {src['cmd']['source']} (not fetched yet; `srllm data fetch`)")
        cmd.basis.append(f"not on this machine: expected sizes from Table 1 ({t1['train']} / {t1['dev']} / "
                         f"{t1['test']}); tokens unknown until fetched")
    else:
        ld = load_dataset_for(profile, "cmd")
        splits = profile_splits(profile, "cmd")
        cmd.rows = len(ld.records)
        cmd.basis.append(ld.describe())
        cmd.basis.append("used under the profile's row limits: " +
                         " / ".join(f"{k} {len(v)}" for k, v in splits.items()))
    tg = Stage("data: ToxiGen")
    if src["toxigen"]["network"]:
        tg.network.append(f"download {src['toxigen']['source']} (gated: log in and accept its terms; "
                          f"`srllm data fetch`)")
        tg.basis.append("not on this machine: rows unknown until fetched")
    else:
        recs = load_dataset_for(profile, "toxigen").records
        tg.rows = len(toxigen_subset(recs, profile.data.max_toxigen_per_group, profile.seed))
        tg.basis.append(f"{len(recs)} statements, {tg.rows} used (at most "
                        f"{profile.data.max_toxigen_per_group or 'all'} per group)")
    return cmd, splits, tg


def _train_stage(name: str, profile: Any, splits: dict[str, list[Any]] | None, tok_info: tuple[Any, str] | None,
                 benches: list[dict[str, Any]], method: str) -> Stage:
    t = profile.train
    st = Stage(name)
    if method == "prefix":
        max_steps = profile.prefix.max_steps if profile.prefix.max_steps is not None else t.max_steps
        epochs = profile.prefix.epochs
    else:
        max_steps, epochs = t.max_steps, t.epochs
    batch = profile.prefix.batch_size if method == "prefix" and profile.prefix.batch_size else t.batch_size
    per_step = batch * t.grad_accum
    train_rows = len([r for r in splits["train"] if r.safe_variation]) if splits is not None else \
        (TABLE1.split["train"] if profile.data.max_train_rows is None else min(profile.data.max_train_rows,
                                                                               TABLE1.split["train"]))
    st.rows = train_rows
    st.steps = max_steps if max_steps > 0 else math.ceil(train_rows / per_step) * math.ceil(epochs)
    st.basis.append(f"{st.steps} optimizer steps of {per_step} examples" +
                    (" (max_steps)" if max_steps > 0 else f" ({epochs:g} epochs)"))
    if splits is not None and tok_info is not None:
        tok, how = tok_info
        lens = _example_tokens(splits["train"], tok, profile.prompt_format, t.max_length)
        mean = sum(lens) / len(lens) if lens else 0.0
        st.tokens = int(round(mean * st.steps * per_step)) if max_steps > 0 else int(round(sum(lens) * epochs))
        st.basis.append(f"{how}; mean {mean:.0f} tokens per example")
    rec = _matching_record(benches, "train", profile)
    if rec is None:
        st.basis.append(f"time and memory: no benchmark record of {profile.model} on "
                        f"{_device_kind(profile).upper()} (benchmarks/bench_train.py writes one)")
    else:
        m = rec["metrics"]
        tps = m.get("ours_tokens_per_s")
        if st.tokens and tps:
            st.seconds = st.tokens / tps
        peak = m.get("peak_rss_mib", {})
        st.peak_mib = peak.get("ours") if isinstance(peak, dict) else rec.get("peak_rss_mib")
        st.basis.append(f"time: tokens / {tps:.0f} tokens/s of {_fmt_record(rec)}, measured with its own "
                        f"settings ({m.get('method')}, batch {m.get('batch_size')}, LoRA r "
                        f"{m.get('lora', {}).get('r')}); training steps only (evaluation and the merge come on "
                        f"top); peak memory: that record's")
    return st


def _generation_stage(profile: Any, splits: dict[str, list[Any]] | None, toxigen_rows: int | None,
                      benches: list[dict[str, Any]]) -> Stage:
    gen_methods = [m for m in dict.fromkeys(TABLE4_METHODS + TABLE7_METHODS)
                   if m not in ("original", "t5_large", "bart_large")]
    cmd_rows = len(splits["test"]) if splits is not None else (profile.data.max_test_rows or TABLE1.split["test"])
    bold = len(bold_prompts(profile))
    st = Stage("generate: Tables 4, 5, 7")
    st.rows = cmd_rows + (toxigen_rows or 0) + bold
    generations = (cmd_rows + (toxigen_rows or 0)) * len(gen_methods) + bold * 3
    st.tokens = generations * profile.generate.max_new_tokens
    st.basis.append(f"{cmd_rows} CMD test + {toxigen_rows if toxigen_rows is not None else '?'} ToxiGen texts x "
                    f"{len(gen_methods)} methods ({', '.join(gen_methods)}) + {bold} BOLD prompts x 3 (base "
                    f"continuation, 2-shot, SR_LLM): {generations} generations; tokens at most "
                    f"{profile.generate.max_new_tokens} new per generation")
    rec = _matching_record(benches, "generate", profile)
    if rec is None:
        st.basis.append(f"time and memory: no benchmark record of {profile.model} on "
                        f"{_device_kind(profile).upper()} (benchmarks/bench_generate.py writes one)")
    else:
        m = rec["metrics"]
        rps = m.get("ours_rows_per_s")
        if rps:
            scale = profile.generate.max_new_tokens / m.get("max_new_tokens", profile.generate.max_new_tokens)
            st.seconds = generations / rps * scale
        peak = m.get("peak_rss_mib", {})
        st.peak_mib = peak.get("ours") if isinstance(peak, dict) else rec.get("peak_rss_mib")
        st.basis.append(f"time: generations / {rps:.2f} texts/s of {_fmt_record(rec)}, scaled to "
                        f"{profile.generate.max_new_tokens} new tokens (an upper bound: texts stop early)")
    return st


def measure_step(profile: Any, method: str, splits: dict[str, list[Any]] | None, steps: int = 3) -> dict[str, Any]:
    """Time ``steps`` optimizer steps of ``method`` on this machine (a throw-away run, no evaluation, no merge).

    Returns ``{"seconds_per_step", "peak_mib", "device"}``, or ``{"why": ...}`` when it cannot run
    here without downloading (the model is not on this machine, the data is not fetched, or the
    profile wants a GPU this machine lacks).
    """
    import tempfile
    import time

    spec = KNOWN_MODELS.get(profile.model)
    if splits is None:
        return {"why": "the data is not on this machine"}
    if spec is not None and spec.source == "hub" and not _local_hub_model(spec.hub_id):
        return {"why": f"{profile.model} is not on this machine (no download in a plan)"}
    if profile.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            return {"why": "the profile trains on a GPU and this machine has none"}
        torch.cuda.reset_peak_memory_stats()
    from transformers import TrainerCallback

    class _StepTimes(TrainerCallback):
        """Wall time at the end of every optimizer step: the first step (allocation, warm-up) is left out."""

        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.times.append(time.perf_counter())

    per_step = profile.train.batch_size * profile.train.grad_accum
    rows = [r for r in splits["train"] if r.safe_variation][: per_step * (steps + 1)]
    timer = _StepTimes()
    with tempfile.TemporaryDirectory(prefix="srllm-plan-") as tmp:
        train(method, profile, rows, [], out_dir=tmp, merge=False, progress=False, max_steps=steps + 1,
              callbacks=[timer])
    if len(timer.times) < 2:
        return {"why": "the measured run made fewer than two steps"}
    peak = peak_rss_mib()
    if profile.device == "cuda":
        import torch

        peak = torch.cuda.max_memory_allocated() / 2**20
    return {"seconds_per_step": (timer.times[-1] - timer.times[0]) / (len(timer.times) - 1), "peak_mib": peak,
            "device": profile.device, "steps": len(timer.times) - 1}


def _apply_measure(stage: Stage, meas: dict[str, Any]) -> None:
    if "why" in meas:
        stage.basis.append(f"no measured step: {meas['why']}")
        return
    stage.seconds = meas["seconds_per_step"] * (stage.steps or 0)
    stage.peak_mib = meas["peak_mib"]
    stage.basis = [("replaced by the measurement below: " + b) if b.startswith("time") else b for b in stage.basis]
    stage.basis.append(f"time: {meas['seconds_per_step']:.2f} s per step measured here over {meas['steps']} steps "
                       f"after a first (warm-up) step; peak memory: that measurement's "
                       f"({'GPU allocated' if meas['device'] == 'cuda' else 'process RSS'}; under other load on "
                       f"this machine the time is too)")


def build_plan(profile: Any, root: str = ".", measure: bool = False) -> dict[str, Any]:
    """The plan of ``profile`` as plain data: stages, network use and notes. Offline; downloads nothing.

    ``measure``: also time a few optimizer steps of each training method on this machine
    (:func:`measure_step`) and use those times instead of the benchmark records'.
    """
    prof = resolve(profile)
    benches = load_benchmarks(root)
    cmd, splits, tg = _data_stage(prof)
    tok_info = _tokenizer(prof.model) if splits is not None else None
    main_train = _train_stage(f"train: {prof.train.method} (SR_LLM)", prof, splits, tok_info, benches,
                              prof.train.method)
    prefix_train = _train_stage("train: prefix-tuning", prof, splits, tok_info, benches, "prefix")
    if measure:
        _apply_measure(main_train, measure_step(prof, prof.train.method, splits))
        _apply_measure(prefix_train, measure_step(prof, "prefix", splits))
    stages = [cmd, tg, main_train, prefix_train, _generation_stage(prof, splits, tg.rows, benches)]
    network: list[str] = []
    spec = KNOWN_MODELS.get(prof.model)
    if spec is not None and spec.source == "hub" and not _local_hub_model(spec.hub_id):
        network.append(f"model weights {spec.hub_id} (gated: accept the licence and log in)")
    for s in stages:
        network.extend(s.network)
    network.append("optional: T5/BART baselines of Tables 4 and 5 and the ToxiGen-RoBERTa scorer are "
                   "downloaded when the Hub is reachable, and left out (\"not run\") when it is not")
    book = next((r for r in benches if r.get("name") == "book"
                 and r.get("metrics", {}).get("profile") == prof.name), None)
    notes = []
    if book is not None:
        notes.append(f"whole book, measured: {book['metrics'].get('cold_total_s', 0) / 60:.1f} min cold, kernel "
                     f"peak {book['metrics'].get('kernel_peak_rss_mib')} MiB ({_fmt_record(book)})")
    if prof.device != "cpu":
        notes.append("no GPU measurement is in this repository (issue 15 item 7 not done: no GPU was available); "
                     "time and memory on a GPU are unknown until bench_train.py runs there")
    return {"profile": prof.name, "model": prof.model, "device": prof.device, "machine": machine_info(),
            "stages": [s.to_dict() for s in stages], "network": network, "notes": notes}


def format_plan(plan: dict[str, Any]) -> str:
    """The plan as text (what ``srllm plan`` prints)."""
    def num(v: Any, unit: str = "") -> str:
        return "-" if v is None else (f"{v:,}{unit}" if isinstance(v, int) else f"{v:,.0f}{unit}")

    def dur(s: float | None) -> str:
        if s is None:
            return "no record"
        return f"{s / 60:.1f} min" if s < 5400 else f"{s / 3600:.1f} h"

    lines = [f"plan for profile {plan['profile']}: model {plan['model']} on {plan['device']} "
             f"(this machine: {plan['machine'].get('cores')} cores, GPU {plan['machine'].get('gpu') or 'none'})", ""]
    lines.append(f"{'stage':30} {'rows':>8} {'tokens':>12} {'steps':>7} {'time':>10} {'peak':>10}")
    for s in plan["stages"]:
        peak = "-" if s["peak_mib"] is None else f"{s['peak_mib']:,.0f} MiB"
        lines.append(f"{s['name']:30} {num(s['rows']):>8} {num(s['tokens']):>12} {num(s['steps']):>7} "
                     f"{dur(s['seconds']) if s['name'].startswith(('train', 'generate')) else '':>10} {peak:>10}")
        for b in s["basis"]:
            lines.append(f"    {b}")
    lines.append("")
    lines.append("network: " + ("nothing required" if not plan["network"] else ""))
    for n in plan["network"]:
        lines.append(f"  - {n}")
    for n in plan["notes"]:
        lines.append(f"note: {n}")
    return "\n".join(lines)


__all__ = ["Stage", "build_plan", "format_plan", "measure_step"]
