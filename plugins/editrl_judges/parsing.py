"""Reading a judge's answer: the expected level from ``top_logprobs``, or numbers from the message text.

Each reader returns ``(value, None)`` or ``(None, reason)``; a reason makes the row invalid, never a number.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def top_logprobs(choice: dict[str, Any]) -> list[dict[str, Any]] | None:
    """``choices[0].logprobs.content[0].top_logprobs``, or None when the server sent none."""
    try:
        entries = choice["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None
    return entries if isinstance(entries, list) and entries else None


def label_probabilities(entries: list[dict[str, Any]], labels: list[str]) -> dict[str, float]:
    """Probability of each label, looking tokens up by normalised text (stripped, lower case; variants summed).

    Servers may return fewer entries than asked, unsorted, keyed by decoded text; a label absent from them is absent
    from the result.
    """
    wanted = {label.strip().lower(): label for label in labels}
    out: dict[str, float] = {}
    for entry in entries:
        token = str(entry.get("token", "")).strip().lower()
        logprob = entry.get("logprob")
        if token in wanted and isinstance(logprob, (int, float)) and math.isfinite(logprob):
            out[wanted[token]] = out.get(wanted[token], 0.0) + math.exp(logprob)
    return out


def expected_level(choice: dict[str, Any], levels: list[int]) -> tuple[float | None, str | None]:
    """``Σ level · p(level) / Σ p(level)`` over the level labels found in ``top_logprobs``."""
    entries = top_logprobs(choice)
    if entries is None:
        return None, "no_logprobs"
    probs = label_probabilities(entries, [str(level) for level in levels])
    if not probs:
        return None, "no_label"
    mass = sum(probs.values())
    return sum(float(label) * p for label, p in probs.items()) / mass, None


def yes_probability(choice: dict[str, Any]) -> tuple[float | None, str | None]:
    """``P(Yes) / (P(Yes) + P(No))`` over ``top_logprobs`` (one label absent counts as probability 0)."""
    entries = top_logprobs(choice)
    if entries is None:
        return None, "no_logprobs"
    probs = label_probabilities(entries, ["Yes", "No"])
    if not probs:
        return None, "no_label"
    return probs.get("Yes", 0.0) / (probs.get("Yes", 0.0) + probs.get("No", 0.0)), None


def message_text(choice: dict[str, Any]) -> str:
    content = (choice.get("message") or {}).get("content")
    return content if isinstance(content, str) else ""


def failure_reason(choice: dict[str, Any]) -> str:
    """An answer that does not parse: ``truncated`` when generation hit ``max_tokens``, else ``unparseable``."""
    return "truncated" if choice.get("finish_reason") == "length" else "unparseable"


def text_level(choice: dict[str, Any], low: float, high: float) -> tuple[float | None, str | None]:
    """The first number in the message, clipped to ``[low, high]``."""
    match = NUMBER.search(message_text(choice))
    if match is None:
        return None, failure_reason(choice)
    return min(max(float(match.group()), low), high), None


def text_yes_no(choice: dict[str, Any]) -> tuple[float | None, str | None]:
    """1 for an answer starting with yes, 0 for no."""
    words = re.findall(r"[a-z]+", message_text(choice).lower())
    if not words or words[0] not in ("yes", "no"):
        return None, failure_reason(choice)
    return (1.0 if words[0] == "yes" else 0.0), None


def clip_scores(scores: list[float], low: float, high: float) -> tuple[list[float], int]:
    """Scores clipped to ``[low, high]``, and how many were outside (counted, never guessed at)."""
    clipped = [min(max(s, low), high) for s in scores]
    return clipped, sum(c != s for c, s in zip(clipped, scores))


def score_list(choice: dict[str, Any]) -> tuple[list[float] | None, str | None]:
    """The ``score`` list of an EditScore-style answer ``{"reasoning": ..., "score": [a, b]}``.

    Tried in order: the ``{...}`` span as JSON; the list after ``"score":``; a bare ``[a, b]`` list.
    """
    text = message_text(choice)
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            scores = json.loads(text[start : end + 1]).get("score")
            if isinstance(scores, list) and scores and all(isinstance(x, (int, float)) for x in scores):
                return [float(x) for x in scores], None
        except (ValueError, AttributeError):
            pass
    for pattern in (r'"score"\s*:\s*\[([^\]]*)\]', r"\[([^\[\]]*)\]"):
        match = re.search(pattern, text)
        if match:
            numbers = NUMBER.findall(match.group(1))
            if numbers:
                return [float(x) for x in numbers], None
    return None, failure_reason(choice)
