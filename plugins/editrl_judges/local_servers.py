"""OpenAI-compatible judge servers started on this machine (127.0.0.1 only) for editrl's judge tests and benchmarks:
a process on a free port, waited for until it answers its health route, and stopped by its PID."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def why_no_llama_cpp() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (.ci/run installs ../shared/wheels/llama_cpp_python-*.whl[server])"
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("sse_starlette") is None:
        return "llama-cpp-python's [server] extra is not installed"
    return None


def why_no_transformers_serve() -> str | None:
    if shutil.which("transformers") is None:
        return "the transformers CLI is not on PATH"
    if any(importlib.util.find_spec(m) is None for m in ("fastapi", "uvicorn", "openai")):
        return "transformers serve needs transformers[serving] (fastapi, uvicorn, openai)"
    return None


class ServerProcess:
    """A server process on 127.0.0.1:port, its output in ``log``; ``stop()`` ends it by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, command: list[str], port: int, health: str, log: Path, env: dict | None = None) -> None:
        self.port = port
        self.log = log
        self._out = open(log, "wb")
        self.proc = subprocess.Popen(command, stdout=self._out, stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid
        self._wait_ready(f"http://{HOST}:{port}{health}")

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def _wait_ready(self, url: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}): {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout:.0f} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._out.close()


def start_llama_server(gguf: Path, log: Path, n_ctx: int = 512) -> ServerProcess:
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", HOST, "--port", str(port),
               "--n_ctx", str(n_ctx), "--n_threads", "1"]  # fmt: skip
    return ServerProcess(command, port, "/v1/models", log)


def start_transformers_serve(model_dir: Path, log: Path) -> ServerProcess:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [shutil.which("transformers"), "serve", str(model_dir), "--host", HOST, "--port", str(port),
               "--device", "cpu"]  # fmt: skip
    return ServerProcess(command, port, "/health", log, env=env)
