"""The settings every served judge shares: where the OpenAI-compatible server is, and how hard to try."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from editrl.interfaces import RewardConfig

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class JudgeServerConfig(RewardConfig):
    base_url: str = "http://127.0.0.1:8000/v1"
    """OpenAI-compatible API root (vLLM, SGLang, llama.cpp, transformers serve, a hosted API), ending in /v1."""
    model: str = Field("Qwen/Qwen2.5-VL-32B-Instruct", min_length=1)
    """The model name sent in each request (what the server serves)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key; the key itself is never written anywhere. Unset:
    requests carry no key (local servers)."""
    concurrency: int = Field(16, ge=1, le=1024)
    """Requests in flight at once, over every row and pass of a step."""
    timeout_s: float = Field(60.0, gt=0, le=3600)
    """Seconds one request may take before it counts as failed (`timeout`)."""
    retries: int = Field(3, ge=0, le=20)
    """Retries of a request that failed in transit (unreachable, timeout, dropped, HTTP 5xx, malformed JSON)."""
    backoff_s: float = Field(0.5, ge=0, le=60)
    """Delay before the first retry; doubled for each further retry."""
    max_down_s: float = Field(300.0, gt=0)
    """A server that answers nothing for longer than this stops the run (after a checkpoint), to resume later."""
    max_tokens: int = Field(16, ge=1, le=8192)
    """Tokens the judge may generate; always sent (servers default to ≥ 1024 without it)."""
    temperature: float = Field(0.0, ge=0, le=2)
    """Sampling temperature (0: greedy)."""
    max_side: int = Field(512, ge=28, le=4096)
    """Images are downscaled (aspect kept) so that their longer side is at most this many pixels."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http:// or https:// URL such as http://127.0.0.1:8000/v1, got {value!r}")
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME.match(value):
            raise ValueError(f"expected the name of an environment variable (letters, digits, _), got {value!r}")
        return value
