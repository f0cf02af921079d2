"""The toy world: 32×32 RGB scenes of a smooth muted background and one to three flat shapes on a 3×3 grid.

Everything is procedural and deterministic: a scene is a background (a few low-frequency sinusoids) plus a list of
:class:`Shape` (colour, kind, grid cell), and :func:`make_edit` draws one edit of one of three task types from a
``numpy`` generator. Images are float32 arrays ``[3, 32, 32]`` in [0, 1].
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from editrl_toy.vocabulary import COLOUR_WORDS, POSITION_PHRASES, SHAPE_WORDS

#: Side of every image, in pixels.
SIZE = 32
#: The three task types, in the order example ``i`` cycles through them (``TASKS[i % 3]``).
TASKS: tuple[str, ...] = ("add", "remove", "replace")
#: Saturated RGB colours of the shapes, in the order of :data:`COLOUR_WORDS`.
COLOURS = np.array(
    [[0.88, 0.16, 0.14], [0.16, 0.72, 0.24], [0.18, 0.30, 0.90], [0.93, 0.82, 0.12]], dtype=np.float32
)  # [4, 3]
#: Pixel coordinates of the grid-cell centres along either axis (cells of 32/3 px).
CELL_CENTRES = tuple((2 * j + 1) * SIZE / 6 for j in range(3))
#: Description of the target of a ``remove`` edit (the uncovered background).
BACKGROUND_DESCRIPTION = "background"


@dataclass(frozen=True)
class Shape:
    """One flat shape of a scene."""

    colour: int  # index into COLOURS / COLOUR_WORDS
    kind: int  # index into SHAPE_WORDS
    cell: int  # grid cell 0..8, row-major from the top left

    @property
    def name(self) -> str:
        """``"red circle"``."""
        return f"{COLOUR_WORDS[self.colour]} {SHAPE_WORDS[self.kind]}"


@dataclass
class Edit:
    """A drawn edit: images ``[3, 32, 32]`` float32 in [0, 1] and mask ``[1, 32, 32]`` float32 (1 = edit)."""

    source: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    instruction: str
    description: str
    task: str


@functools.cache
def footprint(kind: int, cell: int) -> np.ndarray:
    """Boolean ``[32, 32]`` footprint of shape ``kind`` in grid ``cell`` (about 9×9 px, never touching a neighbour)."""
    cy, cx = CELL_CENTRES[cell // 3], CELL_CENTRES[cell % 3]
    coords = np.arange(SIZE, dtype=np.float32) + 0.5  # pixel centres
    dy = coords[:, None] - cy  # [32, 1]
    dx = coords[None, :] - cx  # [1, 32]
    if kind == 0:  # circle
        fp = dy**2 + dx**2 <= 4.2**2
    elif kind == 1:  # square
        fp = (np.abs(dy) <= 3.7) & (np.abs(dx) <= 3.7)
    elif kind == 2:  # triangle, apex up
        fp = (dy >= -4.3) & (dy <= 3.7) & (np.abs(dx) <= (dy + 4.3) * (4.6 / 8.0))
    else:
        raise ValueError(f"shape kind must be 0..{len(SHAPE_WORDS) - 1}, got {kind}")
    fp = np.broadcast_to(fp, (SIZE, SIZE)).copy()
    fp.setflags(write=False)
    return fp


def background(rng: np.random.Generator) -> np.ndarray:
    """A smooth, muted background ``[3, 32, 32]``: a grey-ish base colour plus four oriented sinusoids."""
    coords = (np.arange(SIZE, dtype=np.float32) + 0.5) / SIZE
    yy, xx = np.meshgrid(coords, coords, indexing="ij")  # [32, 32] each
    base = rng.uniform(0.3, 0.65, size=3).astype(np.float32)
    base = 0.5 * base + 0.5 * base.mean()  # muted: halfway to grey
    img = np.broadcast_to(base[:, None, None], (3, SIZE, SIZE)).copy()
    for j in range(4):
        freq = rng.uniform(0.4, 1.6) if j < 3 else rng.uniform(2.0, 3.0)  # cycles per image; the last is texture
        angle = rng.uniform(0, 2 * np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy) + phase)  # [32, 32]
        amp = rng.uniform(0.02, 0.07, size=3).astype(np.float32) * (0.5 if j == 3 else 1.0)
        img += amp[:, None, None] * wave[None]
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def render(bg: np.ndarray, shapes: list[Shape]) -> np.ndarray:
    """Draw ``shapes`` over a copy of ``bg`` ``[3, 32, 32]``."""
    img = bg.copy()
    for s in shapes:
        img[:, footprint(s.kind, s.cell)] = COLOURS[s.colour][:, None]
    return img


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a boolean ``[32, 32]`` mask by a ``(2·radius + 1)²`` square."""
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:, :] |= out[:-1, :]
        grown[:-1, :] |= out[1:, :]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        grown[1:, 1:] |= out[:-1, :-1]
        grown[1:, :-1] |= out[:-1, 1:]
        grown[:-1, 1:] |= out[1:, :-1]
        grown[:-1, :-1] |= out[1:, 1:]
        out = grown
    return out


def _distinct_shapes(rng: np.random.Generator, count: int, cells: np.ndarray) -> list[Shape]:
    """``count`` shapes with pairwise different (colour, kind) pairs in the given cells."""
    pairs = rng.choice(len(COLOUR_WORDS) * len(SHAPE_WORDS), size=count, replace=False)
    return [Shape(int(p) // len(SHAPE_WORDS), int(p) % len(SHAPE_WORDS), int(c)) for p, c in zip(pairs, cells)]


def make_edit(rng: np.random.Generator, task: str, mask_dilation: int) -> Edit:
    """Draw one edit of type ``task`` from ``rng``.

    Every (colour, kind) pair occurs at most once per scene, so "remove the blue square" is unambiguous.

    - add: 1–2 shapes in the source, a new shape in an empty cell; instruction names colour, kind and position.
    - remove: 1–3 shapes; one disappears and the background shows through.
    - replace: 1–3 shapes; one becomes a shape of another (colour, kind) pair in the same cell.

    The mask is the union of the footprints that change, dilated by ``mask_dilation`` pixels, so the target
    equals the source wherever the mask is 0.
    """
    bg = background(rng)
    if task == "add":
        count = int(rng.integers(1, 3))
        cells = rng.choice(9, size=count + 1, replace=False)
        *kept, new = _distinct_shapes(rng, count + 1, cells)
        before, after = kept, [*kept, new]
        changed = footprint(new.kind, new.cell)
        instruction = f"add a {new.name} at the {POSITION_PHRASES[new.cell]}"
        description = f"a {new.name}"
    elif task in ("remove", "replace"):
        count = int(rng.integers(1, 4))
        cells = rng.choice(9, size=count, replace=False)
        extra = 1 if task == "replace" else 0
        shapes = _distinct_shapes(rng, count + extra, np.concatenate([cells, cells[:extra]]))
        before = shapes[:count]
        old = before[0]
        if task == "remove":
            after = before[1:]
            changed = footprint(old.kind, old.cell)
            instruction = f"remove the {old.name}"
            description = BACKGROUND_DESCRIPTION
        else:
            new = shapes[count]
            after = [new, *before[1:]]
            changed = footprint(old.kind, old.cell) | footprint(new.kind, new.cell)
            instruction = f"replace the {old.name} with a {new.name}"
            description = f"a {new.name}"
    else:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    mask = dilate(changed, mask_dilation)[None].astype(np.float32)  # [1, 32, 32]
    return Edit(render(bg, before), render(bg, after), mask, instruction, description, task)
