"""Images for judges: ``[3, H, W]`` tensors in [0, 1], downscaled to a maximum side, as PIL or PNG data URLs.

A step asks about the same pictures many times: every candidate of an example shares its source, and EditScore and
GEdit-Bench show the edited image to both their questions, in every pass. :func:`data_url` therefore encodes each
distinct picture once (:class:`DataUrlCache`): it keeps the latest URLs by a digest of their pixels, up to 64 MiB of
them, so the PNG encoder, the costly part, runs once per picture and the rest is a hash of its bytes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections import OrderedDict

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


def png_data_url(image: Image.Image) -> str:
    """A PNG ``data:`` URL, the form OpenAI-compatible servers accept in an ``image_url`` part (always encodes)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class DataUrlCache:
    """:func:`png_data_url` once per distinct picture (mode, size and pixels) while it is among the newest ``budget``
    characters of URLs handed out; safe from the engine's reward threads. The module's :data:`data_url` is one."""

    def __init__(self, budget: int) -> None:
        self.budget = budget  # characters of URLs kept (0: none, every picture is encoded)
        self._urls: OrderedDict[bytes, str] = OrderedDict()
        self.held = 0  # characters in _urls
        self._lock = threading.Lock()

    def __call__(self, image: Image.Image) -> str:
        key = hashlib.blake2b(f"{image.mode} {image.size}".encode() + image.tobytes(), digest_size=16).digest()
        with self._lock:
            url = self._urls.get(key)
            if url is not None:
                self._urls.move_to_end(key)
                return url
        url = png_data_url(image)  # outside the lock: threads encode different pictures at once
        with self._lock:
            if key not in self._urls:
                self._urls[key] = url
                self.held += len(url)
            while self.held > self.budget:  # the oldest go first
                self.held -= len(self._urls.popitem(last=False)[1])
        return url

    def __len__(self) -> int:
        return len(self._urls)

    def clear(self) -> None:
        with self._lock:
            self._urls.clear()
            self.held = 0


#: The URLs of every judge's pictures: 64 MiB hold a step's distinct sources and the edits being asked about (some
#: hundreds of pictures at 512 px).
data_url = DataUrlCache(64 * 2**20)
