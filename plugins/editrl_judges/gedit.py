"""``gedit``: GEdit-Bench's judge protocol (Step1X-Edit, VIEScore task "tie") as a reward / eval metric.

Per row, two questions through the OpenAI-compatible client, the text before the images as GEdit sends them:
- SC (semantics): VIEScore's context and editing rules, the source then the edited image; the answer's score list is
  [editing success, over-editing] on 0–10 and SC = its minimum;
- PQ (quality): the context and the perceptual rules, the edited image alone; [naturalness, artifacts], PQ = min;
- the row's value is the overall O = √(SC·PQ) on 0–10 (GEdit's ``calculate_statistics.py``); SC, PQ and the four
  list entries are details, so ``editrl eval`` tables show them.

GEdit-Bench-EN is the rows whose ``instruction_language`` is ``en``, and its "intersection" figures the rows with
``Intersection_exist``: choosing those rows is the dataset's (held-out split's) business, not the metric's. GEdit
averages O per task group (``editrl eval``'s per-task table) and reports the unweighted mean of the 11 group means.
Decoding follows the benchmark's ``max_tokens=1400``; temperature defaults to 0 (the API default of the official
script is 1; CoCoEdit's reproduction recommends 0). Unlike the official scorer, an answer without a score list is an
invalid row with its reason (never the random guess of ``give_up_parsing``), and a score outside 0–10 is clipped
and counted (``clipped_scores``). The answer is JSON after free text, so only ``text`` mode fits (no logprobs).
Images go as PNG data URLs at most ``max_side`` pixels (GEdit's client sends JPEG; editrl's source and edit already
share a size, which GEdit's scorer enforces by resizing the edit).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from pydantic import Field

from editrl.interfaces import RewardInputs, RewardOutput
from editrl_judges.chat import chat_body
from editrl_judges.editscore import editscore_pass, reply_scores
from editrl_judges.editscore_prompts import VIESCORE_CONTEXT, pq_prompt, sc_prompt
from editrl_judges.images import to_pil
from editrl_judges.mllm_judge import outcome
from editrl_judges.parsing import clip_scores
from editrl_judges.server import JudgeServerConfig
from editrl_judges.served import ServedJudge

#: GEdit's scale.
TOP = 10.0
DETAILS = ("semantics", "quality", "editing_success", "overediting", "naturalness", "artifacts")


class GEditConfig(JudgeServerConfig):
    model: str = Field("gpt-4.1", min_length=1)
    """The judge GEdit-Bench reports with (its "gpt4o" backbone calls gpt-4.1); its open alternative is
    Qwen/Qwen2.5-VL-72B-Instruct-AWQ served by vLLM."""
    max_tokens: int = Field(1400, ge=1, le=8192)
    """Tokens per answer (GEdit: 1400; the answer is a JSON object with a short reasoning)."""


def gedit_row(sc: list[float], pq: list[float]) -> dict[str, float]:
    """One row's numbers from its (clipped) SC and PQ lists: SC = min, PQ = min, overall = √(SC·PQ) (EditScore's
    arithmetic on GEdit's own 0–10 scale); the lists' first and second entries as the sub-scores (a one-entry list
    gives its entry for both)."""
    p = editscore_pass(sc, pq, 10)
    return {
        "overall": p["overall"], "semantics": p["semantic_consistency"], "quality": p["perceptual_quality"],
        "editing_success": p["prompt_following"], "overediting": p["consistency"],
        "naturalness": pq[0], "artifacts": pq[min(1, len(pq) - 1)],
    }  # fmt: skip


class GEdit(ServedJudge):
    """GEdit-Bench's VIEScore judge: overall √(SC·PQ) on 0–10 per edit, SC, PQ and their parts as details."""

    name = "gedit"
    Config = GEditConfig

    def bodies(self, inputs: RewardInputs) -> list[dict[str, Any]]:
        """The requests, row-major: row r's SC question at 2r, its PQ question at 2r + 1."""
        cfg = self.config
        out = []
        for r, instruction in enumerate(inputs.instructions):  # type: ignore[arg-type]
            source = to_pil(inputs.source[r], cfg.max_side)  # type: ignore[index]
            edited = to_pil(inputs.images[r], cfg.max_side)  # type: ignore[index]
            questions = (([source, edited], sc_prompt(instruction, int(TOP), VIESCORE_CONTEXT)),
                         ([edited], pq_prompt(int(TOP), VIESCORE_CONTEXT)))  # fmt: skip
            for images, text in questions:
                out.append(chat_body(cfg.model, images, text, max_tokens=cfg.max_tokens, temperature=cfg.temperature,
                                     text_first=True))  # fmt: skip
        return out

    def score(self, inputs: RewardInputs) -> RewardOutput:
        """1. every row's SC and PQ questions, all in flight; 2. per row, both score lists clipped to 0–10 or the
        first failure (the row is then invalid); 3. overall = √(SC·PQ) as the value, the rest as details."""
        replies = self.client.post_many(self.bodies(inputs))  # step 1
        values: list[float | None] = []
        reasons: list[str | None] = []
        details: dict[str, list[float]] = {k: [] for k in DETAILS}
        clipped = 0
        for r in range(len(replies) // 2):  # step 2
            lists = [reply_scores(replies[2 * r + k]) for k in (0, 1)]
            reason = next((why for scores, why in lists if scores is None), None)
            row = dict.fromkeys(("overall", *DETAILS), math.nan)
            if reason is None:
                (sc, n_sc), (pq, n_pq) = (clip_scores(s, 0.0, TOP) for s, _ in lists)  # type: ignore[arg-type]
                clipped += n_sc + n_pq
                row = gedit_row(sc, pq)  # step 3
            values.append(None if reason is not None else row["overall"])
            reasons.append(reason)
            for k in DETAILS:
                details[k].append(row[k])
        out = outcome(replies, values, reasons)
        out.details = {k: torch.tensor(v, dtype=torch.float32) for k, v in details.items()}  # [M] each
        out.counters["clipped_scores"] = float(clipped)
        return out
