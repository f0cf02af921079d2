"""Image files read for the data check: headers without pixels, truncation found cheaply, masks decoded.

Shared by the file-based datasets (``edit_folder``, ``compbench``): one place decides what "readable", "binary"
and "edit pixel" mean, for the check and for loading alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

#: Modes loaded as they are; any other source mode (``L``, ``RGBA``, ``P``, ``CMYK``, ...) is converted to RGB.
RGB_MODES = frozenset({"RGB"})
#: How many bytes at the end of a JPEG file are searched for its end-of-image marker (some writers pad after it).
JPEG_TAIL = 4096


class ImageFileError(Exception):
    """A file that cannot be used as an image; the message says why (not found, not an image, truncated)."""


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says, read without decoding its pixels."""

    size: tuple[int, int]  # (H, W) as stored
    mode: str  # PIL mode: "RGB", "L", "RGBA", ...
    format: str  # "PNG", "JPEG", ...


@dataclass(frozen=True)
class MaskStats:
    """A decoded mask: its size, whether it is pure black/white, and the fraction of edit pixels."""

    size: tuple[int, int]  # (H, W) as stored
    binary: bool  # every pixel is 0 or 255 (after conversion to 8-bit grey)
    levels: int  # distinct grey levels
    area: float  # fraction of pixels that are edit, after binarisation and the dataset's convention


def read_header(path: Path) -> ImageHeader:
    """Open ``path`` lazily (PIL reads the header only) and check that the file is complete.

    1. PNG, WebP and GIF: ``verify()`` walks the chunks and their checksums without decompressing;
    2. JPEG: the end-of-image marker must be in the file's last :data:`JPEG_TAIL` bytes (``verify()`` checks nothing);
    3. any other format: decoded in full (there is no cheaper test).
    """
    if not path.is_file():
        raise ImageFileError("file not found")
    try:
        with Image.open(path) as img:
            header = ImageHeader(size=(img.height, img.width), mode=img.mode, format=img.format or "?")
            if header.format in ("PNG", "WEBP", "GIF"):  # step 1
                img.verify()
            elif header.format != "JPEG":  # step 3
                img.load()
    except UnidentifiedImageError:
        raise ImageFileError("not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError) as exc:  # PIL raises SyntaxError for broken PNG chunks
        raise ImageFileError(f"truncated or corrupt ({exc})") from None
    if header.format == "JPEG":  # step 2
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - JPEG_TAIL))
            if b"\xff\xd9" not in f.read():
                raise ImageFileError("truncated JPEG (no end-of-image marker)")
    return header


def edit_pixels(grey: np.ndarray, threshold: float, white_is_edit: bool) -> np.ndarray:
    """8-bit grey ``[H, W]`` → bool ``[H, W]``, True = edit: white above ``threshold · 255``, polarity applied."""
    white = grey > threshold * 255  # [H, W] bool
    return white if white_is_edit else ~white


def decode_grey(path: Path, resize: tuple[int, int] | None = None, bilinear: bool = False) -> np.ndarray:
    """The file's pixels as 8-bit grey ``[H, W]``, optionally resized to ``resize`` (H, W) by nearest neighbour (or
    bilinear interpolation); :class:`ImageFileError` when it cannot be decoded."""
    grey = _open_grey(path)
    if resize is not None and resize != (grey.height, grey.width):
        grey = grey.resize(resize[::-1], Image.Resampling.BILINEAR if bilinear else Image.Resampling.NEAREST)
    return np.asarray(grey)  # [H, W] uint8


def mask_stats(path: Path, threshold: float, white_is_edit: bool) -> MaskStats:
    """Decode a mask (masks are small) and describe it from its 256-bin grey histogram: size, binary or not, and
    the edit-area fraction by the same rule as :func:`edit_pixels` (white = grey above ``threshold · 255``)."""
    grey = _open_grey(path)
    hist = np.asarray(grey.histogram())  # [256] pixels per grey level
    white = hist[np.arange(256) > threshold * 255].sum() / (grey.width * grey.height)
    return MaskStats(
        size=(grey.height, grey.width), binary=not hist[1:255].any(), levels=int(np.count_nonzero(hist)),
        area=float(white if white_is_edit else 1.0 - white),
    )  # fmt: skip


def _open_grey(path: Path) -> Image.Image:
    """The file decoded as an 8-bit grey PIL image; :class:`ImageFileError` when it cannot be."""
    if not path.is_file():
        raise ImageFileError("file not found")
    try:
        with Image.open(path) as img:
            grey = img.convert("L")
            grey.load()
            return grey
    except UnidentifiedImageError:
        raise ImageFileError("not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"truncated or corrupt ({exc})") from None
