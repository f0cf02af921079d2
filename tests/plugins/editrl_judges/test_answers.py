"""Reading judges' answers, templates and EditScore's prompts and arithmetic, against hand-written expectations."""

from __future__ import annotations

import math

import pytest
import torch

from editrl_judges.editscore import average_passes, editscore_pass
from editrl_judges.editscore_prompts import pq_prompt, sc_prompt
from editrl_judges.images import to_pil
from editrl_judges.mllm_judge import MllmJudgeConfig, read_answer
from editrl_judges.parsing import expected_level, score_list, text_level, yes_probability
from editrl_judges.templates import BUILTIN, load_template


def lp(token: str, p: float) -> dict:
    return {"token": token, "logprob": math.log(p), "bytes": None}


def choice_with(entries) -> dict:
    return {"message": {"content": "x"}, "finish_reason": "length",
            "logprobs": {"content": [{"token": "x", "logprob": -1.0, "top_logprobs": entries}]}}  # fmt: skip


def test_expected_level_over_the_labels_found():
    # Found: "4" (0.5), " 5" → "5" (0.25), "3 " → "3" (0.05), plus a non-label "a". Unsorted, fewer than asked.
    # E = (4·0.5 + 5·0.25 + 3·0.05) / (0.5 + 0.25 + 0.05) = (2 + 1.25 + 0.15) / 0.8 = 3.4 / 0.8 = 4.25.
    entries = [lp("a", 0.1), lp("4", 0.5), lp(" 5", 0.25), lp("3 ", 0.05)]
    value, reason = expected_level(choice_with(entries), [0, 1, 2, 3, 4, 5])
    assert reason is None and value == pytest.approx(4.25, abs=1e-12)


def test_yes_probability_sums_case_variants():
    # P(Yes) = 0.3 + 0.1 ("yes"), P(No) = 0.2 → 0.4 / 0.6 = 2/3.
    value, _ = yes_probability(choice_with([lp("Yes", 0.3), lp(" yes", 0.1), lp("No", 0.2)]))
    assert value == pytest.approx(2 / 3, abs=1e-12)


def test_missing_logprobs_or_labels_are_reasons_not_numbers():
    assert expected_level({"message": {"content": "4"}}, [0, 5]) == (None, "no_logprobs")
    assert yes_probability(choice_with([lp("maybe", 0.9)])) == (None, "no_label")
    assert yes_probability({"logprobs": None}) == (None, "no_logprobs")


def test_text_answers():
    assert text_level({"message": {"content": "Score: 7"}}, 0, 5) == (5.0, None)  # clipped to the scale
    assert text_level({"message": {"content": "I think 3.5"}}, 0, 5) == (3.5, None)
    assert text_level({"message": {"content": "no idea"}, "finish_reason": "stop"}, 0, 5) == (None, "unparseable")
    assert text_level({"message": {"content": "The ed"}, "finish_reason": "length"}, 0, 5) == (None, "truncated")


@pytest.mark.parametrize(
    "content, expected",
    [
        ('{\n"reasoning" : "fine",\n"score" : [20, 15]\n}', [20.0, 15.0]),
        ('Sure. {"reasoning": "the "cat" is there", "score": [7, 9]}', [7.0, 9.0]),  # broken JSON: the score list
        ("[4, 3]", [4.0, 3.0]),
    ],
)
def test_score_lists(content, expected):
    assert score_list({"message": {"content": content}}) == (expected, None)


def test_score_list_unparseable_is_a_reason():
    assert score_list({"message": {"content": "I cannot rate this"}, "finish_reason": "stop"}) == (None, "unparseable")


def test_editscore_pass_arithmetic():
    # range 25 → divide by 2.5. SC [20, 15] → [8, 6], SC = 6; PQ [25, 10] → [10, 4], PQ = 4;
    # overall = sqrt(6·4) = sqrt(24) = 4.898979...; prompt following 8, consistency 6.
    out = editscore_pass([20, 15], [25, 10], 25)
    assert out["semantic_consistency"] == 6 and out["perceptual_quality"] == 4
    assert out["overall"] == pytest.approx(math.sqrt(24), abs=1e-12)
    assert out["prompt_following"] == 8 and out["consistency"] == 6


def test_editscore_clips_out_of_range_scores():
    # 30 / 2.5 = 12 → clipped to 10 (never 12.5); −5 → 0. SC = min(10, 8) = 8; PQ = min(0, 10) = 0 → overall 0.
    out = editscore_pass([30, 20], [-5, 25], 25)
    assert out["prompt_following"] == 10 and out["semantic_consistency"] == 8 and out["overall"] == 0


def test_avg_at_n_averages_each_pass():
    # Passes with O = sqrt(6·4) and sqrt(10·10) = 10: mean (4.898979 + 10) / 2 = 7.449490.
    mean = average_passes([editscore_pass([20, 15], [25, 10], 25), editscore_pass([25, 25], [25, 25], 25)])
    assert mean["overall"] == pytest.approx((math.sqrt(24) + 10) / 2, abs=1e-12)
    assert mean["semantic_consistency"] == pytest.approx(8.0)


def test_editscore_prompts_render():
    sc = sc_prompt("make the sky pink", 25)
    assert sc.startswith("You are a professional digital artist.")
    assert "From scale 0 to 25: \nA score from 0 to 25 will be given based on the success of the editing." in sc
    assert "25 indicates that the edited image can be recognized as a minimal edited yet effective version" in sc
    assert sc.endswith("\nEditing instruction: make the sky pink\n")
    assert '"score" : [...]' in sc and "@" not in sc
    pq = pq_prompt(10)
    assert "From scale 0 to 10: " in pq and "10 indicates the image has no artifacts." in pq
    assert "Editing instruction" not in pq and pq.endswith("output score = [naturalness, artifacts]\n")
    # the builtin template keeps EditScore's literal JSON braces and fills only {instruction}
    assert BUILTIN["editscore_sc"].render("make the sky pink") == sc
    assert BUILTIN["editscore_pq"].images == ["edited"]


def test_mllm_judge_reads_editscore_lists_as_min_on_0_10():
    # [20, 15] on 0–25 → [8, 6] → 6.
    choice = {"message": {"content": '{"score": [20, 15]}'}}
    assert read_answer(BUILTIN["editscore_sc"], "text", choice) == (6.0, None)


def test_template_file(tmp_path):
    good = tmp_path / "judge.yaml"
    good.write_text('prompt: "Edit: {instruction}. Rate 1-3."\nanswer: level\nlevels: [1, 2, 3]\nimages: [edited]\n')
    t = load_template(str(good))
    assert t.render("add a hat") == "Edit: add a hat. Rate 1-3." and t.levels == [1, 2, 3]
    code = tmp_path / "code.yaml"
    code.write_text('prompt: "{instruction.__class__} {os}"\nanswer: level\n')
    with pytest.raises(ValueError, match=r"prompt uses \{os\}; the only field is \{instruction\}"):
        load_template(str(code))
    broken = tmp_path / "broken.yaml"
    broken.write_text("prompt: ok\nanswer: [level\n")
    with pytest.raises(ValueError, match=r"broken.yaml line \d+: not valid YAML"):
        load_template(str(broken))
    extra = tmp_path / "extra.yaml"
    extra.write_text("prompt: ok\nanswer: level\nexec: rm\n")
    with pytest.raises(ValueError, match=r"extra.yaml: exec: Extra inputs are not permitted"):
        load_template(str(extra))


def test_score_list_templates_need_text_mode():
    with pytest.raises(ValueError, match="needs mode: text"):
        MllmJudgeConfig(template="editscore_pq", mode="logprob")


def test_images_are_downscaled_to_max_side():
    pil = to_pil(torch.rand(3, 600, 1200), 512)  # [3, H, W]
    assert pil.size == (512, 256)
    assert to_pil(torch.rand(3, 40, 30), 512).size == (30, 40)


def test_validate_names_the_template_file_and_field(cli, tmp_path):
    from tests_support import TOY_RECIPE

    bad = tmp_path / "judge.yaml"
    bad.write_text('prompt: "{instruction} {api_key}"\nanswer: level\n')
    result = cli("validate", TOY_RECIPE, f'rewards=[{{type: mllm_judge, template: "{bad}"}}]')
    assert result.exit_code == 2 and "Traceback" not in result.output
    message = " ".join(result.output.split())
    assert f"rewards.0.template: Value error, template file {bad}: prompt uses {{api_key}}" in message


def test_each_distinct_picture_is_png_encoded_once(monkeypatch):
    import base64
    import io

    from PIL import Image

    from editrl_judges import images

    encoded = []
    real = images.png_data_url
    monkeypatch.setattr(images, "png_data_url", lambda im: encoded.append(im.size) or real(im))
    data_url = images.DataUrlCache(budget=10**9)
    source, edited = torch.rand(3, 40, 30), torch.rand(3, 40, 30)  # [3, H, W]
    # an example's G candidates share the source: the same pixels in new tensors and PIL images
    urls = [data_url(to_pil(source.clone(), 512)) for _ in range(4)]
    assert len(set(urls)) == 1 and len(encoded) == 1
    other = data_url(to_pil(edited, 512))
    assert other != urls[0] and len(encoded) == 2
    # one pixel one level off is another picture; the URL decodes to exactly the pixels
    nudged = to_pil(source, 512)
    nudged.putpixel((0, 0), tuple((v + 1) % 256 for v in nudged.getpixel((0, 0))))
    assert data_url(nudged) != urls[0] and len(encoded) == 3
    png = base64.b64decode(urls[0].removeprefix("data:image/png;base64,"))
    assert Image.open(io.BytesIO(png)).tobytes() == to_pil(source, 512).tobytes()
    # the cache keeps the newest `budget` characters: with room for two and a half of these, the oldest go first
    data_url.budget = 2 * len(urls[0]) + len(other) // 2
    data_url(to_pil(torch.rand(3, 40, 30), 512))  # four held, over the budget: source and edited go
    assert len(data_url) == 2 and data_url.held <= data_url.budget
    data_url(to_pil(source, 512))  # evicted, so encoded again
    assert len(encoded) == 5
    # budget 0 keeps nothing: the same picture twice is encoded twice
    data_url.budget = 0
    data_url(to_pil(edited, 512)), data_url(to_pil(edited, 512))
    assert len(encoded) == 7 and len(data_url) == 0
