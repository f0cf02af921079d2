"""Tiny offline stand-ins for CompBench's data and model, built in code: for tests and for trying the plugin on a CPU.

- :func:`build_tiny_compbench`: a CompBench tree of random images with rectangular masks, in the folder layout of
  ``eval_all.py`` or as one parquet file shaped like the Hugging Face export (image columns as ``{bytes, path}``).
- :func:`build_tiny_clip`: a tiny random CLIP (``CLIPModel`` + tokenizer + PIL image processor) saved in the hub
  folder layout, so that ``compbench_lc_t`` / ``compbench_lc_i`` load it through their real loading path
  (``model=<directory>``); about 250 KB.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

#: Examples per task of the tiny tree.
TINY_TASKS = {"add": 3, "remove": 2, "replace": 2}


def tiny_examples(size: int = 24, seed: int = 0) -> list[dict]:
    """The tiny tree's examples: ``task``, ``image_path`` (CompBench's ``hash/idx/frame.png`` form), ``instruction``,
    ``caption`` and the 8-bit arrays ``input_image``, ``edited_image`` ``[size, size, 3]`` and ``mask``
    ``[size, size]`` (0/255, white = edit: a rectangle whose corner and size vary per example)."""
    rng = np.random.default_rng(seed)
    out = []
    for task, count in TINY_TASKS.items():
        for n in range(count):
            mask = np.zeros((size, size), dtype=np.uint8)
            top, left = 2 + n, 3 + 2 * n
            mask[top : top + size // 3, left : left + size // 2] = 255
            source = (rng.random((size, size, 3)) * 255).astype(np.uint8)
            edited = source.copy()
            edited[mask > 0] = (rng.random((int((mask > 0).sum()), 3)) * 255).astype(np.uint8)
            out.append({
                "task": task, "image_path": f"{task[:3]}{n:05x}/{n}/{n:05d}.png",
                "instruction": f"{task} a red cup", "caption": "a red cup",
                "input_image": source, "edited_image": edited, "mask": mask,
            })
    return out


def build_tiny_compbench(directory: str | Path, *, layout: str = "folder", size: int = 24, seed: int = 0) -> Path:
    """Write the tiny tree under ``directory`` and return the dataset root to configure.

    ``layout="folder"``: ``<directory>/<task>/{input_image,edited_image,mask}/<image_path>`` + ``metadata.json``.
    ``layout="parquet"``: ``<directory>/data/train-00000-of-00001.parquet`` (needs pyarrow).
    """
    directory = Path(directory)
    examples = tiny_examples(size, seed)
    if layout == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        def png(array: np.ndarray) -> dict:
            buffer = io.BytesIO()
            Image.fromarray(array).save(buffer, format="PNG")
            return {"bytes": buffer.getvalue(), "path": None}

        rows = [{k: png(v) if isinstance(v, np.ndarray) else v for k, v in e.items()} for e in examples]
        (directory / "data").mkdir(parents=True, exist_ok=True)
        path = directory / "data" / "train-00000-of-00001.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=3)  # several row groups, as the export
        return directory
    for task in TINY_TASKS:
        entries = []
        for e in (e for e in examples if e["task"] == task):
            for kind in ("input_image", "edited_image", "mask"):
                path = directory / task / kind / e["image_path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(e[kind]).save(path)
            entries.append({k: e[k] for k in ("image_path", "instruction", "caption")})
        (directory / task / "metadata.json").write_text(json.dumps(entries, indent=1))
    return directory

from editrl_flux.tiny import tiny_clip_tokenizer


def build_tiny_clip(directory: str | Path, *, seed: int = 0, image_size: int = 32):
    """Build the tiny CLIP (2 layers, width 32, projection 16, ``image_size``² input, patch 8), save model, tokenizer
    and image processor in ``directory``, and return the ``CLIPModel`` (fp32, eval mode)."""
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    tokenizer = tiny_clip_tokenizer()
    common = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    config = CLIPConfig(
        text_config={**common, "vocab_size": len(tokenizer), "max_position_embeddings": 77,
                     "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={**common, "image_size": image_size, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    directory = Path(directory)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    processor.save_pretrained(directory)
    return model
