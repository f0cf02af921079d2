"""The core data check on a third-party dataset that only implements ``split`` (the default inspection), with
hand-computed areas, bins and thresholds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from editrl.data.check import DataCheckError, check_data, degenerate_reasons, splits_used
from editrl.data.inspection import ExampleInfo
from editrl.data.summary import area_histogram
from editrl.engine.data import DataCursor
from editrl.errors import EditrlError, ResourceError
from editrl.interfaces import Backbone, EditDataset, EditExample


def example(i: int, edit_rows: int, size: int = 4, mask_size: int | None = None, instruction: str = "ok"):
    """A ``size``² example whose mask marks its first ``edit_rows`` rows: area = edit_rows / size."""
    m = mask_size or size
    mask = torch.zeros(1, m, m)  # [1, m, m]
    mask[:, :edit_rows] = 1
    return EditExample(id=f"e{i}", source=torch.rand(3, size, size), instruction=instruction, mask=mask, task="add")


class ListSplit(list):
    """A split whose items may be errors to raise on access (as a lazily loading dataset would)."""

    def __getitem__(self, i):
        item = super().__getitem__(i)
        if isinstance(item, Exception):
            raise item
        return item


class ThirdParty(EditDataset):
    name = "third_party"

    def __init__(self, splits):
        super().__init__(EditDataset.Config())
        self.splits = splits

    def split(self, name):
        return ListSplit(self.splits[name])


class Picky:
    """A backbone stand-in refusing one instruction (the default Backbone.check_example accepts everything)."""

    name = "picky"

    def check_example(self, info: ExampleInfo) -> list[str]:
        return [f"cannot edit {info.instruction!r}"] if info.instruction == "bad" else []


RECIPE = SimpleNamespace(eval=SimpleNamespace(at_end=False, metrics=[]))


def test_splits_used():
    assert splits_used(RECIPE) == ["train"]
    assert splits_used(SimpleNamespace(eval=SimpleNamespace(at_end=True, metrics=[]))) == ["train", "eval"]
    assert splits_used(SimpleNamespace(eval=SimpleNamespace(at_end=False, metrics=["m"]))) == ["train", "eval"]


def test_default_inspection_reports_unusable_and_degenerate():
    train = [
        example(0, 1),  # area 1/4: fine
        example(1, 2, mask_size=8),  # mask 8×8 on a 4×4 source
        ResourceError("cannot read image a.png"),
        example(3, 4),  # full mask
        example(4, 0),  # empty mask
        example(5, 1, instruction="bad"),  # the backbone refuses it
    ]
    report = check_data(RECIPE, ThirdParty({"train": train}), Picky())
    where = "dataset 'third_party' split 'train' example"
    assert report.problems == [
        f"{where} 1: mask is 8×8 but the source is 4×4; they must agree",
        f"{where} 2: cannot be loaded: cannot read image a.png",
        f"{where} 5: cannot edit 'bad'",
    ]
    split = report.splits[0]
    assert split.degenerate == {3: ["full mask"], 4: ["empty mask"]}
    assert split.bad == 3 and split.dropped == 0 and split.kept == 3  # 6 − 3 unusable; degenerate ones are kept
    assert [i.mask_area for i in split.kept_examples()] == [0.25, 1.0, 0.0]
    with pytest.raises(DataCheckError, match=r"3 problems; nothing was trained or written"):
        report.raise_if_unusable()


def test_default_backbone_accepts_everything():
    assert Backbone.check_example(None, ExampleInfo(where="x", shape=(7, 9), instruction="anything")) == []


@pytest.mark.parametrize("large,total,warned", [(3, 5, True), (2, 4, False)])
def test_inverted_polarity_needs_a_majority_of_large_masks(large, total, warned):
    # a 4×4 mask with 3 edit rows covers 0.75 > 0.5 of the image; the split warns when large > total / 2:
    # 3 > 2.5 warns, 2 > 2 does not
    train = [example(i, 3) for i in range(large)] + [example(i, 1) for i in range(large, total)]
    report = check_data(RECIPE, ThirdParty({"train": train}), Picky())
    assert report.problems == []
    assert bool(report.splits[0].warnings) is warned
    if warned:
        assert f"likely inverted mask polarity: {large} of {total} masks" in report.notices()[0]


def test_empty_split_is_unusable():
    report = check_data(RECIPE, ThirdParty({"train": []}), Picky())
    assert report.problems == ["dataset 'third_party' split 'train': the train split has no examples"]


def test_degenerate_reasons():
    assert degenerate_reasons(ExampleInfo(where="x", mask_area=0.0)) == ["empty mask"]
    assert degenerate_reasons(ExampleInfo(where="x", mask_area=1.0, converted="L")) == [
        "full mask", "L source converted to RGB",
    ]
    assert degenerate_reasons(ExampleInfo(where="x", mask_area=0.5)) == []
    assert degenerate_reasons(ExampleInfo(where="x")) == []  # no mask: nothing to judge


def test_error_lists_the_first_twenty():
    text = str(DataCheckError([f"f:{i}: broken" for i in range(25)]))
    assert "25 problems" in text and "f:19: broken" in text and "f:20: broken" not in text and "5 more" in text
    assert "f:24: broken" in str(DataCheckError([f"f:{i}: broken" for i in range(25)], limit=None))


def test_area_histogram_bins_are_lower_open_upper_closed():
    # 0 → empty; 0.05 → (0, 5%]; 0.0500001 and 0.25 → (5, 25%]; 0.5 → (25, 50%]; 0.75 → (50, 75%];
    # 0.9 → (75, 100%); 1 → full
    assert area_histogram([0.0, 0.05, 0.0500001, 0.25, 0.5, 0.75, 0.9, 1.0]) == [1, 1, 2, 1, 1, 1, 1]


def test_cursor_refuses_an_empty_split_as_a_user_error():
    with pytest.raises(EditrlError, match="the training split is empty"):
        DataCursor([], batch_size=1, seed=0)
