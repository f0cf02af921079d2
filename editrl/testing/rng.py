"""Randomness checks: perturb and watch the global RNGs, and compare two outputs exactly.

A component's randomness must come from the ``torch.Generator`` the engine hands it (the run's checkpointed RNG), so
that a resumed run replays the same draws. Two calls with generators seeded alike must agree exactly, whatever
happened to the global RNGs (torch, Python's ``random``, NumPy's legacy global) in between, and no call may move them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def _global_states() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "random": random.getstate(), "numpy": np.random.get_state()}


def _same_state(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, tuple):  # NumPy's state tuple holds an array
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b))
    return a == b


@contextlib.contextmanager
def preserved_global_rng() -> Iterator[None]:
    """Restore the global RNG states on exit, so that checks leave the calling test's randomness as it was."""
    saved = _global_states()
    try:
        yield
    finally:
        torch.set_rng_state(saved["torch"])
        random.setstate(saved["random"])
        np.random.set_state(saved["numpy"])


def perturb_global_rng(seed: int) -> None:
    """Reseed every global RNG and draw from it, so a component that (wrongly) uses them sees different numbers."""
    torch.manual_seed(seed)
    torch.rand(7)
    random.seed(seed)
    np.random.seed(seed % 2**32)


@contextlib.contextmanager
def watch_global_rng(moved: list[str]) -> Iterator[None]:
    """Append to ``moved`` the names of the global RNGs whose state changed inside the block."""
    before = _global_states()
    yield
    after = _global_states()
    moved.extend(name for name in before if not _same_state(before[name], after[name]))


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh generator on ``device`` seeded with ``seed``."""
    return torch.Generator(device=device).manual_seed(seed)


def first_difference(a: Any, b: Any, path: str = "output") -> str | None:
    """Where two outputs differ (``path[index].field: why``), or None when they are exactly equal.

    Tensors must agree in shape, dtype and every element (NaNs at the same places count as equal); dicts, lists,
    tuples and dataclasses are compared item by item; floats exactly (NaN equals NaN).
    """
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return f"{path}: a tensor once and a {type(b if isinstance(a, torch.Tensor) else a).__name__} once"
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{path}: {tuple(a.shape)} {a.dtype} vs {tuple(b.shape)} {b.dtype}"
        x, y = a.detach().cpu(), b.detach().cpu()
        if not torch.equal(x, y) and not bool((torch.isnan(x) & torch.isnan(y) | (x == y)).all()):
            gap = (x.double() - y.double()).abs().nan_to_num(math.inf).max()
            return f"{path}: values differ (max abs difference {float(gap):.3g})"
        return None
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        if type(a) is not type(b):
            return f"{path}: {type(a).__name__} vs {type(b).__name__}"
        for f in dataclasses.fields(a):
            found = first_difference(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
            if found:
                return found
        return None
    if isinstance(a, dict):
        if not isinstance(b, dict) or set(a) != set(b):
            keys_b = sorted(b) if isinstance(b, dict) else type(b).__name__
            return f"{path}: keys {sorted(map(str, a))} vs {keys_b}"
        for key in a:
            found = first_difference(a[key], b[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b) if isinstance(b, (list, tuple)) else type(b).__name__}"
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"
