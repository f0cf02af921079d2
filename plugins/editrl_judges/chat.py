"""One judge question as an OpenAI chat-completions body: the images (PNG data URLs) and the text."""

from __future__ import annotations

from typing import Any

from PIL import Image

from editrl_judges.images import data_url


def chat_body(
    model: str,
    images: list[Image.Image],
    text: str,
    *,
    max_tokens: int,
    temperature: float,
    top_logprobs: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    text_first: bool = False,
) -> dict[str, Any]:
    """The request body. ``max_tokens`` is always sent (llama.cpp ignores ``max_completion_tokens``; servers
    default to ≥ 1024 new tokens without it); ``top_logprobs`` asks for the first token's alternatives;
    ``text_first`` puts the text before the images (GEdit-Bench's and ImgEdit-Bench's order)."""
    content: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": data_url(im)}} for im in images]
    content.insert(0 if text_first else len(content), {"type": "text", "text": text})
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "temperature": temperature,
    }
    if top_logprobs is not None:
        body.update(logprobs=True, top_logprobs=top_logprobs)
    if top_p is not None:
        body["top_p"] = top_p
    if seed is not None:
        body["seed"] = seed
    return body
