"""The Qwen2.5-VL condition of Qwen-Image-Edit: the pipelines' chat template around the instruction and the source
image, the last hidden state with the system prefix dropped, and which of the kept tokens are the instruction.

This reproduces ``QwenImageEdit(Plus)Pipeline._get_qwen_prompt_embeds`` (diffusers 0.42.1) for a batch of prompts in
one encoder call, and additionally returns the instruction-token mask ACD averages over: the positions strictly
between the *last* ``<|vision_end|>`` and the next ``<|im_end|>`` of each row's kept tokens, found by token id (never
a fixed offset: the 64 dropped tokens are 64 tokens of the system text with the real tokenizer, 64 bytes with a
byte-level one).
"""

from __future__ import annotations

import dataclasses

import torch

#: The Plus pipeline's per-image prefix (a literal inside its ``_get_qwen_prompt_embeds``; it has no attribute).
PLUS_IMAGE_PROMPT = "Picture {}: <|vision_start|><|image_pad|><|vision_end|>"


@dataclasses.dataclass
class EncodedPrompts:
    embeds: torch.Tensor  # [P, T, D] last hidden state, system prefix dropped, right-padded with zeros
    mask: torch.Tensor  # [P, T] bool, True = a real token (the pipeline's prompt_embeds_mask)
    instruction: torch.Tensor  # [P, T] bool, True = an instruction token


def chat_texts(template: str, prompts: list[str], images_per_prompt: int, plus: bool) -> list[str]:
    """The encoder's input texts: the Edit template has the image slot built in; Plus prefixes one
    ``Picture i:`` vision block per image to the instruction."""
    if not plus:
        return [template.format(p) for p in prompts]
    prefix = "".join(PLUS_IMAGE_PROMPT.format(i + 1) for i in range(images_per_prompt))
    return [template.format(prefix + p) for p in prompts]


def instruction_mask(kept_ids: torch.Tensor, vision_end: int, im_end: int) -> torch.Tensor:
    """``[t]`` kept token ids of one row → ``[t]`` bool: strictly between the last vision-end and the next im-end."""
    positions = torch.arange(kept_ids.shape[0], device=kept_ids.device)
    ends = (kept_ids == vision_end).nonzero()
    start = int(ends[-1]) + 1 if len(ends) else 0
    closes = ((kept_ids == im_end) & (positions >= start)).nonzero()
    stop = int(closes[0]) if len(closes) else kept_ids.shape[0]
    return (positions >= start) & (positions < stop)


@torch.no_grad()
def encode_prompts(
    text_encoder, processor, texts: list[str], images: list, drop: int, device: torch.device, dtype: torch.dtype
) -> EncodedPrompts:
    """One Qwen2.5-VL call over ``texts`` (each with its images, in order, flattened into ``images``).

    Steps (the pipeline's): 1. the processor expands each ``<|image_pad|>`` to the image's merged patches and pads
    the batch; 2. the encoder's last hidden state; 3. each row's real tokens, the first ``drop`` removed, stacked
    right-padded with zeros, with a mask of the real ones; 4. the instruction tokens of each row."""
    tokenizer = processor.tokenizer
    vision_end = tokenizer.convert_tokens_to_ids("<|vision_end|>")
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    # step 1
    inputs = processor(text=texts, images=images or None, padding=True, return_tensors="pt").to(text_encoder.device)
    # step 2
    hidden = text_encoder(
        input_ids=inputs["input_ids"],
        attention_mask=inputs["attention_mask"],
        pixel_values=inputs.get("pixel_values"),
        image_grid_thw=inputs.get("image_grid_thw"),
        output_hidden_states=True,
    ).hidden_states[-1]  # [P, L, D]
    # step 3
    valid = inputs["attention_mask"].bool()  # [P, L]
    rows = [hidden[p][valid[p]][drop:] for p in range(len(texts))]  # [t_p, D] each
    ids = [inputs["input_ids"][p][valid[p]][drop:] for p in range(len(texts))]  # [t_p]
    T = max(r.shape[0] for r in rows)
    embeds = torch.stack([torch.cat([r, r.new_zeros(T - r.shape[0], r.shape[1])]) for r in rows])  # [P, T, D]
    mask = torch.zeros(len(texts), T, dtype=torch.bool)
    instruction = torch.zeros(len(texts), T, dtype=torch.bool)
    for p, r in enumerate(rows):
        mask[p, : r.shape[0]] = True
        # step 4
        instruction[p, : r.shape[0]] = instruction_mask(ids[p], vision_end, im_end).cpu()
    return EncodedPrompts(embeds=embeds.to(device=device, dtype=dtype), mask=mask.to(device), instruction=instruction.to(device))
