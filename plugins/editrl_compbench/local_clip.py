"""CompBench's local CLIP scores on the official crops (notes/eval_metrics.md §1.4), via ``CLIPModel``.

The crop is the tight bounding box of ``mask > 0`` cut with PIL's ``crop((left, top, right, bottom))`` where right and
bottom are the *largest* mask indices, so the mask's last column and row fall outside the crop (as in ``eval_all.py``).
A mask whose box has no width or height (empty, one row, one column) gives LC-T = LC-I = 0.0, and that 0.0 is averaged
in, as the official script does; the ``empty_crop`` counter says how often.

- **LC-T** (``compbench_lc_t``): ``max(100·cos(E_img(crop of the edit), E_txt(description)), 0)``, torchmetrics'
  ``CLIPScore`` on the projected, L2-normalised features; an empty description is scored as ``" "``.
- **LC-I** (``compbench_lc_i``): the raw cosine (not ×100, not clamped) between the image features of the edit's crop
  and of the ground truth's crop in the same box.

The official model is ``openai/clip-vit-large-patch14``. Images go through the PIL image processor
(``CLIPImageProcessorPil``: shortest side to 224 bicubic, centre crop, CLIP normalisation), the processor CompBench
ran with transformers 4; transformers 5's default torchvision processor resizes slightly differently.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from editrl.errors import ResourceError
from editrl.interfaces import Reward, RewardConfig, RewardInputs, RewardOutput

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
#: (model, device, dtype) → (CLIPModel, image processor, tokenizer), shared by LC-T and LC-I of one process.
_LOADED: dict[tuple[str, str, str], tuple] = {}


def edit_bbox(mask: torch.Tensor) -> tuple[int, int, int, int] | None:
    """``eval_all.py``'s ``get_bbox_from_mask``: ``(left, top, right, bottom)`` = (min x, min y, max x, max y) of the
    pixels of ``mask [1, H, W]`` above 0, or None when that box has no width or no height (including an empty mask)."""
    ys, xs = np.nonzero(mask[0].detach().cpu().numpy() > 0)
    if len(xs) == 0:
        return None
    left, top, right, bottom = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    return (left, top, right, bottom) if right > left and bottom > top else None


def crop(image: torch.Tensor, box: tuple[int, int, int, int]) -> Image.Image:
    """``PIL.Image.crop(box)`` of ``image [3, H, W]`` in [0, 1] as 8-bit RGB: columns left..right−1, rows
    top..bottom−1."""
    left, top, right, bottom = box
    pixels = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)  # [3, H, W]
    return Image.fromarray(pixels[:, top:bottom, left:right].permute(1, 2, 0).contiguous().numpy(), "RGB")


def load_clip(model: str, device: torch.device, dtype: str, who: str) -> tuple:
    """``(CLIPModel, CLIPImageProcessorPil, tokenizer)`` from a hub id or a local folder, loaded once per process."""
    key = (model, str(device), dtype)
    if key not in _LOADED:
        from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel

        path = Path(model).expanduser()
        if (path.is_absolute() or model.startswith(".")) and not path.is_dir():
            raise ResourceError(f"{who}.model: {model} is not a folder (expected a CLIP saved in the hub layout)")

        try:
            clip = CLIPModel.from_pretrained(model, dtype=DTYPES[dtype])
            processor = CLIPImageProcessorPil.from_pretrained(model)
            tokenizer = AutoTokenizer.from_pretrained(model)
        except OSError as exc:
            raise ResourceError(
                f"{who}.model: cannot load CLIP {model!r} ({str(exc).splitlines()[0]}). Fetch it on a machine with "
                f"network access (`hf download {model}`) or set {who}.model to a local folder holding the model, "
                "its tokenizer and preprocessor_config.json."
            ) from None
        _LOADED[key] = (clip.to(device).eval().requires_grad_(False), processor, tokenizer)
    return _LOADED[key]


def features(output) -> torch.Tensor:
    """The projected features of ``get_image_features`` / ``get_text_features``: a tensor in transformers 4, the
    ``pooler_output`` of a ``BaseModelOutputWithPooling`` in transformers 5."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class LocalClipConfig(RewardConfig):
    model: str = "openai/clip-vit-large-patch14"
    """CLIP as a hub id or a local folder (model, tokenizer, preprocessor_config.json). CompBench: ViT-L/14."""
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Weights' dtype; CompBench's numbers are fp32."""
    batch_size: int = Field(16, ge=1, le=1024)
    """Crops encoded at once."""


class _LocalClip(Reward):
    """Shared by LC-T and LC-I: model loading, the crops and the image features."""

    Config: ClassVar[type[LocalClipConfig]] = LocalClipConfig

    def load(self, device: torch.device) -> None:
        self.clip = load_clip(self.config.model, device, self.config.dtype, self.name)
        self.device = device

    def _ensure_loaded(self, like: torch.Tensor) -> tuple:
        if getattr(self, "device", None) is None:
            self.load(like.device)
        return self.clip

    def _boxes(self, inputs: RewardInputs, needs: tuple[str, ...]) -> list[tuple[int, int, int, int] | None]:
        missing = [f for f in needs if getattr(inputs, f) is None]
        if missing:
            raise ValueError(f"metric {self.name!r} needs {', '.join(missing)} in its inputs")
        return [edit_bbox(m) for m in inputs.mask]  # type: ignore[union-attr]

    @torch.no_grad()
    def image_features(self, crops: list[Image.Image]) -> torch.Tensor:
        """``[len(crops), D]`` float32 projected image features (not normalised)."""
        model, processor, _ = self.clip
        out = []
        for start in range(0, len(crops), self.config.batch_size):
            chunk = crops[start : start + self.config.batch_size]
            pixels = processor(images=chunk, return_tensors="pt")["pixel_values"]
            pixels = pixels.to(self.device, DTYPES[self.config.dtype])  # [b, 3, S, S]
            out.append(features(model.get_image_features(pixel_values=pixels)).float().cpu())  # [b, D]
        return torch.cat(out)

    @staticmethod
    def _output(scores: list[float | None]) -> RewardOutput:
        """Rows without a usable box score 0.0, as in ``eval_all.py``."""
        values = torch.tensor([0.0 if s is None else s for s in scores], dtype=torch.float32)  # [M]
        return RewardOutput(values=values, counters={"empty_crop": float(scores.count(None))})


class LocalClipText(_LocalClip):
    """CompBench LC-T: CLIPScore ``max(100·cos, 0)`` of the edit's crop (mask bounding box) against the description."""

    name = "compbench_lc_t"
    requires: ClassVar[frozenset[str]] = frozenset({"images", "mask", "description"})

    @torch.no_grad()
    def score(self, inputs: RewardInputs) -> RewardOutput:
        boxes = self._boxes(inputs, ("images", "mask", "descriptions"))
        model, _, tokenizer = self._ensure_loaded(inputs.images)
        rows = [i for i, b in enumerate(boxes) if b is not None]
        scores: list[float | None] = [None] * len(boxes)
        if rows:
            image = self.image_features([crop(inputs.images[i], boxes[i]) for i in rows])  # [R, D]
            texts = [inputs.descriptions[i] or " " for i in rows]  # type: ignore[index]
            max_length = model.config.text_config.max_position_embeddings
            tokens = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            text = features(model.get_text_features(**tokens.to(self.device))).float().cpu()  # [R, D]
            cos = torch.nn.functional.cosine_similarity(image, text, dim=-1)  # [R]
            for i, value in zip(rows, (100.0 * cos).clamp_min(0.0).tolist()):
                scores[i] = value
        return self._output(scores)


class LocalClipImage(_LocalClip):
    """CompBench LC-I: cosine of the CLIP image features of the edit's and the ground truth's crops (same box)."""

    name = "compbench_lc_i"
    requires: ClassVar[frozenset[str]] = frozenset({"images", "mask", "target"})

    @torch.no_grad()
    def score(self, inputs: RewardInputs) -> RewardOutput:
        boxes = self._boxes(inputs, ("images", "mask", "target"))
        self._ensure_loaded(inputs.images)
        rows = [i for i, b in enumerate(boxes) if b is not None]
        scores: list[float | None] = [None] * len(boxes)
        if rows:
            crops = [crop(inputs.images[i], boxes[i]) for i in rows] + [crop(inputs.target[i], boxes[i]) for i in rows]
            f = self.image_features(crops)  # [2R, D]
            cos = torch.nn.functional.cosine_similarity(f[: len(rows)], f[len(rows) :], dim=-1)  # [R]
            for i, value in zip(rows, cos.tolist()):
                scores[i] = value
        return self._output(scores)
