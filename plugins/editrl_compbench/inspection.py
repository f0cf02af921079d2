"""The up-front data check of CompBench's folder layout: each example described from its files' headers (sources and
ground truths verified, not decoded; masks decoded), with the shared readers of :mod:`editrl.data.images`."""

from __future__ import annotations

from editrl.data.images import RGB_MODES, ImageFileError, mask_stats, read_header
from editrl.data.inspection import ExampleInfo, size_text
from editrl_compbench.records import Record

#: Masks are binarised at half scale for the edit-area statistics (CompBench's masks are 0/255).
MASK_THRESHOLD = 0.5


def describe_record(record: Record, resolution: int) -> ExampleInfo:
    """One folder-layout example for the data check.

    1. the source's header (missing, not an image or truncated: unusable);
    2. the ground truth's header and size (it must have the source's size);
    3. the mask: decoded, of the source's size and black/white (``eval_all.py`` zero-fills by ``mask / 255``, so a
       grey mask would weigh pixels instead of marking them); its edit area.
    """
    files = record.files or {}
    info = ExampleInfo(
        where=record.where, id=record.image_path, task=record.task, instruction=record.instruction,
        shape=(resolution, resolution),
    )  # fmt: skip
    try:  # step 1
        source = read_header(files["input_image"])
    except ImageFileError as exc:
        info.problems.append(f"source {files['input_image']}: {exc}")
        return info
    info.stored_size = source.size
    info.converted = None if source.mode in RGB_MODES else source.mode
    try:  # step 2
        target = read_header(files["edited_image"])
        if target.size != source.size:
            info.problems.append(
                f"ground truth {files['edited_image']} is {size_text(target.size)} but its source is {size_text(source.size)}"
            )
    except ImageFileError as exc:
        info.problems.append(f"ground truth {files['edited_image']}: {exc}")
    try:  # step 3
        stats = mask_stats(files["mask"], MASK_THRESHOLD, white_is_edit=True)
    except ImageFileError as exc:
        info.problems.append(f"mask {files['mask']}: {exc}")
        return info
    if stats.size != source.size:
        info.problems.append(f"mask {files['mask']} is {size_text(stats.size)} but its source is {size_text(source.size)}")
    if not stats.binary:
        info.problems.append(
            f"mask {files['mask']} is not black/white ({stats.levels} grey levels); CompBench's masks are 0/255"
        )
    info.mask_area = stats.area
    return info
