"""Cache keys. An entry is valid for exactly one (backbone, weights, encoder settings, example contents): the key is a
SHA-256 over all of them, so any change misses the cache instead of reusing a stale entry."""

from __future__ import annotations

import hashlib
import json

import torch

#: Bumped whenever the shard layout or the key's definition changes (old entries then simply miss).
FORMAT = "editrl-condition/1"


def backbone_key(backbone) -> str | None:
    """Hex key of what every condition of ``backbone`` depends on (``condition_key()`` plus its condition class), or
    None when the backbone cannot cache conditions."""
    key = backbone.condition_key()
    if key is None:
        return None
    cls = backbone.condition_class
    payload = {"format": FORMAT, "backbone": backbone.name, "condition": f"{cls.__module__}.{cls.__qualname__}", **key}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def tensor_digest(h, tensor: torch.Tensor) -> None:
    """Feed ``tensor``'s dtype, shape and raw bytes to the hash ``h`` (any dtype, bf16 included; copied to the CPU)."""
    t = tensor.detach().to("cpu").contiguous()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def example_key(bkey: str, example_id: str, source: torch.Tensor, instruction: str) -> str:
    """Hex key of one example's condition: the backbone key, the id, the source image ``[3, H, W]`` (its exact
    values) and the instruction."""
    h = hashlib.sha256()
    h.update(json.dumps([bkey, example_id, instruction]).encode())
    tensor_digest(h, source)
    return h.hexdigest()


def batch_keys(bkey: str, batch) -> list[str]:
    """The :func:`example_key` of every row of an :class:`~editrl.interfaces.EditBatch`."""
    return [example_key(bkey, i, s, t) for i, s, t in zip(batch.ids, batch.source, batch.instructions)]
