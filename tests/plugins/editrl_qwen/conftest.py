"""Fixtures of the Qwen-Image-Edit backbone tests: tiny random Edit and Plus (2511-style, ``zero_cond_t``) pipelines
saved to temporary folders (built offline, once per session) and loaded through the plugin's real loading path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from diffusers_support import one_thread, quiet_pipeline, tiny_folder

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib: make qwen_helpers importable
from qwen_helpers import make_backbone  # noqa: E402

__all__ = ["backbone", "edit_dir", "one_thread", "pipe", "plus_backbone", "plus_dir", "plus_pipe"]


@pytest.fixture(scope="session")
def edit_dir(tmp_path_factory) -> Path:
    from editrl_qwen.tiny import build_tiny_qwen_edit

    return tiny_folder(tmp_path_factory, "tiny_qwen_edit", build_tiny_qwen_edit)


@pytest.fixture(scope="session")
def plus_dir(tmp_path_factory) -> Path:
    from editrl_qwen.tiny import build_tiny_qwen_edit

    return tiny_folder(tmp_path_factory, "tiny_qwen_edit_plus", build_tiny_qwen_edit, plus=True, zero_cond_t=True)


@pytest.fixture(scope="session")
def backbone(edit_dir):
    """The one-image Edit backbone, unguided, loaded once and never given LoRA."""
    return make_backbone(edit_dir)


@pytest.fixture(scope="session")
def plus_backbone(plus_dir):
    """The Plus backbone with true CFG on every pass (cfg=all), loaded once and never given LoRA."""
    return make_backbone(plus_dir, cfg="all")


def _pipe(directory: Path, plus: bool):
    from diffusers import QwenImageEditPipeline, QwenImageEditPlusPipeline

    return quiet_pipeline(QwenImageEditPlusPipeline if plus else QwenImageEditPipeline, directory)


@pytest.fixture(scope="session")
def pipe(edit_dir):
    return _pipe(edit_dir, plus=False)


@pytest.fixture(scope="session")
def plus_pipe(plus_dir):
    return _pipe(plus_dir, plus=True)
