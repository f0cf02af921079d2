"""Images for judges: ``[3, H, W]`` tensors in [0, 1], downscaled to a maximum side, as PIL or PNG data URLs."""

from __future__ import annotations

import base64
import io

import numpy as np
import torch
from PIL import Image


def to_pil(image: torch.Tensor, max_side: int) -> Image.Image:
    """``[3, H, W]`` in [0, 1] → RGB PIL image whose longer side is at most ``max_side`` (aspect kept, LANCZOS)."""
    # numpy, not torch: this runs on reward worker threads, which should not start torch thread teams of their own
    pixels = np.rint(np.clip(image.detach().float().cpu().numpy(), 0, 1) * 255).astype(np.uint8)  # [3, H, W]
    pil = Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)), mode="RGB")
    longest = max(pil.size)
    if longest > max_side:
        scale = max_side / longest
        pil = pil.resize((max(1, round(pil.width * scale)), max(1, round(pil.height * scale))), Image.LANCZOS)
    return pil


def data_url(image: Image.Image) -> str:
    """A PNG ``data:`` URL, the form OpenAI-compatible servers accept in an ``image_url`` part."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
