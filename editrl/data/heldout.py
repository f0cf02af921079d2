"""Which examples of a dataset are held out for evaluation: an explicit id list, or a fixed fraction chosen by hash.

Membership of an example depends on its id alone (and, for a fraction, on the seed): it is in the evaluation split
when ``hash(seed, id)`` falls below the fraction. So adding or removing other examples never moves an example from one
split to the other, and the evaluation split of two runs over the same data is the same set, which keeps their
numbers comparable. Both splits keep the dataset's order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, model_validator

from editrl.component import ComponentConfig
from editrl.errors import ResourceError

#: Hash values are the first 8 bytes of a SHA-256 digest, read as an integer in [0, 2⁶⁴).
_HASH_RANGE = 2**64


class HeldOut(ComponentConfig):
    """The held-out (evaluation) examples: exactly one of ``ids`` or ``fraction``."""

    ids: list[str] | str | None = None
    """Ids of the held-out examples, as a list, or as the path of a text file with one id per line (blank lines and
    lines starting with ``#`` are skipped; a relative path is relative to the dataset's root). Every id must name an
    example of the dataset."""
    fraction: float | None = Field(None, gt=0.0, lt=1.0)
    """Fraction of the examples held out, chosen by a seeded hash of each id (about this fraction, exactly stable)."""
    seed: int = Field(0, ge=0)
    """Seed of the hash that picks a ``fraction``; another seed picks another, equally stable, set."""

    @model_validator(mode="after")
    def _exactly_one(self) -> HeldOut:
        if (self.ids is None) == (self.fraction is None):
            raise ValueError("give exactly one of `ids` (a list or a file of ids) or `fraction` (in (0, 1))")
        return self


def in_fraction(example_id: str, fraction: float, seed: int) -> bool:
    """True when ``example_id`` falls in the held-out ``fraction`` under ``seed``.

    ``u = int(sha256(f"{seed}:{id}")[:8]) / 2⁶⁴`` is uniform in [0, 1) over ids; the example is held out when
    ``u < fraction``. Python's ``hash`` is salted per process, so a cryptographic digest is used instead.
    """
    digest = hashlib.sha256(f"{seed}:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _HASH_RANGE < fraction


def read_id_list(held_out: HeldOut, root: Path | None = None) -> list[tuple[str, str]]:
    """The held-out ids of an ``ids`` config, each with where it came from (``"heldout.ids[3]"`` or ``"file:line"``).

    Raises:
        ResourceError: the id file cannot be read.
    """
    if isinstance(held_out.ids, list):
        return [(i, f"heldout.ids[{n}]") for n, i in enumerate(held_out.ids)]
    path = Path(held_out.ids)  # type: ignore[arg-type]
    if not path.is_absolute() and root is not None:
        path = root / path
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ResourceError(f"heldout.ids: cannot read the id file {path}: {exc.strerror or exc}") from None
    return [
        (line.strip(), f"{path}:{number}")
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.strip().startswith("#")
    ]


def split_ids(ids: Sequence[str], held_out: HeldOut, root: Path | None = None) -> tuple[list[int], list[int]]:
    """Positions of the training and of the held-out examples among ``ids``, each in the order of ``ids``.

    1. with ``fraction``: an example is held out when :func:`in_fraction` says so;
    2. with ``ids``: an example is held out when its id is listed; a listed id that names no example is an error
       (a typo would otherwise silently shrink the evaluation).

    Args:
        ids: the dataset's example ids, in its order (an id may repeat, e.g. one image in several tasks).
        held_out: the selection.
        root: the folder a relative id-file path is relative to.

    Returns:
        ``(train_positions, eval_positions)``, disjoint, together every position.

    Raises:
        ResourceError: a listed id is not among ``ids``, or the id file cannot be read.
    """
    if held_out.fraction is not None:  # step 1
        chosen = [in_fraction(i, held_out.fraction, held_out.seed) for i in ids]
    else:  # step 2
        listed = read_id_list(held_out, root)
        known = set(ids)
        for example_id, where in listed:
            if example_id not in known:
                raise ResourceError(f"{where}: {example_id!r} is not the id of any example of the dataset")
        wanted = {i for i, _ in listed}
        chosen = [i in wanted for i in ids]
    train = [p for p, held in enumerate(chosen) if not held]
    evaluation = [p for p, held in enumerate(chosen) if held]
    return train, evaluation
