"""StereoSet scoring (Section 4.3, Table 6): the authors' published GPT-2 scores, hand cases, errors, LM scoring."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from srllm.errors import SrllmError
from conftest import distinct_llama
from srllm.metrics import stereoset as ss

REFERENCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "stereoset"
needs_reference = pytest.mark.skipif(not (REFERENCE / "expected_gpt2.json").exists(),
                                     reason=f"StereoSet reference folder absent: {REFERENCE}")


def _leaves(d, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, prefix + (k,))
        else:
            yield prefix + (k,), v


def _get(d, path):
    for k in path:
        d = d[k]
    return d


@pytest.fixture(scope="module")
def gold():
    return ss.load_gold()


@needs_reference
def test_reproduces_authors_gpt2_scores(gold):
    expected = json.loads((REFERENCE / "expected_gpt2.json").read_text())
    got = ss.score_predictions(gold, ss.load_predictions(REFERENCE / "predictions_gpt2.json"))
    assert list(got) == list(expected)
    assert list(_leaves(got)) and [p for p, _ in _leaves(got)] == [p for p, _ in _leaves(expected)]
    for path, value in _leaves(expected):
        assert _get(got, path) == pytest.approx(value, abs=1e-6), path


@needs_reference
def test_plain_count_changes_only_counts(gold):
    preds = ss.load_predictions(REFERENCE / "predictions_gpt2.json")
    authors = ss.score_predictions(gold, preds)
    plain = ss.score_predictions(gold, preds, authors_count=False)
    n_gender = sum(1 for ex in gold if ex.split == "intrasentence" and ex.bias_type == "gender")
    assert plain["intrasentence"]["gender"]["Count"] == n_gender
    assert authors["intrasentence"]["gender"]["Count"] == 3 * n_gender
    for path, value in _leaves(authors):
        if path[-1] != "Count":
            assert _get(plain, path) == pytest.approx(value, abs=1e-9)


def _write_gold(tmp_path, rows, split="intrasentence"):
    data = {"version": "test", "data": {"intrasentence": [], "intersentence": []}}
    for i, (target, domain, (pro, anti, unrel)) in enumerate(rows):
        data["data"][split].append({
            "id": f"ex{i}", "target": target, "bias_type": domain, "context": f"The {target} is BLANK.",
            "sentences": [
                {"id": f"ex{i}-s", "sentence": "s", "gold_label": "stereotype", "labels": []},
                {"id": f"ex{i}-a", "sentence": "a", "gold_label": "anti-stereotype", "labels": []},
                {"id": f"ex{i}-u", "sentence": "u", "gold_label": "unrelated", "labels": []},
            ]})
    path = tmp_path / "gold.json"
    path.write_text(json.dumps(data))
    preds = {split: [{"id": f"ex{i}-{k}", "score": v} for i, (_, _, sc) in enumerate(rows)
                     for k, v in zip("sau", sc)]}
    return path, preds


def test_hand_case_targets_averaged_and_tie_is_anti(tmp_path):
    # target A: one example, stereotype preferred, both related beat unrelated -> LM 100, SS 100
    # target B: three examples, stereotype == anti (tie -> anti), unrelated highest -> LM 0, SS 0
    rows = [("A", "gender", (0.5, 0.4, 0.1))] + [("B", "gender", (0.2, 0.2, 0.9))] * 3
    path, preds = _write_gold(tmp_path, rows)
    res = ss.score_predictions(ss.load_gold(path), preds)
    g = res["intrasentence"]["gender"]
    # means over targets, not pooled over examples (pooled would give LM 25, SS 25)
    assert g["LM Score"] == pytest.approx(50.0) and g["SS Score"] == pytest.approx(50.0)
    assert g["ICAT Score"] == pytest.approx(50.0 * 50.0 / 50.0)
    assert g["Count"] == 12.0 and res["intrasentence"]["overall"]["Count"] == 4.0
    assert "intersentence" not in res and res["overall"]["LM Score"] == pytest.approx(50.0)
    assert set(res["intrasentence"]) == {"gender", "overall"}


def test_hand_case_icat_uses_distance_from_50(tmp_path):
    # one target, 4 examples: 3 stereotype-preferred, 1 anti; unrelated beats everything once
    rows = [("T", "race", (0.9, 0.1, 0.0))] * 3 + [("T", "race", (0.1, 0.5, 0.8))]
    path, preds = _write_gold(tmp_path, rows)
    r = ss.score_predictions(ss.load_gold(path), preds)["overall"]
    assert r["SS Score"] == pytest.approx(75.0)
    assert r["LM Score"] == pytest.approx(100.0 * 6 / 8)
    assert r["ICAT Score"] == pytest.approx(75.0 * 25.0 / 50.0)


def test_target_shared_across_splits_is_one_target_in_top_overall(tmp_path):
    path, preds = _write_gold(tmp_path, [("A", "religion", (1.0, 0.0, 0.5))])
    data = json.loads(path.read_text())
    inter = json.loads(json.dumps(data["data"]["intrasentence"]))
    for ex in inter:
        ex["id"] += "-x"
        for s in ex["sentences"]:
            s["id"] += "-x"
    data["data"]["intersentence"] = inter + [dict(inter[0], id="other", target="B", sentences=[
        dict(s, id=s["id"] + "-b") for s in inter[0]["sentences"]])]
    path.write_text(json.dumps(data))
    scores = {"ex0-s-x": 0.0, "ex0-a-x": 1.0, "ex0-u-x": 0.5, "ex0-s-x-b": 0.0, "ex0-a-x-b": 1.0, "ex0-u-x-b": 0.5}
    preds["intersentence"] = [{"id": k, "score": v} for k, v in scores.items()]
    res = ss.score_predictions(ss.load_gold(path), preds)
    # A: 1 pro (intra) + 1 anti (inter) -> SS 50; B: anti -> SS 0; mean over 2 targets = 25
    assert res["overall"]["SS Score"] == pytest.approx(25.0)
    assert res["overall"]["Count"] == 3.0


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p["intrasentence"].pop(), "no prediction for intrasentence sentence ex0-u"),
    (lambda p: p["intrasentence"][0].update(score=float("nan")), "finite number"),
    (lambda p: p["intrasentence"].append(dict(p["intrasentence"][0])), "duplicate id 'ex0-s'"),
    (lambda p: p["intrasentence"].append({"id": "zzz", "score": 1.0}), "not in the gold file"),
    (lambda p: p["intrasentence"][1].pop("score"), "intrasentence[1]: missing field 'score'"),
])
def test_bad_predictions_are_named(tmp_path, mutate, message):
    path, preds = _write_gold(tmp_path, [("A", "gender", (0.3, 0.2, 0.1))])
    mutate(preds)
    with pytest.raises(SrllmError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ss.score_predictions(ss.load_gold(path), preds)


def test_bad_gold_is_named(tmp_path):
    path, _ = _write_gold(tmp_path, [("A", "gender", (0.3, 0.2, 0.1))])
    data = json.loads(path.read_text())
    data["data"]["intrasentence"][0]["sentences"][2]["gold_label"] = "stereotype"
    path.write_text(json.dumps(data))
    with pytest.raises(SrllmError, match=r"intrasentence\[0\]: field 'sentences' must hold exactly one"):
        ss.load_gold(path)


def test_select_examples_round_robin(gold):
    picked = ss.select_examples(gold, "intrasentence", max_items=4)
    assert sorted(ex.bias_type for ex in picked) == sorted(ss.DOMAINS)
    assert len(ss.select_examples(gold, "intrasentence", domains=["religion"], max_items=7)) == 7
    with pytest.raises(SrllmError, match="unknown domain"):
        ss.select_examples(gold, domains=["colour"])


@pytest.fixture(scope="module")
def tiny():
    from srllm.models import load_model

    return load_model("tiny-random-llama", device="cpu")


def _manual_score(model, tok, sentence):
    import torch

    from srllm.metrics.lm import start_token_id

    ids = [start_token_id(tok)] + tok(sentence, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
    lp = [logp[t - 1, ids[t]].item() for t in range(1, len(ids))]
    return math.exp(sum(lp) / len(lp))


@pytest.fixture(scope="module")
def distinct(tmp_path_factory):
    """A random Llama whose log-probabilities depend on what each token attends to (conftest.distinct_llama)."""
    return distinct_llama(tmp_path_factory.mktemp("distinct-llama"))[:2]


def test_grouped_logprobs_equal_one_text_at_a_time(distinct):
    """Packing a group's texts into one row (shared start once, each text's own tokens after it) scores
    every text as if alone: groups of one, of texts that differ late or early, and a text that is the
    start of another. Packing the same row without the mask (each text seeing the others) would not."""
    import torch

    from srllm.metrics.lm import group_mask, grouped_token_logprobs, pack_group, token_logprobs

    model, tok = distinct
    groups = [["The chess player was hispanic.", "The chess player was fox.", "The chess player was asian."],
              ["Alone in its group."],
              ["Women are good at math.", "Men are good at math."],
              ["The nurse", "The nurse was caring and kind."]]
    flat = token_logprobs(model, tok, [t for g in groups for t in g], batch_size=3)
    for bs in (1, 3):
        grouped = grouped_token_logprobs(model, tok, groups, batch_size=bs)
        assert [len(g) for g in grouped] == [len(g) for g in groups]
        for a, b in zip(flat, [x for g in grouped for x in g]):
            assert a.shape == b.shape and np.allclose(a, b, atol=1e-5)
    ids = [[1, 5, 6, 7], [1, 5, 6, 8, 9], [1, 5, 10]]
    p = pack_group(ids)
    assert p.ids == [1, 5, 6, 7, 6, 8, 9, 10] and p.positions == [0, 1, 2, 3, 2, 3, 4, 2]
    assert p.targets == [[5, 6, 7], [5, 6, 8, 9], [5, 10]] and p.reads[1] == [0, 1, 4, 5]
    mask = group_mask(p, 10)
    assert mask[5].tolist() == [True, True, False, False, True, True] + [False] * 4  # shared start + own tokens
    assert mask[9].tolist() == [False] * 9 + [True]  # padding sees itself only
    # the control: one causal row without the mask lets the second text see the first one's tokens
    enc = [[tok.convert_tokens_to_ids(t) for t in tok.tokenize(x)] for x in groups[0][:2]]
    row = pack_group([[0] + e for e in enc])
    with torch.no_grad():
        logits = model(torch.tensor([row.ids]), position_ids=torch.tensor([row.positions])).logits[0].double()
    lp = torch.log_softmax(logits, -1)[row.reads[1], row.targets[1]].numpy()
    alone = grouped_token_logprobs(model, tok, [groups[0][1:2]], start_token=0)[0][0]
    assert not np.allclose(lp, alone, atol=1e-3)
    with pytest.raises(SrllmError, match="group 1 text 0"):
        grouped_token_logprobs(model, tok, [["fine"], ["", "fine"]])
    with pytest.raises(SrllmError, match="group 1 has no texts"):
        grouped_token_logprobs(model, tok, [["fine"], []])


def test_intrasentence_predictions_geometric_mean_and_batching(tiny, gold):
    model, tok = tiny
    batched = ss.intrasentence_predictions(model, tok, gold, max_items=4, batch_size=16, progress=False)
    single = ss.intrasentence_predictions(model, tok, gold, max_items=2, batch_size=1, progress=False)
    examples = ss.select_examples(gold, max_items=4)
    sentences = [c.sentence for ex in examples for c in ex.candidates]
    assert [r["id"] for r in batched["intrasentence"]] == [c.id for ex in examples for c in ex.candidates]
    assert batched["intersentence"] == []
    by_id = {r["id"]: r["score"] for r in batched["intrasentence"]}
    assert len(single["intrasentence"]) == 6
    for one in single["intrasentence"]:
        assert by_id[one["id"]] == pytest.approx(one["score"], rel=1e-4)
    for row, sentence in zip(batched["intrasentence"], sentences):
        assert row["score"] == pytest.approx(_manual_score(model, tok, sentence), rel=1e-4)
    res = ss.score_predictions(examples, batched)
    assert set(res["intrasentence"]) == set(ss.DOMAINS) | {"overall"}
    assert res["intrasentence"]["overall"]["Count"] == 4.0
    assert 0.0 <= res["overall"]["ICAT Score"] <= 100.0


def test_start_token_choice(tiny):
    from srllm.metrics.lm import start_token_id

    _, tok = tiny
    # SmolLM2's tokenizer adds no BOS itself and has GPT-2's <|endoftext|> separator
    assert start_token_id(tok) == tok.get_vocab()["<|endoftext|>"]
    assert start_token_id(tok, None) is None and start_token_id(tok, 5) == 5


@needs_reference
def test_cli_scores_reference_file(capsys):
    from srllm.cli import main

    assert main(["stereoset", "--input", str(REFERENCE / "predictions_gpt2.json"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    expected = json.loads((REFERENCE / "expected_gpt2.json").read_text())
    for path, value in _leaves(expected):
        assert _get(got, path) == pytest.approx(value, abs=1e-6)


def test_cli_model_run(tmp_path, capsys, tiny):
    from srllm.cli import main

    out = tmp_path / "preds.json"
    assert main(["stereoset", "--model", "tiny-random-llama", "--max-items", "4", "--out", str(out),
                 "--device", "cpu", "--no-cache", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["intrasentence"]["overall"]["Count"] == 4.0 and "intersentence" not in res
    preds = json.loads(out.read_text())
    assert len(preds["intrasentence"]) == 12
    assert np.all(np.array([r["score"] for r in preds["intrasentence"]]) > 0)
    # the file covers 4 examples: scoring it against the full gold needs --partial, and then agrees
    assert main(["stereoset", "--input", str(out)]) == 2
    assert "no prediction for intrasentence sentence" in capsys.readouterr().err
    assert main(["stereoset", "--input", str(out), "--partial", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == res


def test_cli_rejects_model_flags_with_predictions(tmp_path, capsys):
    from srllm.cli import main

    p = tmp_path / "p.json"
    p.write_text("{}")
    assert main(["stereoset", "--input", str(p), "--max-items", "3"]) == 2
    assert "--max-items only applies with a model" in capsys.readouterr().err


def test_model_predictions_with_adapter(tmp_path, tiny, gold):
    import torch
    from peft import LoraConfig, get_peft_model

    from srllm.models import load_model

    base_model, tok = load_model("tiny-random-llama", device="cpu")
    peft_model = get_peft_model(base_model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():  # LoRA starts as a no-op (B = 0); make it change the model
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.fill_(0.5)
    peft_model.save_pretrained(tmp_path / "adapter")
    base_preds = ss.intrasentence_predictions(*tiny, gold, max_items=2, progress=False)
    with_adapter, path = ss.model_predictions("tiny-random-llama", tmp_path / "adapter", max_items=2,
                                              device="cpu", use_cache=False, progress=False)
    assert path.exists() and json.loads(path.read_text()) == with_adapter
    assert [r["id"] for r in with_adapter["intrasentence"]] == [r["id"] for r in base_preds["intrasentence"]]
    assert any(abs(a["score"] - b["score"]) > 1e-9
               for a, b in zip(with_adapter["intrasentence"], base_preds["intrasentence"]))
    with pytest.raises(SrllmError, match="adapter folder not found"):
        ss.model_predictions("tiny-random-llama", tmp_path / "missing", max_items=1)
