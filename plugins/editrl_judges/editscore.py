"""``editscore``: EditScore (VectorSpaceLab) as a reward: SC and PQ questions, overall = √(SC·PQ), Avg@N.

Per pass and row, two questions on EditScore's 0..score_range scale, each score rescaled to 0–10:
- SC (semantic consistency): source and edited image; SC = min(editing success, over-editing);
- PQ (perceptual quality): the edited image only; PQ = min(naturalness, artifacts);
- overall O = √(SC·PQ); the reward is mean over passes of O, divided by 10 (∈ [0, 1]).
Unlike EditScore's batch path, PQ never sees the source, an out-of-range score is clipped to [0, 10] (never set to
score_range/2), and an answer that does not parse makes the row invalid (never a random guess).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field

from editrl.interfaces import Reward, RewardInputs, RewardOutput
from editrl_judges.chat import chat_body
from editrl_judges.client import JudgeClient, Reply
from editrl_judges.editscore_prompts import pq_prompt, sc_prompt
from editrl_judges.images import to_pil
from editrl_judges.local_vlm import LocalVlm
from editrl_judges.mllm_judge import outcome
from editrl_judges.parsing import score_list
from editrl_judges.server import JudgeServerConfig

SUB_SCORES = ("semantic_consistency", "perceptual_quality", "prompt_following", "consistency")


class EditScoreConfig(JudgeServerConfig):
    backend: Literal["server", "local"] = "server"
    """server: an OpenAI-compatible server (vLLM) serving the merged EditScore model; local: transformers
    Qwen2.5-VL + the EditScore LoRA through peft, in this process."""
    model: str = Field("Qwen/Qwen2.5-VL-7B-Instruct", min_length=1)
    """server: the served model name; local: the base Qwen2.5-VL (hub id or folder)."""
    lora: str | None = "EditScore/EditScore-7B"
    """local backend: the EditScore LoRA adapter (hub id or folder) applied with peft; null: the base alone."""
    score_range: int = Field(25, ge=1, le=100)
    """The top of EditScore's scale in the prompts (its released models: 25)."""
    num_pass: int = Field(1, ge=1, le=16)
    """Avg@N: independent sampled passes per row, seeded seed, seed+1, ...; their O averaged."""
    seed: int = Field(42, ge=0)
    """Seed of the first pass."""
    temperature: float = Field(0.7, ge=0, le=2)
    """Sampling temperature (EditScore: 0.7)."""
    top_p: float = Field(0.9, gt=0, le=1)
    """Nucleus sampling (EditScore: 0.9)."""
    max_tokens: int = Field(512, ge=1, le=8192)
    """Tokens per answer (EditScore: 512; the answer is short reasoning plus the score list)."""


def rescale(score: float, score_range: int) -> float:
    """A score on 0..score_range → 0–10, clipped."""
    return min(max(score / (score_range / 10), 0.0), 10.0)


def editscore_pass(sc: list[float], pq: list[float], score_range: int) -> dict[str, float]:
    """One pass's numbers (0–10): SC = min of the SC scores, PQ = min of the PQ scores, overall = √(SC·PQ);
    prompt following and consistency are the SC list's first and second entries."""
    sc10 = [rescale(s, score_range) for s in sc]
    pq10 = [rescale(s, score_range) for s in pq]
    SC, PQ = min(sc10), min(pq10)
    return {
        "overall": math.sqrt(SC * PQ), "semantic_consistency": SC, "perceptual_quality": PQ,
        "prompt_following": sc10[0], "consistency": sc10[1] if len(sc10) > 1 else sc10[0],
    }  # fmt: skip


def average_passes(passes: list[dict[str, float]]) -> dict[str, float]:
    """Avg@N: the mean of each number over the passes (EditScore's ``average_last``)."""
    return {k: sum(p[k] for p in passes) / len(passes) for k in passes[0]}


class EditScore(Reward):
    """EditScore's overall/10 for each edit, its sub-scores as details; a VLM judge served or in process."""

    name = "editscore"
    Config = EditScoreConfig
    requires: ClassVar[frozenset[str]] = frozenset({"images", "source", "instruction"})

    def __init__(self, config: EditScoreConfig) -> None:
        super().__init__(config)
        self.client = JudgeClient(config, label=self.name) if config.backend == "server" else None
        self.local = LocalVlm(config.model, config.lora, self.name) if config.backend == "local" else None

    @property
    def overlaps(self) -> bool:
        return self.config.backend == "server"

    def load(self, device: torch.device) -> None:
        if self.client is not None:
            self.client.start()
        else:
            self.local.load(device)  # type: ignore[union-attr]

    def questions(self, inputs: RewardInputs) -> list[tuple[list, str, int]]:
        """(images, text, seed) for every (row, pass, SC|PQ), row-major: row r pass p at 2·(r·P + p) (+1 for PQ)."""
        cfg = self.config
        out = []
        for r, instruction in enumerate(inputs.instructions):  # type: ignore[arg-type]
            source = to_pil(inputs.source[r], cfg.max_side)  # type: ignore[index]
            edited = to_pil(inputs.images[r], cfg.max_side)  # type: ignore[index]
            for p in range(cfg.num_pass):
                out.append(([source, edited], sc_prompt(instruction, cfg.score_range), cfg.seed + p))
                out.append(([edited], pq_prompt(cfg.score_range), cfg.seed + p))
        return out

    def bodies(self, questions: list[tuple[list, str, int]]) -> list[dict[str, Any]]:
        """The server backend's request bodies for these questions."""
        cfg = self.config
        return [
            chat_body(cfg.model, images, text, max_tokens=cfg.max_tokens, temperature=cfg.temperature,
                      top_p=cfg.top_p, seed=seed)
            for images, text, seed in questions
        ]  # fmt: skip

    def ask(self, questions: list[tuple[list, str, int]]) -> list[Reply]:
        cfg = self.config
        if self.client is not None:
            return self.client.post_many(self.bodies(questions))
        answer = lambda q: self.local.generate(  # noqa: E731
            q[0], q[1], seed=q[2], max_tokens=cfg.max_tokens, temperature=cfg.temperature, top_p=cfg.top_p
        )
        return [Reply(choice=answer(q)) for q in questions]

    def score(self, inputs: RewardInputs) -> RewardOutput:
        """1. every row's SC and PQ questions for every pass, all in flight; 2. per row, each pass's numbers or the
        first failure (the row is then invalid); 3. Avg@N, reward = overall / 10, sub-scores as details."""
        cfg = self.config
        M, P = len(inputs.instructions), cfg.num_pass  # type: ignore[arg-type]
        replies = self.ask(self.questions(inputs))  # step 1
        values: list[float | None] = []
        reasons: list[str | None] = []
        details: dict[str, list[float]] = {k: [] for k in SUB_SCORES}
        for r in range(M):  # step 2
            passes, reason = [], None
            for p in range(P):
                lists = [reply_scores(replies[2 * (r * P + p) + k]) for k in (0, 1)]
                reason = next((why for scores, why in lists if scores is None), None)
                if reason is not None:
                    break
                passes.append(editscore_pass(lists[0][0], lists[1][0], cfg.score_range))  # type: ignore[arg-type]
            mean: dict[str, Any] = average_passes(passes) if reason is None else dict.fromkeys(
                ("overall", *SUB_SCORES), math.nan
            )  # step 3
            values.append(None if reason is not None else mean["overall"] / 10)
            reasons.append(reason)
            for k in SUB_SCORES:
                details[k].append(mean[k])
        out = outcome(replies, values, reasons)
        out.details = {k: torch.tensor(v, dtype=torch.float32) for k, v in details.items()}  # [M] each
        return out


def reply_scores(reply: Reply) -> tuple[list[float] | None, str | None]:
    """A reply's score list, or why there is none (its failure in transit, or the answer's)."""
    return (None, reply.reason) if reply.choice is None else score_list(reply.choice)
