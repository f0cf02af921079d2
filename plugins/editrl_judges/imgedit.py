"""``imgedit``: ImgEdit-Bench's judge protocol (basic suite, PKU-YuanGroup/ImgEdit) as a reward / eval metric.

Per row, one question through the OpenAI-compatible client, as ``basic_bench.py`` asks it: the prompt of the row's
edit type (:mod:`editrl_judges.imgedit_prompts`, the instruction filled in), then the source and the edited image.
The judge rates three criteria of that type on 1–5 (the first is always how well the instruction was carried out)
and answers one ``<criterion>: <n>`` line each. The row's value is their mean, rounded to 2 decimals as
``step1_get_avgscore.py`` does; ``score_1``..``score_3`` (the criteria in the type's response-format order) are
details. ImgEdit averages per edit type (``editrl eval``'s per-task table; ``step2_typescore.py``) and reports the
mean of the nine type means as "Overall".

The row's edit type is its dataset task (``add``, ``adjust``, ``extract``, ``replace``, ``remove``, ``background``,
``style``, ``compose``, ``action``), renamed through ``edit_types``, or ``edit_type`` for every row. Unlike the
official scorer (which averages whatever ``name: int`` lines it finds), the three criteria must all be there, else
the row is invalid with its reason; a score outside 1–5 is clipped and counted (``clipped_scores``). ``text`` mode
parses the lines; ``logprob`` mode (servers that return ``top_logprobs`` for every answer token: vLLM, SGLang,
llama.cpp) takes, per criterion, the expected level over its score token's alternatives.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from editrl.errors import EditrlError
from editrl.interfaces import RewardInputs, RewardOutput
from editrl_judges.chat import chat_body
from editrl_judges.criteria import criterion_expectations, criterion_scores
from editrl_judges.images import to_pil
from editrl_judges.imgedit_prompts import RUBRICS, imgedit_prompt
from editrl_judges.mllm_judge import outcome
from editrl_judges.parsing import clip_scores
from editrl_judges.server import JudgeServerConfig
from editrl_judges.served import ServedJudge

EditType = Literal["replace", "add", "adjust", "remove", "style", "action", "extract", "background", "compose"]
LEVELS = [1, 2, 3, 4, 5]
DETAILS = ("score_1", "score_2", "score_3")


class ImgEditConfig(JudgeServerConfig):
    model: str = Field("gpt-4o", min_length=1)
    """The judge ImgEdit-Bench reports with (GPT-4o); any OpenAI-compatible VLM works."""
    max_tokens: int = Field(512, ge=1, le=8192)
    """Tokens per answer (the official script sets none; the answer is four short lines)."""
    mode: Literal["text", "logprob"] = "text"
    """text: the numbers on the criteria's lines; logprob: per criterion, the expected level (1–5) over the
    ``top_logprobs`` of its score token."""
    top_logprobs: int = Field(20, ge=1, le=20)
    """Alternatives asked for in logprob mode."""
    edit_type: EditType | None = None
    """One rubric for every row; null: each row's dataset task, renamed through ``edit_types``."""
    edit_types: dict[str, EditType] = Field(default_factory=dict)
    """Dataset task → ImgEdit edit type, for tasks named otherwise (e.g. ``{hybrid: compose}``)."""
    official_rounding: bool = True
    """Round each row's mean to 2 decimals, as ``step1_get_avgscore.py`` does (false: the exact mean)."""


class ImgEdit(ServedJudge):
    """ImgEdit-Bench's GPT-4o judge: the mean of three 1–5 criteria of the edit's type, the three as details."""

    name = "imgedit"
    Config = ImgEditConfig

    def edit_type(self, task: str) -> str:
        """The rubric of a row whose dataset task is ``task``; an :class:`EditrlError` saying how to map it."""
        cfg = self.config
        chosen = cfg.edit_type or cfg.edit_types.get(task, task)
        if chosen not in RUBRICS:
            raise EditrlError(
                f"{self.name}: the task {task!r} is not an ImgEdit-Bench edit type ({', '.join(RUBRICS)}); map it with "
                f"edit_types: {{{task}: <type>}} or give every row one rubric with edit_type: <type>"
            )
        return chosen

    def body(self, inputs: RewardInputs, row: int) -> dict[str, Any]:
        """The request for one row: the type's prompt, then the source and the edited image."""
        cfg = self.config
        images = [to_pil(side[row], cfg.max_side) for side in (inputs.source, inputs.images)]  # type: ignore[index]
        text = imgedit_prompt(self.edit_type(inputs.tasks[row]), inputs.instructions[row])  # type: ignore[index]
        return chat_body(
            cfg.model, images, text, max_tokens=cfg.max_tokens, temperature=cfg.temperature, text_first=True,
            top_logprobs=cfg.top_logprobs if cfg.mode == "logprob" else None,
        )  # fmt: skip

    def score(self, inputs: RewardInputs) -> RewardOutput:
        """1. each row's edit type (an unknown one stops here, before any request); 2. one request per row, all in
        flight; 3. each answer's three scores clipped to 1–5, or the row's failure; 4. the mean as the value."""
        cfg = self.config
        names = [RUBRICS[self.edit_type(task)].answers for task in inputs.tasks]  # step 1
        replies = self.client.post_many([self.body(inputs, r) for r in range(len(names))])  # step 2
        values: list[float | None] = []
        reasons: list[str | None] = []
        details: dict[str, list[float]] = {k: [] for k in DETAILS}
        clipped = 0
        for reply, answers in zip(replies, names):  # step 3
            if reply.choice is None:
                scores, reason = None, reply.reason
            elif cfg.mode == "logprob":
                scores, reason = criterion_expectations(reply.choice, answers, LEVELS)
            else:
                scores, reason = criterion_scores(reply.choice, answers)
            if scores is not None:
                scores, n = clip_scores(scores, 1.0, 5.0)
                clipped += n
                mean = sum(scores) / len(scores)  # step 4
                values.append(round(mean, 2) if cfg.official_rounding else mean)
            else:
                values.append(None)
            reasons.append(reason)
            for k, key in enumerate(DETAILS):
                details[key].append(float("nan") if scores is None else scores[k])
        out = outcome(replies, values, reasons)
        out.details = {k: torch.tensor(v, dtype=torch.float32) for k, v in details.items()}  # [M] each
        out.counters["clipped_scores"] = float(clipped)
        return out
