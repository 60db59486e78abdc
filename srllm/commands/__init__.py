"""Sub-commands of the ``srllm`` CLI, one module each (see :mod:`srllm.cli`)."""
