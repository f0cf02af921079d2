"""The ``imgedit`` metric (ImgEdit-Bench's basic-suite protocol): its nine prompts, reading ``<criterion>: <n>``
answers (text and logprob), its arithmetic against hand-computed values, and scores through ``transformers serve`` on
a tiny Qwen2.5-VL designed to answer in ImgEdit's format (127.0.0.1)."""

from __future__ import annotations

import hashlib
import json
import math
import re

import pytest
import torch

from editrl.errors import EditrlError
from editrl.interfaces import RewardInputs
from editrl_judges.criteria import criterion_expectations, criterion_scores
from editrl_judges.imgedit import LEVELS, ImgEdit, ImgEditConfig
from editrl_judges.imgedit_prompts import RUBRICS, imgedit_prompt
from editrl_judges.local_servers import (
    start_llama_server, start_transformers_serve, why_no_llama_cpp, why_no_transformers_serve,
)

#: sha256 (first 16 hex digits) of each type's prompt in the official ``Benchmark/Basic/prompts.json``
#: (PKU-YuanGroup/ImgEdit @ 547185d), placeholder ``<edit_prompt>`` left in: rendering it must give the same text.
OFFICIAL = {
    "replace": "113cba9c7b7ef0b6", "add": "8a653823ed956386", "adjust": "34c3ca70a7a6bd4e",
    "remove": "ce82586c25f5e8cb", "style": "0b84dfc09fc4a723", "action": "2dfb82168c6e86c9",
    "extract": "38bdeafbac4ea4f9", "background": "9bfce039169b23d6", "compose": "16f4f72a0d8db2e5",
}  # fmt: skip
#: What the designed judge answers, one vocabulary token per piece: scores 4, 2 and an out-of-range 7.
ANSWER = ["Brief reasoning: fine.", "\nPrompt Compliance: ", "4", "\nVisual Naturalness: ", "2",
          "\nPhysical & Detail Coherence: ", "7"]  # fmt: skip
ADD = ("Prompt Compliance", "Visual Naturalness", "Physical & Detail Coherence")
#: The designed GGUF's answer, step by step: {token: logit} (every other token 0), greedy → "... Compliance: 4 ...
#: Naturalness: 2 ... Coherence: 5". All five labels get a logit at a score step, so all are among the top 20.
FIRST = {"4": 5.0, "3": 4.0, "5": 3.0, "2": 2.0, "1": 1.0}
SECOND = {"2": 5.0, "1": 4.0, "3": 3.0, "4": 2.0, "5": 1.0}
LOGPROB_ANSWER = [{"Brief reasoning: fine.": 40.0}, {"\nPrompt Compliance: ": 40.0}, FIRST,
                  {"\nVisual Naturalness: ": 40.0}, SECOND, {"\nPhysical & Detail Coherence: ": 40.0}, {"5": 40.0}]


def rows(tasks: list[str], size: int = 40) -> RewardInputs:
    M = len(tasks)
    g = torch.Generator().manual_seed(0)
    return RewardInputs(
        tasks=tasks, images=torch.rand(M, 3, size, size, generator=g), source=torch.rand(M, 3, size, size, generator=g),
        instructions=[f"Add a cat number {i}" for i in range(M)],
    )  # fmt: skip


def text_choice(content: str, finish: str = "stop") -> dict:
    return {"message": {"content": content}, "finish_reason": finish}


def test_prompts_are_the_official_ones_character_for_character():
    assert list(RUBRICS) == list(OFFICIAL)
    for edit_type, digest in OFFICIAL.items():
        assert hashlib.sha256(imgedit_prompt(edit_type, "<edit_prompt>").encode()).hexdigest()[:16] == digest


def test_add_prompt_rendered():
    text = imgedit_prompt("add", "Add a cat")
    assert text.startswith("\nYou are a data rater specializing in grading image addition edits. You will be given")
    assert "\n\nPrompt Compliance\n1  Nothing added or the added content is corrupt.\n2  Added object" in text
    assert "only microscopic flaws.\n\nVisual Naturalness\n1  Image badly broken or full of artefacts.\n" in text
    assert len(re.findall(r"^[1-5]  \S", text, re.M)) == 15  # three criteria, five levels each
    assert text.endswith(
        "\nThe second and third score should no higher than first score!!!\n\nExample Response Format:\n"
        "Brief reasoning: A short explanation of the score based on the criteria above, no more than 20 words.\n"
        "Prompt Compliance: A number from 1 to 5.\nVisual Naturalness: A number from 1 to 5.\n"
        "Physical & Detail Coherence: A number from 1 to 5.\nediting instruction is : Add a cat.\n\n"
        "Below are the images before and after editing:\n"
    )
    assert RUBRICS["style"].answers == ("Style Fidelity", "Content Preservation", "Rendering Quality")
    assert RUBRICS["action"].answers == ("Action Fidelity", "Identity Preservation", "Visual & Anatomical Coherence")


def test_request_is_text_then_source_then_edit_and_tasks_map_to_types():
    reward = ImgEdit(ImgEditConfig(model="m", edit_types={"hybrid": "compose"}))
    body = reward.body(rows(["add", "hybrid"]), 1)
    parts = body["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert parts[0]["text"] == imgedit_prompt("compose", "Add a cat number 1")
    assert body["max_tokens"] == 512 and "logprobs" not in body
    assert ImgEdit(ImgEditConfig(model="m", mode="logprob")).body(rows(["add"]), 0)["top_logprobs"] == 20
    assert ImgEdit(ImgEditConfig(model="m", edit_type="remove")).edit_type("anything") == "remove"


def test_an_unknown_task_stops_before_any_request_saying_how_to_map_it():
    reward = ImgEdit(ImgEditConfig(model="m"))  # never started: the error comes first
    with pytest.raises(EditrlError, match=r"task 'subject-add' is not an ImgEdit-Bench edit type.*edit_types"):
        reward.score(rows(["add", "subject-add"]))


def test_reading_criterion_lines():
    # By name, whatever the case, markdown or trailing full stop; the reasoning line is never a score.
    answer = ("Brief reasoning: 5 words here.\n**Prompt compliance**: 4\nvisual naturalness: 3.\n"
              "Physical & Detail Coherence: 2")
    assert criterion_scores(text_choice(answer), ADD) == ([4.0, 3.0, 2.0], None)
    # Named otherwise but exactly three score lines: read in order.
    assert criterion_scores(text_choice("A: 5\nB: 1\nC: 3"), ADD) == ([5.0, 1.0, 3.0], None)
    # Out-of-range numbers are returned as written (the metric clips and counts them).
    assert criterion_scores(text_choice("A: 9\nB: 0\nC: 3"), ADD) == ([9.0, 0.0, 3.0], None)
    assert criterion_scores(text_choice("Prompt Compliance: 4\nVisual Naturalness: 3"), ADD) == (None, "missing_scores")
    assert criterion_scores(text_choice("A: 1\nB: 2\nC: 3\nD: 4"), ADD) == (None, "ambiguous_scores")
    assert criterion_scores(text_choice("I cannot rate this."), ADD) == (None, "unparseable")
    assert criterion_scores(text_choice("Prompt Compliance: 4\nVis", "length"), ADD) == (None, "truncated")


def lp(token: str, p: float) -> dict:
    return {"token": token, "logprob": math.log(p)}


def test_logprob_expectations_at_each_score_token():
    # Score tokens "4" (top: 4 → 0.6, 3 → 0.2, x → 0.2), " 2" (2 → 0.5, 1 → 0.5), "5" (5 → 1.0).
    # E₁ = (4·0.6 + 3·0.2) / 0.8 = 3.0 / 0.8 = 3.75; E₂ = (2·0.5 + 1·0.5) / 1.0 = 1.5; E₃ = 5.
    pieces = [("Brief reasoning: ok.\n", []), ("Prompt Compliance: ", []),
              ("4", [lp("4", 0.6), lp("3", 0.2), lp("x", 0.2)]), ("\nVisual Naturalness:", []),
              (" 2", [lp("2", 0.5), lp(" 1", 0.5)]),
              ("\nPhysical & Detail Coherence: ", []), ("5", [lp("5", 1.0)])]  # fmt: skip
    content = [{"token": t, "logprob": -0.1, "top_logprobs": top} for t, top in pieces]
    choice = {"message": {"content": "".join(t for t, _ in pieces)}, "logprobs": {"content": content}}
    values, reason = criterion_expectations(choice, ADD, LEVELS)
    assert reason is None and values == pytest.approx([3.75, 1.5, 5.0], abs=1e-12)
    # "42" split over two tokens has no single distribution: invalid, not a guess.
    split = [{"token": t, "logprob": -0.1, "top_logprobs": []} for t in ("A: 4", "2\nB: 1\nC: 3")]
    assert criterion_expectations({"logprobs": {"content": split}}, ADD, LEVELS) == (None, "score_not_one_token")
    assert criterion_expectations(text_choice("A: 1\nB: 2\nC: 3"), ADD, LEVELS) == (None, "no_logprobs")


@pytest.fixture(scope="module")
def imgedit_server(tmp_path_factory):
    """``transformers serve`` on a tiny Qwen2.5-VL that answers :data:`ANSWER` to anything."""
    reason = why_no_transformers_serve()
    if reason:
        pytest.skip(reason)
    from editrl_judges.tiny import build_tiny_vlm

    model = build_tiny_vlm(tmp_path_factory.mktemp("imgedit_vlm"), ANSWER)
    server = start_transformers_serve(model, tmp_path_factory.mktemp("imgedit_serve") / "server.log")
    yield server, model
    server.stop()


def test_scores_through_transformers_serve(imgedit_server):
    server, model = imgedit_server
    reward = ImgEdit(ImgEditConfig(base_url=server.base_url, model=str(model), max_tokens=16))
    reward.load(torch.device("cpu"))
    # Every answer reads [4, 2, 7]: 7 is clipped to 5 (one per row, counted), mean (4 + 2 + 5) / 3 = 11/3 = 3.666…,
    # rounded to 3.67 as step1_get_avgscore.py does. "add" finds its three criteria by name; "remove" calls its third
    # "Physical & Detail Integrity", so its three lines are read in order.
    out = reward.score(rows(["add", "remove", "add"]))
    assert out.valid_mask.all()
    torch.testing.assert_close(out.values, torch.full((3,), 3.67), atol=1e-6, rtol=0)
    assert out.details["score_1"].tolist() == [4.0] * 3 and out.details["score_3"].tolist() == [5.0] * 3
    assert out.counters["clipped_scores"] == 3
    exact = ImgEdit(ImgEditConfig(base_url=server.base_url, model=str(model), max_tokens=16, official_rounding=False))
    exact.load(torch.device("cpu"))
    torch.testing.assert_close(exact.score(rows(["add"])).values, torch.tensor([11 / 3]), atol=1e-6, rtol=0)


def test_transformers_serve_gives_no_logprobs_so_logprob_rows_are_invalid(imgedit_server):
    server, model = imgedit_server
    reward = ImgEdit(ImgEditConfig(base_url=server.base_url, model=str(model), max_tokens=16, mode="logprob"))
    reward.load(torch.device("cpu"))
    out = reward.score(rows(["add", "style"]))
    assert out.invalid_counts() == {"no_logprobs": 2} and torch.isnan(out.details["score_2"]).all()


def test_judge_check_asks_the_imgedit_metric(cli, imgedit_server):
    from tests_support import TOY_RECIPE

    server, model = imgedit_server
    metric = {"type": "imgedit", "base_url": server.base_url, "model": str(model), "max_tokens": 16}
    result = cli("judge", "check", TOY_RECIPE, f"eval.metrics=[{json.dumps(metric)}]")
    assert result.exit_code == 0, result.output
    # judge check's probe edit is an "add": [4, 2, 7 → 5] → 3.67
    assert "eval.metrics.0 imgedit" in result.output and "score 3.67, score_1 4, score_2 2, score_3 5" in result.output
    assert "grading image addition edits" in result.output


def expected(logits: dict[str, float]) -> float:
    """Σ l·e^{z_l} / Σ e^{z_l}, the hand formula for a step whose five labels have logits z."""
    weights = {int(label): math.exp(z) for label, z in logits.items()}
    return sum(level * w for level, w in weights.items()) / sum(weights.values())


@pytest.fixture(scope="module")
def imgedit_llama(tmp_path_factory):
    """llama-cpp-python's server on a GGUF whose answer and its score logits are designed (context 4096 tokens:
    ImgEdit's prompts are about 2,300 byte-level tokens)."""
    reason = why_no_llama_cpp()
    if reason:
        pytest.skip(reason)
    from editrl_judges.tiny import build_tiny_gguf

    gguf = build_tiny_gguf(tmp_path_factory.mktemp("imgedit_gguf") / "scores.gguf", LOGPROB_ANSWER, context=4096)
    server = start_llama_server(gguf, tmp_path_factory.mktemp("imgedit_llama") / "server.log", n_ctx=4096)
    yield server
    server.stop()


def test_logprob_mode_through_llama_cpp(imgedit_llama):
    # E₁ = (4e⁵ + 3e⁴ + 5e³ + 2e² + 1e¹) / (e⁵ + e⁴ + e³ + e² + e¹) ≈ 3.7537;
    # E₂ = (2e⁵ + 1e⁴ + 3e³ + 4e² + 5e¹) / (same) ≈ 1.9503; E₃ = 5 (the other labels at logit 0 against 40: e⁻⁴⁰). The value is (E₁ + E₂ + E₃) / 3, unrounded.
    # llama.cpp's logprobs are float32: 1e-5. "style" has other criterion names: its three lines are read in order.
    e1, e2 = expected(FIRST), expected(SECOND)
    assert e1 == pytest.approx(3.75367, abs=1e-5) and e2 == pytest.approx(1.95034, abs=1e-5)
    config = ImgEditConfig(base_url=imgedit_llama.base_url, model="tiny", max_tokens=16, mode="logprob",
                           official_rounding=False)  # fmt: skip
    reward = ImgEdit(config)
    reward.load(torch.device("cpu"))
    out = reward.score(rows(["add", "style"]))
    assert out.valid_mask.all()
    torch.testing.assert_close(out.details["score_1"], torch.full((2,), e1), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.details["score_2"], torch.full((2,), e2), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.details["score_3"], torch.full((2,), 5.0), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.values, torch.full((2,), (e1 + e2 + 5) / 3), atol=1e-5, rtol=0)
    # text mode on the same answers: the greedy digits 4, 2, 5 → 11/3 → 3.67
    text = ImgEdit(ImgEditConfig(base_url=imgedit_llama.base_url, model="tiny", max_tokens=16))
    text.load(torch.device("cpu"))
    assert text.score(rows(["add"])).values.tolist() == pytest.approx([3.67], abs=1e-6)
