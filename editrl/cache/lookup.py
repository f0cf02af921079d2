""":class:`ConditionCache`: a batch's condition from the cache, encoding only the examples it does not hold.

The trainer and the evaluation get every condition through :func:`cached_condition`, which uses the cache the engine
installed on the backbone (``backbone.condition_cache``) or, without one, calls ``encode_condition`` as before.
"""

from __future__ import annotations

import dataclasses

import torch

from editrl.cache.keys import batch_keys
from editrl.errors import EditrlError
from editrl.interfaces import Backbone, Condition, EditBatch


def select(batch: EditBatch, rows: list[int]) -> EditBatch:
    """The examples ``rows`` of ``batch``, in that order."""
    index = torch.tensor(rows, device=batch.source.device)
    pick = lambda t: None if t is None else t.index_select(0, index.to(t.device))  # noqa: E731
    listed = lambda values: None if values is None else [values[i] for i in rows]  # noqa: E731
    return EditBatch(
        ids=listed(batch.ids), source=pick(batch.source), instructions=listed(batch.instructions),
        mask=pick(batch.mask), target=pick(batch.target), descriptions=listed(batch.descriptions),
        tasks=listed(batch.tasks),
    )


def to_device(cond: Condition, device: torch.device) -> Condition:
    """Every tensor field of ``cond`` (per-row and shared) on ``device``."""
    changes = {
        f.name: getattr(cond, f.name).to(device) for f in dataclasses.fields(cond)
        if isinstance(getattr(cond, f.name), torch.Tensor)
    }
    return dataclasses.replace(cond, **changes)


@dataclasses.dataclass
class SourceLatents(Condition):
    """``encode_images`` of examples' sources, cached beside their conditions for components that need
    ``source_latents`` (e.g. a regulariser on the source's latents), so that they too need no VAE encoder."""

    latents: torch.Tensor  # [N, C, h, w]


def latents_key(bkey: str) -> str:
    """The key space of :class:`SourceLatents` entries (the condition's, tagged)."""
    return f"{bkey}/source_latents"


class ConditionCache:
    """Conditions of ``backbone`` keyed by ``bkey`` in ``store`` (a :class:`~editrl.cache.store.MemoryStore` or
    :class:`~editrl.cache.store.DiskStore`), and the sources' latents when asked. ``encoders_loaded``: False when the
    backbone was loaded without its encoders, so a miss is an error rather than an encode. Counters: ``hits``,
    ``misses``, ``encoder_calls`` (``encode_condition`` and ``encode_images`` calls)."""

    def __init__(self, backbone: Backbone, bkey: str, store, *, encoders_loaded: bool = True) -> None:
        self.backbone = backbone
        self.bkey = bkey
        self.store = store
        self.encoders_loaded = encoders_loaded
        self.hits = 0
        self.misses = 0
        self.encoder_calls = 0

    def _rows(self, batch: EditBatch, keys: list[str], cls: type[Condition], encode) -> list[Condition]:
        """Steps: 1. the rows the store holds; 2. the others encoded together by ``encode(sub-batch)`` and stored;
        3. every row, in the batch's order."""
        # step 1
        found = {i: self.store.get(k, cls) for i, k in enumerate(keys)}
        missing = [i for i, row in found.items() if row is None]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        # step 2
        if missing:
            if not self.encoders_loaded:
                names = ", ".join(repr(batch.ids[i]) for i in missing[:3])
                raise EditrlError(
                    f"condition cache: example(s) {names} are not in the cache, and the encoders were not loaded "
                    "because it held every example at start (did the dataset change during the run?); run `editrl "
                    "data encode RECIPE` again"
                )
            encoded = encode(select(batch, missing))  # len(missing) rows
            self.encoder_calls += 1
            for i, row in zip(missing, encoded.split()):
                found[i] = to_device(row, torch.device("cpu"))
                self.store.put(keys[i], found[i])
        # step 3
        return [found[i] for i in range(len(keys))]

    def condition(self, batch: EditBatch) -> Condition:
        """The condition of ``batch``, one row per example, equal to ``backbone.encode_condition(batch)``: the rows
        joined in the batch's order (the backbone's ``Condition.collate``) on the backbone's device."""
        rows = self._rows(batch, batch_keys(self.bkey, batch), self.backbone.condition_class,
                          self.backbone.encode_condition)
        cond = self.backbone.condition_class.collate(rows)
        return to_device(cond, getattr(self.backbone, "device", None) or batch.source.device)

    def source_latents(self, batch: EditBatch) -> torch.Tensor:
        """``backbone.encode_images(batch.source)`` ``[N, C, h, w]``, through the cache."""
        rows = self._rows(batch, batch_keys(latents_key(self.bkey), batch), SourceLatents,
                          lambda sub: SourceLatents(self.backbone.encode_images(sub.source)))
        return SourceLatents.collate(rows).latents.to(getattr(self.backbone, "device", None) or batch.source.device)


def cached_condition(backbone: Backbone, batch: EditBatch) -> Condition:
    """``batch``'s condition through the backbone's installed cache, or ``encode_condition`` when there is none."""
    cache = backbone.condition_cache
    return backbone.encode_condition(batch) if cache is None else cache.condition(batch)


def cached_source_latents(backbone: Backbone, batch: EditBatch) -> torch.Tensor:
    """``encode_images(batch.source)`` through the backbone's installed cache, or directly when there is none."""
    cache = backbone.condition_cache
    return backbone.encode_images(batch.source) if cache is None else cache.source_latents(batch)
