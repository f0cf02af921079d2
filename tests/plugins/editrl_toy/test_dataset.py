"""toy_shapes: determinism, fields, masks that cover the change, instructions in the vocabulary."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from editrl_toy.dataset import ToyShapes
from editrl_toy.vocabulary import COLOUR_WORDS, SHAPE_WORDS, WORDS, tokenize, words_of
from editrl_toy.world import TASKS, dilate, footprint


def _data(**kw) -> ToyShapes:
    return ToyShapes(ToyShapes.Config(**kw))


def _same(a, b) -> bool:
    return (
        a.id == b.id and a.instruction == b.instruction and a.description == b.description and a.task == b.task
        and torch.equal(a.source, b.source) and torch.equal(a.target, b.target) and torch.equal(a.mask, b.mask)
    )  # fmt: skip


def test_provides_and_registration():
    from editrl.plugin_manager import build_registry, get_plugin_manager

    registry = build_registry(get_plugin_manager())
    assert registry.get("dataset", "toy_shapes") is ToyShapes
    assert ToyShapes.provides == frozenset({"mask", "target", "description"})


def test_example_fields_shapes_and_ranges():
    for ex in _data().split("train")[:30]:
        assert ex.source.shape == (3, 32, 32) and ex.target.shape == (3, 32, 32) and ex.mask.shape == (1, 32, 32)
        assert ex.source.dtype == torch.float32
        assert 0 <= float(ex.source.min()) and float(ex.source.max()) <= 1
        assert set(torch.unique(ex.mask).tolist()) <= {0.0, 1.0} and ex.mask.sum() > 0
        assert ex.task in TASKS and ex.instruction.split()[0] == ex.task
        assert isinstance(ex.description, str) and ex.description
        if ex.task == "remove":
            assert ex.description == "background"
        else:
            colour, shape = ex.description.split()[1:]
            assert colour in COLOUR_WORDS and shape in SHAPE_WORDS
        tokenize([ex.instruction], 12)  # every instruction is in the vocabulary


def test_target_equals_source_outside_mask_and_mask_is_the_dilated_change():
    for ex in _data().split("train")[:60]:
        keep = ex.mask == 0  # [1, 32, 32]
        assert torch.equal(ex.target * keep, ex.source * keep)
        changed = (ex.target != ex.source).any(0).numpy()  # [32, 32]
        assert changed.any()
        # the mask is the dilated footprint of the change: it covers the changed pixels with a 1-px margin
        assert (ex.mask[0].numpy().astype(bool) >= dilate(changed, 1)).all()


def test_train_split_is_deterministic_and_lazily_indexed():
    a, b = _data().split("train"), _data().split("train")
    assert len(a) == 1_000_000
    forward = [a[i] for i in (0, 5, 999_999)]
    backward = [b[i] for i in (999_999, 5, 0)][::-1]  # access order does not matter
    assert all(_same(x, y) for x, y in zip(forward, backward))
    assert _same(a[-1], a[999_999])
    other_seed = _data(seed=1).split("train")[0]
    assert not torch.equal(other_seed.source, forward[0].source)
    with pytest.raises(IndexError, match="out of range"):
        a[1_000_000]


def test_eval_split_is_fixed_balanced_and_held_out():
    data = _data()
    ev = list(data.split("eval"))
    assert len(ev) == 96
    assert [ex.task for ex in ev].count("add") == [ex.task for ex in ev].count("remove") == 32
    assert all(_same(x, y) for x, y in zip(ev, _data().split("eval")))
    train_sources = torch.stack([ex.source for ex in data.split("train")[:96]])
    for ex in ev[:10]:
        assert not (train_sources == ex.source).all(dim=(1, 2, 3)).any()
    assert len(set(ex.id for ex in ev)) == 96 and ev[0].id.startswith("toy_shapes/eval/")


def test_config_errors_name_the_field():
    with pytest.raises(ValidationError, match="eval_size"):
        ToyShapes.Config(eval_size=10)
    with pytest.raises(ValidationError, match="mask_dilation"):
        ToyShapes.Config(mask_dilation=9)
    with pytest.raises(ValidationError, match="extra"):
        ToyShapes.Config(sede=1)
    with pytest.raises(ValueError, match="splits"):
        _data().split("test")


def test_footprints_never_overlap_between_cells():
    for kind in range(3):
        for cell in range(9):
            grown = dilate(footprint(kind, cell), 1)
            for other in range(9):
                if other != cell:
                    assert not (grown & footprint(0, other)).any() and not (grown & footprint(1, other)).any()


def test_vocabulary_errors():
    ids, mask = tokenize(["Remove the blue square.", "add a red circle at the top left"], 12)
    assert ids.shape == mask.shape == (2, 12)
    assert mask.sum(1).tolist() == [4, 8] and ids[0, 0] == WORDS.index("remove") and ids[0, 4] == 0
    with pytest.raises(ValueError, match="'purple'"):
        tokenize(["add a purple circle"], 12)
    with pytest.raises(ValueError, match="max_text_len is 4"):
        tokenize(["add a red circle at the top"], 4)
    with pytest.raises(ValueError, match="empty"):
        tokenize(["  "], 12)
    with pytest.raises(ValueError, match="'<pad>'"):
        tokenize(["add <pad>"], 12)
    assert words_of("Replace the RED square, with a blue circle!") == [
        "replace", "the", "red", "square", "with", "a", "blue", "circle",
    ]  # fmt: skip
