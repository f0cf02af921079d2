"""The judge rewards against real servers on 127.0.0.1: llama-cpp-python with the designed GGUF (logprobs), and
``transformers serve`` with the tiny Qwen2.5-VL (images, text answers), plus EditScore's in-process backend."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests_support import TINY, TOY_RECIPE, read_metrics
from editrl.interfaces import RewardInputs
from editrl_judges.editscore import EditScore, EditScoreConfig
from editrl_judges.mllm_judge import MllmJudge, MllmJudgeConfig

SIGMOID_1 = 1 / (1 + math.exp(-1))  # the designed GGUF's logits 5 (Yes) and 4 (No): e⁵/(e⁵+e⁴) = sigmoid(1)
SECRET = "sk-editrl-test-7f3a9c"


def rows(M: int = 4, size: int = 40) -> RewardInputs:
    g = torch.Generator().manual_seed(0)
    return RewardInputs(
        tasks=["add"] * M, images=torch.rand(M, 3, size, size, generator=g),
        source=torch.rand(M, 3, size, size, generator=g), instructions=[f"add a cat number {i}" for i in range(M)],
    )  # fmt: skip


def judge(**fields) -> MllmJudge:
    reward = MllmJudge(MllmJudgeConfig(model="tiny", **fields))
    reward.load(torch.device("cpu"))
    return reward


def judge_override(**fields) -> str:
    return "rewards=[" + json.dumps(fields) + "]"


def test_yes_no_logprob_judge_scores_sigmoid_1(llama_server):
    out = judge(base_url=llama_server.base_url, template="yes_no", max_tokens=1).score(rows())
    # llama.cpp returns float32 logprobs: P(Yes)/(P(Yes)+P(No)) matches sigmoid(1) = 0.7310586 within 1e-6.
    assert out.valid_mask.all()
    assert (out.values.double() - SIGMOID_1).abs().max() < 1e-6


def test_transformers_serve_ignores_logprobs_so_rows_are_invalid(vlm_server, tiny_vlm):
    reward = MllmJudge(MllmJudgeConfig(base_url=vlm_server.base_url, model=str(tiny_vlm), max_tokens=4))
    reward.load(torch.device("cpu"))
    out = reward.score(rows())
    assert not out.valid_mask.any() and out.invalid_counts() == {"no_logprobs": 4}


def test_transformers_serve_text_mode(vlm_server, tiny_vlm):
    # The tiny VLM answers "[4, 3]" whatever it sees; edit_r1's text reader takes the first number, 4.
    config = MllmJudgeConfig(base_url=vlm_server.base_url, model=str(tiny_vlm), mode="text", max_tokens=16)
    reward = MllmJudge(config)
    reward.load(torch.device("cpu"))
    out = reward.score(rows())
    assert out.valid_mask.all() and out.values.tolist() == [4.0] * 4


def editscore_expectations(out) -> None:
    # Every SC and PQ answer is [4, 3] on 0–25 → [1.6, 1.2]: SC = PQ = 1.2, overall sqrt(1.2·1.2) = 1.2 → reward 0.12;
    # prompt following 1.6, consistency 1.2.
    assert out.valid_mask.all()
    torch.testing.assert_close(out.values, torch.full((4,), 0.12), atol=1e-6, rtol=0)
    torch.testing.assert_close(out.details["prompt_following"], torch.full((4,), 1.6), atol=1e-6, rtol=0)
    torch.testing.assert_close(out.details["perceptual_quality"], torch.full((4,), 1.2), atol=1e-6, rtol=0)


def test_editscore_server_backend(vlm_server, tiny_vlm):
    reward = EditScore(EditScoreConfig(base_url=vlm_server.base_url, model=str(tiny_vlm), num_pass=2, max_tokens=16))
    reward.load(torch.device("cpu"))
    editscore_expectations(reward.score(rows()))


def test_editscore_local_backend_with_lora(tiny_vlm, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    # A LoRA saved by peft (B = 0 at init, so the designed answer is kept) is loaded by the backend through peft.
    base = AutoModelForImageTextToText.from_pretrained(str(tiny_vlm))
    get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(tmp_path / "lora")
    config = EditScoreConfig(backend="local", model=str(tiny_vlm), lora=str(tmp_path / "lora"), max_tokens=16)
    reward = EditScore(config)
    reward.load(torch.device("cpu"))
    assert not reward.overlaps and hasattr(reward.local.model, "peft_config")
    state = torch.get_rng_state()
    editscore_expectations(reward.score(rows()))
    assert torch.equal(state, torch.get_rng_state())  # seeded sampling leaves the run's RNG alone


def test_a_training_run_with_a_served_judge(cli, llama_server, tmp_path, monkeypatch):
    monkeypatch.setenv("EDITRL_TEST_JUDGE_KEY", SECRET)
    out = tmp_path / "run"
    reward = judge_override(type="mllm_judge", base_url=llama_server.base_url, model="tiny", template="yes_no",
                            max_tokens=1, api_key_env="EDITRL_TEST_JUDGE_KEY")  # fmt: skip
    result = cli("run", TOY_RECIPE, *TINY, reward, "train.steps=2", "train.save_every=1", "eval.at_end=false",
                 f"output_dir={out}")  # fmt: skip
    assert result.exit_code == 0, result.output
    last = read_metrics(out)[-1]
    assert last["reward/mllm_judge/mean"] == pytest.approx(SIGMOID_1, abs=1e-6) and last["skipped_steps"] == 0
    # a constant judge gives every group zero spread: all dead, no signal, but the step is taken
    assert last["adv/dead_groups"] == 2
    # the key is read from the environment only and written nowhere
    assert SECRET not in result.output
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert "EDITRL_TEST_JUDGE_KEY" in (out / "recipe.yaml").read_text()


def test_judge_check(cli, llama_server, tmp_path, monkeypatch):
    monkeypatch.setenv("EDITRL_TEST_JUDGE_KEY", SECRET)
    reward = judge_override(type="mllm_judge", base_url=llama_server.base_url, model="tiny", template="yes_no",
                            max_tokens=1, api_key_env="EDITRL_TEST_JUDGE_KEY")  # fmt: skip
    result = cli("judge", "check", TOY_RECIPE, reward)
    assert result.exit_code == 0, result.output
    assert "rewards.0 mllm_judge" in result.output and "score 0.7311" in result.output and "latency" in result.output
    assert '"max_tokens": 1' in result.output and '"top_logprobs": 20' in result.output
    assert "Bearer ***" in result.output and SECRET not in result.output
