"""An offline stand-in for ParlAI's style classifier (Section 4.4, Fig. 3 and Fig. 4).

The paper scores the style of texts before and after rewriting with the
ParlAI style classifier (trained on Image-Chat personality labels, ``zoo:style_gen``)
and reports that negative traits such as *Neurotic*, *Hostile* and *Cruel* give
way to positive ones such as *Caring*, *Compassionate* and *Honest*. That
classifier needs ParlAI and a model download, neither of which is available
offline, so :class:`StyleProxy` measures the same idea **zero-shot**:

1. each trait of :data:`TRAITS` (ten positive, ten negative; names from the
   Image-Chat personality list, which the paper's Fig. 4 uses) has a short
   description written for this project, one sentence saying how a text in
   that style reads;
2. a text and every description are embedded with all-MiniLM-L6-v2 (the
   instance :func:`srllm.metrics.similarity.load_minilm` shares, so the model is
   loaded once per process);
3. a trait's score for a text is the cosine between the two embeddings;
4. the text's **style score** is ``mean(positive trait scores) - mean(negative
   trait scores)``: above 0 the text sits nearer the positive descriptions;
5. its **dominant trait** is the trait with the highest score, and that
   trait's polarity is the text's polarity (the count of dominant traits before
   and after stands in for Fig. 4's two trait networks).

This is a proxy, and every number it yields says so (``is_proxy = True``). Its
scale is cosine units in [-2, 2], not the classifier probabilities behind the
paper's Fig. 3 (whose scale the paper does not state), so a mean style shift
can be compared with the paper's only in sign and significance, not in size.
What the proxy does do is tell the bundled CMD originals from their
human-written safe variations (tested in ``tests/test_style_proxy.py``).

:class:`ParlAIStyle` runs the real classifier when ``parlai`` is importable
and its model can be loaded; it is not installed in this project's
environment, so that path is guarded and has not been exercised here.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from srllm.errors import SrllmError
from srllm.metrics.similarity import embed

Polarity = Literal["positive", "negative", "other"]  # "other": a ParlAI label outside TRAITS


@dataclass(frozen=True)
class Trait:
    """A personality/style trait with the description the proxy embeds."""

    name: str
    polarity: Polarity
    description: str


# Descriptions are deliberately short and about how the text *reads*, so that
# the topic of a text (religion, migration, work...) matters less than its tone.
TRAITS: tuple[Trait, ...] = (
    Trait("Caring", "positive", "A warm message that shows concern for how other people are doing."),
    Trait("Compassionate", "positive", "A gentle text that shows sympathy for people who are struggling."),
    Trait("Honest", "positive", "A sincere, truthful statement that reports facts plainly."),
    Trait("Respectful", "positive", "A polite text that treats every group of people with respect."),
    Trait("Kind", "positive", "A friendly, kind remark that speaks well of others."),
    Trait("Considerate", "positive", "A thoughtful text that avoids hurting anyone and includes everyone."),
    Trait("Empathetic", "positive", "A text that understands other people's feelings and points of view."),
    Trait("Calm", "positive", "A calm, measured and balanced statement."),
    Trait("Objective", "positive", "A neutral, fair description that does not take sides or generalise."),
    Trait("Scholarly", "positive", "A careful, well-informed explanation that relies on evidence."),
    Trait("Neurotic", "negative", "An anxious, paranoid rant full of fear and suspicion."),
    Trait("Hostile", "negative", "An aggressive, hostile remark that attacks a group of people."),
    Trait("Cruel", "negative", "A cruel, mocking insult meant to hurt and humiliate people."),
    Trait("Arrogant", "negative", "A smug, arrogant claim that one's own kind is superior to others."),
    Trait("Judgmental", "negative", "A judgmental generalisation that all members of a group are the same."),
    Trait("Hateful", "negative", "A hateful statement expressing contempt and disgust for a group of people."),
    Trait("Rude", "negative", "A rude, disrespectful comment with crude, offensive language."),
    Trait("Scornful", "negative", "A scornful, sneering text that looks down on people."),
    Trait("Bitter", "negative", "A bitter, resentful complaint that blames others."),
    Trait("Dismissive", "negative", "A dismissive remark saying some people are not worth listening to."),
)


def trait_names(polarity: Polarity | None = None, traits: Sequence[Trait] = TRAITS) -> tuple[str, ...]:
    """Names of the traits (of one polarity, or all), in order."""
    return tuple(t.name for t in traits if polarity is None or t.polarity == polarity)


@dataclass(frozen=True)
class StyleResult:
    """The style of one text: a scalar score, per-trait scores and the dominant trait."""

    score: float  # mean positive minus mean negative trait score
    traits: dict[str, float] = field(repr=False)
    dominant: str
    polarity: Polarity


def _check_texts(texts: Iterable[Any]) -> list[str]:
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise SrllmError(f"style: text {i} is {type(t).__name__}, not a string")
        out.append(t)
    return out


def _validate_traits(traits: Sequence[Trait]) -> tuple[Trait, ...]:
    traits = tuple(traits)
    names = [t.name for t in traits]
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise SrllmError(f"style traits: duplicate trait name(s) {dupes}")
    for t in traits:
        if t.polarity not in ("positive", "negative"):
            raise SrllmError(f"style trait {t.name!r}: polarity must be 'positive' or 'negative', got {t.polarity!r}")
        if not t.description.strip():
            raise SrllmError(f"style trait {t.name!r}: empty description")
    for pol in ("positive", "negative"):
        if not any(t.polarity == pol for t in traits):
            raise SrllmError(f"style traits: need at least one {pol} trait")
    return traits


class StyleProxy:
    """Zero-shot trait scores by MiniLM similarity to trait descriptions (see the module docstring)."""

    name = "style-proxy"
    is_proxy = True

    def __init__(self, traits: Sequence[Trait] = TRAITS, *, device: str = "cpu", batch_size: int = 64) -> None:
        self.traits = _validate_traits(traits)
        self.device = device
        self.batch_size = batch_size
        self._trait_emb: np.ndarray | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        """What a report says about this scorer: a MiniLM-similarity proxy for ParlAI's style classifier, and its traits."""
        return {"scorer": self.name, "is_proxy": True, "encoder": "sentence-transformers/all-MiniLM-L6-v2",
                "positive": list(trait_names("positive", self.traits)),
                "negative": list(trait_names("negative", self.traits)),
                "score": "mean cosine to positive trait descriptions minus mean cosine to negative ones",
                "stands_in_for": "ParlAI style classifier (zoo:style_gen), Section 4.4"}

    def _embed(self, texts: Sequence[str]) -> np.ndarray:

        return np.asarray(embed(list(texts), batch_size=self.batch_size, device=self.device), dtype=np.float64)

    def trait_matrix(self, texts: Iterable[str]) -> np.ndarray:
        """Cosine of every text with every trait description, shape ``(n_texts, n_traits)``."""
        texts = _check_texts(texts)
        if self._trait_emb is None:
            self._trait_emb = self._embed([t.description for t in self.traits])
        if not texts:
            return np.zeros((0, len(self.traits)))
        return self._embed(texts) @ self._trait_emb.T

    def score(self, texts: Iterable[str]) -> list[StyleResult]:
        """One :class:`StyleResult` per text, in order."""
        sims = self.trait_matrix(texts)
        pos = np.array([t.polarity == "positive" for t in self.traits])
        results = []
        for row in sims:
            best = int(np.argmax(row))
            results.append(StyleResult(score=float(row[pos].mean() - row[~pos].mean()),
                                       traits={t.name: float(v) for t, v in zip(self.traits, row)},
                                       dominant=self.traits[best].name, polarity=self.traits[best].polarity))
        return results


PARLAI_MODEL = "zoo:style_gen/curr_only_classifier/model"


def parlai_available() -> tuple[bool, str]:
    """Whether the ParlAI path can run here, and why not."""
    import importlib.util

    if importlib.util.find_spec("parlai") is None:
        return False, "the 'parlai' package is not installed (and its style model needs a download)"
    return True, ""


class ParlAIStyle:
    """ParlAI's style classifier (Image-Chat personalities, current utterance only), when installed.

    Guarded: constructing it without ``parlai`` raises :class:`SrllmError`. The
    agent runs with ``print_scores`` so that each reply carries the class list and
    probabilities (ParlAI's ``TorchClassifierAgent`` output); the style score is
    the mean probability of the positive traits of :data:`TRAITS` minus that of
    the negative ones, and a predicted personality outside :data:`TRAITS` counts
    as polarity ``other``. Not exercised in this project's environment (no ParlAI).
    """

    name = "parlai"
    is_proxy = False

    def __init__(self, model_file: str = PARLAI_MODEL, traits: Sequence[Trait] = TRAITS) -> None:
        ok, why = parlai_available()
        if not ok:
            raise SrllmError(f"style scorer 'parlai' is unavailable: {why}; use 'style-proxy'")
        from parlai.core.agents import create_agent_from_model_file  # type: ignore[import-not-found]

        self.traits = _validate_traits(traits)
        self.model_file = model_file
        self._agent = create_agent_from_model_file(model_file, {"print_scores": True})

    @property
    def metadata(self) -> dict[str, Any]:
        """What a report says about this scorer: ParlAI's classifier itself (not a proxy) and its model file."""
        return {"scorer": self.name, "is_proxy": False, "model_file": self.model_file}

    def score(self, texts: Iterable[str]) -> list[StyleResult]:
        """One :class:`StyleResult` per text, in order: class probabilities, the predicted trait, and the
        mean probability of the positive traits minus that of the negative ones.
        """
        polarity = {t.name.lower(): t.polarity for t in self.traits}
        results = []
        for i, text in enumerate(_check_texts(texts)):
            self._agent.observe({"text": text, "episode_done": True})
            reply = self._agent.act()
            label = str(reply.get("text", "")).strip()
            classes, probs = reply.get("class_list"), reply.get("probs")
            if classes is None or probs is None:
                raise SrllmError(f"parlai style classifier gave no class probabilities for text {i}; "
                                 "is the model a classifier run with print_scores?")
            scores = {str(c): float(p) for c, p in zip(classes, list(probs))}
            by_pol = {pol: [v for k, v in scores.items() if polarity.get(k.lower()) == pol]
                      for pol in ("positive", "negative")}
            score = float(np.mean(by_pol["positive"] or [0.0]) - np.mean(by_pol["negative"] or [0.0]))
            results.append(StyleResult(score=score, traits=scores, dominant=label,
                                       polarity=polarity.get(label.lower(), "other")))  # type: ignore[arg-type]
        return results


STYLE_SCORERS = ("style-proxy", "parlai")


def available_style_scorers() -> dict[str, tuple[bool, str]]:
    """``{name: (available, reason if not)}`` for every style scorer."""
    return {"style-proxy": (True, ""), "parlai": parlai_available()}


@functools.lru_cache(maxsize=4)
def get_style_scorer(name: str = "style-proxy") -> StyleProxy | ParlAIStyle:
    """The named style scorer (``style-proxy`` or ``parlai``), built once per process."""
    if name == "style-proxy":
        return StyleProxy()
    if name == "parlai":
        return ParlAIStyle()
    raise SrllmError(f"unknown style scorer {name!r}; choose one of {STYLE_SCORERS}")


# --------------------------------------------------------------------------- summaries


def style_differences(before: Sequence[StyleResult], after: Sequence[StyleResult]) -> list[float]:
    """Per-text ``after - before`` style scores (the values the Fig. 3 t-test takes)."""
    if len(before) != len(after):
        raise SrllmError(f"style_differences needs pairs: {len(before)} before vs {len(after)} after")
    return [a.score - b.score for b, a in zip(before, after)]


def dominant_counts(results: Sequence[StyleResult]) -> Counter:
    """How many texts have each trait as their dominant trait."""
    return Counter(r.dominant for r in results)


def polarity_share(results: Sequence[StyleResult], polarity: Polarity = "negative") -> float:
    """Share of texts whose dominant trait has this polarity (0 for no texts is an error)."""
    if not results:
        raise SrllmError("polarity_share needs at least one result")
    return sum(r.polarity == polarity for r in results) / len(results)


def trait_shift(before: Sequence[StyleResult], after: Sequence[StyleResult],
                traits: Sequence[Trait] = TRAITS) -> list[dict[str, Any]]:
    """Dominant-trait counts before and after, one row per trait (Fig. 4 as a table).

    Rows: ``{"trait", "polarity", "before", "after", "change"}``, the listed traits
    first (in order) and any other predicted label after them.
    """
    b, a = dominant_counts(before), dominant_counts(after)
    known = {t.name: t.polarity for t in traits}
    names = [t.name for t in traits] + sorted((set(b) | set(a)) - set(known))
    return [{"trait": n, "polarity": known.get(n, "other"), "before": b.get(n, 0), "after": a.get(n, 0),
             "change": a.get(n, 0) - b.get(n, 0)} for n in names]


def plot_trait_shift(rows: Sequence[dict[str, Any]], *, title: str | None = None, top: int | None = None,
                     figsize: tuple[float, float] = (9.0, 4.0)) -> Any:
    """Fig. 4 stand-in: dominant-trait counts before and after, bars coloured by polarity.

    ``rows``: :func:`trait_shift`. Traits that are nobody's dominant trait are left
    out; ``top`` keeps the traits with the most texts (before + after). Negative
    traits are drawn in red, positive in green, others in grey; the "before" bar
    is pale and the "after" bar solid. Returns a :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    used = [r for r in rows if r["before"] or r["after"]]
    if top is not None:
        used = sorted(used, key=lambda r: -(r["before"] + r["after"]))[:top]
    order = {"negative": 0, "other": 1, "positive": 2}
    used = sorted(used, key=lambda r: (order.get(r["polarity"], 1), -(r["before"] + r["after"])))
    colour = {"negative": "tab:red", "positive": "tab:green"}
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    x = np.arange(len(used))
    for offset, key, alpha in ((-0.2, "before", 0.35), (0.2, "after", 1.0)):
        ax.bar(x + offset, [r[key] for r in used], 0.4, alpha=alpha,
               color=[colour.get(r["polarity"], "tab:gray") for r in used])
    ax.set_xticks(x, [r["trait"] for r in used], rotation=45, ha="right")
    ax.set_ylabel("texts with this dominant trait")
    ax.legend(handles=[Patch(color="tab:red", alpha=0.35, label="negative, before"),
                       Patch(color="tab:red", label="negative, after"),
                       Patch(color="tab:green", alpha=0.35, label="positive, before"),
                       Patch(color="tab:green", label="positive, after")], fontsize="small")
    ax.set_title(title or "Dominant style trait before and after rewriting")
    fig.tight_layout()
    return fig
