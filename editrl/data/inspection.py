"""What a dataset says about its examples before anything trains: :class:`ExampleInfo` per example of a split.

A dataset describes (``EditDataset.inspect``), the backbone accepts or refuses (``Backbone.check_example``), and
:mod:`editrl.data.check` decides: unusable examples stop the run, suspicious ones are counted (or dropped).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from editrl.errors import EditrlError


@dataclass
class ExampleInfo:
    """One example of a split, described cheaply (headers, not pixels, where the format allows)."""

    where: str
    """Where the example comes from, for messages: ``"/data/edits/train.jsonl:12"`` or the dataset's own locator."""
    id: str = ""
    task: str = "edit"
    instruction: str = ""
    stored_size: tuple[int, int] | None = None
    """(H, W) of the source as stored (before the dataset's resize); None when unknown."""
    shape: tuple[int, int] | None = None
    """(H, W) of the images the dataset hands to the backbone (after its resize); None when unknown."""
    converted: str | None = None
    """The source's mode when it was converted to RGB (``"L"``, ``"RGBA"``, ...); None for RGB sources."""
    mask_area: float | None = None
    """Fraction of edit pixels (1 = edit) in [0, 1]; None when the example has no mask."""
    problems: list[str] = field(default_factory=list)
    """Why the example cannot be used (each names the file and what was expected); empty when usable."""


@dataclass
class SplitInspection:
    """A split described: every example, or a stated prefix of a procedural split too large to walk."""

    name: str
    size: int
    """Examples the split's manifest (or generator) holds, before any degenerate example is dropped."""
    examples: list[ExampleInfo]
    """The described examples: all ``size`` of them, or the first ``len(examples)`` when ``note`` says so."""
    source: str = ""
    """The manifest (or generator) the split comes from, for messages."""
    problems: list[str] = field(default_factory=list)
    """Problems of the split itself (its manifest is missing or unreadable); each names the file."""
    note: str = ""
    """Why only a prefix was described (e.g. a procedural split that is valid by construction)."""
    drops_degenerate: bool = False
    """The dataset leaves degenerate examples out of ``split()`` (its ``drop_degenerate`` option)."""


def describe_loaded(name: str, examples: Sequence, where: str) -> SplitInspection:
    """The default inspection: load every example of the split and describe it from its tensors.

    ``where`` names the split for messages (e.g. ``"dataset 'my_data' split 'train'"``); an example that fails to
    load is reported as unusable with the error's message, not raised.
    """
    described = list(_describe_each(examples, where))
    return SplitInspection(name=name, size=len(examples), examples=described, source=where)


def _describe_each(examples: Sequence, where: str) -> Iterator[ExampleInfo]:
    for index in range(len(examples)):
        here = f"{where} example {index}"
        try:
            example = examples[index]
        except (EditrlError, OSError, ValueError, KeyError) as exc:
            yield ExampleInfo(where=here, problems=[f"cannot be loaded: {exc}"])
            continue
        yield describe_example(example, here)


def describe_example(example, where: str) -> ExampleInfo:
    """An :class:`~editrl.interfaces.EditExample`'s description: its shape, mask area and image problems."""
    source = example.source  # [3, H, W]
    info = ExampleInfo(
        where=where, id=example.id, task=example.task, instruction=example.instruction,
        stored_size=tuple(source.shape[1:]), shape=tuple(source.shape[1:]),
    )  # fmt: skip
    if source.ndim != 3 or source.shape[0] != 3:
        info.problems.append(f"source has shape {tuple(source.shape)}; expected [3, H, W]")
    for role in ("mask", "target"):
        image = getattr(example, role)  # [C, H, W] or None
        if image is not None and tuple(image.shape[1:]) != tuple(source.shape[1:]):
            info.problems.append(
                f"{role} is {size_text(image.shape[1:])} but the source is {size_text(source.shape[1:])}; they must agree"
            )
    if example.mask is not None:
        mask = example.mask  # [1, H, W]
        if not bool(((mask == 0) | (mask == 1)).all()):
            info.problems.append("mask is not binary (values other than 0 and 1)")
        info.mask_area = float(mask.float().mean())
    if not bool(torch.isfinite(source).all()):
        info.problems.append("source has non-finite values")
    return info


def size_text(size) -> str:
    """``"H×W"`` of a size whose last two entries are height and width (a tensor shape or an ``(h, w)`` pair)."""
    return f"{int(size[-2])}×{int(size[-1])}"
