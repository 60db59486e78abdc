"""srllm: reproducible companion to the SR_LLM paper.

Stages (one module each, data flows one way):
data -> prompts -> train -> generate -> score -> tables/figures -> book.
"""

__version__ = "0.1.0"
