"""The dataset contract: well-formed examples carrying what the dataset provides, splits that are deterministic."""

from __future__ import annotations

from typing import Any

import torch

from editrl.interfaces import EXAMPLE_FIELDS, EditBatch, EditDataset, EditExample
from editrl.testing.checks.common import (
    check_config, check_deterministic, check_identity, check_requires, finite_tensor,
)
from editrl.testing.report import Contract
from editrl.testing.world import ToyWorld

#: Examples read from each split.
EXAMPLES = 3


def check_dataset(
    cls: type[EditDataset], config: dict[str, Any] | None = None, *, world: ToyWorld | None = None
) -> list[str]:
    """Check a dataset; raise :class:`~editrl.testing.ContractError` or return the passed checks.

    1. the class implements :class:`~editrl.interfaces.EditDataset`; config as for every kind; ``provides`` and
       ``provided(config)`` name only :data:`~editrl.interfaces.EXAMPLE_FIELDS`;
    2. both splits are non-empty; their first examples are :class:`EditExample` with an id, a finite source
       ``[3, H, W]`` in [0, 1], an instruction, a task and every provided field (mask ``[1, H, W]`` in [0, 1], target
       ``[3, H, W]`` in [0, 1], description); they collate into an :class:`EditBatch`;
    3. a second instance with the same config reads the same examples whatever the global RNGs do, and reading
       moves no global RNG.

    ``world`` is unused (datasets need no inputs); it is accepted so that every check has the same signature.
    """
    with Contract(cls) as contract:
        # step 1
        check_identity(contract, cls, EditDataset)
        settings = check_config(contract, cls, config)
        check_requires(contract, cls)  # this kind is given no inputs: nothing may be required
        provided = contract.attempt("provided", cls.provided, settings)
        for label, fields in (("provides", cls.provides), ("provided", provided)):
            contract.expect(
                label, isinstance(fields, frozenset) and fields <= EXAMPLE_FIELDS,
                f"{fields!r} must be a frozenset of {sorted(EXAMPLE_FIELDS)}",
            )
        # step 3
        def read() -> dict[str, list[EditExample]]:
            dataset = cls(settings)
            out = {}
            for split in ("train", "eval"):
                examples = dataset.split(split)
                out[split] = [examples[i] for i in range(min(EXAMPLES, len(examples)))]
            return out

        splits = check_deterministic(contract, "split.deterministic", read, "splits")
        # step 2
        for split, examples in splits.items():
            if not contract.expect("split", len(examples) > 0, f"the {split!r} split is empty"):
                continue
            for i, example in enumerate(examples):
                _check_example(contract, example, provided, f"{split}[{i}]")
            batch = contract.attempt("collate", EditBatch.collate, examples)
            contract.expect("collate", len(batch) == len(examples), f"{split}: collated {len(batch)} examples")
    return contract.passed


def _check_example(contract: Contract, example: Any, provided: frozenset[str], where: str) -> None:
    if not isinstance(example, EditExample):
        contract.fail("example", f"{where} is a {type(example).__name__}, not an editrl.interfaces.EditExample")
    contract.expect("example.id", isinstance(example.id, str) and bool(example.id), f"{where}: id {example.id!r}")
    contract.expect(
        "example.text", isinstance(example.instruction, str) and bool(example.instruction.strip())
        and isinstance(example.task, str), f"{where}: instruction {example.instruction!r}, task {example.task!r}",
    )
    if not _image(contract, "example.source", example.source, 3, None, f"{where} source"):
        return
    size = tuple(example.source.shape[1:])
    for field, channels in (("mask", 1), ("target", 3)):
        value = getattr(example, field)
        if field in provided:
            _image(contract, f"example.{field}", value, channels, size, f"{where} {field}")
    if "description" in provided:
        contract.expect(
            "example.description", isinstance(example.description, str), f"{where}: description {example.description!r}"
        )


def _image(contract: Contract, check: str, value: Any, channels: int, size, what: str) -> bool:
    """A finite ``[channels, H, W]`` tensor in [0, 1] (of spatial ``size`` when given)."""
    if value is None:
        return contract.expect(check, False, f"{what} is None, but the dataset provides it")
    shape = (channels, *size) if size is not None else None
    if isinstance(value, torch.Tensor) and shape is None and value.ndim == 3 and value.shape[0] == channels:
        shape = tuple(value.shape)
    if not finite_tensor(contract, check, value, shape or (channels, -1, -1), what):
        return False
    low, high = float(value.min()), float(value.max())
    return contract.expect(check, 0 <= low and high <= 1, f"{what} spans [{low:.3g}, {high:.3g}], expected [0, 1]")
