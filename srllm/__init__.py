"""srllm: reproducible companion to the SR_LLM paper.

Stages (one module each, data flows one way):
data -> prompts -> train -> generate -> score -> tables/figures -> book.
"""

__version__ = "0.1.0"

from srllm.quiet import drop_misleading_notices as _drop_misleading_notices  # noqa: E402

_drop_misleading_notices()
