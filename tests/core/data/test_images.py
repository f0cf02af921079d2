"""Image files for the data check: truncation found per format without decoding where possible; mask statistics."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editrl.data.images import ImageFileError, mask_stats, read_header


def write(tmp_path, name, fmt, mode="RGB", size=(24, 40)):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)  # [H, W, 3]
    path = tmp_path / name
    Image.fromarray(pixels).convert(mode).save(path, fmt)
    return path


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "WEBP"])
def test_complete_files_give_their_header(tmp_path, fmt):
    header = read_header(write(tmp_path, f"a.{fmt.lower()}", fmt))
    assert header.size == (24, 40) and header.mode == "RGB" and header.format == fmt


@pytest.mark.parametrize("fmt,why", [
    ("PNG", "truncated or corrupt"), ("JPEG", "truncated JPEG"), ("BMP", "truncated or corrupt"),
    ("WEBP", "truncated or corrupt"),
])
def test_truncated_files_are_found(tmp_path, fmt, why):
    path = write(tmp_path, f"a.{fmt.lower()}", fmt)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ImageFileError, match=why):
        read_header(path)


def test_missing_and_non_images(tmp_path):
    with pytest.raises(ImageFileError, match="file not found"):
        read_header(tmp_path / "nope.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageFileError, match="not an image PIL can read"):
        read_header(tmp_path / "text.png")


def test_modes_are_reported(tmp_path):
    assert read_header(write(tmp_path, "a.png", "PNG", mode="RGBA")).mode == "RGBA"
    assert read_header(write(tmp_path, "b.png", "PNG", mode="L")).mode == "L"


def test_mask_stats(tmp_path):
    # 4×4 mask: 4 white pixels (255), one grey (100), 11 black. Threshold 0.3 → 100 > 76.5 is white: 5 / 16 edit;
    # threshold 0.5 → 100 ≤ 127.5: 4 / 16; white_is_keep flips to 11 / 16 and 12 / 16.
    pixels = np.zeros((4, 4), dtype=np.uint8)
    pixels[0] = 255
    pixels[1, 0] = 100
    Image.fromarray(pixels).save(tmp_path / "m.png")
    stats = mask_stats(tmp_path / "m.png", 0.3, white_is_edit=True)
    assert stats.size == (4, 4) and not stats.binary and stats.levels == 3 and stats.area == 5 / 16
    assert mask_stats(tmp_path / "m.png", 0.5, white_is_edit=True).area == 4 / 16
    assert mask_stats(tmp_path / "m.png", 0.3, white_is_edit=False).area == 11 / 16
    assert mask_stats(tmp_path / "m.png", 0.5, white_is_edit=False).area == 12 / 16
    pixels[1, 0] = 0
    Image.fromarray(pixels).save(tmp_path / "b.png")
    binary = mask_stats(tmp_path / "b.png", 0.5, white_is_edit=True)
    assert binary.binary and binary.levels == 2
