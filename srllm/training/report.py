"""What the training notebooks show about a run: loss curves, the run record, held-out
rewrites before and after training, and the training cost beside the paper's (Section 3.1,
Appendix D).

Functions take a :class:`srllm.training.RunResult` and return plain tables or a figure;
the notebooks only call them and display the results.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from srllm import paper
from srllm.cache import stable_hash
from srllm.data.sources import load_dataset_for
from srllm.generation import rewrite
from srllm.metrics.task_success import (DEFAULT_THRESHOLD, FAILURE_KINDS, KINDS, biased_inputs, task_success,
                                        task_success_table)
from srllm.profiles import get_profile
from srllm.report import side_by_side
from srllm.scoring import get_scorer
from srllm.training.pairs import dev_loss_pairs


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
        ("share of positions computed (shared prompt start once per batch)",
         (m.get("throughput") or {}).get("computed_share")),
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
    :mod:`srllm.generation`, never from the model that was trained.
    """

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


# --------------------------------------------------------------------------- task success on the dev split


def dev_biased_records(profile: Any) -> list[Any]:
    """The dev split's inputs that need a rewrite (:func:`srllm.metrics.task_success.biased_inputs`),
    from the profile's CMD source, the whole dev split (``max_eval_rows`` limits only the
    evaluation during training). The sweep and the training page measure task success on these."""

    return biased_inputs(load_dataset_for(profile, "cmd").splits["dev"])


METHOD_LABELS = {"zero_shot": "base model, zero-shot", "two_shot": "base model, 2-shot",
                 "prefix": "prefix-tuning", "sr_llm": "SR_LLM (QLoRA)",
                 "reference": "reference rewrites (the dataset's own)"}


def task_success_view(results: dict[str, Any]) -> Any:
    """:func:`srllm.metrics.task_success.task_success_table` for the page: methods named as
    :data:`METHOD_LABELS` says, failure kinds in words ("still unsafe"), shares as percentages."""
    table = task_success_table(results).rename(index=METHOD_LABELS, columns=lambda c: c.replace("_", " "))
    return table.style.format("{:.0%}", subset=[c for c in table.columns if c != "n"])


def dev_task_success(profile: Any, adapters: dict[str, Any], *, records: Sequence[Any] | None = None,
                     scorer: Any = "offline-proxy", progress: bool = False) -> dict[str, Any]:
    """Task success per method on the dev split's biased inputs.

    ``adapters`` maps ``sr_llm`` / ``prefix`` to an adapter folder (or None: that method is
    left out); the base model's zero-shot and 2-shot prompting always run. A last row,
    ``reference``, measures the dev split's own reference rewrites (``safe_variation``, written
    by people) the same way: what the measure, with this scorer, gives a human rewrite, so a
    reader can tell the model's shortfall from the scorer's. Returns
    ``{method: TaskSuccessResult}`` in the order zero-shot, 2-shot, prefix, SR_LLM, reference.
    """

    recs = list(records) if records is not None else dev_biased_records(profile)
    texts = [r.text for r in recs]
    sc = get_scorer(scorer, progress=False) if isinstance(scorer, str) else scorer
    out: dict[str, Any] = {}
    for method in ("zero_shot", "two_shot", "prefix", "sr_llm"):
        adapter = adapters.get(method)
        if method in ("prefix", "sr_llm") and adapter is None:
            continue
        outs = rewrite(texts, method=method, adapter_dir=adapter, profile=profile, progress=progress)
        out[method] = task_success(texts, outs, scorer=sc)
    out["reference"] = task_success(texts, [r.safe_variation for r in recs], scorer=sc)
    return out


def unseen_check(profile: Any, adapter_dir: Any, *, scorer: Any = "offline-proxy",
                 progress: bool = False) -> dict[str, Any]:
    """SR_LLM on short stereotypes it has never seen, beside a person's rewrites of the same sentences.

    The inputs are the bundled ``unseen`` sample (:mod:`srllm.data.samples`): twenty short
    generalisations about a group, written for this check and kept out of every split, each
    with a rewrite a person wrote. Both SR_LLM's rewrites and the person's go through the
    same task-success measure (:func:`srllm.metrics.task_success.task_success`) with the
    same scorer, so a reader can see how the model does on text unlike the CMD sample's,
    and how much of the verdict the scorer can be trusted with on such sentences.
    Returns ``{"sr_llm": TaskSuccessResult, "person": TaskSuccessResult}``.
    """
    from srllm.data import load_sample

    recs = load_sample("unseen")
    texts = [r.text for r in recs]
    sc = get_scorer(scorer, progress=False) if isinstance(scorer, str) else scorer
    outs = rewrite(texts, method="sr_llm", adapter_dir=adapter_dir, profile=profile, progress=progress)
    return {"sr_llm": task_success(texts, outs, scorer=sc),
            "person": task_success(texts, [r.safe_variation for r in recs], scorer=sc)}


KIND_WORDS = {"success": "success", "unchanged": "unchanged", "echo": "echo", "still_unsafe": "still unsafe",
              "content_lost": "content lost"}


def unseen_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per unseen stereotype: the input, SR_LLM's rewrite and its verdict, the person's rewrite and its verdict."""
    sr, person = results["sr_llm"], results["person"]
    return pd.DataFrame({"input": sr.originals, "SR_LLM rewrite": sr.rewrites,
                         "SR_LLM verdict": [KIND_WORDS[k] for k in sr.kinds],
                         "a person's rewrite": person.rewrites,
                         "person verdict": [KIND_WORDS[k] for k in person.kinds]})


def unseen_summary(results: dict[str, Any]) -> pd.DataFrame:
    """How many of the unseen stereotypes' rewrites are of each kind, for SR_LLM and for the person (counts)."""
    rows = {METHOD_LABELS["sr_llm"]: results["sr_llm"], "a person": results["person"]}
    return pd.DataFrame([{"n": r.n, **{KIND_WORDS[k]: v for k, v in r.counts.items()}} for r in rows.values()],
                        index=list(rows))


def unseen_finding(results: dict[str, Any]) -> dict[str, Any]:
    """What the unseen-stereotype check found, as plain values and one sentence for the page."""
    sr, person = results["sr_llm"], results["person"]
    c, pc = sr.counts, person.counts

    def failures(counts: dict[str, int]) -> str:
        named = ", ".join(f"{counts[k]} {KIND_WORDS[k]}" for k in FAILURE_KINDS if counts[k])
        return f" ({named})" if named else ""

    sentence = (f"On {sr.n} short stereotypes written for this page and kept out of every split, "
                f"SR_LLM's rewrite succeeds for {c['success']} of {sr.n}{failures(c)}. "
                f"The rewrites a person wrote for the same sentences succeed for {pc['success']} of "
                f"{person.n}{failures(pc)}. Scorer: {sr.scorer_name}"
                + (" (a proxy, not the paper's scorers)." if sr.scorer_is_proxy else "."))
    if pc["still_unsafe"] > person.n // 4:  # the scorer rejects more than a quarter of a person's rewrites
        sentence += (" On short statements about a group this scorer reacts to the topic more than to what is "
                     "said about it, so it cannot confirm a good rewrite here; read the rewrites themselves.")
    if pc["content_lost"] > person.n // 4:
        sentence += (" A fair rewrite of a short stereotype often says something else altogether, which the "
                     "content check counts as content lost.")
    # The three checks asked of these rewrites outside the task-success order: changed, no echo, not flagged.
    changed = sum(k != "unchanged" for k in sr.kinds)
    echoes = sr.kinds.count("echo")
    unbiased = sum(not f for f in sr.flags)
    all_three = sum(k not in ("unchanged", "echo") and not f for k, f in zip(sr.kinds, sr.flags))
    sentence += (f" Taken one by one: {changed} of {sr.n} of SR_LLM's rewrites change the sentence, {echoes} "
                 f"repeat the instruction or refuse, {unbiased} are judged unbiased by the scorer, and {all_three} "
                 "do all three.")
    return {"n": sr.n, "sr_llm_success": c["success"], "sr_llm_still_unsafe": c["still_unsafe"],
            "sr_llm_unchanged": c["unchanged"], "person_success": pc["success"],
            "person_still_unsafe": pc["still_unsafe"], "sr_llm_changed": changed, "sr_llm_echo": echoes,
            "sr_llm_judged_unbiased": unbiased, "sr_llm_all_three": all_three, "sentence": sentence}


def failure_examples(results: dict[str, Any], per_kind: int = 1, max_chars: int = 160) -> pd.DataFrame:
    """For each kind (success and the four failures), up to ``per_kind`` examples, taken from the
    methods in order (SR_LLM first), so the page shows what each kind looks like."""

    def cut(t: str) -> str:
        return t if len(t) <= max_chars else t[:max_chars - 1] + "…"

    rows = []
    order = sorted((m for m in results if m != "reference"), key=lambda m: m != "sr_llm")
    for kind in KINDS:
        found = [(m, o, r) for m in order for o, r in results[m].examples(kind, per_kind)][:per_kind]
        if not found:
            rows.append({"kind": kind, "method": "-", "input": "(no rewrite of this kind)", "rewrite": ""})
        for m, o, r in found:
            rows.append({"kind": kind, "method": METHOD_LABELS.get(m, m), "input": cut(o), "rewrite": cut(r)})
    return pd.DataFrame(rows)


def success_verdict(results: dict[str, Any]) -> dict[str, Any]:
    """Is SR_LLM's dev task success the highest of base zero-shot, 2-shot (and prefix-tuning), and by how much?

    Plain values for glue: ``sr_llm`` (its share), ``best_other`` (method) and
    ``best_other_share``, ``margin`` (SR_LLM minus the best other, in shares), ``highest``
    (True when SR_LLM is at least as high as every other method) and ``sentence``.
    """
    if "sr_llm" not in results:
        raise ValueError("success_verdict needs an 'sr_llm' result")
    sr = results["sr_llm"].success_rate
    others = {m: r.success_rate for m, r in results.items() if m not in ("sr_llm", "reference")}
    best = max(others, key=others.get)
    margin = sr - others[best]
    highest = margin >= 0
    n = results["sr_llm"].n
    label = METHOD_LABELS.get(best, best)
    if margin > 0:
        word, diff = "the highest", f"{margin * 100:+.0f} percentage points over {label}"
    elif margin == 0:
        word, diff = "level with the highest of the others", f"the same as {label}"
    else:
        word, diff = "not the highest", f"{-margin * 100:.0f} percentage points below {label}"
    sentence = (f"On the {n} biased dev inputs SR_LLM's task success is {sr:.0%}, {word} of the methods measured "
                f"({diff}, {others[best]:.0%}).")
    ref = results.get("reference")
    if ref is not None:
        sentence += (f" The dataset's own reference rewrites, measured the same way, reach {ref.success_rate:.0%}: "
                     f"the scorer still flags {ref.counts['still_unsafe']} of these {ref.n} human rewrites, so part "
                     "of every method's shortfall is the scorer's, not the method's.")
    return {"sr_llm": sr, "best_other": best, "best_other_share": others[best], "margin": margin,
            "highest": highest, "n": n, "reference": ref.success_rate if ref is not None else None,
            "sentence": sentence}


# The sweep record's fields a reader needs, with the names the training page shows.
# Training minutes are left to the record (taken on a shared machine).
# Rank, learning rate and batch size are in each setting's name and the steps follow from the epochs, so the
# table keeps what the choice was made on and the two most common failure kinds (every share,
# unchanged and echo included, is in the record and, per method, in the task-success table).
SWEEP_COLUMNS = {"train_pairs": "train pairs", "epochs": "epochs", "best_eval_loss": "best dev loss",
                 "dev_success": "task success", "still_unsafe": "still unsafe", "content_lost": "content lost"}
# How the table names each data.train_pairs choice (short, so that the table fits a page).
TRAIN_PAIRS_LABELS = {"all": "all", "needs_rewrite": "biased only", "rewrites_twice": "all + biased again"}
# The sweep table's columns that are shares (shown as percentages).
SWEEP_SHARE_COLUMNS = ("task success", "unchanged", "echo", "still unsafe", "content lost")
# Profile fields a sweep setting fixes: (record field, profile attribute path).
SWEEP_FIELDS = (("lora_r", "lora.r"), ("lora_dropout", "lora.dropout"), ("learning_rate", "train.learning_rate"),
                ("batch_size", "train.batch_size"), ("train_pairs", "data.train_pairs"),
                ("compute_dtype", "quant.compute_dtype"))


def _read_record(record: dict[str, Any] | str | Path) -> dict[str, Any]:
    import json

    return json.loads(Path(record).read_text(encoding="utf-8")) if isinstance(record, (str, Path)) else record


def sweep_data_key(profile: Any) -> str:
    """A short hash of the CMD train and dev records a sweep trains and measures on (ids, texts,
    rewrites, bias and toxicity labels) under ``profile``'s source and seed. The sweep record
    stores it as ``data``; a sweep re-run never mixes rows made on other data, and the training
    page says when the record was made on other data than the page's."""
    splits = load_dataset_for(profile, "cmd").splits
    return stable_hash([[r.id, r.text, r.safe_variation, r.bias, r.toxicity]
                        for split in ("train", "dev") for r in splits[split]], length=12)


def sweep_table(record: dict[str, Any] | str | Path) -> pd.DataFrame:
    """The dev-split sweep's rows (``benchmarks/sweeps/sweep_cpu.json``) as a compact table, the chosen row marked.

    One row per setting, then the reference rewrites and the base model's prompting rows
    (measured the same way); columns named as :data:`SWEEP_COLUMNS` says, training pairs as
    :data:`TRAIN_PAIRS_LABELS` says. The chosen setting's name ends in " (chosen)".
    """
    m = _read_record(record)["metrics"]
    df = pd.DataFrame(m["rows"])
    if "train_pairs" in df and "kind" in df:  # rows recorded before the field existed trained on every pair
        df.loc[df["kind"].eq("sr_llm") & df["train_pairs"].isna(), "train_pairs"] = "all"
    if "train_pairs" in df:
        df["train_pairs"] = df["train_pairs"].map(lambda v: TRAIN_PAIRS_LABELS.get(v, v))
    df["setting"] = [f"{s} (chosen)" if s == m.get("chosen") else s for s in df["setting"]]
    for c in ("lora_r", "batch_size", "steps"):  # counts: whole numbers, blank for the rows without training
        if c in df:
            df[c] = df[c].astype("Int64")
    cols = [c for c in SWEEP_COLUMNS if c in df]
    return df.set_index("setting")[cols].rename(columns=SWEEP_COLUMNS)


def sweep_view(record: dict[str, Any] | str | Path) -> Any:
    """:func:`sweep_table` styled for the training page: shares as percentages, epochs with two
    decimals, losses with three, "-" where a row has no value, and a 0.9em font so that its seven
    columns fit the book's text width. Setting names may break after each underscore (``<wbr>``), so
    that the long ones do not push the last column past the page's edge."""
    table = sweep_table(record)
    shares = [c for c in SWEEP_SHARE_COLUMNS if c in table]
    return (table.style.format(precision=3, na_rep="-")
            .format_index(lambda name: html.escape(str(name)).replace("_", "_<wbr>"), axis=0)
            .format("{:.0%}", subset=shares, na_rep="-")
            .format("{:.2f}", subset=[c for c in ("epochs",) if c in table], na_rep="-")
            .set_table_styles([{"selector": "", "props": "font-size: 0.9em"}]))


SWEEP_FIELD_WORDS = {"lora_r": "LoRA rank", "lora_dropout": "LoRA dropout", "learning_rate": "learning rate",
                     "batch_size": "batch size", "train_pairs": "training pairs", "compute_dtype": "compute dtype",
                     "epochs": "epochs", "max_steps": "step limit"}


def _used_values(profile: Any, run_config: dict[str, Any] | None) -> dict[str, Any]:
    """The swept settings a run used: from its manifest's ``config`` where given, else from ``profile``.

    A notebook may pass a learning rate or a step limit to ``train`` directly, past the profile,
    so the run's own record is what the page must compare (the training pairs are a profile setting only).
    """
    used = {k: _attr(profile, path) for k, path in SWEEP_FIELDS}
    used.update(epochs=float(profile.train.epochs), max_steps=profile.train.max_steps)
    if run_config:
        # the compute dtype compared is the one asked for (the profile's): the one a run computed in also
        # depends on its CPU, which sweep_summary states separately
        lora = run_config.get("lora") or {}
        used.update(lora_r=lora.get("r"), lora_dropout=lora.get("dropout"),
                    learning_rate=run_config.get("learning_rate"), batch_size=run_config.get("batch_size"),
                    epochs=float(run_config.get("epochs", profile.train.epochs)),
                    max_steps=run_config.get("max_steps", profile.train.max_steps))
    return used


def sweep_summary(record: dict[str, Any] | str | Path, profile: Any,
                  run_config: dict[str, Any] | None = None, bias_classifier: str | None = None) -> dict[str, Any]:
    """What the training page says about the sweep: the chosen setting, whether the run uses it, a sentence.

    ``run_config``: the page's run's manifest ``config``; without it the ``profile``'s settings
    stand for the run. Keys: ``chosen`` (setting name or None), ``uses_chosen`` (True when the
    LoRA rank, LoRA dropout (where the row records it), learning rate, batch size, compute dtype
    asked for and training pairs equal the chosen row's, the epochs are the chosen setting's and the
    step limit the sweep's, and a setting the record's speed check changes is its value there),
    ``differs`` (the settings that do not), ``n_settings`` (finished settings), ``dev_texts``, ``not_run``,
    ``same_scorer`` (whether the record was scored like this page: its bias classifier is
    ``bias_classifier``, the data hash of the one the page scores with, and its content threshold is
    :data:`~srllm.metrics.task_success.DEFAULT_THRESHOLD`; None when the classifier is unknown and
    the threshold agrees), ``same_data`` (cpu profile: whether the record's ``data`` is
    :func:`sweep_data_key` of the page's profile; else None) and ``sentence`` (plain values, for
    glue and a Markdown line). Sweeps made on earlier data or with an earlier classifier are kept
    under ``earlier_sweeps``; the sentence names what each chose.
    """
    rec = _read_record(record)
    m = rec["metrics"]
    chosen = m.get("chosen")
    row = next((r for r in m["rows"] if r["setting"] == chosen), None)
    uses, differs = False, []
    if row is not None:
        used = _used_values(profile, run_config)
        want = {k: row[k] for k, _ in SWEEP_FIELDS if k in row}
        want["epochs"] = float(m["settings"].get(chosen, {}).get("train.epochs", m["common"].get("train.epochs", 1.0)))
        if "train.max_steps" in m["common"]:
            want["max_steps"] = m["common"]["train.max_steps"]
        # a setting the speed check changes is compared with the check's value; one a row does not record,
        # with the value every row trained with (the record's common settings)
        speed = (m.get("speed_check") or {}).get("speed") or {}
        for k, path in SWEEP_FIELDS:
            if path in speed:
                want[k] = speed[path]
            elif k not in want and path in m["common"]:
                want[k] = m["common"][path]
        differs = [SWEEP_FIELD_WORDS[k] for k, v in want.items() if used[k] != v]
        uses = not differs
    n = len([r for r in m["rows"] if r.get("kind") == "sr_llm"])
    machine = rec.get("machine", {})
    load, cores = (machine.get("load_average") or [None])[0], machine.get("cpu_count")
    # the sweep keeps every core busy itself, so only a load above the core count means other jobs shared them
    shared = bool(load and cores and load > cores + 0.5)
    parts = [f"Sweep: {n} setting(s) trained and measured on the {m['dev_texts']} biased dev inputs"
             + (f" (machine load average {load:.1f} at the end"
                + (f" on {cores} cores, so other jobs shared the machine and the times are slower than alone"
                   if shared else "") + ")" if load else "")
             + f"; chosen by the rule: **{chosen}**."]
    if len({dev_loss_pairs(r.get("train_pairs")) for r in m["rows"] if r.get("kind") == "sr_llm"}) > 1:
        parts.append(f"A setting trained on \"{TRAIN_PAIRS_LABELS['needs_rewrite']}\" pairs measures its dev loss on "
                     "the biased dev pairs only, the others on every dev pair, so dev losses compare only within "
                     "one kind (and break a tie only there).")
    patience = (m.get("common") or {}).get("train.patience")
    older = [r["setting"] for r in m["rows"]
             if r.get("kind") == "sr_llm" and patience is not None and r.get("patience", patience) != patience]
    if older:
        parts.append(f"Trained with an early-stopping patience other than the sweep's {patience} (made before it "
                     "changed; a run that finished all its steps is the same either way): " + ", ".join(
                         f"{r['setting']} ({r['patience']}, {'stopped early' if r.get('stopped_early') else 'all steps'})"
                         for r in m["rows"] if r["setting"] in older) + ".")
    if m.get("not_run"):
        parts.append("Not run in the committed record: " + ", ".join(m["not_run"]) + ".")
    same_scorer = (None if not (bias_classifier and m.get("bias_classifier"))
                   else m["bias_classifier"] == bias_classifier)
    if same_scorer is False:
        parts.append("The sweep was scored with another version of the offline proxy's bias classifier than "
                     "this page's, so its task-success counts and the ones below can differ.")
    if m.get("content_threshold") not in (None, DEFAULT_THRESHOLD):
        same_scorer = False
        parts.append(f"The sweep measured content with threshold {m['content_threshold']}, this page with "
                     f"{DEFAULT_THRESHOLD}, so its task-success counts and the ones below can differ.")
    same_data = None
    if profile.name == "cpu" and m.get("data"):  # the sweep is made for the cpu profile's data
        same_data = m["data"] == sweep_data_key(profile)
        if not same_data:
            parts.append("The sweep was trained and measured on other CMD records than this page's "
                         "(the bundled sample or its split changed since), so it may not describe this run.")
    earlier = list(m.get("earlier_sweeps") or [])
    if earlier:
        said = [f"one of {len([r for r in e.get('rows', []) if r.get('kind') == 'sr_llm'])} settings "
                f"{e.get('why', 'made earlier')}, which chose {e.get('chosen')}" for e in earlier]
        parts.append(("The record also keeps an earlier sweep, " if len(said) == 1 else
                      f"The record also keeps {len(said)} earlier sweeps, ") + "; ".join(said)
                     + "; nothing is chosen from " + ("it." if len(said) == 1 else "them."))
    computed = row.get("computed_in", row.get("compute_dtype")) if row is not None else None
    ran_in = ((run_config or {}).get("quant") or {}).get("compute_dtype")
    if computed and ran_in and computed != ran_in:
        parts.append(f"The sweep's 4-bit layers computed in {computed} on its machine and this run's in {ran_in} "
                     "(bfloat16 where the CPU supports it natively, else float32), so the numbers of this run "
                     "can differ from the sweep's row.")
    check = m.get("speed_check")
    if check and check.get("with") and check.get("without"):
        parts.append(speed_check_sentence(check, m["dev_texts"], row))
    if row is not None and computed not in (None, "float32") and m.get("float32_rows"):
        # the precision check: the chosen setting also run with the 4-bit layers in float32
        same = next((r for r in m["float32_rows"] if r["setting"] == chosen), None)
        if same is not None:
            parts.append(f"Computed in {computed}; the same setting with the 4-bit layers in float32 "
                         f"succeeded on {same['dev_success_n']} of {m['dev_texts']} (here {row['dev_success_n']}) "
                         f"with best dev loss {same['best_eval_loss']:.4f} (here {row['best_eval_loss']:.4f}).")
    if profile.name == "cpu":
        parts.append("This run uses the chosen setting." if uses else
                     "This run does not use the chosen setting (it differs in "
                     + (", ".join(differs) if differs else "every setting: the record has no chosen row") + ").")
    return {"chosen": chosen, "uses_chosen": bool(uses), "differs": differs, "n_settings": n, "dev_texts": m["dev_texts"],
            "not_run": list(m.get("not_run") or []), "same_scorer": same_scorer, "same_data": same_data,
            "sentence": " ".join(parts)}


def speed_check_sentence(check: dict[str, Any], n: int, row: dict[str, Any] | None = None) -> str:
    """One sentence on the sweep record's ``speed_check``: the chosen setting trained with and without
    the profile's speed setting on one machine, both measured on the dev split (plain values)."""
    field = {path: k for k, path in SWEEP_FIELDS}  # profile path -> record field

    def named(path: str) -> str:
        return SWEEP_FIELD_WORDS.get(field.get(path, ""), path)

    what = ", ".join(f"{named(path)} {v}" for path, v in check["speed"].items())
    before = ", ".join(f"{named(path)} {check['without'].get(field.get(path, path), '?')}" for path in check["speed"])

    def said(r: dict[str, Any]) -> str:
        return (f"{r['dev_success_n']} of {n} (best dev loss {r['best_eval_loss']:.4f}, "
                f"{r['train_minutes']:.1f} min of training)")

    text = (f"Speed setting: {what} (the sweep's rows trained with {before}). On {check.get('cpu', 'one machine')}, "
            f"the chosen setting succeeded on {said(check['without'])} without it and on {said(check['with'])} with it")
    if row is not None and row.get("dev_success_n") != check["without"]["dev_success_n"]:
        text += (f"; the same setting's sweep row, trained on the sweep's machine, succeeded on {row['dev_success_n']} "
                 f"of {n}: ")
        there, here = row.get("computed_in"), check["without"].get("computed_in")
        if there and here and there != here:
            # named, not blamed: the two runs differ in arithmetic as well as in dropout masks
            text += (f"its 4-bit layers computed in {there}, the speed check's in {here}, and dropout masks and "
                     "float rounding differ between machines, and so can the dev task success")
        else:
            text += "dropout masks and float rounding differ between machines, and so can the dev task success"
    return text + "."


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj
