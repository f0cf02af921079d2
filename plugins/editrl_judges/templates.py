"""Judge prompt templates: builtin ones, or a YAML file of named fields (no code).

A template is text with one field, ``{instruction}``; every other character is literal (JSON braces included). It
also says which images are sent, in which order, and how the answer is read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from editrl_judges.editscore_prompts import pq_prompt, sc_prompt

FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
FIELDS = ("instruction",)


class JudgeTemplate(BaseModel):
    """How to ask a judge about one edit and how to read its answer."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    prompt: str = Field(min_length=1)
    """Text sent after the images; ``{instruction}`` is replaced by the edit instruction (the only field)."""
    answer: Literal["level", "yes_no", "scores"]
    """level: a number on ``levels`` (logprob mode: the expected level); yes_no: P(Yes); scores: a list of scores on
    0..score_range, the reward being their minimum rescaled to 0–10 (text mode only)."""
    levels: list[int] = Field(default_factory=lambda: list(range(6)), min_length=2)
    """The level labels of ``answer: level``; each must be one token for the judge."""
    score_range: int = Field(25, ge=1)
    """The top of the scale of ``answer: scores``."""
    images: list[Literal["source", "edited"]] = Field(default_factory=lambda: ["source", "edited"], min_length=1)
    """Which images are sent, in order, before the text."""

    @model_validator(mode="after")
    def _named_fields_only(self) -> JudgeTemplate:
        unknown = sorted({name for name in FIELD.findall(self.prompt) if name not in FIELDS})
        if unknown:
            raise ValueError(
                f"prompt uses {', '.join('{' + u + '}' for u in unknown)}; the only field is {{instruction}}"
            )
        return self

    def render(self, instruction: str) -> str:
        return FIELD.sub(lambda m: instruction if m.group(1) == "instruction" else m.group(0), self.prompt)


BUILTIN: dict[str, JudgeTemplate] = {
    # Edit-R1's judge prompt as CoCoEdit sends it (the judge's protocol, kept verbatim).
    "edit_r1": JudgeTemplate(
        prompt=(
            "Here are two images: the original and the edited version. Please evaluate the edited image based on the "
            "following editing instruction and requirement.\nInstruction: {instruction}\nYou need to rate the "
            "editing result from 0 to 5 based on the accuracy and quality of the edit.\n0: The wrong object was "
            "edited, or the edit completely fails to meet the requirements.\n5: The correct object was edited, the "
            "requirements were met, and the visual result is high quality.\nResponse Format (Directly response the "
            "score number):\n0-5"
        ),
        answer="level",
    ),
    "yes_no": JudgeTemplate(
        prompt=(
            "The first image is the original, the second is the result of editing it.\nInstruction: {instruction}\n"
            "Does the second image carry out the instruction correctly while leaving the rest of the original "
            "unchanged? Answer Yes or No."
        ),
        answer="yes_no",
    ),
    "editscore_sc": JudgeTemplate(prompt=sc_prompt("{instruction}", 25), answer="scores", score_range=25),
    "editscore_pq": JudgeTemplate(prompt=pq_prompt(25), answer="scores", score_range=25, images=["edited"]),
}


def load_template(name_or_path: str) -> JudgeTemplate:
    """A builtin template by name, or a YAML file's; ``ValueError`` naming the file (and line) on bad input."""
    if name_or_path in BUILTIN:
        return BUILTIN[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(
            f"expected a builtin template ({', '.join(BUILTIN)}) or a YAML template file; {name_or_path!r} is neither"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as exc:
        line = f" line {exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise ValueError(f"template file {path}{line}: not valid YAML ({exc.problem})") from None
    if not isinstance(data, dict):
        raise ValueError(f"template file {path}: expected a mapping with prompt, answer, ... at the top level")
    try:
        return JudgeTemplate(**data)
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(map(str, e["loc"])) + ": " * bool(e["loc"]) + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise ValueError(f"template file {path}: {problems}") from None
