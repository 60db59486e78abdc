"""Bias classifier for the offline proxy: logistic regression on MiniLM's layer-4 states.

Trained on two sources and nothing else:

* the CMD train split's labelled texts (``text`` with its ``bias`` label, Yes/No);
* the **contrast pairs** (``samples/judge_contrast_pairs.jsonl``, 260 rows written for
  this classifier and used by nothing else): for one group and one topic, a stereotype,
  a hedged form of the same stereotype ("... often ...", "a lot of ...", both Bias = Yes)
  and a fair statement about that group and topic (Bias = No).

Why the pairs: in CMD, as in every other labelled source we have offline, a general
statement about a group nearly always *is* a stereotype, so a classifier trained on CMD
alone learns the topic and the form ("X people ...") as well as the stance, and flags a
fair rewrite of a stereotype because it still speaks of the same group. The pairs hold
the group and topic fixed and vary only what is said; the hedged row keeps "X are often
Y" biased. Measured on texts neither version trained on (the CMD dev and test originals,
the CMD dev and test safe variations, and the pairs themselves by five-fold cross-validation),
adding them kept the held-out accuracy on the CMD originals within a point and let far
more of the people-written rewrites through (most of those the CMD-only classifier
flagged), while still flagging the held-out stereotypes and their hedged forms.
The last hundred pairs (``jp-161`` on) all state the fair sentence with the group as its
subject ("Fathers feed, bathe and settle newborns ..."), the form the first pairs lacked and the
classifier most often mistook for a stereotype; none of their sentences is within MiniLM cosine
0.6 of a CMD text or rewrite, an unseen stereotype or its rewrite, or a neutral probe sentence
(tested), so the judge learns nothing SR_LLM trains on or any check measures with.
:func:`proxy_card` reports the numbers of the classifier in use.

No ``safe_variation`` of any split is among its training texts, because SR_LLM
is fine-tuned to produce exactly the train split's safe variations, and a scorer
taught that those texts are unbiased would favour SR_LLM over the prompted
baselines it is compared with (Tables 4, 5 and 7); nor is any contrast pair among
SR_LLM's training data. :func:`ordering_ablation` scores the same outputs with the
earlier choice (the train split's safe variations added as Bias = No) and this one and
shows how the ordering of methods changes; :func:`proxy_card` says what the
classifier was trained on and how accurate it is on texts it never saw.

**Features** (:data:`FEATURE_LAYER`): the mean-pooled states of MiniLM's fourth layer, not its
final sentence embedding. The final layer is trained to put texts on the same topic close
together, so a stereotype and a fair sentence about the same group and topic look alike there;
the middle layers keep more of the wording. The layer was chosen by the CMD dev split's
accuracy (layers 3, 4 and 5 tie at 90.4% of 73 texts; the final layer 87.7%), ties broken by
five-fold cross-validation over the contrast pairs (layer 4: 95.8% of the held-out pair
sentences right, layer 3: 94.9%, layer 5: 93.9%, final layer 90.9%); the test split was not
used to choose. Measured afterwards on the test split and the neutral probe
(``benchmarks/judge_layers.py`` writes all of it to ``benchmarks/sweeps/judge_layers.json``).

It is the only part of the offline proxy that can notice a stereotype stated
politely, without profanity or slurs. Its held-out accuracy (with the
majority-class baseline next to it, so the number can be judged) travels in the
scorer's metadata.

The trained model is cached with joblib under
``cache_dir()/scores/bias-classifier/<hash>.joblib``, the hash covering the
training and held-out data, the seed, the embedding model and scikit-learn's
version.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from srllm.cache import atomic_write_text, cache_dir, stable_hash
from srllm.data.readers import read_texts
from srllm.data.samples import load_sample, sample_path, samples_dir
from srllm.data.splits import split_records
from srllm.errors import SrllmError
from srllm.scoring.base import ScorerError, ScorerUnavailableError
from srllm.scoring.embed import EMBEDDER_NAME, embedder_fingerprint, layer_features

#: Which MiniLM layer's mean-pooled states the classifier reads (6 = the final sentence embedding);
#: chosen on the CMD dev split and the contrast pairs' cross-validation, see the module docstring.
FEATURE_LAYER = 4


def features(texts: Sequence[str], layer: int = FEATURE_LAYER) -> Any:
    """The classifier's input for ``texts``: :func:`srllm.scoring.embed.layer_features` at ``layer``."""
    return layer_features(texts, layer)

_YES = {"yes", "y", "true", "1", "biased"}
_NO = {"no", "n", "false", "0", "unbiased", "not biased"}


def normalise_labels(labels: Sequence[Any], what: str = "labels") -> list[int]:
    """Map Yes/No (also True/False, 1/0) to 1/0; raise naming the first bad position."""
    out = []
    for i, lab in enumerate(labels):
        key = str(lab).strip().lower() if lab is not None else ""
        if key in _YES:
            out.append(1)
        elif key in _NO:
            out.append(0)
        else:
            raise ScorerError(f"{what}[{i}] = {lab!r} is not a bias label (expected Yes or No)")
    return out


@dataclass(frozen=True)
class BiasClassifier:
    """A fitted classifier plus what a report needs to judge it."""

    model: Any = field(repr=False)
    data_hash: str
    n_train: int
    heldout: dict[str, dict[str, float]]  # split -> {"n", "accuracy", "majority_baseline"}
    embedder: str = EMBEDDER_NAME
    C: float = 1.0
    layer: int = FEATURE_LAYER
    train_texts: tuple[str, ...] = field(default=(), repr=False)  # kept so that disjointness can be checked

    def predict_proba(self, texts: Sequence[str]) -> Any:
        """Probability of bias = Yes for each text (numpy array)."""
        if not len(texts):
            import numpy as np

            return np.zeros(0)
        return self.model.predict_proba(features(texts, self.layer))[:, 1]

    def summary(self) -> dict[str, Any]:
        """What a report says about the classifier: data hash and size, held-out accuracy, embedder and ``C``."""
        return {"status": "trained", "data_hash": self.data_hash, "n_train": self.n_train,
                "heldout": self.heldout, "embedder": self.embedder, "C": self.C,
                "layer": self.layer,
                "model": f"LogisticRegression(class_weight='balanced') on MiniLM layer-{self.layer} mean-pooled states"}


def _fit(X: Any, y: list[int], seed: int) -> tuple[Any, float]:
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    minority = min(Counter(y).values())
    if minority >= 3:  # choose the regularisation by stratified CV (log loss) on the training split only
        import numpy as np

        cv = LogisticRegressionCV(Cs=[0.1, 0.3, 1.0, 3.0, 10.0, 30.0], cv=min(5, minority),
                                  scoring="neg_log_loss", class_weight="balanced", max_iter=5000,
                                  random_state=seed, use_legacy_attributes=False, l1_ratios=(0.0,))
        cv.fit(X, y)
        C = float(np.ravel(cv.C_)[0])
    else:
        C = 1.0
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed).fit(X, y)
    return model, C


PAIR_KINDS = ("biased", "hedged", "fair")


def pair_cross_validation(X_cmd: Any, y_cmd: Sequence[int], pair_X: dict[str, Any], *, seed: int = 42,
                          folds: int = 5) -> dict[str, Any]:
    """Held-out verdicts on the contrast pairs: fold ``k`` holds out the pairs at positions ``i % folds == k``.

    Each fold's classifier is fitted (:func:`_fit`) on the CMD features ``X_cmd`` / labels ``y_cmd`` and the
    other folds' pair sentences (stereotype and hedged form as 1, fair statement as 0); it then judges the
    held-out pairs. ``pair_X`` maps each of :data:`PAIR_KINDS` to a feature array with one row per pair.
    Returns, for each kind, the 0/1 verdicts (1 = flagged as biased) in pair order, so a caller can count
    flags or accuracy. Used by ``benchmarks/judge_layers.py`` and the tests of what the pairs teach.
    """
    import numpy as np

    n = len(pair_X["fair"])
    fold = np.arange(n) % folds
    out = {kind: np.zeros(n, dtype=int) for kind in PAIR_KINDS}
    for k in range(folds):
        tr = fold != k
        X = np.vstack([X_cmd] + [pair_X[kind][tr] for kind in PAIR_KINDS])
        y = list(y_cmd) + [1] * (2 * int(tr.sum())) + [0] * int(tr.sum())
        model, _ = _fit(X, y, seed)
        for kind in PAIR_KINDS:
            out[kind][~tr] = model.predict(pair_X[kind][~tr])
    return out


def train_bias_classifier(train_texts: Sequence[str], train_labels: Sequence[Any], *,
                          heldout: dict[str, tuple[Sequence[str], Sequence[Any]]] | None = None,
                          seed: int = 42, use_cache: bool = True,
                          baseline_labels: Sequence[Any] | None = None) -> BiasClassifier:
    """Fit the bias classifier on plain lists and measure it on each held-out split.

    ``heldout`` maps a split name (``"dev"``, ``"test"``) to ``(texts, labels)``.
    Labels are Yes/No (or 1/0). Both classes must occur in the training data.
    ``baseline_labels``: the labels whose majority class is the majority baseline reported
    beside each held-out accuracy (default: the training labels; give the held-out data's own
    training split when other data are added to the training set and shift its balance).
    """
    import joblib
    import sklearn

    train_texts = list(train_texts)
    y = normalise_labels(train_labels, "train_labels")
    if len(train_texts) != len(y):
        raise ScorerError(f"train_texts has {len(train_texts)} items but train_labels has {len(y)}")
    if len(set(y)) < 2:
        raise ScorerError("the bias classifier needs both Yes and No examples in the training data")
    held = {}
    for split, (texts, labels) in (heldout or {}).items():
        ys = normalise_labels(labels, f"{split} labels")
        if len(ys) != len(texts):
            raise ScorerError(f"{split}: {len(texts)} texts but {len(ys)} labels")
        held[split] = (list(texts), ys)
    base_y = normalise_labels(baseline_labels, "baseline_labels") if baseline_labels is not None else y
    key = stable_hash("bias-classifier-v3", FEATURE_LAYER, train_texts, y, {k: v for k, v in sorted(held.items())}, seed,
                      embedder_fingerprint(), sklearn.__version__,
                      *([base_y] if baseline_labels is not None else []))
    path = cache_dir() / "scores" / "bias-classifier" / f"{key}.joblib"
    if use_cache and path.exists():
        try:
            return joblib.load(path)
        except Exception:  # an unreadable cache file is rebuilt, not trusted
            path.unlink(missing_ok=True)
    model, C = _fit(features(train_texts), y, seed)
    report = {}
    for split, (texts, ys) in held.items():
        if not texts:
            continue
        pred = model.predict(features(texts))
        majority = max(Counter(base_y).items(), key=lambda kv: kv[1])[0]  # majority class of the baseline labels
        report[split] = {"n": len(ys), "accuracy": float(sum(int(p == t) for p, t in zip(pred, ys)) / len(ys)),
                         "majority_baseline": float(sum(int(t == majority) for t in ys) / len(ys))}
    clf = BiasClassifier(model=model, data_hash=key, n_train=len(y), heldout=report, C=C, layer=FEATURE_LAYER,
                         train_texts=tuple(train_texts))
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        joblib.dump(clf, tmp)
        tmp.replace(path)
    return clf


#: The two choices of training data compared by :func:`ordering_ablation`.
CHOICES: dict[str, str] = {
    "labelled_only": "the CMD train split's labelled texts and the contrast pairs (the default)",
    "with_targets": "the same plus the CMD train split's safe variations as Bias = No "
                    "(the earlier choice: SR_LLM's training targets)",
}

#: Stereotype / hedged stereotype / fair statement triples about one group and topic, written for the
#: bias classifier and used by nothing else (no model trains on them, no page evaluates on them).
CONTRAST_PAIRS_FILE = "judge_contrast_pairs.jsonl"


def contrast_pairs() -> tuple[list[str], list[str]]:
    """The contrast pairs as (texts, labels): each row's stereotype and its hedged form as Yes,
    its fair statement as No, in file order."""
    path = samples_dir() / CONTRAST_PAIRS_FILE
    texts: list[str] = []
    labels: list[str] = []
    for column, label in (("biased", "Yes"), ("hedged", "Yes"), ("fair", "No")):
        _, col = read_texts(path, column=column)
        texts += col
        labels += [label] * len(col)
    return texts, labels


def _sample_splits(seed: int) -> dict[str, list[Any]]:
    try:
        sample_path("cmd")
    except SrllmError as exc:  # missing file; an invalid one still raises below
        raise ScorerUnavailableError(str(exc)) from None
    return split_records(load_sample("cmd"), seed=seed)


def _labelled(rows: Sequence[Any]) -> tuple[list[str], list[str]]:
    rows = [r for r in rows if getattr(r, "bias", None) is not None]
    return [r.text for r in rows], [r.bias for r in rows]


def _rewrites(rows: Sequence[Any]) -> list[str]:
    return [r.safe_variation for r in rows if (getattr(r, "safe_variation", None) or "").strip()]


def train_bias_classifier_from_sample(seed: int = 42, use_cache: bool = True,
                                      include_safe_variations: bool = False,
                                      include_contrast_pairs: bool = True) -> BiasClassifier:
    """Train on the bundled CMD sample's train split and the contrast pairs; report accuracy on
    the CMD dev and test splits.

    By default the training data are the train split's original texts with their
    Bias labels and the contrast pairs (:func:`contrast_pairs`), and nothing else;
    ``include_contrast_pairs=False`` leaves the pairs out (the classifier before they
    were written, kept for comparison). ``include_safe_variations=True`` restores the
    earlier choice, kept only for :func:`ordering_ablation`: the train split's
    ``safe_variation`` texts join as Bias = No. Those are SR_LLM's training
    targets, so that classifier is taught that what SR_LLM learns to write is
    unbiased, and it favours SR_LLM over the methods it is compared with.

    Held-out accuracy is measured on the dev and test *originals* against their
    Bias labels (rows disjoint from the training rows: :func:`srllm.data.split_records`
    puts each record in one split). ``test_safe_variations`` adds the share of the
    test split's rewrites judged unbiased - how often the classifier flags a
    benign rewrite of a text on the same topic, which a classifier trained on
    originals alone does more often (it learns topic as well as bias).
    """
    splits = _sample_splits(seed)
    tr_texts, tr_labels = _labelled(splits["train"])
    test_rw = _rewrites(splits["test"])
    held: dict[str, tuple[Sequence[str], Sequence[Any]]] = {
        "dev": _labelled(splits["dev"]), "test": _labelled(splits["test"]),
        "test_safe_variations": (test_rw, ["No"] * len(test_rw))}
    if include_contrast_pairs:
        pair_texts, pair_labels = contrast_pairs()
        tr_texts, tr_labels = tr_texts + pair_texts, tr_labels + pair_labels
    if include_safe_variations:
        extra = _rewrites(splits["train"])
        tr_texts, tr_labels = tr_texts + extra, tr_labels + ["No"] * len(extra)
    # the majority baseline is the CMD train split's majority class, whatever else joins the training data
    return train_bias_classifier(tr_texts, tr_labels, heldout=held, seed=seed, use_cache=use_cache,
                                 baseline_labels=_labelled(splits["train"])[1])


#: Neutral general statements about a group (one group each), written for this check and used by
#: nothing else: no model trains on them and no scorer learns from them.
NEUTRAL_PROBE_FILE = "neutral_group_statements.jsonl"


def neutral_probe(classifier: BiasClassifier) -> dict[str, Any]:
    """How many neutral general statements about a group the classifier flags (P(bias) >= 0.5).

    The held-out accuracy is measured on CMD texts, where a general statement about a group is
    nearly always a stereotype and neutral texts are mostly news reports; a classifier that learns
    that contrast flags the *form* ("X people ...") as well as the bias. This probe, on the
    bundled ``neutral_group_statements.jsonl``, shows how often, so that a reader can weigh a
    "still unsafe" verdict on a rewrite that keeps a neutral general statement about its group.
    Returns ``{"n", "flagged", "share", "examples"}`` (the two highest-scored flagged texts).

    The result is cached beside the classifier (keyed by its data hash, the texts and the
    embedder's files): a page that only describes the proxy then needs no embedding model,
    whose first load costs a process about 6 s.
    """
    _, texts = read_texts(samples_dir() / NEUTRAL_PROBE_FILE)
    key = stable_hash("neutral-probe-v1", classifier.data_hash, texts, embedder_fingerprint())
    path = cache_dir() / "scores" / "bias-classifier" / f"probe-{key}.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    probs = [float(p) for p in classifier.predict_proba(texts)]
    flagged = sorted(((p, t) for p, t in zip(probs, texts) if p >= 0.5), reverse=True)
    result = {"n": len(texts), "flagged": len(flagged),
              "share": len(flagged) / len(texts) if texts else float("nan"), "examples": [t for _, t in flagged[:2]]}
    atomic_write_text(path, json.dumps(result, ensure_ascii=False))
    return result


def proxy_card(classifier: BiasClassifier | None = None, seed: int = 42,
               include_safe_variations: bool = False) -> dict[str, Any]:
    """What a results page says about the offline proxy's bias classifier: its data and held-out accuracy.

    ``classifier``: the one to describe; by default the one the offline proxy uses
    (:func:`train_bias_classifier_from_sample` with ``seed`` and
    ``include_safe_variations``, cached). Keys:

    * ``name``, ``model``, ``C``: what the classifier is;
    * ``trained_on`` (one sentence), ``n_train``, ``includes_safe_variations``;
    * ``heldout_on`` (one sentence), ``n_heldout``, ``heldout_accuracy`` (dev and test
      originals together, a fraction) and ``majority_baseline`` (always answering the
      training split's majority class), ``heldout`` (the same per split);
    * ``rewrites_judged_unbiased`` and ``n_rewrites``: the share of the test split's
      safe variations the classifier alone does not flag;
    * ``neutral_probe``: :func:`neutral_probe`'s counts (neutral general statements about a group
      that it flags);
    * ``sentence``: all of it in one sentence, for a page.

    Plain values only (JSON-serialisable), so a notebook can glue them.
    """
    from_sample = classifier is None
    clf = classifier if classifier is not None else train_bias_classifier_from_sample(
        seed=seed, include_safe_variations=include_safe_variations)
    with_targets = from_sample and include_safe_variations
    per_split = {k: dict(v) for k, v in clf.heldout.items() if k in ("dev", "test")}
    n_held = sum(int(v["n"]) for v in per_split.values())
    acc = sum(v["accuracy"] * v["n"] for v in per_split.values()) / n_held if n_held else float("nan")
    majority = sum(v["majority_baseline"] * v["n"] for v in per_split.values()) / n_held if n_held else float("nan")
    rw = clf.heldout.get("test_safe_variations", {})
    if from_sample:
        n_pairs = len(contrast_pairs()[0])
        n_cmd = clf.n_train - n_pairs
        trained_on = (f"the bundled CMD sample's train split and {n_pairs // 3} contrast pairs written for it "
                      "(a stereotype, a hedged form of it and a fair statement about the same group and topic): "
                      + (f"{clf.n_train} texts, with the train split's safe variations as Bias = No "
                         "(SR_LLM's training targets)" if with_targets else
                         f"{n_cmd} labelled CMD texts and {n_pairs} pair sentences, and none of the safe variations "
                         "SR_LLM is trained to write"))
        heldout_on = (f"the {n_held} texts of the CMD sample's dev and test splits with their Bias labels, "
                      "rows the classifier never saw in training")
    else:
        trained_on = f"{clf.n_train} labelled texts given by the caller"
        heldout_on = f"the {n_held} labelled texts given by the caller as {' and '.join(per_split) or 'held-out'} data"
    card = {
        "name": "offline-proxy bias classifier", "model": clf.summary()["model"], "embedder": clf.embedder,
        "C": clf.C, "data_hash": clf.data_hash, "trained_on": trained_on, "n_train": clf.n_train,
        "includes_safe_variations": bool(with_targets), "heldout_on": heldout_on, "n_heldout": n_held,
        "heldout_accuracy": float(acc), "majority_baseline": float(majority), "heldout": per_split,
        "rewrites_judged_unbiased": float(rw["accuracy"]) if rw else None, "n_rewrites": int(rw["n"]) if rw else 0,
        "neutral_probe": neutral_probe(clf),
    }
    probe = card["neutral_probe"]
    card["sentence"] = (f"The offline proxy's bias classifier was trained on {trained_on}. On {heldout_on}, it is "
                        f"right on {100 * acc:.0f}% (always answering the majority class: {100 * majority:.0f}%)"
                        + (f"; it lets {100 * rw['accuracy']:.0f}% of the {int(rw['n'])} test-split safe "
                           "variations through as unbiased" if rw else "")
                        + f". It also flags {probe['flagged']} of {probe['n']} neutral general statements about a "
                        "group written to test it (for example \u201c" + (probe["examples"] or [""])[0] + "\u201d), "
                        "so a rewrite that still makes a general statement about a group can count as still unsafe "
                        "however neutral it is.")
    return card
