"""Filling the disk cache ahead of a run (``editrl data encode``): every example of a split, in fixed chunks.

Resumable by construction: the chunks are the same positions on every run, a chunk whose entries are all present
(and verified) is skipped, and a chunk with any missing entry is encoded whole, exactly as an uninterrupted fill
would encode it (encoders need not give bit-identical rows for another batch composition), and only its missing
entries are written. A fill killed at any point, then run again, therefore ends with the same entries as one that
was never interrupted; temporary files a killed writer left are removed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from editrl.cache.keys import example_key
from editrl.cache.lookup import SourceLatents, latents_key, to_device
from editrl.cache.store import DiskStore
from editrl.interfaces import Backbone, EditBatch, EditExample


@dataclasses.dataclass
class FillCounts:
    encoded: int = 0
    """Entries written (new, or replacing a corrupt one)."""
    present: int = 0
    """Entries already in the cache and verified."""
    corrupt: int = 0
    """Entries found corrupt or truncated (re-encoded, counted in ``encoded`` too)."""


def remove_stale_temporaries(folder: Path) -> int:
    """Delete the temporary shard files (``.<name>.<pid>.<random>.tmp``) of writers that no longer run on this
    machine; returns how many. A live writer's file is left alone."""
    removed = 0
    for tmp in folder.glob("*/.*.tmp"):
        try:
            pid = int(tmp.name.split(".")[-3])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            tmp.unlink(missing_ok=True)
            removed += 1
        except PermissionError:  # another user's live process
            pass
    return removed


def fill(
    backbone: Backbone, load: Callable[[], None], store: DiskStore, bkey: str, examples: Sequence[EditExample],
    batch_size: int, advance: Callable[[int], None] = lambda n: None, source_latents: bool = False,
) -> FillCounts:
    """Encode every example of ``examples`` that ``store`` lacks, ``batch_size`` at a time (module docstring), and
    its source latents with ``source_latents`` (a component of the recipe needs them).

    ``load()`` is called once, before the first encode (a fully cached split loads no weights); ``advance(n)`` after
    each chunk of ``n`` examples (a progress bar)."""
    kinds = [(bkey, backbone.condition_class, backbone.encode_condition)]
    if source_latents:
        kinds.append((latents_key(bkey), SourceLatents, lambda b: SourceLatents(backbone.encode_images(b.source))))
    counts, loaded = FillCounts(), False
    for start in range(0, len(examples), batch_size):
        chunk = [examples[i] for i in range(start, min(start + batch_size, len(examples)))]
        for space, cls, encode in kinds:
            keys = [example_key(space, e.id, e.source, e.instruction) for e in chunk]
            before = store.corrupt
            missing = [i for i, k in enumerate(keys) if store.get(k, cls) is None]
            counts.corrupt += store.corrupt - before
            if space == bkey:
                counts.present += len(chunk) - len(missing)
            if not missing:
                continue
            if not loaded:
                load()
                loaded = True
            device = getattr(backbone, "device", None) or "cpu"
            rows = encode(EditBatch.collate(chunk).to(device)).split()  # the whole chunk, as an uninterrupted fill
            for i in missing:
                store.put(keys[i], to_device(rows[i], "cpu"))
            if space == bkey:
                counts.encoded += len(missing)
        advance(len(chunk))
    return counts
