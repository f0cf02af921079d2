"""Fixtures of the FLUX.1 Kontext backbone tests: a tiny random Kontext pipeline saved to a temporary folder (built
offline, once per session) and loaded through the plugin's real loading path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from diffusers_support import one_thread, quiet_pipeline, tiny_folder

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib: make flux_helpers importable
from flux_helpers import make_backbone  # noqa: E402

__all__ = ["backbone", "one_thread", "pipe", "tiny_dir"]


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    from editrl_flux.tiny import build_tiny_kontext

    return tiny_folder(tmp_path_factory, "tiny_kontext", build_tiny_kontext)


@pytest.fixture(scope="session")
def backbone(tiny_dir):
    """Loaded once, never given LoRA (tests that attach LoRA make their own)."""
    return make_backbone(tiny_dir)


@pytest.fixture(scope="session")
def pipe(tiny_dir):
    from diffusers import FluxKontextPipeline

    return quiet_pipeline(FluxKontextPipeline, tiny_dir)
