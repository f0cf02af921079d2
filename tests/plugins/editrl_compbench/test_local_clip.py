"""LC-T and LC-I on a tiny random CLIP built in code: eval_all.py's crop geometry, the scores against an independent
computation from the model's own features, the empty-box rule, and clear errors for a CLIP that cannot be had."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from editrl.errors import ResourceError
from editrl.interfaces import RewardInputs
from editrl.testing import check_component
from editrl_compbench.local_clip import LocalClipImage, LocalClipText, crop, edit_bbox


def rectangle_mask(h=40, w=40, rows=(5, 20), cols=(8, 30)) -> torch.Tensor:
    mask = torch.zeros(1, h, w)
    mask[:, rows[0] : rows[1], cols[0] : cols[1]] = 1.0  # rows 5..19, columns 8..29
    return mask


def test_crop_geometry_is_eval_alls():
    # mask rows 5..19, columns 8..29 → bbox (left, top, right, bottom) = (min x, min y, max x, max y) = (8, 5, 29, 19);
    # PIL's crop excludes right and bottom, so the crop is columns 8..28 and rows 5..18: 21 × 14, the mask's last
    # column and row left out.
    mask = rectangle_mask()
    assert edit_bbox(mask) == (8, 5, 29, 19)
    image = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0))
    cut = crop(image, edit_bbox(mask))
    assert cut.size == (21, 14)
    expected = (image[:, 5:19, 8:29] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(np.asarray(cut), expected)
    # no box: empty mask, a single row, a single column
    assert edit_bbox(torch.zeros(1, 40, 40)) is None
    assert edit_bbox(rectangle_mask(rows=(7, 8))) is None and edit_bbox(rectangle_mask(cols=(3, 4))) is None


def clip_inputs() -> RewardInputs:
    g = torch.Generator().manual_seed(1)
    target = torch.rand(3, 3, 40, 40, generator=g)
    images = torch.rand(3, 3, 40, 40, generator=g)
    images[1] = target[1]
    images[1, :, 19, :] = 0.0  # the mask's last row and column differ: outside PIL's crop, so LC-I stays 1
    images[1, :, :, 29] = 1.0
    images[1, :, :4, :4] = 0.5  # and outside the mask
    mask = torch.stack([rectangle_mask(), rectangle_mask(), torch.zeros(1, 40, 40)])  # row 2: empty mask
    return RewardInputs(tasks=["add", "replace", "remove"], images=images, mask=mask, target=target,
                        descriptions=["a red cup", "", "a dog"])


def reference_features(model, folder, crops, texts=None):
    """Projected features straight from the model and its saved processor/tokenizer, without the metric code."""
    from transformers import AutoTokenizer, CLIPImageProcessorPil

    pixels = CLIPImageProcessorPil.from_pretrained(folder)(images=crops, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        image = model.get_image_features(pixel_values=pixels).pooler_output
        if texts is None:
            return image.numpy()
        tokens = AutoTokenizer.from_pretrained(folder)(texts, padding=True, return_tensors="pt")
        return image.numpy(), model.get_text_features(**tokens).pooler_output.numpy()


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_lc_i_is_the_raw_cosine_of_the_two_crops(tiny_clip):
    from transformers import CLIPModel

    inputs = clip_inputs()
    out = LocalClipImage(LocalClipImage.Config(model=tiny_clip)).score(inputs)
    box = edit_bbox(inputs.mask[0])
    model = CLIPModel.from_pretrained(tiny_clip).eval()
    f = reference_features(model, tiny_clip, [crop(inputs.images[0], box), crop(inputs.target[0], box)])
    assert float(out.values[0]) == pytest.approx(float(cosine(f[0], f[1])), abs=1e-5)  # raw: may be any sign
    assert float(out.values[1]) == pytest.approx(1.0, abs=1e-6)  # same pixels inside the crop
    assert float(out.values[2]) == 0.0 and out.counters == {"empty_crop": 1.0}  # empty mask: 0.0, averaged in


def test_lc_t_is_clipscore_of_the_crop_against_the_description(tiny_clip, tmp_path):
    from transformers import CLIPModel

    inputs = clip_inputs()
    model = CLIPModel.from_pretrained(tiny_clip).eval()
    box = edit_bbox(inputs.mask[0])
    image, text = reference_features(model, tiny_clip, [crop(inputs.images[0], box)], ["a red cup"])
    if float(cosine(image, text)[0]) < 0:  # random CLIP cosines are often negative, which CLIPScore clamps to 0:
        with torch.no_grad():  # flip the text projection so that the score is positive and tells something
            model.text_projection.weight.neg_()
        image, text = reference_features(model, tiny_clip, [crop(inputs.images[0], box)], ["a red cup"])
    flipped = tmp_path / "openai-flipped"
    model.save_pretrained(flipped)
    from transformers import AutoTokenizer, CLIPImageProcessorPil

    AutoTokenizer.from_pretrained(tiny_clip).save_pretrained(flipped)
    CLIPImageProcessorPil.from_pretrained(tiny_clip).save_pretrained(flipped)
    out = LocalClipText(LocalClipText.Config(model=str(flipped))).score(inputs)
    expected = max(100.0 * float(cosine(image, text)[0]), 0.0)
    assert expected > 0 and float(out.values[0]) == pytest.approx(expected, abs=1e-3)
    # an empty description is scored as " " (eval_all.py), with the same clamp; the empty mask scores 0.0
    image1, blank = reference_features(model, tiny_clip, [crop(inputs.images[1], box)], [" "])
    assert float(out.values[1]) == pytest.approx(max(100.0 * float(cosine(image1, blank)[0]), 0.0), abs=1e-3)
    assert float(out.values[2]) == 0.0 and out.counters == {"empty_crop": 1.0}


@pytest.mark.parametrize("cls", [LocalClipText, LocalClipImage])
def test_keeps_the_reward_contract(cls, tiny_clip):
    assert "config.documented" in check_component(cls, {"model": tiny_clip})


def test_a_clip_that_cannot_be_had_is_named(tmp_path):
    with pytest.raises(ResourceError, match=r"compbench_lc_i.model: .*missing is not a folder"):
        LocalClipImage(LocalClipImage.Config(model=str(tmp_path / "missing"))).load(torch.device("cpu"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResourceError, match=r"compbench_lc_t.model: cannot load CLIP .*hf download"):
        LocalClipText(LocalClipText.Config(model=str(tmp_path / "empty"))).load(torch.device("cpu"))
