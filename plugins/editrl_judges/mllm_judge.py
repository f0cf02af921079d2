"""``mllm_judge``: a vision-language judge behind any OpenAI-compatible server scores each edit.

``logprob`` mode reads the first answer token's ``top_logprobs`` (the expected level, or P(Yes)); ``text`` mode
parses the answer. A request that fails, an answer without logprobs or labels, or one that does not parse makes an
invalid row with its reason (``reward/mllm_judge/invalid/<reason>``), never a number.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, field_validator, model_validator

from editrl.interfaces import RewardInputs, RewardOutput
from editrl_judges.chat import chat_body
from editrl_judges.client import Reply
from editrl_judges.images import to_pil
from editrl_judges.parsing import expected_level, score_list, text_level, text_yes_no, yes_probability
from editrl_judges.server import JudgeServerConfig
from editrl_judges.templates import JudgeTemplate, load_template
from editrl_judges.served import ServedJudge


class MllmJudgeConfig(JudgeServerConfig):
    template: str = "edit_r1"
    """Builtin template (edit_r1: 0–5 expected score; yes_no: P(Yes); editscore_sc, editscore_pq) or the path of
    a YAML template file (fields prompt, answer, levels, score_range, images)."""
    mode: Literal["logprob", "text"] = "logprob"
    """logprob: expected value over the level tokens' top_logprobs (servers that return them: vLLM, SGLang,
    llama.cpp); text: parse the answer's number."""
    top_logprobs: int = Field(20, ge=1, le=20)
    """Alternatives asked for in logprob mode (servers may return fewer)."""
    images: list[Literal["source", "edited"]] | None = None
    """Image order override (default: the template's, source then edited)."""

    @field_validator("template")
    @classmethod
    def _template_loads(cls, value: str) -> str:
        load_template(value)
        return value

    @model_validator(mode="after")
    def _template_fits_mode(self) -> MllmJudgeConfig:
        template = load_template(self.template)
        if self.mode == "logprob" and template.answer == "scores":
            raise ValueError(f"template {self.template!r} answers with a score list, which needs mode: text")
        return self


def read_answer(template: JudgeTemplate, mode: str, choice: dict[str, Any]) -> tuple[float | None, str | None]:
    """One completion's first choice → the row's value, or the reason it is invalid."""
    if template.answer == "yes_no":
        return yes_probability(choice) if mode == "logprob" else text_yes_no(choice)
    if template.answer == "level":
        if mode == "logprob":
            return expected_level(choice, template.levels)
        return text_level(choice, min(template.levels), max(template.levels))
    scores, reason = score_list(choice)
    if scores is None:
        return None, reason
    return min(min(max(s / (template.score_range / 10), 0.0), 10.0) for s in scores), None


def outcome(replies: list[Reply], values: list[float | None], reasons: list[str | None]) -> RewardOutput:
    """Rows → output: NaN and the reason on invalid rows; ``retried/<reason>`` counts the recovered faults."""
    counters: dict[str, float] = {}
    for reply in replies:
        for reason in reply.retried:
            counters[f"retried/{reason}"] = counters.get(f"retried/{reason}", 0.0) + 1
    valid = torch.tensor([v is not None for v in values])  # [M]
    tensor = torch.tensor([float("nan") if v is None else v for v in values], dtype=torch.float32)  # [M]
    return RewardOutput(values=tensor, counters=counters, valid=valid, reasons=reasons)


class MllmJudge(ServedJudge):
    """A served VLM judge (Edit-R1 / CoCoEdit style): source and edited image + instruction in a template."""

    name = "mllm_judge"
    Config = MllmJudgeConfig
    def __init__(self, config: MllmJudgeConfig) -> None:
        super().__init__(config)
        self.template = load_template(config.template)

    def body(self, inputs: RewardInputs, row: int) -> dict[str, Any]:
        """The request for one row."""
        cfg = self.config
        pictures = {"source": inputs.source, "edited": inputs.images}
        order = cfg.images or self.template.images
        images = [to_pil(pictures[name][row], cfg.max_side) for name in order]  # type: ignore[index]
        return chat_body(
            cfg.model, images, self.template.render(inputs.instructions[row]),  # type: ignore[index]
            max_tokens=cfg.max_tokens, temperature=cfg.temperature,
            top_logprobs=cfg.top_logprobs if cfg.mode == "logprob" else None,
        )  # fmt: skip

    def score(self, inputs: RewardInputs) -> RewardOutput:
        """1. one request per row, all in flight together; 2. each answer read, or the row's failure kept."""
        M = inputs.images.shape[0]  # type: ignore[union-attr]
        replies = self.client.post_many([self.body(inputs, i) for i in range(M)])  # step 1
        values: list[float | None] = []
        reasons: list[str | None] = []
        for reply in replies:  # step 2
            value, reason = (None, reply.reason) if reply.choice is None else read_answer(
                self.template, self.config.mode, reply.choice
            )
            values.append(value)
            reasons.append(reason)
        return outcome(replies, values, reasons)
