"""What the training notebooks show about a run: loss curves, the run record, held-out
rewrites before and after training, and the training cost beside the paper's (Section 3.1,
Appendix D).

Functions take a :class:`srllm.train.RunResult` and return plain tables or a figure;
the notebooks only call them and display the results.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd


def loss_curve_figure(run: Any, *, title: str | None = None) -> Any:
    """Training loss (every logged step) and evaluation loss (every ``eval_steps``) against the step."""
    import matplotlib.pyplot as plt

    curves = run.loss_curves()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if curves["train"]:
        xs, ys = zip(*curves["train"])
        ax.plot(xs, ys, marker=".", label="train loss (logged steps)")
    if curves["eval"]:
        xs, ys = zip(*curves["eval"])
        ax.plot(xs, ys, marker="o", label="eval loss (dev split)")
    best = run.manifest.get("best_checkpoint_step")
    if best is not None:
        ax.axvline(best, color="grey", linestyle=":", label=f"checkpoint kept (step {best})")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on response tokens")
    ax.set_title(title or f"{run.method} on {run.model}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def run_record_table(run: Any) -> pd.DataFrame:
    """The manifest's main facts as a two-column table (field, value)."""
    m = run.manifest
    e, d, dev, cfg = m.get("energy", {}), m.get("data", {}), m.get("device", {}), m.get("config", {})
    rows = [
        ("method", m.get("method")),
        ("base model", m.get("model")),
        ("profile", m.get("profile")),
        ("device", f"{dev.get('device')} ({dev.get('gpu') or dev.get('cpu')}, {dev.get('cpu_threads')} CPU threads)"),
        ("seed", m.get("seed")),
        ("training pairs used", d.get("train_used")),
        ("pairs skipped (no safe variation)", d.get("train_skipped_no_rewrite")),
        ("pairs cut at max_length", d.get("train_truncated")),
        ("evaluation pairs", d.get("eval_used")),
        ("data hash", d.get("hash")),
        ("batch size x accumulation", f"{cfg.get('batch_size')} x {cfg.get('grad_accum')}"),
        ("learning rate", cfg.get("learning_rate")),
        ("optimizer", cfg.get("optim")),
        ("precision", "fp16" if cfg.get("fp16") else "bf16" if cfg.get("bf16") else "float32"),
        ("trainable / total parameters", f"{m.get('trainable_params'):,} / {m.get('total_params'):,}"),
        ("optimizer steps", m.get("global_step")),
        ("epochs", round(float(m.get("epoch") or 0.0), 3)),
        ("stopped early", m.get("stopped_early")),
        ("best checkpoint (step, by dev loss)", m.get("best_checkpoint_step")),
        ("training tokens / s (whole session)", (m.get("throughput") or {}).get("tokens_per_s")),
        ("training tokens / s (forward + backward)", (m.get("throughput") or {}).get("step_tokens_per_s")),
        ("padding share of computed positions", (m.get("throughput") or {}).get("padding_share")),
        ("sessions (1 + resumptions)", m.get("sessions")),
        ("wall time (min)", round(m.get("wall_seconds", 0.0) / 60.0, 2)),
        ("process CPU time (min)", round(e.get("process_cpu_seconds", 0.0) / 60.0, 2)),
        ("eval loss before training", _r(m.get("first_eval_loss"))),
        ("best eval loss", _r(m.get("best_eval_loss"))),
        ("final train loss", _r(m.get("final_train_loss"))),
        ("gradient check", "passed" if (m.get("gradient_check") or {}).get("ok") else "not run"),
        ("energy (kWh)", _r(e.get("energy_kwh"), 6)),
        ("carbon (kgCO2e)", _r(e.get("kg_co2e"), 6)),
        ("power figure", ", ".join(e.get("power_sources", []))),
        ("packages", ", ".join(f"{k} {v}" for k, v in (m.get("packages") or {}).items() if v)),
        ("run folder (in the cache's runs/)", run.run_dir.name),
    ]
    rows += [("note", n) for n in m.get("notes", [])]
    return pd.DataFrame(rows, columns=["field", "value"]).set_index("field")


def _r(v: Any, nd: int = 4) -> Any:
    return round(float(v), nd) if isinstance(v, (int, float)) else v


def cost_beside_paper(run: Any) -> pd.DataFrame:
    """Our run's minutes, kWh and kgCO2e beside the paper's (one A100 + 4 CPUs; Section 3.1, Appendix D).

    The paper reports costs for QLoRA and prefix-tuning only; LoRA and dense rows get no paper value.
    """
    from srllm import paper
    from srllm.report import side_by_side

    e = run.manifest.get("energy", {})
    ours = {"minutes": e.get("minutes"), "energy_kwh": e.get("energy_kwh"), "kg_co2e": e.get("kg_co2e")}
    try:
        c = paper.training_cost(run.method)
        theirs = {"minutes": c.minutes, "energy_kwh": c.kwh, "kg_co2e": c.kg_co2e}
        hw = f"paper: one {c.gpu} + {c.cpus} CPUs on the full CMD train split"
    except KeyError:
        theirs = {"minutes": None, "energy_kwh": None, "kg_co2e": None}
        hw = f"the paper reports no cost for {run.method}"
    dev = run.manifest.get("device", {})
    where = dev.get("gpu") or f"{dev.get('cpu_threads')} CPU threads"
    note = (f"ours: {run.model} on {where}, {run.manifest.get('global_step')} steps on "
            f"{run.manifest.get('data', {}).get('train_used')} pairs ({', '.join(e.get('power_sources', []))} power); {hw}")
    return side_by_side(ours, theirs, index_names="measure", note=note)


def before_after(run: Any, records: Sequence[Any], profile: Any, *, progress: bool = False) -> pd.DataFrame:
    """Held-out texts, their reference rewrite, and the model's rewrite before and after training.

    "Before" is the base model prompted zero-shot with the training prompt; "after" is the
    trained run (LoRA merged into the weights, the prefix adapter, or the dense model).
    Both are greedy (Appendix C) and come from separate model instances loaded by
    :mod:`srllm.generate`, never from the model that was trained.
    """
    from srllm.generate import rewrite

    texts = [r.text if not isinstance(r, dict) else r["text"] for r in records]
    refs = [getattr(r, "safe_variation", None) if not isinstance(r, dict) else r.get("safe_variation")
            for r in records]
    before = rewrite(texts, method="zero_shot", profile=profile, progress=progress)
    if run.method == "dense":
        after = rewrite(texts, model_name=str(run.merged_dir), method="zero_shot", profile=profile, progress=progress)
    else:
        after = rewrite(texts, adapter_dir=run.adapter_dir, method="prefix" if run.method == "prefix" else "sr_llm",
                        profile=profile, progress=progress)
    return pd.DataFrame({"original": texts, "reference rewrite": refs, "before training": before,
                         "after training": after, "changed": [a.strip() != b.strip() for a, b in zip(after, before)]})


def settings_beside_table3(run: Any) -> pd.DataFrame:
    """The run's resolved settings beside Table 3's (the ``paper`` profile), one row per setting."""
    from srllm.profiles import get_profile

    p = get_profile("paper")
    c = run.config
    prefix_run = c["method"] == "prefix"
    rows = [
        ("batch size (train / eval)", f"{c['batch_size']} / {c['eval_batch_size']}",
         f"{p.train.batch_size} / {p.train.eval_batch_size}"),
        ("epochs", c["epochs"], p.prefix.epochs if prefix_run else p.train.epochs),
        ("step limit", c["max_steps"] if c["max_steps"] > 0 else "none", "none"),
        ("max sequence length", c["max_length"], p.train.max_length),
        ("learning rate", c["learning_rate"], p.prefix.learning_rate if prefix_run else p.train.learning_rate),
        ("optimizer", c["optim"], p.prefix.optim if prefix_run else p.train.optim),
        ("scheduler / warmup ratio", f"{c['scheduler']} / {c['warmup_ratio']}", f"{p.train.scheduler} / {p.train.warmup_ratio}"),
        ("weight decay", c["weight_decay"], p.train.weight_decay),
        ("max grad norm", c["max_grad_norm"], p.train.max_grad_norm),
        ("fp16 / bf16", f"{c['fp16']} / {c['bf16']}", f"{p.train.fp16} / {p.train.bf16}"),
        ("eval and save every (steps)", f"{c['eval_steps']} / {c['save_steps']}", f"{p.train.eval_steps} / {p.train.save_steps}"),
        ("early stopping patience", c["patience"], p.train.patience),
    ]
    if c.get("lora"):
        lo = c["lora"]
        rows += [("LoRA r / alpha / dropout", f"{lo['r']} / {lo['alpha']} / {lo['dropout']}",
                  f"{p.lora.r} / {p.lora.alpha} / {p.lora.dropout}"),
                 ("LoRA modules", ", ".join(lo["target_modules"]), ", ".join(p.lora.target_modules))]
    if c.get("quant"):
        q = c["quant"]
        rows.append(("4-bit type / nested / compute dtype", f"{q['quant_type']} / {q['double_quant']} / {q['compute_dtype']}",
                     f"{p.quant.quant_type} / {p.quant.double_quant} / {p.quant.compute_dtype}"))
    if c.get("prefix"):
        rows.append(("prefix length", c["prefix"]["num_virtual_tokens"], p.prefix.num_virtual_tokens))
    rows.append(("base model", c["model"], p.model))
    df = pd.DataFrame(rows, columns=["setting", "ours", "Table 3"]).set_index("setting")
    return df.astype(str)
