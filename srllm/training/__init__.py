"""Training SR_LLM (Sections 2.2, 3.1, 4.5, 4.6): QLoRA, LoRA, prefix-tuning and dense fine-tuning.

The package follows a run from settings to record:

* :mod:`~srllm.training.config` - :class:`TrainConfig`, a profile resolved for one method and device;
* :mod:`~srllm.training.pairs` - records to training pairs, token ids and batches;
* :mod:`~srllm.training.model` - the base model, the method's trainable parameters, the merge;
* :mod:`~srllm.training.trainer` - :func:`train`, the Trainer loop with resumption and DDP;
* :mod:`~srllm.training.runs` - run folders, :class:`RunResult`, finding a profile's run again;
* :mod:`~srllm.training.variants` - the human evaluation's model variants;
* :mod:`~srllm.training.report` - tables and figures of finished runs for the book.

Typical use::

    from srllm.training import train
    run = train("qlora", "cpu")
    run.summary()
"""

from srllm.training.config import CPU_OPTIMIZERS, METHODS, TrainConfig, run_hash
from srllm.training.model import load_init_adapter
from srllm.training.pairs import DataStats, Pair, data_hash, default_records, to_pairs, tokenize_pairs
from srllm.training.runs import RunResult, find_profile_run, latest_checkpoint, load_run, profile_run_name, runs_dir
from srllm.training.trainer import EpochSeededLengthSampler, throughput_record, train
from srllm.training.variants import VARIANT_ALIASES, VARIANTS, Variant, train_variant, variant_plan

__all__ = [
    "CPU_OPTIMIZERS", "METHODS", "TrainConfig", "run_hash", "load_init_adapter", "DataStats",
    "Pair", "data_hash", "default_records", "to_pairs", "tokenize_pairs", "RunResult", "find_profile_run",
    "latest_checkpoint", "load_run", "profile_run_name", "runs_dir", "EpochSeededLengthSampler",
    "throughput_record", "train", "VARIANT_ALIASES", "VARIANTS", "Variant", "train_variant", "variant_plan",
]
