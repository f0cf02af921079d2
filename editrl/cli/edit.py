"""``editrl edit``: edit images with a recipe's base editor or a run's trained one, as the papers run inference.

The single-path deterministic sampler of the evaluation (:func:`editrl.engine.evaluation.sample_edits`): the
recipe's solver from one fixed initial noise per image (drawn from ``--seed`` alone, so an image's edit does not
depend on the other images of a folder), no mask, no perturbation. Sources are resized (bicubic) to the size the
backbone edits (``Backbone.input_size``) and the output is written at that size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from editrl.cli.output import console, user_errors
from editrl.cli.run import OverridesArg, PluginOpt
from editrl.errors import EditrlError

#: Keys a line of ``--instructions`` may have.
JOB_KEYS = ("source", "instruction", "output")


@dataclass
class EditJob:
    """One image to edit: where its source is, what to do, where the edit goes, and where the job was asked for."""

    source: Path
    instruction: str
    output: Path
    where: str  # "--source" or "FILE.jsonl:LINE", for messages


def read_image(path: Path, size: tuple[int, int] | None = None):
    """``[3, H, W]`` float32 in [0, 1] of an image file (any mode converted to RGB), resized bicubic to ``size``
    ``(H, W)`` when it differs; :class:`EditrlError` naming the file when it cannot be read."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
            if size is not None and (rgb.height, rgb.width) != tuple(size):
                rgb = rgb.resize((size[1], size[0]), Image.Resampling.BICUBIC)
            pixels = np.asarray(rgb, dtype=np.uint8)  # [H, W, 3]
    except FileNotFoundError:
        raise EditrlError(f"{path}: file not found") from None
    except UnidentifiedImageError:
        raise EditrlError(f"{path}: not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise EditrlError(f"{path}: truncated or corrupt image ({exc})") from None
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255  # [3, H, W]


def image_size(path: Path) -> tuple[int, int]:
    """``(H, W)`` from an image file's header (no pixels decoded); :class:`EditrlError` naming the file."""
    from editrl.data.images import ImageFileError, read_header

    try:
        return read_header(path).size
    except ImageFileError as exc:
        raise EditrlError(f"{path}: {exc}") from None


def write_image(path: Path, image) -> None:
    """Write ``image [3, H, W]`` in [0, 1] as an 8-bit PNG (folders created)."""
    from PIL import Image

    pixels = (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()  # [H, W, 3]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode="RGB").save(path)


def read_jobs(source_dir: Path, manifest: Path, out_dir: Path) -> list[EditJob]:
    """The jobs of a JSON-lines file: one ``{"source": "rel/path.png", "instruction": "...", "output": ...}`` per
    line, ``source`` relative to ``source_dir``, ``output`` (optional, relative to ``out_dir``) defaulting to the
    source's relative path as ``.png``. Every problem is reported with its line, all at once.

    1. each non-blank line parses as a JSON object; 2. its keys are known and its strings non-empty; 3. its source
       exists and its output stays inside ``out_dir`` without colliding with another line's.
    """
    try:
        text = manifest.read_text()
    except FileNotFoundError:
        raise EditrlError(f"--instructions: {manifest} not found (expected one JSON object per line)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EditrlError(f"--instructions: {manifest} cannot be read as text ({exc})") from None
    jobs, problems, outputs = [], [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{manifest}:{number}"
        if not line.strip():
            continue
        try:  # step 1
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            problems.append(f"{where}: expected a JSON object with {JOB_KEYS[0]!r} and {JOB_KEYS[1]!r}")
            continue
        unknown = sorted(set(record) - set(JOB_KEYS))  # step 2
        bad = [k for k in JOB_KEYS[:2] if not isinstance(record.get(k), str) or not record[k].strip()]
        bad += ["output"] if "output" in record and not isinstance(record["output"], str) else []
        if unknown or bad:
            said = [f"unknown keys {unknown} (expected {', '.join(JOB_KEYS)})"] if unknown else []
            said += [f"{k!r} must be a non-empty string" for k in bad]
            problems.append(f"{where}: {'; '.join(said)}")
            continue
        source = source_dir / record["source"]  # step 3
        if not source.is_file():
            problems.append(f"{where}: source {source} not found")
            continue
        name = Path(record.get("output", str(Path(record["source"]).with_suffix(".png"))))
        if name.is_absolute() or ".." in name.parts or name.suffix.lower() != ".png":
            problems.append(f"{where}: output {str(name)!r} must be a .png path inside the -o folder")
            continue
        output = out_dir / name
        if output in outputs:
            problems.append(f"{where}: output {output} is also line {outputs[output]}'s; give an \"output\" name")
            continue
        outputs[output] = number
        jobs.append(EditJob(source, record["instruction"], output, where))
    if problems:
        raise EditrlError("\n".join([f"{manifest}: {len(problems)} bad line(s):", *(f"  • {p}" for p in problems)]))
    if not jobs:
        raise EditrlError(f"--instructions: {manifest} lists no image to edit")
    return jobs


def plan_jobs(source: Path, instruction: str | None, instructions: Path | None, output: Path) -> list[EditJob]:
    """One job (``--source FILE --instruction TEXT -o FILE``) or a folder's (``--source DIR --instructions FILE.jsonl
    -o DIR``); anything mixed is refused, saying which form to use."""
    if source.is_dir():
        if instructions is None or instruction is not None:
            raise EditrlError(f"--source: {source} is a folder; give its edits with --instructions FILE.jsonl "
                              "(one {\"source\": ..., \"instruction\": ...} per line), not --instruction")
        if output.suffix:
            raise EditrlError(f"-o: with a --source folder, -o names the output folder; got the file name {output}")
        return read_jobs(source, instructions, output)
    if not source.is_file():
        raise EditrlError(f"--source: {source} not found (expected an image file, or a folder with --instructions)")
    if instruction is None or instructions is not None:
        raise EditrlError("--source: an image file takes --instruction TEXT (--instructions FILE.jsonl goes with a "
                          "--source folder)")
    if not instruction.strip():
        raise EditrlError("--instruction: empty; say what to edit")
    if output.suffix.lower() != ".png":
        raise EditrlError(f"-o: expected the output image's path ending in .png, got {output}")
    return [EditJob(source, instruction, output, "--source")]


def edit(
    editor: Annotated[Path, typer.Argument(
        help="A recipe file (.yaml: its base editor) or a run directory (its latest checkpoint's LoRA).",
        show_default=False)],
    overrides: OverridesArg = None,
    source: Annotated[Path, typer.Option(help="The source image, or a folder of them (with --instructions).",
                                         show_default=False)] = ...,
    instruction: Annotated[str | None, typer.Option(help="The edit instruction for one --source image.")] = None,
    instructions: Annotated[Path | None, typer.Option(
        help="JSON lines, one {\"source\": \"rel/path.png\", \"instruction\": \"...\"} per image of the --source "
             "folder (optional \"output\": its file name under -o).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The output .png (one image) or folder (several).",
                                         show_default=False)] = ...,
    seed: Annotated[int, typer.Option(help="Seed of each image's initial noise.")] = 0,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Images per batch [default: eval.batch_size].")] = None,
    plugin: PluginOpt = None,
) -> None:
    """Edit images with the single-path deterministic sampler (no mask, no perturbation), as the papers run
    inference. Sources are resized to the size the editor edits.

    Examples:

      editrl edit recipes/toy/rc_grpo.yaml --source in.png --instruction "add a red circle at the center" -o out.png

      editrl edit runs/toy_rc_grpo --source photos/ --instructions edits.jsonl -o edited/
    """
    from editrl.engine.evaluation import load_editor

    with user_errors():
        jobs = plan_jobs(source, instruction, instructions, output)  # every file checked before any weight loads
        sizes = [image_size(job.source) for job in jobs]
        loaded = load_editor(editor, overrides or [], plugin or [], before_load=lambda c: _check_jobs(c, jobs, sizes))
        written = _run_jobs(loaded, jobs, sizes, seed, batch_size or loaded.recipe.eval.batch_size)
    what = f"the trained editor of {loaded.run_dir} ({loaded.label})" if loaded.run_dir else "the base editor"
    where = f": {jobs[0].output}" if written == 1 else f" into {output}"
    console.print(f"edited {written} image(s) with {what}{where}", highlight=False)


def _check_jobs(components, jobs: list[EditJob], sizes: list[tuple[int, int]]) -> None:
    """Refuse, before the backbone loads, instructions (and sizes) the backbone says it cannot edit."""
    from editrl.data.inspection import ExampleInfo

    backbone, problems = components.backbone, []
    for job, (h, w) in zip(jobs, sizes):
        info = ExampleInfo(where=job.where, id=str(job.source), instruction=job.instruction, stored_size=(h, w),
                           shape=backbone.input_size(h, w))
        problems += [f"{job.where}: {p}" for p in backbone.check_example(info)]
    if problems:
        raise EditrlError("\n".join(["the editor cannot do these edits:", *(f"  • {p}" for p in problems)]))


def _run_jobs(editor, jobs: list[EditJob], sizes: list[tuple[int, int]], seed: int, batch_size: int) -> int:
    """Edit every job, batched by the size the backbone edits at; returns how many images were written.

    1. read each source at the backbone's input size (saying which were resized);
    2. per size: one noise per image from ``seed`` alone, :func:`sample_edits`, write the PNGs.
    """
    import torch

    from editrl.engine.evaluation import sample_edits
    from editrl.interfaces import EditBatch, EditExample

    backbone, solver = editor.components.backbone, editor.components.solver
    groups: dict[tuple[int, int], list[tuple[EditJob, EditExample]]] = {}
    for job, (h, w) in zip(jobs, sizes):  # step 1
        size = tuple(backbone.input_size(h, w))
        if size != (h, w):
            said = f"resized {job.source} from {h}×{w} to {size[0]}×{size[1]} (the size {backbone.name} edits)"
            console.print(said, highlight=False)
        example = EditExample(id=str(job.source), source=read_image(job.source, size), instruction=job.instruction)
        groups.setdefault(size, []).append((job, example))
    written = 0
    for group in groups.values():  # step 2
        examples = [e for _, e in group]
        try:
            shape = backbone.latent_shape(EditBatch.collate(examples[:1]))
        except ValueError as exc:
            raise EditrlError(f"{group[0][0].where}: {exc}") from None
        one = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))  # [C, h, w]
        noise = one.expand(len(examples), *shape)  # [E, C, h, w]: every image from the same seed
        done = 0
        for s in sample_edits(backbone, solver, examples, noise, batch_size=batch_size, device=editor.device):
            for image in s.images:  # [3, H, W]
                write_image(group[done][0].output, image)
                done += 1
        written += done
    return written
