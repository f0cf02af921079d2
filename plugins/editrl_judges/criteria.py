"""Reading answers made of labelled score lines, ``<criterion>: <n>`` (ImgEdit-Bench's response format).

A line counts when its text after the colon is a number alone (markdown bold, a trailing full stop tolerated), so
"Brief reasoning: ..." never does. The criteria are found by name (case, punctuation and spacing ignored); an answer
that names them otherwise but has exactly as many score lines as there are criteria is read in order. Anything else
is an invalid row with its reason (``missing_scores``, ``ambiguous_scores``, ``truncated``, ``unparseable``).
"""

from __future__ import annotations

import re
from typing import Any

from editrl_judges.parsing import failure_reason, label_probabilities, message_text

LINE = re.compile(
    r"^[ \t*#>\-]*(?P<label>[^:\n]*[A-Za-z][^:\n]*?)[ \t*]*:[ \t*]*(?P<score>-?\d+(?:\.\d+)?)[ \t*.]*$", re.M
)


def _norm(label: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", label.lower()))


def score_lines(text: str, names: tuple[str, ...]) -> tuple[list[re.Match] | None, str | None]:
    """The score line of each criterion in ``names``, in that order, or why they cannot be told apart."""
    found = list(LINE.finditer(text))
    by_name: dict[str, re.Match] = {}
    for match in found:
        by_name.setdefault(_norm(match.group("label")), match)
    named = [by_name.get(_norm(name)) for name in names]
    if all(m is not None for m in named):
        return named, None  # type: ignore[return-value]
    if len(found) == len(names):
        return found, None
    if not found:
        return None, "unparseable"
    return None, "missing_scores" if len(found) < len(names) else "ambiguous_scores"


def _lines(choice: dict[str, Any], text: str, names: tuple[str, ...]) -> tuple[list[re.Match] | None, str | None]:
    lines, reason = score_lines(text, names)
    if lines is None and choice.get("finish_reason") == "length":
        return None, "truncated"
    if reason == "unparseable":
        return None, failure_reason(choice)
    return lines, reason


def criterion_scores(choice: dict[str, Any], names: tuple[str, ...]) -> tuple[list[float] | None, str | None]:
    """``text`` mode: the number on each criterion's line, as written (the caller clips)."""
    lines, reason = _lines(choice, message_text(choice), names)
    if lines is None:
        return None, reason
    return [float(m.group("score")) for m in lines], None


def criterion_expectations(
    choice: dict[str, Any], names: tuple[str, ...], levels: list[int]
) -> tuple[list[float] | None, str | None]:
    """``logprob`` mode: per criterion, ``Σ level · p(level) / Σ p(level)`` over the ``top_logprobs`` of the token
    that carries its score (the answer rebuilt from ``logprobs.content``; the score must be one token)."""
    try:
        content = choice["logprobs"]["content"]
        tokens = [str(entry["token"]) for entry in content]
    except (KeyError, TypeError):
        return None, "no_logprobs"
    if not tokens:
        return None, "no_logprobs"
    lines, reason = _lines(choice, "".join(tokens), names)
    if lines is None:
        return None, reason
    starts = [0]
    for token in tokens:
        starts.append(starts[-1] + len(token))
    out = []
    for match in lines:
        k = next(i for i in range(len(tokens)) if starts[i] <= match.start("score") < starts[i + 1])
        if tokens[k].strip() != match.group("score"):
            return None, "score_not_one_token"
        probs = label_probabilities(content[k].get("top_logprobs") or [], [str(level) for level in levels])
        if not probs:
            return None, "no_label"
        out.append(sum(float(label) * p for label, p in probs.items()) / sum(probs.values()))
    return out, None
