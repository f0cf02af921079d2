"""The ``gedit`` metric (GEdit-Bench's VIEScore protocol): its prompts, its arithmetic against hand-computed values,
and scores through ``transformers serve`` on the tiny Qwen2.5-VL (127.0.0.1), in a request and in a run's eval."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
import torch
from PIL import Image

from tests_support import REPO, TINY, TOY_RECIPE
from editrl.interfaces import RewardInputs
from editrl_judges.editscore_prompts import VIESCORE_CONTEXT, pq_prompt, sc_prompt
from editrl_judges.gedit import GEdit, GEditConfig, gedit_row
from editrl_judges.parsing import clip_scores

RECIPE = REPO / "recipes" / "eval" / "gedit_flux.yaml"


def rows(M: int = 3, size: int = 40) -> RewardInputs:
    g = torch.Generator().manual_seed(0)
    return RewardInputs(
        tasks=["subject-add", "color_alter", "subject-remove"][:M], images=torch.rand(M, 3, size, size, generator=g),
        source=torch.rand(M, 3, size, size, generator=g), instructions=[f"add a hat number {i}" for i in range(M)],
    )  # fmt: skip


def test_requests_follow_gedit_text_first_sc_with_both_images_pq_with_the_edit():
    bodies = GEdit(GEditConfig(model="m")).bodies(rows(2))
    assert len(bodies) == 4  # row-major: SC, PQ of row 0, then of row 1
    sc, pq = (b["messages"][0]["content"] for b in bodies[2:])
    assert [p["type"] for p in sc] == ["text", "image_url", "image_url"]  # VIEScore's prepare_prompt: text first
    assert [p["type"] for p in pq] == ["text", "image_url"]  # PQ sees the edited image only
    assert pq[1] == sc[2]  # ... the same edited image as SC's second
    assert bodies[0]["max_tokens"] == 1400 and bodies[0]["temperature"] == 0.0 and "logprobs" not in bodies[0]
    sc_text, pq_text = sc[0]["text"], pq[0]["text"]
    # VIEScore's context (score before reasoning) joined to its rules by one newline, on GEdit's 0–10 scale.
    context_end = '{\n"score" : [...],\n"reasoning" : "..."\n}\nRULES:\n\n'
    assert sc_text.startswith("You are a professional digital artist.") and context_end in sc_text
    assert context_end in pq_text and "IMPORTANT" not in sc_text + pq_text
    assert "Two images will be provided" in sc_text and "Two images" not in pq_text
    assert "From scale 0 to 10: \nA score from 0 to 10 will be given based on the success of the editing." in sc_text
    assert sc_text.endswith("overediting.\n\nEditing instruction: add a hat number 1\n")
    assert pq_text.endswith("Put the score in a list such that output score = [naturalness, artifacts]\n")
    assert "@R" not in sc_text + pq_text and "@I" not in sc_text


def test_prompts_are_gedit_benchs_character_for_character():
    # sha256 (first 16 hex digits) of VIEScore's "tie" prompts as Step1X-Edit's GEdit-Bench builds them
    # (@ 570eba6, viescore/__init__.py: "\n".join([_context_no_delimit, _prompts_0shot_two_image_edit_rule,
    # _prompts_0shot_tie_rule_SC]) and "\n".join([_context_no_delimit, _prompts_0shot_rule_PQ])), the SC prompt with
    # its "<instruction>" placeholder left in.
    sc = sc_prompt("<instruction>", 10, VIESCORE_CONTEXT)
    assert hashlib.sha256(sc.encode()).hexdigest()[:16] == "8f529562c2f89f8d"
    assert hashlib.sha256(pq_prompt(10, VIESCORE_CONTEXT).encode()).hexdigest()[:16] == "2473ff2c7406e065"


def test_row_arithmetic_against_hand_computed_values():
    # SC = min(8, 6) = 6, PQ = min(9, 4) = 4, O = √(6·4) = √24 = 4.898979485566356.
    row = gedit_row([8.0, 6.0], [9.0, 4.0])
    assert row["overall"] == pytest.approx(math.sqrt(24), abs=1e-12)
    assert (row["semantics"], row["quality"]) == (6.0, 4.0)
    assert (row["editing_success"], row["overediting"], row["naturalness"], row["artifacts"]) == (8.0, 6.0, 9.0, 4.0)
    # A one-entry list is its own minimum and both sub-scores: SC = 5, PQ = 0 → O = 0.
    row = gedit_row([5.0], [0.0, 7.0])
    assert row["overall"] == 0.0 and row["overediting"] == 5.0 and row["artifacts"] == 7.0
    # Out of 0–10: 12 → 10, −1 → 0, two clipped; then SC = min(10, 0) = 0.
    assert clip_scores([12.0, -1.0, 3.0], 0.0, 10.0) == ([10.0, 0.0, 3.0], 2)


def test_unknown_field_is_refused_naming_it(cli):
    result = cli("validate", TOY_RECIPE, 'eval.metrics=[{"type": "gedit", "language": "en"}]')
    assert result.exit_code == 2 and "eval.metrics.0" in result.output and "language" in result.output


def test_the_recipe_validates_on_a_gedit_export(cli, tmp_path):
    # Two GEdit-like rows exported as the recipe's edit_folder (no mask; task = GEdit's task_type).
    (tmp_path / "img").mkdir()
    Image.new("RGB", (64, 48), (10, 50, 90)).save(tmp_path / "img" / "0.png")
    line = {"source": "img/0.png", "instruction": "add a hat", "task": "subject-add", "id": "k0"}
    for split in ("train", "eval"):
        (tmp_path / f"{split}.jsonl").write_text(json.dumps(line) + "\n")
    result = cli("validate", RECIPE, f"dataset.root={tmp_path}")
    assert result.exit_code == 0, result.output
    assert "is a valid recipe" in result.output


def test_scores_through_transformers_serve(vlm_server, tiny_vlm):
    # The tiny VLM answers "[4, 3]" to both questions: SC = PQ = min(4, 3) = 3, O = √(3·3) = 3 on 0–10.
    reward = GEdit(GEditConfig(base_url=vlm_server.base_url, model=str(tiny_vlm), max_tokens=16))
    reward.load(torch.device("cpu"))
    out = reward.score(rows())
    assert out.valid_mask.all() and out.values.tolist() == [3.0] * 3
    assert out.details["semantics"].tolist() == [3.0] * 3 and out.details["quality"].tolist() == [3.0] * 3
    assert out.details["editing_success"].tolist() == [4.0] * 3 and out.details["artifacts"].tolist() == [3.0] * 3
    assert out.counters["clipped_scores"] == 0


def test_an_answer_cut_short_is_an_invalid_row_never_a_guess(vlm_server, tiny_vlm):
    # Two tokens, "[4": no score list, and generation hit max_tokens → invalid, reason "truncated" (GEdit's own
    # scorer would retry once and then guess a random 0–10).
    reward = GEdit(GEditConfig(base_url=vlm_server.base_url, model=str(tiny_vlm), max_tokens=2))
    reward.load(torch.device("cpu"))
    out = reward.score(rows())
    assert not out.valid_mask.any() and out.invalid_counts() == {"truncated": 3}
    assert torch.isnan(out.values).all() and torch.isnan(out.details["semantics"]).all()


def test_a_run_evaluates_with_gedit_and_reports_its_sub_scores(cli, vlm_server, tiny_vlm, tmp_path):
    out = tmp_path / "run"
    metric = {"type": "gedit", "base_url": vlm_server.base_url, "model": str(tiny_vlm), "max_tokens": 16}
    result = cli("run", TOY_RECIPE, *TINY, "train.steps=1", "eval.max_examples=3", f"output_dir={out}",
                 f"eval.metrics=[{json.dumps(metric)}]")  # fmt: skip
    assert result.exit_code == 0, result.output
    base, trained = json.loads((out / "eval.json").read_text())
    for res in (base, trained):
        means = res["means"]["all"]
        assert means["gedit"] == 3.0 and means["gedit/semantics"] == 3.0 and means["gedit/quality"] == 3.0
        assert means["gedit/naturalness"] == 4.0


def test_judge_check_asks_the_gedit_metric(cli, vlm_server, tiny_vlm):
    metric = {"type": "gedit", "base_url": vlm_server.base_url, "model": str(tiny_vlm), "max_tokens": 16}
    result = cli("judge", "check", TOY_RECIPE, f"eval.metrics=[{json.dumps(metric)}]")
    assert result.exit_code == 0, result.output
    assert "eval.metrics.0 gedit" in result.output and "score 3, semantics 3, quality 3" in result.output
    assert result.output.count("  sent ") == 2 and '"max_tokens": 16' in result.output  # the SC and PQ requests
