"""The methods compared in the paper's Tables 4, 5 and 7 (Section 3.3 and 4.5), behind one call.

* ``original`` - the unsafe text itself (the "pre-safety" rows);
* ``zero_shot``, ``two_shot``, ``five_shot`` - prompting the base model with 0, 2
  or 5 demonstrations drawn from the train split;
* ``prefix`` - the base model with a prefix-tuned adapter;
* ``sr_llm`` - the base model with the instruction fine-tuned (QLoRA/LoRA) adapter;
* ``t5_large``, ``flan_t5_large``, ``bart_large`` - encoder-decoder models fine-tuned
  on (text, safe variation) pairs with transformers' Seq2SeqTrainer.

The encoder-decoder baselines need their weights from the Hugging Face Hub. When
neither the Hub nor a local copy is reachable, :func:`run_baseline` returns a
:class:`BaselineResult` with ``status="not_run"`` and the reason; nothing is ever
made up in their place. The paper also prompts hosted models (GPT-3.5/4, Falcon);
those are outside this registry (no API model is called to generate rewrites).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from srllm.cache import atomic_write_text, cache_dir, stable_hash
from srllm.data.sources import load_dataset_for
from srllm.errors import ModelUnavailableError, SrllmError
from srllm.generation.methods import rewrite, text_of
from srllm.models import hub_local_snapshot, hub_reachable
from srllm.profiles import resolve
from srllm.quiet import is_quiet


@dataclass(frozen=True)
class Baseline:
    """One row family of the paper's comparison tables."""

    key: str
    label: str
    family: str  # "none" | "prompting" | "prefix" | "instruction" | "seq2seq"
    tables: tuple[str, ...]
    description: str
    shots: int = 0
    hub_id: str | None = None
    source_prefix: str = ""  # text put before every input of a seq2seq model


BASELINES: dict[str, Baseline] = {b.key: b for b in (
    Baseline("original", "Original texts", "none", ("4", "5", "7"),
             "no rewrite: the unsafe originals, scored as the pre-safety reference"),
    Baseline("zero_shot", "Baseline (zero-shot)", "prompting", ("7",),
             "base model prompted with the instruction only", shots=0),
    Baseline("two_shot", "Baseline (2-shots)", "prompting", ("4", "5", "7"),
             "base model prompted with two demonstrations from the train split", shots=2),
    Baseline("five_shot", "Baseline (5-shots)", "prompting", ("7",),
             "base model prompted with five demonstrations from the train split", shots=5),
    Baseline("prefix", "Baseline (Prefix-tuning)", "prefix", ("7",),
             "base model with a prefix-tuned adapter (30 virtual tokens in the paper)"),
    Baseline("sr_llm", "SR_LLM", "instruction", ("4", "5", "7"),
             "base model with the instruction fine-tuned QLoRA adapter"),
    Baseline("t5_large", "T5 large (770M)", "seq2seq", ("4", "5"),
             "T5-large fine-tuned on (text, safe variation) pairs", hub_id="google-t5/t5-large",
             source_prefix="make safe: "),
    Baseline("flan_t5_large", "Flan-T5 large", "seq2seq", ("4", "5"),
             "Flan-T5-large fine-tuned on (text, safe variation) pairs", hub_id="google/flan-t5-large",
             source_prefix="Rewrite the text so that it is neutral and respectful: "),
    Baseline("bart_large", "BART large (406M)", "seq2seq", ("4", "5"),
             "BART-large fine-tuned on (text, safe variation) pairs", hub_id="facebook/bart-large"),
)}


def get_baseline(key: str) -> Baseline:
    """The :class:`Baseline` registered under ``key``; an unknown key is a user error naming the choices."""
    if key not in BASELINES:
        raise SrllmError(f"unknown method {key!r}; choose one of {sorted(BASELINES)}")
    return BASELINES[key]


@dataclass(frozen=True)
class BaselineResult:
    """Outputs of one method, or why it did not run (``status`` is ``ok`` or ``not_run``)."""

    method: str
    label: str
    status: str
    outputs: tuple[str, ...] | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the method ran (``status`` is ``ok``)."""
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (``outputs`` as a list)."""
        d = asdict(self)
        d["outputs"] = list(self.outputs) if self.outputs is not None else None
        return d


def _not_run(b: Baseline, reason: str, **details: Any) -> BaselineResult:
    return BaselineResult(b.key, b.label, "not_run", None, reason, dict(details))


# --------------------------------------------------------------------------- encoder-decoder


@dataclass(frozen=True)
class Seq2SeqSettings:
    """Fine-tuning and decoding of the encoder-decoder baselines (kept small; the paper gives no values)."""

    epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float = 5e-5
    batch_size: int = 8
    max_source_length: int = 256
    max_target_length: int = 256
    max_new_tokens: int = 128
    generate_batch_size: int = 16
    seed: int = 42


def seq2seq_source(model_id: str) -> tuple[str | None, str | None]:
    """``(where to load from, None)`` when a seq2seq model can be loaded here, else ``(None, reason)``.

    A local folder loads as is; a hub id loads from the local Hugging Face cache or,
    when the Hub is reachable, by download.
    """

    if Path(model_id).is_dir():
        return str(model_id), None
    local = hub_local_snapshot(model_id)
    if local is not None:
        return local, None
    if hub_reachable():
        return model_id, None
    return None, (f"{model_id} must be downloaded from the Hugging Face Hub, which this machine cannot reach, "
                  "and it is not in the local Hugging Face cache")


def _pairs_of(records: Sequence[Any]) -> list[tuple[str, str]]:
    pairs = []
    for i, r in enumerate(records):
        if isinstance(r, (tuple, list)) and len(r) == 2:
            text, safe = r
        else:
            get = (lambda k: r.get(k)) if isinstance(r, dict) else (lambda k: getattr(r, k, None))
            text, safe = get("text"), get("safe_variation")
        if not isinstance(text, str) or not text.strip():
            raise SrllmError(f"training pair {i}: field 'text' is missing or empty")
        if not isinstance(safe, str) or not safe.strip():
            raise SrllmError(f"training pair {i}: field 'safe_variation' is missing or empty")
        pairs.append((text, safe))
    if not pairs:
        raise SrllmError("no training pairs for the encoder-decoder baseline")
    return pairs


def train_seq2seq(model_id: str, pairs: Sequence[Any], *, settings: Seq2SeqSettings = Seq2SeqSettings(),
                  source_prefix: str = "", out_dir: str | os.PathLike | None = None) -> Path:
    """Fine-tune an encoder-decoder model on (text, safe variation) pairs; return the saved folder.

    A finished run with the same model, pairs and settings is reused (``done.json`` marks it).
    """
    src, reason = seq2seq_source(model_id)
    if src is None:
        raise SrllmError(reason)
    pairs = _pairs_of(pairs)
    key = stable_hash({"model": model_id, "pairs": pairs, "settings": settings, "prefix": source_prefix})
    out = Path(out_dir) if out_dir is not None else cache_dir() / "seq2seq" / key
    if (out / "done.json").exists():
        return out

    import datasets
    from transformers import (AutoModelForSeq2SeqLM, AutoTokenizer, DataCollatorForSeq2Seq, Seq2SeqTrainer,
                              Seq2SeqTrainingArguments, set_seed)

    set_seed(settings.seed)
    tok = AutoTokenizer.from_pretrained(src)
    model = AutoModelForSeq2SeqLM.from_pretrained(src)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token

    def encode(batch: dict[str, list[str]]) -> dict[str, Any]:
        enc = tok([source_prefix + t for t in batch["text"]], truncation=True, max_length=settings.max_source_length)
        enc["labels"] = tok(text_target=batch["safe"], truncation=True,
                            max_length=settings.max_target_length)["input_ids"]
        return enc

    ds = datasets.Dataset.from_dict({"text": [p[0] for p in pairs], "safe": [p[1] for p in pairs]})
    ds = ds.map(encode, batched=True, remove_columns=["text", "safe"])
    args = Seq2SeqTrainingArguments(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=settings.batch_size,
        num_train_epochs=settings.epochs, max_steps=settings.max_steps, learning_rate=settings.learning_rate,
        seed=settings.seed, save_strategy="no", logging_steps=10, report_to=[], use_cpu=not _cuda(),
    )
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=ds, processing_class=tok,
                             data_collator=DataCollatorForSeq2Seq(tok, model=model))
    result = trainer.train()
    model.save_pretrained(out)
    tok.save_pretrained(out)

    atomic_write_text(out / "done.json", json.dumps({
        "model": model_id, "pairs": len(pairs), "settings": asdict(settings), "source_prefix": source_prefix,
        "train_loss": result.training_loss, "steps": result.global_step}, indent=2))
    return out


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def generate_seq2seq(model_dir: str | os.PathLike, texts: Sequence[str], *, settings: Seq2SeqSettings = Seq2SeqSettings(),
                     source_prefix: str = "", progress: bool = True) -> list[str]:
    """Greedy outputs of a fine-tuned encoder-decoder model, in batches."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir).eval()
    if _cuda():
        model.to("cuda")
    outs: list[str] = []
    bs = settings.generate_batch_size
    with torch.inference_mode():
        for start in tqdm(range(0, len(texts), bs), desc="seq2seq generate", unit="batch", disable=not progress or is_quiet()):
            chunk = [source_prefix + t for t in texts[start:start + bs]]
            enc = tok(chunk, return_tensors="pt", padding=True, truncation=True,
                      max_length=settings.max_source_length).to(model.device)
            ids = model.generate(**enc, max_new_tokens=settings.max_new_tokens, do_sample=False, num_beams=1)
            outs += [t.strip() for t in tok.batch_decode(ids, skip_special_tokens=True)]
    return outs


# --------------------------------------------------------------------------- one entry point


def run_baseline(method: str, texts_or_records: Sequence[Any], *, profile: Any = "cpu",
                 model_name: str | None = None, adapter_dir: str | os.PathLike | None = None,
                 shots_pool: Sequence[Any] | None = None, train_pairs: Sequence[Any] | None = None,
                 seq2seq: Seq2SeqSettings | None = None, seed: int | None = None,
                 progress: bool = True, cache: bool = True) -> BaselineResult:
    """Outputs of one method of Tables 4/5/7 for ``texts_or_records``, or a ``not_run`` result.

    ``prefix`` and ``sr_llm`` need ``adapter_dir`` (else: not run, with the reason);
    k-shot methods draw demonstrations from ``shots_pool`` (default: the CMD train split);
    encoder-decoder methods are fine-tuned on ``train_pairs`` (default: the CMD train
    split) when their weights can be had (else: not run, with the reason).
    ``cache=False`` neither reads nor writes the decoder methods' generation cache.
    """

    b = get_baseline(method)
    texts = [text_of(x, i) for i, x in enumerate(texts_or_records)]
    if b.family == "none":
        return BaselineResult(b.key, b.label, "ok", tuple(texts))
    if b.family in ("prompting", "prefix", "instruction"):
        if b.family != "prompting" and adapter_dir is None:
            return _not_run(b, f"no trained {'prefix' if b.family == 'prefix' else 'instruction'} adapter was given")
        try:
            outs = rewrite(texts, model_name=model_name, adapter_dir=adapter_dir, method=b.key, profile=profile,
                           shots_pool=shots_pool, seed=seed, progress=progress, cache=cache)
        except ModelUnavailableError as exc:
            return _not_run(b, str(exc))
        return BaselineResult(b.key, b.label, "ok", tuple(outs),
                              details={"model": model_name, "adapter_dir": str(adapter_dir) if adapter_dir else None})
    # encoder-decoder
    model_id = model_name or b.hub_id
    src, reason = seq2seq_source(model_id)
    if src is None:
        return _not_run(b, reason, model=model_id)
    settings = seq2seq or Seq2SeqSettings()
    if train_pairs is None:  # the train split of the CMD the profile reads (issue 15)
        prof = resolve(profile)
        train_pairs = load_dataset_for(prof if settings.seed == prof.seed else prof.replace(seed=settings.seed),
                                       "cmd").splits["train"]
    folder = train_seq2seq(model_id, train_pairs, settings=settings, source_prefix=b.source_prefix)
    outs = generate_seq2seq(folder, texts, settings=settings, source_prefix=b.source_prefix, progress=progress)
    return BaselineResult(b.key, b.label, "ok", tuple(outs), details={"model": model_id, "trained_dir": str(folder)})
