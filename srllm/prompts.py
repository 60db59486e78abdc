"""Prompt formats for the debiasing task (Section 2.2, Fig. 2 of the paper).

Three formats share one instruction:

* ``llama2`` - the paper's layout: ``<s><<SYS>> system <</SYS>> [INST] user [/INST] response </s>``,
  with the tokenizer's own BOS/EOS tokens standing in for ``<s>``/``</s>``;
* ``alpaca`` - ``### Instruction / ### Input / ### Response`` blocks (the Stanford format
  the paper cites);
* ``chat``   - the model's own chat template (system + user message).

The training target is always the safe variation; :func:`tokenize_example`
masks the prompt so the loss of Eq. (1) covers the response tokens only.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Sequence

FORMATS = ("llama2", "alpaca", "chat")

SYSTEM_PROMPT = "You are a helpful assistant."

# Our wording of the task instruction shown in the paper's Fig. 2.
INSTRUCTION = (
    "Rewrite the user's text so that it:\n"
    "- keeps the original meaning and the facts it states;\n"
    "- is neutral, unbiased and respectful towards every group;\n"
    "- contains no toxic, hostile or demeaning language.\n"
    "Reply with the rewritten text only."
)


@dataclass(frozen=True)
class Shot:
    """One demonstration pair for few-shot prompting."""

    text: str
    rewrite: str


def _user_message(text: str, instruction: str, shots: Sequence[Shot]) -> str:
    parts = [instruction]
    for i, s in enumerate(shots, 1):
        parts.append(f"Example {i} input:\n{s.text}\nExample {i} output:\n{s.rewrite}")
    parts.append(f"Text:\n{text}")
    return "\n\n".join(parts)


def format_prompt(text: str, fmt: str = "chat", tokenizer: Any = None, *, system: str = SYSTEM_PROMPT,
                  instruction: str = INSTRUCTION, shots: Sequence[Shot] = ()) -> str:
    """The prompt string up to where the model's response begins."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown prompt format {fmt!r}; choose one of {FORMATS}")
    user = _user_message(text, instruction, shots)
    if fmt == "llama2":
        bos = getattr(tokenizer, "bos_token", None) or "<s>"
        return f"{bos}<<SYS>>\n{system}\n<</SYS>>\n\n[INST]\n{user}\n[/INST]\n"
    if fmt == "alpaca":
        return (f"{system}\n\n### Instruction:\n{instruction}\n\n"
                + "".join(f"### Example input:\n{s.text}\n\n### Example output:\n{s.rewrite}\n\n" for s in shots)
                + f"### Input:\n{text}\n\n### Response:\n")
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ValueError("the 'chat' format needs a tokenizer with a chat template")
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def response_suffix(tokenizer: Any = None) -> str:
    """What closes a training target: the tokenizer's EOS (``</s>`` in the paper)."""
    return getattr(tokenizer, "eos_token", None) or "</s>"


def tokenize_example(prompt: str, response: str, tokenizer: Any, max_length: int) -> dict[str, Any]:
    """Token ids with labels masked (-100) on the prompt, so the loss covers the response only.

    A sequence longer than ``max_length`` is cut at ``max_length`` tokens and flagged
    with ``truncated=True`` so that callers can count and report truncations.
    """
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r_ids = tokenizer(response + response_suffix(tokenizer), add_special_tokens=False)["input_ids"]
    ids = p_ids + r_ids
    labels = [-100] * len(p_ids) + list(r_ids)
    truncated = len(ids) > max_length
    ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels, "truncated": truncated}


def select_shots(pool: Sequence[Any], k: int, seed: int = 0) -> list[Shot]:
    """``k`` demonstrations drawn reproducibly from a train split.

    ``pool`` items are records with ``text`` and ``safe_variation`` (attributes or keys);
    items without a rewrite are skipped. The same pool, k and seed give the same shots.
    """
    def get(r: Any, key: str) -> Any:
        return r.get(key) if isinstance(r, dict) else getattr(r, key, None)

    usable = [r for r in pool if get(r, "safe_variation")]
    if k > len(usable):
        raise ValueError(f"asked for {k} shots but the pool has only {len(usable)} records with a safe variation")
    rng = random.Random(seed)
    picked = rng.sample(range(len(usable)), k)
    return [Shot(text=get(usable[i], "text"), rewrite=get(usable[i], "safe_variation")) for i in sorted(picked)]


def few_shot_prompts(texts: Sequence[str], fmt: str = "chat", tokenizer: Any = None, *, k: int = 0,
                     pool: Sequence[Any] = (), seed: int = 0, system: str = SYSTEM_PROMPT,
                     instruction: str = INSTRUCTION) -> list[str]:
    """Zero-, 2- or 5-shot prompts for ``texts``.

    The ``k`` demonstrations are drawn once with :func:`select_shots` from ``pool``
    (the train split, never the evaluated split) and shared by every prompt, so
    that all texts are prompted alike and a rerun with the same seed gives the
    same prompts. ``k=0`` needs no pool.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    shots = select_shots(pool, k, seed) if k else []
    return [format_prompt(t, fmt, tokenizer, system=system, instruction=instruction, shots=shots) for t in texts]


# --------------------------------------------------------------------------- response clean-up

# Hand-written rather than from a library: no kept library strips chat models' preambles and
# sign-offs, and the patterns are specific to this task's prompt (its "Text:" and "Example N"
# scaffolding, the instruction's "rewritten text").
_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|okay|ok|certainly|of course)[,!.]?\s*)?"
    r"(?:here(?:'s| is| are)\b[^\n:]{0,40}\b(?:rewrit\w*|revis\w*|version|rephras\w*|neutral|text|sentence)\b[^\n:]{0,20}"
    r"|(?:the )?(?:rewritten|revised|rephrased|neutral|safe|updated)(?: text| version| sentence| post)?"
    r"|output|rewrite|answer|response)\s*:\s*", re.I)
_SCAFFOLD = re.compile(r"(?:^|\n)\s*(?:example \d+ (?:input|output)\s*:|text\s*:|input\s*:|###\s|\[/?inst\]|<<sys>>)",
                       re.I)
_CHATTER = re.compile(
    r"\n\s*\(?(?:note\b|notes\b|explanation\b|changes\b|this (?:rewrite|version|revised|rewritten|text)\b|"
    r"in this (?:rewrite|version)\b|i hope\b|let me know\b|i(?:'ve| have)? (?:changed|removed|replaced|rewrote|kept)\b|"
    r"the (?:rewritten|revised|original|corrected) (?:text|version|sentence)\b)", re.I)
_QUOTES = {'"': '"', "“": "”", "'": "'"}


def clean_response(text: str, original: str | None = None) -> str:
    """The rewrite inside a model's reply: no preamble, no prompt scaffolding, no trailing chatter.

    Greedy decoding of an instruct model often wraps the rewrite ("Here is the rewritten
    text: ...", a closing "Note: I removed ..."), or a base model prompted with
    demonstrations continues the pattern with a new "Example 3 input:" or "Text:". This
    keeps what comes before such scaffolding, drops a leading preamble line and a
    trailing paragraph of chatter, and unwraps quotes around the whole reply (unless the
    ``original`` was itself quoted). Text without any of these comes back stripped only.
    """
    out = text.strip()
    m = _SCAFFOLD.search(out)
    if m and m.start() > 0:
        out = out[:m.start()].strip()
    m = _PREAMBLE.match(out)
    if m and out[m.end():].strip() and not (original and _PREAMBLE.match(original.strip())):
        out = out[m.end():].strip()
    m = _CHATTER.search(out)
    if m and m.start() > 0:
        out = out[:m.start()].strip()
    if len(out) >= 2 and out[0] in _QUOTES and out[-1] == _QUOTES[out[0]] and out.count(out[0]) <= 2 \
            and not (original or "").strip().startswith(out[0]):
        out = out[1:-1].strip()
    return out
