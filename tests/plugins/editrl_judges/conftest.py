"""Fixtures of the judge tests: the tiny judges (built offline, once per session) and real servers serving them on
127.0.0.1, started and stopped by PID. Where a server's package is missing its tests skip, saying why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib: make judge_helpers importable
from judge_helpers import FaultProxy  # noqa: E402

from editrl_judges.local_servers import (  # noqa: E402
    start_llama_server, start_transformers_serve, why_no_llama_cpp, why_no_transformers_serve,
)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    from editrl_judges.tiny import build_tiny_gguf

    return build_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny-yes-no.gguf")


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory) -> Path:
    from editrl_judges.tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny_vlm"))


@pytest.fixture(scope="session")
def llama_server(tiny_gguf, tmp_path_factory):
    """llama-cpp-python's OpenAI server on the designed GGUF (logprobs; P(Yes | Yes, No) = sigmoid(1))."""
    reason = why_no_llama_cpp()
    if reason:
        pytest.skip(reason)
    server = start_llama_server(tiny_gguf, tmp_path_factory.mktemp("llama") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def own_llama_server(tiny_gguf, tmp_path):
    """A llama server of the test's own, which the test may kill."""
    reason = why_no_llama_cpp()
    if reason:
        pytest.skip(reason)
    server = start_llama_server(tiny_gguf, tmp_path / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vlm_server(tiny_vlm, tmp_path_factory):
    """``transformers serve`` on the tiny Qwen2.5-VL (images, text answers; ignores logprobs)."""
    reason = why_no_transformers_serve()
    if reason:
        pytest.skip(reason)
    server = start_transformers_serve(tiny_vlm, tmp_path_factory.mktemp("tserve") / "server.log")
    yield server
    server.stop()


@pytest.fixture
def proxy(llama_server):
    p = FaultProxy(llama_server.port)
    yield p
    p.close()
