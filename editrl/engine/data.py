"""Deterministic, resumable order over a dataset split."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from editrl.errors import EditrlError
from editrl.interfaces import EditBatch, EditExample


class DataCursor:
    """Walks a split in epochs of seeded permutations; its position is two integers, so resuming is exact.

    With several processes, each takes every ``world``-th example of the global batch.
    """

    def __init__(self, examples: Sequence[EditExample], batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if len(examples) == 0:  # the data check refuses this first, naming the manifest; here for direct callers
            raise EditrlError("dataset: the training split is empty; give it at least one example")
        self.examples = examples
        self.batch_size = batch_size
        self.seed = seed
        self.rank, self.world = rank, world
        self.epoch = 0
        self.offset = 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.examples), generator=g).tolist()

    def next_batch(self) -> EditBatch:
        """The next ``batch_size`` examples of this process (crossing epochs as needed)."""
        picked: list[int] = []
        global_size = self.batch_size * self.world
        while len(picked) < global_size:
            if self.offset >= len(self._order):
                self.epoch += 1
                self.offset = 0
                self._order = self._permutation(self.epoch)
            take = min(global_size - len(picked), len(self._order) - self.offset)
            picked.extend(self._order[self.offset : self.offset + take])
            self.offset += take
        mine = picked[self.rank :: self.world]
        return EditBatch.collate([self.examples[i] for i in mine])

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "offset": self.offset}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.offset = int(state["epoch"]), int(state["offset"])
        self._order = self._permutation(self.epoch)
