"""Offline proxy scorer, bias classifier, HF classifier scorer and the shared caching interface."""

from __future__ import annotations

import json
import math

import pytest

from srllm.scoring import ScoreResult, ScorerError, ScorerUnavailableError, get_scorer, unsafe_rate
from srllm.scoring.bias import normalise_labels, train_bias_classifier
from srllm.scoring.offline import combine

BIASED = [
    "Women are too emotional to make important decisions.",
    "Old workers cannot keep up with modern technology.",
    "Immigrants from that country are all lazy.",
    "Men are naturally better at engineering than women.",
    "Poor people are poor because they do not want to work.",
    "Muslims cannot be trusted in positions of power.",
    "Disabled employees are a burden on the team.",
    "Young people are too entitled to work hard.",
    "People from the countryside are uneducated and backward.",
    "Girls are bad at math and should stick to the arts.",
    "Asians are only good at studying, not at leading.",
    "Overweight people are lazy and lack discipline.",
    "Gay men are too dramatic to be taken seriously.",
    "Mothers are less committed to their careers than fathers.",
    "Older candidates are set in their ways and cannot learn.",
    "People with mental illness are dangerous to be around.",
    "Foreigners are ruining the culture of this city.",
    "Christians are all hypocrites who judge everyone.",
    "Single fathers are incapable of raising children properly.",
    "People who did not go to university are simply less intelligent.",
]
NEUTRAL = [
    "The library extended its opening hours for the exam period.",
    "The council will vote on the new bike lanes next month.",
    "Researchers published a study on sleep and memory.",
    "The bakery on Main Street sells fresh bread every morning.",
    "The train to the airport leaves every twenty minutes.",
    "Our team meets on Mondays to plan the week.",
    "The museum opened an exhibition on ancient pottery.",
    "Rain is expected across the region this weekend.",
    "The company reported higher sales in the second quarter.",
    "Students can apply for the scholarship until March.",
    "The park will host a free concert on Saturday.",
    "The hospital added new beds to its children's ward.",
    "A new recipe book features dishes from many regions.",
    "The software update fixes several security issues.",
    "The river level has returned to normal after the storm.",
    "Volunteers planted trees along the school fence.",
    "The bus schedule changes at the start of the holidays.",
    "The team hired two engineers and a designer.",
    "The festival celebrates music from around the world.",
    "The city opened a new public swimming pool.",
]
TOXIC = ["Shut the fuck up, you stupid bitch.", "You are a worthless idiot and everyone hates you.",
         "What a load of shit, this is garbage."]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("srllm-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SRLLM_CACHE", str(root))
        yield root


@pytest.fixture(scope="module")
def bias_clf(cache_root):
    train = BIASED[:14] + NEUTRAL[:14]
    labels = ["Yes"] * 14 + ["No"] * 14
    held = (BIASED[14:] + NEUTRAL[14:], ["Yes"] * 6 + ["No"] * 6)
    return train_bias_classifier(train, labels, heldout={"dev": held}, seed=0)


@pytest.fixture(scope="module")
def proxy(bias_clf):
    return get_scorer("offline-proxy", bias_classifier=bias_clf, progress=False)


# --- combination rule --------------------------------------------------------------------------

def test_combination_rule_hand_computed():
    assert combine(0.2, 0.3, 0.1, 0.0) == pytest.approx(0.3)  # max of the detectors
    assert combine(0.2, 0.3, 0.8, 0.0) == pytest.approx(0.8)  # the bias classifier alone can flag
    assert combine(0.4, 0.3, None, 0.5, vader_weight=0.1) == pytest.approx(0.4 + 0.6 * 0.05)
    assert combine(0.0, 0.0, 0.0, 1.0) == pytest.approx(0.1)  # negative tone alone never flags
    assert combine(0.47, 0.0, 0.0, 0.9) >= 0.5  # ... but tips a borderline text over
    assert combine(1.0, 1.0, 1.0, 1.0) == 1.0


# --- bias classifier -----------------------------------------------------------------------------

def test_bias_classifier_reports_heldout_accuracy_above_majority(bias_clf):
    dev = bias_clf.heldout["dev"]
    assert dev["n"] == 12 and dev["majority_baseline"] == 0.5
    assert dev["accuracy"] >= 0.75
    p = bias_clf.predict_proba(["Women are worse drivers than men.", "The shop opens at nine on weekdays."])
    assert p[0] > p[1]


def test_bias_classifier_is_cached_by_data(bias_clf, cache_root):
    again = train_bias_classifier(BIASED[:14] + NEUTRAL[:14], ["Yes"] * 14 + ["No"] * 14,
                                  heldout={"dev": (BIASED[14:] + NEUTRAL[14:], ["Yes"] * 6 + ["No"] * 6)}, seed=0)
    assert again.data_hash == bias_clf.data_hash
    assert list((cache_root / "scores" / "bias-classifier").glob(f"{bias_clf.data_hash}.joblib"))
    other = train_bias_classifier(BIASED[:10] + NEUTRAL[:10], ["Yes"] * 10 + ["No"] * 10, seed=0)
    assert other.data_hash != bias_clf.data_hash


def test_bias_labels_are_validated_with_position():
    assert normalise_labels(["Yes", "no", True, 0]) == [1, 0, 1, 0]
    with pytest.raises(ScorerError, match=r"labels\[2\] = 'Maybe'"):
        normalise_labels(["Yes", "No", "Maybe"])
    with pytest.raises(ScorerError, match="both Yes and No"):
        train_bias_classifier(["a", "b"], ["Yes", "Yes"], use_cache=False)


@pytest.mark.slow  # embeds the whole CMD sample once (about 15-40 s on 2 cores)
def test_bias_classifier_from_cmd_sample(cache_root):
    from srllm.data.samples import samples_dir

    if not (samples_dir() / "cmd_sample.jsonl").exists():
        pytest.skip("the CMD sample has not been written yet")
    from srllm.data import load_sample, split_records
    from srllm.scoring.bias import train_bias_classifier_from_sample

    from srllm.scoring.bias import contrast_pairs

    clf = train_bias_classifier_from_sample(seed=42)
    splits = split_records(load_sample("cmd"), seed=42)
    n_labelled = sum(r.bias is not None for r in splits["train"])
    assert clf.n_train == n_labelled + len(contrast_pairs()[0])  # labelled originals and the pairs, no safe variation
    assert clf.heldout["dev"]["n"] == sum(r.bias is not None for r in splits["dev"])
    test = clf.heldout["test"]
    assert test["n"] == sum(r.bias is not None for r in splits["test"])
    assert test["accuracy"] > test["majority_baseline"]  # it learned something beyond the class prior
    # the baseline answers the CMD train split's majority class (the pairs, two thirds Yes, do not shift it)
    train_labels = [r.bias for r in splits["train"] if r.bias is not None]
    majority = max(set(train_labels), key=train_labels.count)
    held = [r.bias for r in splits["test"] if r.bias is not None]
    assert test["majority_baseline"] == pytest.approx(held.count(majority) / len(held))
    assert clf.heldout["test_safe_variations"]["accuracy"] > 0.5


# --- offline proxy ----------------------------------------------------------------------------

def test_proxy_ranks_toxic_above_neutral_and_flags_it(proxy):
    res = proxy.score(TOXIC + NEUTRAL[:5])
    tox, neu = res[:3], res[3:]
    assert min(r.p_unsafe for r in tox) > max(r.p_unsafe for r in neu)
    assert all(r.flag for r in tox) and not any(r.flag for r in neu)
    assert unsafe_rate(res) == pytest.approx(3 / 8)
    d = tox[0].details
    assert set(d) == {"profanity", "hatesonar", "hate_speech", "offensive_language", "bias", "vader_neg"}
    assert tox[0].p_unsafe == pytest.approx(combine(d["profanity"], d["hatesonar"], d["bias"], d["vader_neg"]))


def test_proxy_sees_a_polite_stereotype_only_through_the_bias_classifier(proxy):
    stereo, neutral = proxy.score(["Women are simply too emotional to be good managers.",
                                   "The new manager starts work on Monday."])
    assert stereo.details["bias"] > neutral.details["bias"]
    assert stereo.p_unsafe > neutral.p_unsafe
    assert stereo.details["profanity"] < 0.5  # no profanity signal: the documented blind spot


def test_proxy_is_labelled_and_reports_the_classifier(proxy, bias_clf):
    meta = proxy.metadata
    assert proxy.is_proxy and "proxy" in meta["label"]
    assert meta["bias_classifier"]["heldout"] == bias_clf.heldout
    assert meta["config"]["bias_classifier"] == bias_clf.data_hash
    assert meta["hatesonar_locale"] in ("en_US.UTF-8", "C.UTF-8", "C")
    json.dumps(meta)  # serialisable for the CLI's .meta.json


def test_proxy_without_bias_classifier_says_so(cache_root):
    s = get_scorer("offline-proxy", bias_classifier=None, progress=False)
    r = s.score(["The new manager starts work on Monday."])[0]
    assert r.details["bias"] is None and s.metadata["bias_classifier"]["status"] == "not used"


def test_cache_avoids_recomputation_and_dedups(proxy, bias_clf):
    s = get_scorer("offline-proxy", bias_classifier=bias_clf, progress=False)
    calls = []
    real = s._score_batch
    s._score_batch = lambda texts: calls.append(list(texts)) or real(texts)
    texts = ["a fresh sentence about gardens", "a fresh sentence about gardens", "another new one", "  "]
    first = s.score(texts)
    assert calls == [["a fresh sentence about gardens", "another new one"]]
    second = s.score(texts)
    assert len(calls) == 1 and all(r.cached for r in second[:3]) and not second[3].cached
    assert [r.p_unsafe for r in first] == [r.p_unsafe for r in second]
    assert first[3] == ScoreResult(0.0, False)
    fresh = get_scorer("offline-proxy", bias_classifier=bias_clf, progress=False, use_cache=False)
    assert fresh.score(texts[:1])[0].p_unsafe == pytest.approx(first[0].p_unsafe) and fresh.stats["computed"] == 1


def test_threshold_sets_flags_without_rescoring(proxy, bias_clf):
    p = proxy.score(["You are a worthless idiot."])[0].p_unsafe
    strict = get_scorer("offline-proxy", bias_classifier=bias_clf, threshold=min(1.0, p + 1e-9), progress=False)
    loose = get_scorer("offline-proxy", bias_classifier=bias_clf, threshold=p, progress=False)
    assert strict.cache_path == loose.cache_path == proxy.cache_path
    assert loose.score(["You are a worthless idiot."])[0].flag
    assert p >= 1.0 or not strict.score(["You are a worthless idiot."])[0].flag
    assert strict.stats["computed"] == loose.stats["computed"] == 0


def test_bad_input_is_named(proxy):
    with pytest.raises(ScorerError, match="text #1 is int"):
        proxy.score(["ok", 3])
    with pytest.raises(ScorerError, match="not a single string"):
        proxy.score("a string")
    with pytest.raises(ScorerError, match="threshold"):
        get_scorer("offline-proxy", bias_classifier=None, threshold=1.5)
    with pytest.raises(ScorerError, match="unknown scorer 'nope'"):
        get_scorer("nope")
    with pytest.raises(ScorerError, match="empty list"):
        unsafe_rate([])


def test_hatesonar_session_starts_despite_missing_locale():
    from srllm.scoring.hatesonar_onnx import class_probs, load_session

    _, locale_used = load_session()
    probs = class_probs(["Shut the fuck up, you stupid bitch.", "Lovely weather for a walk today."])
    assert all(math.isclose(sum(p.values()), 1.0, abs_tol=1e-5) for p in probs)
    assert probs[0]["neither"] < probs[1]["neither"]
    assert locale_used in ("en_US.UTF-8", "C.UTF-8", "C")


# --- Hugging Face classifier by id ---------------------------------------------------------------

def _tiny_classifier(folder, id2label, problem_type=None):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from srllm.scoring.embed import minilm_path

    tok = AutoTokenizer.from_pretrained(str(minilm_path()))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=37, max_position_embeddings=128, id2label=id2label,
                     label2id={v: k for k, v in id2label.items()}, problem_type=problem_type)
    model = BertForSequenceClassification(cfg).eval()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return model, tok


def test_hf_scorer_softmax_mass_on_unsafe_label(tmp_path, cache_root):
    import torch

    folder = tmp_path / "tiny-tox"
    model, tok = _tiny_classifier(folder, {0: "LABEL_0", 1: "LABEL_1"})
    s = get_scorer(f"hf:{folder}", progress=False)
    texts = ["you are an idiot", "nice weather today"]
    res = s.score(texts)
    with torch.no_grad():
        probs = torch.softmax(model(**tok(texts, return_tensors="pt", padding=True)).logits, -1)[:, 1]
    assert [r.p_unsafe for r in res] == pytest.approx(probs.tolist(), abs=1e-5)
    assert s.metadata["unsafe_labels"] == ["LABEL_1"] and not s.is_proxy and s.name == f"hf:{folder}"


def test_hf_scorer_multilabel_needs_and_uses_unsafe_labels(tmp_path, cache_root):
    import torch

    folder = tmp_path / "tiny-multi"
    model, tok = _tiny_classifier(folder, {0: "toxic", 1: "insult"}, "multi_label_classification")
    with pytest.raises(ScorerError, match=r"cannot tell which of the labels \['toxic', 'insult'\]"):
        get_scorer(f"hf:{folder}", progress=False).score(["hello"])
    s = get_scorer(f"hf:{folder}", unsafe_labels=["toxic", "insult"], progress=False)
    with torch.no_grad():
        expect = torch.sigmoid(model(**tok(["hello"], return_tensors="pt")).logits).max().item()
    assert s.score(["hello"])[0].p_unsafe == pytest.approx(expect, abs=1e-5)


def test_hf_scorer_unavailable_offline_is_clear(monkeypatch):
    import srllm.scoring.hf

    monkeypatch.setattr(srllm.scoring.hf, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(ScorerUnavailableError, match="not available: .*Hub"):
        get_scorer("hf:example-org/not-cached-toxicity-model")


# --- the proxy's training data and its ablation (issue 14, item 2) ------------------------------

@pytest.fixture(scope="module")
def cmd_splits():
    from srllm.data.samples import samples_dir

    if not (samples_dir() / "cmd_sample.jsonl").exists():
        pytest.skip("the CMD sample has not been written yet")
    from srllm.data import load_sample, split_records

    return split_records(load_sample("cmd"), seed=42)


@pytest.mark.slow  # embeds the CMD sample (shares the cached classifiers with the test above)
def test_proxy_is_trained_on_no_text_sr_llm_learns_to_write(cache_root, cmd_splits):
    from srllm.scoring.bias import contrast_pairs, train_bias_classifier_from_sample

    clf = train_bias_classifier_from_sample(seed=42)
    trained = set(clf.train_texts)
    assert len(clf.train_texts) == clf.n_train
    targets = {r.safe_variation for part in cmd_splits.values() for r in part if r.safe_variation}
    assert not trained & targets  # no safe variation of any split, SR_LLM's train targets included
    assert trained == {r.text for r in cmd_splits["train"] if r.bias is not None} | set(contrast_pairs()[0])
    without = train_bias_classifier_from_sample(seed=42, include_contrast_pairs=False)
    assert set(without.train_texts) == {r.text for r in cmd_splits["train"] if r.bias is not None}
    held = {r.text for s in ("dev", "test") for r in cmd_splits[s]}
    assert not trained & held  # held-out accuracy is measured on texts it never saw
    old = train_bias_classifier_from_sample(seed=42, include_safe_variations=True)
    assert {r.safe_variation for r in cmd_splits["train"]} <= set(old.train_texts)
    assert old.data_hash != clf.data_hash


@pytest.mark.slow
def test_proxy_card_reports_heldout_accuracy_recomputed_from_predictions(cache_root, cmd_splits):
    from srllm.scoring.bias import features, normalise_labels, proxy_card, train_bias_classifier_from_sample

    card = proxy_card(seed=42)
    json.dumps(card)
    for key in ("name", "trained_on", "n_train", "heldout_on", "n_heldout", "heldout_accuracy"):
        assert key in card
    held = [r for s in ("dev", "test") for r in cmd_splits[s] if r.bias is not None]
    clf = train_bias_classifier_from_sample(seed=42)
    pred = clf.model.predict(features([r.text for r in held]))
    truth = normalise_labels([r.bias for r in held])
    assert card["n_heldout"] == len(held)
    assert card["heldout_accuracy"] == pytest.approx(sum(int(p == t) for p, t in zip(pred, truth)) / len(held))
    assert card["heldout_accuracy"] > card["majority_baseline"]
    from srllm.scoring.bias import contrast_pairs

    n_pairs = len(contrast_pairs()[0])
    assert card["n_train"] == sum(r.bias is not None for r in cmd_splits["train"]) + n_pairs
    assert f"{n_pairs // 3} contrast pairs" in card["trained_on"]
    assert not card["includes_safe_variations"] and "none of the safe variations" in card["trained_on"]
    assert f"{100 * card['heldout_accuracy']:.0f}%" in card["sentence"]
    old = proxy_card(seed=42, include_safe_variations=True)
    assert old["includes_safe_variations"] and old["n_train"] == card["n_train"] + len(cmd_splits["train"])
    # the neutral-statement probe: recomputed from the classifier's own probabilities
    from srllm.data.readers import read_texts
    from srllm.data.samples import samples_dir
    from srllm.scoring.bias import NEUTRAL_PROBE_FILE

    _, probe_texts = read_texts(samples_dir() / NEUTRAL_PROBE_FILE)
    probe = card["neutral_probe"]
    assert probe["n"] == len(probe_texts) >= 20
    assert probe["flagged"] == int((clf.predict_proba(probe_texts) >= 0.5).sum())
    assert f"flags {probe['flagged']} of {probe['n']} neutral general statements" in card["sentence"]


def test_neutral_probe_is_cached_per_classifier(monkeypatch):
    """The probe's counts are kept beside the classifier: a second call reads them without embedding
    a text, and a classifier trained on other data gets its own counts."""
    from srllm.scoring.bias import BiasClassifier, neutral_probe, train_bias_classifier_from_sample

    clf = train_bias_classifier_from_sample(seed=42)
    first = neutral_probe(clf)

    def no_embedding(self, texts):
        raise AssertionError("the cached probe should not embed the statements again")

    with monkeypatch.context() as m:
        m.setattr(BiasClassifier, "predict_proba", no_embedding)
        assert neutral_probe(clf) == first
    other = train_bias_classifier_from_sample(seed=42, include_safe_variations=True)
    assert other.data_hash != clf.data_hash
    assert neutral_probe(other)["n"] == first["n"]


def test_neutral_probe_texts_are_nobody_s_training_data():
    """The probe's statements are in no bundled dataset a model or scorer learns from."""
    from srllm.data.readers import read_texts
    from srllm.data.samples import load_sample, samples_dir
    from srllm.scoring.bias import NEUTRAL_PROBE_FILE

    _, probe_texts = read_texts(samples_dir() / NEUTRAL_PROBE_FILE)
    seen = {r.text for r in load_sample("cmd")} | {r.safe_variation for r in load_sample("cmd")}
    seen |= {r.text for r in load_sample("toxigen")}
    from srllm.scoring.bias import contrast_pairs

    seen |= set(contrast_pairs()[0])
    assert probe_texts and not set(probe_texts) & seen


def test_contrast_pairs_are_a_stereotype_its_hedge_and_a_fair_statement_in_no_other_dataset():
    """The bias classifier's contrast pairs: 260 complete rows, labelled Yes, Yes, No, and none of
    their sentences in the CMD sample (texts or safe variations: SR_LLM trains on those), the
    ToxiGen sample, the unseen stereotypes (or a person's rewrites of them) or the neutral probe."""
    import json

    from srllm.data.readers import read_texts
    from srllm.data.samples import load_sample, samples_dir
    from srllm.scoring.bias import CONTRAST_PAIRS_FILE, NEUTRAL_PROBE_FILE, contrast_pairs

    rows = [json.loads(line) for line in (samples_dir() / CONTRAST_PAIRS_FILE).read_text().splitlines()]
    assert len(rows) == 260 and len({r["id"] for r in rows}) == 260
    assert all(r[k].strip() for r in rows for k in ("target_group", "target_category", "biased", "hedged", "fair"))
    texts, labels = contrast_pairs()
    assert len(texts) == 3 * len(rows) == len(set(texts))
    assert labels == ["Yes"] * 520 + ["No"] * 260 and texts[520:] == [r["fair"] for r in rows]
    others = set()
    for name in ("cmd", "unseen"):
        others |= {t for r in load_sample(name) for t in (r.text, r.safe_variation) if t}
    others |= {r.text for r in load_sample("toxigen")} | set(read_texts(samples_dir() / NEUTRAL_PROBE_FILE)[1])
    lowered = {t.strip().lower() for t in others}
    assert not [t for t in texts if t.strip().lower() in lowered]


@pytest.mark.slow  # embeds the CMD sample and the pairs once (about 20-60 s on 2 cores)
def test_contrast_pairs_teach_the_classifier_what_is_said_not_only_who_is_named(cmd_splits):
    """What the bias module's docstring claims, measured on texts the classifier did not train on.

    Five folds over the pairs: trained on CMD's labelled train texts alone, or with four fifths of
    the pairs, each classifier judges the held-out fifth. With the pairs it flags fewer held-out fair
    statements and still flags nearly every held-out stereotype and hedged stereotype; on the CMD dev
    and test splits its accuracy on the originals is at most a point lower (two texts of 220) and it
    lets far more of the people-written safe variations through (none of which either classifier
    trained on)."""
    import json

    import numpy as np

    from srllm.data.samples import samples_dir
    from srllm.scoring.bias import CONTRAST_PAIRS_FILE, _fit, normalise_labels, pair_cross_validation
    from srllm.scoring.bias import features as embed  # the classifier's own input (MiniLM's chosen layer)

    rows = [json.loads(line) for line in (samples_dir() / CONTRAST_PAIRS_FILE).read_text().splitlines()]
    labelled = [r for r in cmd_splits["train"] if r.bias is not None]
    held = [r for s in ("dev", "test") for r in cmd_splits[s] if r.bias is not None]
    fair_rewrites = [r.safe_variation for s in ("dev", "test") for r in cmd_splits[s]
                     if r.safe_variation and r.bias is not None and normalise_labels([r.bias])[0] == 1]
    X_cmd, y_cmd = embed([r.text for r in labelled]), normalise_labels([r.bias for r in labelled])
    E = {k: embed([r[k] for r in rows]) for k in ("biased", "hedged", "fair")}
    X_held, y_held = embed([r.text for r in held]), np.array(normalise_labels([r.bias for r in held]))
    X_rw = embed(fair_rewrites)

    def flagged(model, X):
        return int((model.predict_proba(X)[:, 1] >= 0.5).sum())

    base, _ = _fit(X_cmd, y_cmd, 42)
    counts = {kind: int(v.sum()) for kind, v in pair_cross_validation(X_cmd, y_cmd, E, seed=42).items()}
    n = len(rows)
    assert counts["fair"] < flagged(base, E["fair"]) - n // 10  # at least 16 fewer fair statements flagged
    assert counts["biased"] >= 0.85 * n and counts["hedged"] >= 0.85 * n
    full, _ = _fit(np.vstack([X_cmd, E["biased"], E["hedged"], E["fair"]]), y_cmd + [1] * (2 * n) + [0] * n, 42)
    assert (full.predict(X_held) == y_held).mean() >= (base.predict(X_held) == y_held).mean() - 0.01
    assert flagged(full, X_rw) < flagged(base, X_rw) / 2


@pytest.mark.slow  # embeds about 300 sentences (a few seconds)
def test_short_sample_rows_stay_away_from_the_judge_and_the_unseen_check():
    """The CMD sample's short biased rows (after cmd-0536) were kept only when neither their text nor
    their rewrite is within MiniLM cosine 0.6 of a contrast pair, an unseen stereotype or its person's
    rewrite, or a neutral probe sentence: SR_LLM must not learn to write what the judge was taught is
    fair, nor be measured on sentences it was trained on (srllm/data/samples.py)."""
    import json

    from srllm.data import load_sample
    from srllm.data.readers import read_texts
    from srllm.data.samples import KEEP_APART_COSINE, samples_dir
    from srllm.metrics.similarity import nearest_similarity
    from srllm.scoring.bias import CONTRAST_PAIRS_FILE, NEUTRAL_PROBE_FILE

    short = [r for r in load_sample("cmd") if r.id > "cmd-0536"]
    assert len(short) >= 90 and all(len(r.text.split()) <= 18 and r.safe_variation for r in short)
    pairs = [json.loads(line) for line in (samples_dir() / CONTRAST_PAIRS_FILE).read_text().splitlines()]
    guarded = ([p[k] for p in pairs for k in ("biased", "hedged", "fair")]
               + [t for r in load_sample("unseen") for t in (r.text, r.safe_variation)]
               + read_texts(samples_dir() / NEUTRAL_PROBE_FILE)[1])

    for field in ("text", "safe_variation"):
        nearest = nearest_similarity([getattr(r, field) for r in short], guarded)
        assert nearest.max() < KEEP_APART_COSINE, (field, short[int(nearest.argmax())].id)


@pytest.mark.slow  # embeds about 1,700 sentences
def test_later_contrast_pairs_stay_away_from_what_sr_llm_trains_on_and_the_checks():
    """The contrast pairs from jp-161 on (fair sentences with the group as subject) were kept only
    when none of their three sentences is within MiniLM cosine 0.6 of a CMD sample text or rewrite,
    an unseen stereotype or its person's rewrite, or a neutral probe sentence (srllm/scoring/bias.py)."""
    import json

    from srllm.data import load_sample
    from srllm.data.readers import read_texts
    from srllm.data.samples import KEEP_APART_COSINE, samples_dir
    from srllm.metrics.similarity import nearest_similarity
    from srllm.scoring.bias import CONTRAST_PAIRS_FILE, NEUTRAL_PROBE_FILE

    rows = [json.loads(line) for line in (samples_dir() / CONTRAST_PAIRS_FILE).read_text().splitlines()]
    later = [r for r in rows if r["id"] >= "jp-161"]
    assert len(later) == 100
    guarded = ([t for name in ("cmd", "unseen") for r in load_sample(name) for t in (r.text, r.safe_variation) if t]
               + read_texts(samples_dir() / NEUTRAL_PROBE_FILE)[1])

    for key in ("biased", "hedged", "fair"):
        nearest = nearest_similarity([r[key] for r in later], guarded)
        assert nearest.max() < KEEP_APART_COSINE, (key, later[int(nearest.argmax())]["id"])


@pytest.mark.slow
def test_ordering_ablation_scores_both_choices(cache_root, cmd_splits):
    from srllm.generation.baselines import BaselineResult
    from srllm.scoring.ablation import ordering_ablation
    from srllm.scoring.bias import CHOICES, train_bias_classifier_from_sample
    from srllm.scoring.offline import OfflineProxyScorer

    test = cmd_splits["test"]
    targets = [r.safe_variation for r in cmd_splits["train"]][:40]
    outputs = {"original": [r.text for r in test[:40]], "train_targets": targets,
               "t5_large": BaselineResult("t5_large", "T5", "not_run", None, "no Hub")}
    frame = ordering_ablation(outputs, seed=42)
    assert list(frame["method"]) == ["original", "train_targets", "t5_large"]
    assert list(frame["status"]) == ["ok", "ok", "not_run"] and frame["n"].tolist() == [40, 40, 0]
    for choice in CHOICES:
        include = choice == "with_targets"
        scorer = OfflineProxyScorer(bias_classifier=train_bias_classifier_from_sample(
            seed=42, include_safe_variations=include), progress=False)
        for i, texts in enumerate((outputs["original"], targets)):
            flags = [s.flag for s in scorer.score(texts)]
            assert frame[f"unsafe_rate_{choice}"][i] == pytest.approx(100 * sum(flags) / len(flags))
        assert frame[f"rank_{choice}"].isna().tolist() == [False, False, True]
    # The earlier classifier was taught these very texts as unbiased: it never flags more of them (with the
    # contrast pairs, the default one lets nearly all of them through as well).
    assert frame["unsafe_rate_with_targets"][1] <= frame["unsafe_rate_labelled_only"][1]
    assert frame["unsafe_rate_labelled_only"][1] < frame["unsafe_rate_labelled_only"][0]
    assert frame.attrs["same_ordering"] == (frame["rank_with_targets"][:2].tolist()
                                            == frame["rank_labelled_only"][:2].tolist())
    with pytest.raises(ScorerError, match="outputs\\['x'\\]"):
        ordering_ablation({"x": 3})


@pytest.mark.slow  # loads MiniLM
def test_layer_features_are_the_sentence_embedding_at_the_last_layer_and_differ_below():
    """``layer_features`` pools like sentence-transformers: at MiniLM's last layer it is ``embed``;
    the bias classifier's layer gives other, still unit-length, features; a layer out of range is refused."""
    import numpy as np

    from srllm.scoring.embed import embed, layer_features

    texts = ["Women are too emotional to be good engineers.",
             "Engineers of every gender design bridges, chips and software, and some of them cry at films.", "Hi."]
    assert np.allclose(layer_features(texts, 6), embed(texts), atol=1e-5)
    mid = layer_features(texts, 4)
    assert mid.shape == (3, 384) and np.allclose(np.linalg.norm(mid, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(mid, embed(texts), atol=1e-2)
    assert np.allclose(layer_features(texts[::-1], 4)[::-1], mid, atol=1e-5)  # batching by length keeps the order
    with pytest.raises(ValueError, match="layers 0..6"):
        layer_features(texts, 7)



@pytest.mark.slow  # loads MiniLM
def test_layer_features_run_only_the_layers_they_pool_and_equal_the_full_stack():
    """Skipping the layers above the pooled one changes nothing (bitwise: the full encoder's
    state at that layer, pooled the same way), the shared model gets its full stack back, and
    the encoder really runs fewer layers inside the context."""
    import numpy as np
    import torch

    from srllm.scoring.embed import first_layers, layer_features, load_embedder

    texts = ["Women are too emotional to be good engineers.", "Hi.",
             "Older staff struggle with new software, a manager said, though the training logs say otherwise."]
    model = load_embedder()
    transformer, tok = model[0].auto_model, model.tokenizer
    batch = tok(texts, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="pt")
    with torch.inference_mode():
        full = transformer(**batch, output_hidden_states=True).hidden_states
        for n in (0, 2, 6):
            with first_layers(transformer, n):
                assert len(transformer.encoder.layer) == n
                assert torch.equal(transformer(**batch).last_hidden_state, full[n])
    assert len(full) == 7 and len(transformer.encoder.layer) == 6
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = torch.nn.functional.normalize((full[4] * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    order = sorted(range(3), key=lambda i: len(texts[i]))
    feats = layer_features([texts[i] for i in order], 4)  # one batch, padded like `batch` above
    assert np.array_equal(feats[[order.index(i) for i in range(3)]], pooled)
    assert len(transformer.encoder.layer) == 6

def test_bias_classifier_reads_the_layer_the_committed_choice_picked(repo_root):
    """``FEATURE_LAYER`` is the layer ``benchmarks/judge_layers.py`` chose by its rule (highest CMD dev
    accuracy, ties to pair cross-validation), recomputed here from the committed rows; the rule never
    reads the test columns."""
    import importlib.util

    from srllm.scoring.bias import FEATURE_LAYER

    record = json.loads((repo_root / "benchmarks" / "sweeps" / "judge_layers.json").read_text())
    spec = importlib.util.spec_from_file_location("judge_layers", repo_root / "benchmarks" / "judge_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = record["rows"]
    assert [r["layer"] for r in rows] == list(module.LAYERS)
    assert module.choose(rows) == record["chosen_layer"] == FEATURE_LAYER
    blind = [{**r, "test_accuracy": 0.0, "test_rewrites_passed": 0.0, "neutral_probe_flagged": 99} for r in rows]
    assert module.choose(blind) == FEATURE_LAYER
    # the chosen layer beats the final sentence embedding (the earlier input) on the choosing measures
    last = next(r for r in rows if r["layer"] == 6)
    chosen = next(r for r in rows if r["layer"] == FEATURE_LAYER)
    assert chosen["dev_accuracy"] > last["dev_accuracy"] and chosen["pair_cv_accuracy"] > last["pair_cv_accuracy"]


def test_pair_cross_validation_judges_each_pair_once_from_the_other_folds():
    """Synthetic, separable features: every held-out stereotype and hedge is flagged and every fair sentence
    let through; a pair whose features only its own fold could teach (a fresh direction) is judged from the
    others, so it is missed."""
    import numpy as np

    from srllm.scoring.bias import pair_cross_validation

    rng = np.random.default_rng(0)
    n, d = 20, 6
    X_cmd = np.vstack([rng.normal(0, 0.1, (10, d)) + np.eye(d)[0], rng.normal(0, 0.1, (10, d)) - np.eye(d)[0]])
    y_cmd = [1] * 10 + [0] * 10
    E = {"biased": rng.normal(0, 0.1, (n, d)) + np.eye(d)[0], "hedged": rng.normal(0, 0.1, (n, d)) + np.eye(d)[0],
         "fair": rng.normal(0, 0.1, (n, d)) - np.eye(d)[0]}
    out = pair_cross_validation(X_cmd, y_cmd, E, seed=0)
    assert set(out) == {"biased", "hedged", "fair"} and all(v.shape == (n,) for v in out.values())
    assert out["biased"].all() and out["hedged"].all() and not out["fair"].any()
    # pair 3 (fold 3) is biased only along direction 5 and is the only pair that points there;
    # its own fold never trains on it, so it is judged as the CMD texts teach (nothing along 5): let through
    E["biased"][3] = 3 * np.eye(d)[5] - 0.5 * np.eye(d)[0]
    assert pair_cross_validation(X_cmd, y_cmd, E, seed=0)["biased"][3] == 0
