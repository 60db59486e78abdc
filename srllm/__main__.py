"""``python -m srllm``: the same command line as ``srllm`` (what ``accelerate launch -m srllm train`` runs)."""

import sys

from srllm.cli import main

sys.exit(main())
