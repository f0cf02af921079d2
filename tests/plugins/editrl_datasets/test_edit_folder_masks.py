"""``edit_folder``'s mask options (mask_resize, mask_threshold, mask_convention, drop_degenerate) as loaded and as
inspected: the check and the loader read the same pixels."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from editrl.errors import ResourceError
from editrl_datasets.edit_folder import EditFolder


def folder(tree, **kw) -> EditFolder:
    return EditFolder(EditFolder.Config(root=str(tree.root), resolution=32, fields=["mask", "target"], **kw))


def test_mask_resize_nearest_keeps_the_area(tree):
    # a 16×16 mask with an 8×8 white box: area 64 / 256 = 0.25; nearest ×2 to 32×32 keeps every pixel's value,
    # so the loaded mask has 256 / 1024 = 0.25 edit pixels and the box lands on rows/columns 8..23
    tree.write("train", [tree.record(0, mask=tree.mask("small.png", size=(16, 16), box=(4, 4, 8, 8)))])
    assert folder(tree).inspect("train").examples[0].problems  # refused by default
    ds = folder(tree, mask_resize="nearest")
    info = ds.inspect("train").examples[0]
    assert info.problems == [] and info.mask_area == 0.25
    mask = ds.split("train")[0].mask  # [1, 32, 32]
    assert mask.shape == (1, 32, 32) and float(mask.mean()) == 0.25
    assert float(mask[0, 8:24, 8:24].mean()) == 1.0


def test_bilinear_needs_a_threshold():
    with pytest.raises(ValidationError, match="mask_resize: bilinear makes grey levels; set mask_threshold"):
        EditFolder.Config(root="x", mask_resize="bilinear")


@pytest.mark.parametrize("threshold,edit_pixels", [(0.5, 257), (0.6, 256)])
def test_threshold_binarises_grey_levels(tree, threshold, edit_pixels):
    # a 16×16 white box (256 pixels) and one pixel of grey 128: 128 > 0.5·255 = 127.5 is edit, 128 > 153 is not
    tree.write("train", [tree.record(0, mask=tree.mask("grey.png", grey=128))])
    ds = folder(tree, mask_threshold=threshold)
    info = ds.inspect("train").examples[0]
    assert info.problems == [] and info.mask_area == pytest.approx(edit_pixels / 1024, abs=1e-12)
    assert float(ds.split("train")[0].mask.sum()) == edit_pixels


def test_keep_convention_flips_inspection_and_loading_alike(tree):
    tree.write("train", [tree.record(0)])  # a 16×16 white box of 32×32: 1/4 white, so 3/4 edit when white is kept
    ds = folder(tree, mask_convention="white_is_keep")
    assert ds.inspect("train").examples[0].mask_area == 0.75
    assert float(ds.split("train")[0].mask.mean()) == 0.75


def test_drop_degenerate_keeps_ids_and_order(tree):
    records = [tree.record(0), tree.record(1, mask=tree.mask("black.png", box=(0, 0, 0, 0))), tree.record(2)]
    records[0].pop("id"), records[2].pop("id")  # default ids are the line's position among records
    tree.write("train", records)
    assert [e.id for e in folder(tree).split("train")] == ["0", "ex1", "2"]
    assert [e.id for e in folder(tree, drop_degenerate=True).split("train")] == ["0", "2"]


def test_manifest_values_must_be_strings(tree):
    manifest = tree.write("train", [tree.record(0, instruction=3), tree.record(1, source="  ")])
    problems = [i.problems for i in folder(tree).inspect("train").examples]
    assert problems == [["instruction: expected a non-empty string"], ["source: expected a non-empty string"]]
    with pytest.raises(ResourceError, match=f"{manifest}:1: instruction: expected a non-empty string"):
        folder(tree).split("train")
