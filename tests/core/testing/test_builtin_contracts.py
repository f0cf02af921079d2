"""editrl's own components pass the contract suite plugin authors run (``editrl.testing``), parametrised over the
registry, so that a new builtin is checked without being listed here.

Skipped, with the reason shown by ``pytest -rs``: rewards that score through an HTTP judge server (``editscore``,
``mllm_judge``, ``gedit``, ``imgedit``: their own tests serve real tiny judges on 127.0.0.1). ``flux_kontext`` and ``qwen_image_edit`` run on
the tiny random pipelines of ``editrl_flux.tiny`` and ``editrl_qwen.tiny`` (slow).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from editrl.registry import KINDS
from editrl.testing import check_component
from editrl.testing.world import default_registry

REGISTRY = default_registry()

#: Why a builtin cannot run on a CPU test machine.
SKIP = {
    ("reward", "editscore"): "scores through an HTTP judge server",
    ("reward", "mllm_judge"): "scores through an HTTP judge server",
    ("reward", "gedit"): "scores through an HTTP judge server",
    ("reward", "imgedit"): "scores through an HTTP judge server",
    ("reward", "compbench_lpips"): "downloads torchvision weights (tests/plugins/editrl_compbench seeds a cache)",
}
#: Builtins whose defaults are too big for a test, or need a file: their small configs (callables of tmp_path).
CONFIGS = {
    ("dataset", "edit_folder"): lambda tmp: {
        "root": str(_edit_folder(tmp)), "resolution": 16, "fields": ["mask", "target"],
    },
    ("dataset", "toy_shapes"): lambda tmp: {"train_size": 12, "eval_size": 6},
    ("dataset", "compbench"): lambda tmp: {
        "root": str(_tiny_compbench(tmp)), "resolution": 16, "heldout": {"fraction": 0.5},
    },
    ("reward", "compbench_lc_t"): lambda tmp: {"model": str(_tiny_clip(tmp))},
    ("reward", "compbench_lc_i"): lambda tmp: {"model": str(_tiny_clip(tmp))},
    ("backbone", "flux_kontext"): lambda tmp: {
        "model": str(_tiny_kontext(tmp)), "dtype": "fp32", "max_sequence_length": 16, "gradient_checkpointing": False,
    },
    ("backbone", "qwen_image_edit"): lambda tmp: {
        "model": str(_tiny_qwen_edit(tmp)), "dtype": "fp32", "gradient_checkpointing": False,
        "reference_resolution": 64,  # the tiny VAE at the pipelines' 1024² reference takes seconds per encode
    },
}
SLOW = {("backbone", "flux_kontext"), ("backbone", "qwen_image_edit")}


def _params():
    for kind in KINDS:
        for name in REGISTRY.names(kind):
            marks = [pytest.mark.skip(reason=SKIP[kind, name])] if (kind, name) in SKIP else []
            marks += [pytest.mark.slow] if (kind, name) in SLOW else []
            yield pytest.param(kind, name, marks=marks, id=f"{kind}-{name}")


@pytest.mark.parametrize(("kind", "name"), list(_params()))
def test_builtin_keeps_the_contract(kind, name, tmp_path):
    config = CONFIGS.get((kind, name), lambda tmp: {})(tmp_path)
    passed = check_component(REGISTRY.get(kind, name), config)
    assert "config.extra_forbidden" in passed and "config.documented" in passed


def _edit_folder(tmp):
    """Three 16×16 edits with masks and targets, listed in both splits' manifests."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(3):
        for part, channels in (("src", 3), ("tgt", 3), ("mask", 1)):
            pixels = (rng.random((16, 16, channels)) * 255).astype(np.uint8)
            Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels).save(tmp / f"{part}{i}.png")
        lines.append(json.dumps({"source": f"src{i}.png", "target": f"tgt{i}.png", "mask": f"mask{i}.png",
                                 "instruction": "make it red"}))
    for split in ("train", "eval"):
        (tmp / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return tmp


def _tiny_compbench(tmp):
    from editrl_compbench.tiny import build_tiny_compbench

    return build_tiny_compbench(tmp / "compbench")


def _tiny_clip(tmp):
    from editrl_compbench.tiny import build_tiny_clip

    build_tiny_clip(tmp / "openai-tiny-clip")
    return tmp / "openai-tiny-clip"


def _tiny_kontext(tmp):
    from editrl_flux.tiny import build_tiny_kontext

    build_tiny_kontext(tmp / "kontext")
    return tmp / "kontext"


def _tiny_qwen_edit(tmp):
    from editrl_qwen.tiny import build_tiny_qwen_edit

    build_tiny_qwen_edit(tmp / "qwen_edit")
    return tmp / "qwen_edit"
