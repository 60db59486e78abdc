"""Model side of training: load the base, attach the method's trainable parameters,
guard the 4-bit gradient trap, and merge an adapter into the base weights.

Methods (Sections 2.2.1, 3.1, 4.5 and 4.6 of the paper):

* ``qlora``  - base weights in 4-bit NF4 with nested quantization (bitsandbytes),
  ``prepare_model_for_kbit_training``, LoRA on the attention and MLP projections;
* ``lora``   - the same LoRA adapter on a full-precision base;
* ``prefix`` - peft prefix-tuning: trainable key/value prefixes for every layer,
  base frozen;
* ``dense``  - every weight trainable (the paper's "dense" variant).

**The 4-bit trap.** On CPUs with AVX512-BF16, bitsandbytes 0.50 repacks a 4-bit
weight into a faster inference layout the first time the layer runs in eval mode
without gradients (``generate``, and also the Trainer's own evaluation passes).
The repacked layer still computes the same outputs, but gradients that flow
through it afterwards are wrong: LoRA matrices get zero gradients and training
silently stops learning. We therefore switch that repacking off on every 4-bit
layer before anything runs, refuse a model that was already repacked, and check
after the first optimizer steps that every LoRA matrix received a non-zero
gradient (:class:`GradientGuard`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from srllm.cache import write_folder
from srllm.errors import SrllmError
from srllm.models import load_model
from srllm.profiles import QuantSettings
from srllm.training.config import TrainConfig

log = logging.getLogger(__name__)


class GradientCheckError(SrllmError):
    """A trainable parameter received no (or an all-zero) gradient where one was expected."""


def causal_lm(model: Any) -> Any:
    """The ``*ForCausalLM`` under a peft wrapper, or ``model`` itself when it is not wrapped."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def linear4bit_layers(model: Any) -> list[tuple[str, Any]]:
    """Every bitsandbytes ``Linear4bit`` layer of ``model`` with its name; none when bitsandbytes is not installed."""
    try:
        from bitsandbytes.nn import Linear4bit
    except ImportError:  # bitsandbytes missing: nothing can be 4-bit
        return []
    return [(n, m) for n, m in model.named_modules() if isinstance(m, Linear4bit)]


def disable_cpu_repacking(model: Any) -> int:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference; return the layer count.

    Raises :class:`SrllmError` when a layer has already been repacked, i.e. the model
    ran inference before training (the packed layout cannot be reliably undone).
    """
    layers = linear4bit_layers(model)
    packed = [n for n, m in layers if getattr(getattr(m.weight, "quant_state", None), "packing_format_for_cpu", False)]
    if packed:
        raise SrllmError(
            f"this 4-bit model has already run inference (generate or evaluation) on CPU: {len(packed)} layer(s), "
            f"e.g. {packed[0]!r}, were repacked by bitsandbytes, and LoRA gradients through them would be wrong. "
            "Load a fresh model for training and generate with a separate instance.")
    for _, m in layers:
        m.support_avx512bf16_for_cpu = False
    return len(layers)


def load_base(cfg: Any) -> tuple[Any, Any]:
    """A fresh base model and tokenizer for ``cfg`` (a :class:`srllm.training.TrainConfig`).

    Never reuse a model that has generated text: always load a new one here.
    Non-quantized weights load in float32; mixed precision (fp16/bf16) comes from
    autocast in the Trainer, so the optimizer always updates float32 weights.
    """

    if cfg.method == "qlora":
        q = cfg.quant
        quant = QuantSettings(load_in_4bit=True, quant_type=q["quant_type"], double_quant=q["double_quant"],
                              compute_dtype=q["compute_dtype"])
        model, tok = load_model(cfg.model, quant=quant, device=cfg.device)
        disable_cpu_repacking(model)
    else:
        model, tok = load_model(cfg.model, device=cfg.device, dtype="float32")
    model.config.use_cache = False  # no KV cache while training
    return model, tok


def attach_method(model: Any, cfg: Any) -> Any:
    """Wrap ``model`` with the method's trainable parameters (peft for qlora/lora/prefix).

    QLoRA (Dettmers et al. 2023) trains LoRA adapters (Hu et al. 2021) on a 4-bit base;
    prefix-tuning (Li & Liang 2021) learns key/value prefixes; ``dense`` trains every weight.
    """
    from peft import LoraConfig, PrefixTuningConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.method == "qlora":
        disable_cpu_repacking(model)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    if cfg.method in ("qlora", "lora"):
        lo = cfg.lora
        pc = LoraConfig(r=lo["r"], lora_alpha=lo["alpha"], lora_dropout=lo["dropout"], bias=lo["bias"],
                        target_modules=list(lo["target_modules"]), task_type="CAUSAL_LM")
        model = get_peft_model(model, pc)
    elif cfg.method == "prefix":
        # Random-normal initialisation of the prefixes (Table 3) is peft's default; "zero"
        # starts from all-zero key/value prefixes.
        init = {"init_weights": "zero"} if cfg.prefix.get("init") == "zero" else {}
        pc = PrefixTuningConfig(num_virtual_tokens=cfg.prefix["num_virtual_tokens"], task_type="CAUSAL_LM", **init)
        model = get_peft_model(model, pc)
        if float(cfg.prefix.get("dropout") or 0.0) > 0:
            apply_prefix_dropout(model, float(cfg.prefix["dropout"]))
    elif cfg.method == "dense":
        for p in model.parameters():
            p.requires_grad_(True)
    else:  # TrainConfig validates earlier; this guards direct callers
        raise SrllmError(f"unknown training method {cfg.method!r}")
    return model


def apply_prefix_dropout(model: Any, p: float) -> list[Any]:
    """Dropout with probability ``p`` on the prefix key/values while training (Table 3: 0.1).

    Li and Liang's (2021) prefix-tuning, which the paper follows, drops out the prefix activations
    (their ``prefix_dropout``); peft's ``PrefixTuningConfig`` has no such setting, so a
    forward hook on each prefix encoder applies ``torch.nn.functional.dropout`` to its
    output when the model is in training mode. In evaluation and generation (``eval()``,
    or peft's inference mode, which bypasses the encoder) nothing changes. Returns the
    hook handles.
    """
    import torch.nn.functional as F

    if not 0.0 <= p < 1.0:
        raise SrllmError(f"prefix dropout must be in [0, 1), got {p}")

    def hook(module: Any, inputs: Any, output: Any) -> Any:
        return F.dropout(output, p=p, training=module.training)

    encoders = getattr(model, "prompt_encoder", None)
    if not encoders:
        raise SrllmError("apply_prefix_dropout needs a peft prefix-tuning model (no prompt_encoder found)")
    return [enc.register_forward_hook(hook) for enc in encoders.values()]


def _param_count(p: Any) -> int:
    # A 4-bit weight is stored two values per byte; its quant_state keeps the real shape.
    qs = getattr(p, "quant_state", None)
    if qs is not None and getattr(qs, "shape", None) is not None:
        n = 1
        for d in qs.shape:
            n *= int(d)
        return n
    return p.numel()


def trainable_counts(model: Any) -> dict[str, int]:
    """Trainable and total parameter counts (4-bit weights counted by their unpacked size)."""
    total = sum(_param_count(p) for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable_params": int(trainable), "total_params": int(total)}


def _nonzero(t: Any) -> bool:
    return t is not None and bool(t.detach().abs().sum().item() > 0)


def gradient_problems(model: Any, method: str) -> tuple[int, list[str]]:
    """Names of trainable parameters whose gradient is missing or zero where it must not be.

    LoRA's B matrix starts at zero, so A's gradient is legitimately zero until B
    has moved; A is required to be non-zero only once its B is non-zero. For other
    methods every trainable tensor needs a gradient and at least one must be non-zero.
    Returns ``(number of parameters checked, problems)``.
    """
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    problems: list[str] = []
    if method in ("qlora", "lora"):
        lora = {n: p for n, p in params.items() if ".lora_A." in n or ".lora_B." in n}
        if not lora:
            return 0, ["no LoRA matrices are trainable"]
        for n, p in lora.items():
            if p.grad is None:
                problems.append(f"{n}: gradient is None")
            elif ".lora_B." in n and not _nonzero(p.grad):
                problems.append(f"{n}: gradient is all zero")
            elif ".lora_A." in n and not _nonzero(p.grad):
                b = params.get(n.replace(".lora_A.", ".lora_B."))
                if b is None or _nonzero(b):
                    problems.append(f"{n}: gradient is all zero although its B matrix is non-zero")
        return len(lora), problems
    missing = [f"{n}: gradient is None" for n, p in params.items() if p.grad is None]
    if not params:
        return 0, ["no parameter is trainable"]
    if not missing and not any(_nonzero(p.grad) for p in params.values()):
        missing.append("every trainable parameter has an all-zero gradient")
    return len(params), missing


def _make_guard_class() -> type:
    from transformers import TrainerCallback

    class GradientGuard(TrainerCallback):
        """Checks gradients before the first ``steps`` optimizer steps of a session; raises on a dead adapter."""

        def __init__(self, method: str, steps: int = 2) -> None:
            self.method = method
            self.steps = steps
            self.calls = 0
            self.report: dict[str, Any] = {"checked_steps": [], "params_checked": 0, "ok": None}

        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):  # noqa: ANN001
            if self.calls >= self.steps or model is None:
                return
            self.calls += 1
            n, problems = gradient_problems(model, self.method)
            self.report["checked_steps"].append(int(state.global_step) + 1)
            self.report["params_checked"] = n
            if problems:
                self.report["ok"] = False
                hint = (" The 4-bit base has probably run inference before training (bitsandbytes repacks its "
                        "weights on CPU); load a fresh model for training." if self.method == "qlora" else "")
                raise GradientCheckError(
                    f"{len(problems)} of {n} trainable tensors got no usable gradient at step "
                    f"{state.global_step + 1} ({self.method}): {'; '.join(problems[:3])}.{hint}")
            self.report["ok"] = True

    return GradientGuard


def GradientGuard(method: str, steps: int = 2) -> Any:  # noqa: N802 - factory named like the class it builds
    """A Trainer callback (built lazily so importing this module does not import transformers)."""
    return _make_guard_class()(method, steps)


def merge_adapter(cfg: Any, adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Merge a LoRA adapter into full-precision base weights and save the result with its tokenizer.

    For QLoRA this is the usual deployment step: the base is reloaded un-quantized
    (float32 on CPU, the compute dtype on CUDA) and the adapter's low-rank update
    is added to it (``merge_and_unload``), so the merged model needs neither peft
    nor bitsandbytes.
    """
    from peft import PeftModel

    dtype = "float32" if cfg.device == "cpu" else (cfg.quant or {}).get("compute_dtype", "float16")
    base, tok = load_model(cfg.model, device=cfg.device, dtype=dtype)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    return write_folder(out_dir, lambda tmp: (merged.save_pretrained(tmp), tok.save_pretrained(tmp)))


def load_init_adapter(model: Any, cfg: TrainConfig) -> None:
    """Copy ``cfg.init_adapter``'s weights into the freshly attached adapter of ``model``.

    The saved adapter must be of the same kind and shape as the one this config
    attaches (LoRA for qlora/lora with the same rank and target modules, or a
    prefix of the same length); every saved tensor must find its parameter.
    """
    from peft import load_peft_weights, set_peft_model_state_dict

    src = Path(cfg.init_adapter)
    saved = json.loads((src / "adapter_config.json").read_text(encoding="utf-8"))
    want = "PREFIX_TUNING" if cfg.method == "prefix" else "LORA"
    kind = str(saved.get("peft_type", "")).upper()
    if kind != want:
        raise SrllmError(f"init_adapter {src} is a {kind or 'unknown'} adapter; method {cfg.method} needs {want}")
    if want == "LORA":
        lo = cfg.lora or {}
        if saved.get("r") != lo.get("r") or set(saved.get("target_modules") or ()) != set(lo.get("target_modules") or ()):
            raise SrllmError(f"init_adapter {src} has rank {saved.get('r')} on {sorted(saved.get('target_modules') or ())}; "
                             f"this run attaches rank {lo.get('r')} on {sorted(lo.get('target_modules') or ())}")
    elif saved.get("num_virtual_tokens") != (cfg.prefix or {}).get("num_virtual_tokens"):
        raise SrllmError(f"init_adapter {src} has {saved.get('num_virtual_tokens')} virtual tokens; this run "
                         f"attaches {(cfg.prefix or {}).get('num_virtual_tokens')}")
    result = set_peft_model_state_dict(model, load_peft_weights(str(src), device="cpu"))
    if result.unexpected_keys:
        raise SrllmError(f"init_adapter {src}: {len(result.unexpected_keys)} saved tensor(s) match no parameter "
                         f"of this model, e.g. {result.unexpected_keys[0]}")

