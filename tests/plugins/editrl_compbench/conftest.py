"""Offline stand-ins for the CompBench metrics' weights: a torch hub cache with a random squeezenet (LPIPS), a tiny
random CLIP saved in the hub layout (LC-T / LC-I)."""

from __future__ import annotations

import pytest
import torch

from editrl_compbench.perceptual import backbone_weights
from editrl_compbench.tiny import build_tiny_clip


@pytest.fixture
def random_squeezenet(tmp_path, monkeypatch):
    """``TORCH_HOME`` holding a random-init squeezenet1_1 under torchvision's file name (notes/eval_metrics.md §3.4):
    lpips then builds its real network offline, its shipped linear heads on a random backbone."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    _, path = backbone_weights("squeeze")
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> str:
    """The tiny CLIP's folder, under a path containing ``openai`` (as torchmetrics would require of CompBench's)."""
    folder = tmp_path_factory.mktemp("clip") / "openai-tiny-clip"
    build_tiny_clip(folder)
    return str(folder)
