"""accelerate configuration files for multi-process training (see the README, "Training on several processes").

The files are plain ``accelerate launch --config_file`` YAML, shipped with the
package so that ``config_path("deepspeed_zero2")`` finds them in an installed
copy too.
"""

from __future__ import annotations

from pathlib import Path

CONFIGS = ("ddp_gpus", "deepspeed_zero2", "deepspeed_zero3_offload")


def config_path(name: str) -> Path:
    """Path of the named config (one of :data:`CONFIGS`)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown launch config {name!r}; choose one of {', '.join(CONFIGS)}")
    return Path(__file__).with_name(f"{name}.yaml")
