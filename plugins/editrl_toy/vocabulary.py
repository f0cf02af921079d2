"""The toy world's closed vocabulary and its word-level tokeniser."""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

#: Colour names, in the order of :data:`editrl_toy.world.COLOURS`.
COLOUR_WORDS: tuple[str, ...] = ("red", "green", "blue", "yellow")
#: Shape names, in the order the world draws them.
SHAPE_WORDS: tuple[str, ...] = ("circle", "square", "triangle")
#: Position phrases on the 3×3 grid, row-major (row 0 = top, column 0 = left).
POSITION_PHRASES: tuple[str, ...] = (
    "top left", "top", "top right",
    "left", "center", "right",
    "bottom left", "bottom", "bottom right",
)  # fmt: skip
#: Token id 0 pads every instruction to the same length.
PAD = "<pad>"
#: Every word an instruction may use; the id of a word is its index.
WORDS: tuple[str, ...] = (
    PAD, "add", "remove", "replace", "the", "a", "with", "at",
    *COLOUR_WORDS, *SHAPE_WORDS, "top", "bottom", "left", "right", "center",
)  # fmt: skip

_WORD_IDS = {w: i for i, w in enumerate(WORDS)}
_SPLIT = re.compile(r"[\s,.;:!?]+")


def words_of(instruction: str) -> list[str]:
    """Lower-case words of an instruction, punctuation dropped."""
    return [w for w in _SPLIT.split(instruction.lower()) if w]


def tokenize(instructions: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn instructions into padded token ids.

    Args:
        instructions: N instructions made of :data:`WORDS` (case and punctuation are ignored).
        max_len: the padded length T.

    Returns:
        ``(ids [N, T] int64, mask [N, T] bool)``; ``mask`` is True on real words, False on padding.

    Raises:
        ValueError: an instruction uses a word outside the vocabulary, is empty, or is longer than ``max_len``.
    """
    ids = torch.zeros(len(instructions), max_len, dtype=torch.long)  # [N, T]
    mask = torch.zeros(len(instructions), max_len, dtype=torch.bool)  # [N, T]
    for n, text in enumerate(instructions):
        words = words_of(text)
        if not words:
            raise ValueError(f"instruction {n} is empty; the toy editor needs at least one word")
        unknown = [w for w in words if w not in _WORD_IDS or w == PAD]
        if unknown:
            raise ValueError(
                f"instruction {text!r} uses word {unknown[0]!r}, which is not in the toy vocabulary; "
                f"known words: {', '.join(WORDS[1:])}"
            )
        if len(words) > max_len:
            raise ValueError(
                f"instruction {text!r} has {len(words)} words; the toy editor's max_text_len is {max_len}"
            )
        ids[n, : len(words)] = torch.tensor([_WORD_IDS[w] for w in words])
        mask[n, : len(words)] = True
    return ids, mask
