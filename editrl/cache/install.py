"""At the start of a run: build the backbone's condition cache from its config, see how many of the run's examples it
already holds, load the backbone without its encoders when it holds all of them, and say so in one line."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from editrl.cache.keys import backbone_key, example_key
from editrl.cache.lookup import ConditionCache, SourceLatents, latents_key
from editrl.cache.store import DiskStore, MemoryStore, default_cache_dir
from editrl.errors import EditrlError
from editrl.interfaces import Backbone, EditExample


def human_bytes(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def cache_dir(backbone: Backbone) -> Path:
    """The disk cache's folder: ``backbone.condition_cache_dir`` or :func:`default_cache_dir`."""
    folder = getattr(backbone.config, "condition_cache_dir", None)
    return Path(folder).expanduser() if folder else default_cache_dir()


def open_store(backbone: Backbone, mode: str) -> tuple[str, MemoryStore | DiskStore]:
    """``(backbone key, store)`` for ``mode`` (memory or disk); EditrlError when the backbone cannot cache."""
    bkey = backbone_key(backbone)
    if bkey is None:
        raise EditrlError(
            f"backbone.condition_cache: backbone {backbone.name!r} does not declare what its condition depends on "
            "(condition_key), so its conditions cannot be cached; set backbone.condition_cache=off"
        )
    if mode == "memory":
        return bkey, MemoryStore()
    description = {"backbone": backbone.name, **backbone.condition_key()}
    return bkey, DiskStore(cache_dir(backbone), bkey, backbone.condition_class, description)


def held(store, bkey: str, example: EditExample, source_latents: bool) -> bool:
    """Whether ``store`` has a complete, verified entry of ``example`` (and of its source latents when asked)."""
    if store.get(example_key(bkey, example.id, example.source, example.instruction)) is None:
        return False
    key = example_key(latents_key(bkey), example.id, example.source, example.instruction)
    return not source_latents or store.get(key, SourceLatents) is not None


def first_missing(store, bkey: str, examples: Sequence[EditExample], source_latents: bool = False) -> int | None:
    """The position of the first of ``examples`` the store does not hold (a corrupt entry counts as missing), or None
    when it holds them all. Stops there: a split of a million procedural examples costs one look-up when the cache
    does not hold it."""
    for position, e in enumerate(examples):
        if not held(store, bkey, e, source_latents):
            return position
    return None


def install_condition_cache(
    backbone: Backbone, device: torch.device, splits: Callable[[], Mapping[str, Sequence[EditExample]]],
    source_latents: bool = False,
) -> str | None:
    """Load ``backbone`` on ``device`` and install its condition cache; returns the start-up report line (None when
    ``condition_cache`` is off).

    1. off (or a config without the field): a plain ``load``; 2. the store; 3. disk: the entry of every example of
    ``splits()`` (called in disk mode only) verified, and of their source latents when a component needs them
    (``source_latents``); 4. all of them held: load without the encoders; 5. install the cache and report."""
    # step 1
    mode = getattr(backbone.config, "condition_cache", "off")
    if mode == "off":
        backbone.load(device)
        return None
    # step 2
    bkey, store = open_store(backbone, mode)
    # step 3
    gaps = {}
    if mode == "disk":
        for name, examples in splits().items():
            gaps[name] = (first_missing(store, bkey, examples, source_latents), len(examples))
            if gaps[name][0] is not None:
                break  # the encoders are needed anyway
    complete = mode == "disk" and all(first is None for first, _ in gaps.values())
    # step 4
    if complete:
        backbone.load(device, encoders=False)
        outcome = f"encoders not loaded: {human_bytes(backbone.encoder_bytes())} of encoder parameters not resident"
    else:
        backbone.load(device)
        outcome = "encoders loaded (the rest are encoded on first use)"
    # step 5
    backbone.condition_cache = ConditionCache(backbone, bkey, store, encoders_loaded=not complete)
    if mode == "memory":
        return "condition cache (memory): each example encoded on first use, then reused"
    summary = ", ".join(
        f"all {total} {name} cached" if first is None else f"{name}: first miss at example {first} of {total}"
        for name, (first, total) in gaps.items() if total
    )
    return f"condition cache (disk, {store.folder}): {summary}; {outcome}"
