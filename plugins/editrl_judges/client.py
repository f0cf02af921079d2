"""An asynchronous OpenAI-compatible chat client for judges: bounded concurrency, timeouts, retries with backoff,
and a clock of how long the server has been down.

The client owns one event loop on a daemon thread; its connections and the semaphore live on that loop, so callers
on any thread (the engine's reward workers) submit batches safely with :meth:`JudgeClient.post_many`.

Each request in flight holds a connection of its own: an ``httpx.AsyncClient`` limited to one keep-alive connection,
taken from an idle stack (made when the stack is empty, at most ``concurrency`` of them, all sharing one SSL
context). One shared client with ``concurrency`` connections would do the same, but httpcore's pool rescans every
connection on every event: at concurrency 16 the client spent 115 ms of CPU on 32 requests that way and 67 ms this
way (``benchmarks/results/judge_overlap.md``), CPU that a training machine's rollout would otherwise have.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from editrl.errors import ResourceError
from editrl.interfaces.reward import RewardUnavailable
from editrl_judges.server import JudgeServerConfig

#: Failures in transit that are retried; the first three also mean "the server is down".
DOWN_REASONS = ("unreachable", "timeout", "dropped")
RETRIED_REASONS = (*DOWN_REASONS, "http_5xx", "malformed_json")


@dataclass
class Reply:
    """One request's outcome: the completion's first choice, or the reason it failed."""

    choice: dict[str, Any] | None = None  # choices[0] of the completion
    reason: str | None = None  # why it failed (one of RETRIED_REASONS or "http_4xx")
    latency_s: float = 0.0  # of the last attempt
    retried: list[str] = field(default_factory=list)  # reasons of the attempts that were retried


def redacted_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers with the key hidden (for ``judge check`` and messages)."""
    return {k: ("Bearer ***" if k.lower() == "authorization" else v) for k, v in headers.items()}


class JudgeClient:
    """Posts chat completions to ``config.base_url``. ``start()`` once, ``post_many()`` from any thread."""

    def __init__(self, config: JudgeServerConfig, label: str) -> None:
        self.config = config
        self.label = label  # the recipe location, e.g. "rewards.0", for messages
        self.headers = {"Content-Type": "application/json"}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._down_since: float | None = None
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> None:
        """1. read the key from the environment; 2. check the server answers at all; 3. start the loop thread."""
        cfg = self.config
        # step 1
        key = os.environ.get(cfg.api_key_env)
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        # step 2
        self.check()
        # step 3
        if self._loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="editrl-judge-client", daemon=True).start()
            self._loop = loop
            asyncio.run_coroutine_threadsafe(self._open(), loop).result()

    async def _open(self) -> None:
        self._ssl = httpx.create_ssl_context()  # one for every connection (each client would load the CA bundle)
        self._idle: list[httpx.AsyncClient] = []  # connections not serving a request; at most `concurrency` exist
        self._semaphore = asyncio.Semaphore(self.config.concurrency)

    def _connection(self) -> httpx.AsyncClient:
        """An idle connection, or a new one (the semaphore bounds how many exist)."""
        if self._idle:
            return self._idle.pop()
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.AsyncClient(timeout=self.config.timeout_s, limits=limits, headers=self.headers, verify=self._ssl)

    async def _close_all(self) -> None:
        idle, self._idle = self._idle, []
        for http in idle:
            await http.aclose()

    def check(self) -> None:
        """Any HTTP answer from ``GET base_url/models`` proves the server is up (some servers answer 500 there);
        no answer, or a refused key, is a :class:`ResourceError` naming ``base_url`` (never the key)."""
        cfg = self.config
        try:
            response = httpx.get(f"{cfg.base_url}/models", headers=self.headers, timeout=min(cfg.timeout_s, 10.0))
        except httpx.HTTPError as exc:
            raise ResourceError(
                f"{self.label}.base_url: the judge server at {cfg.base_url} does not answer "
                f"({type(exc).__name__}); start it, or point base_url at a running OpenAI-compatible server"
            ) from None
        if response.status_code in (401, 403):
            raise ResourceError(
                f"{self.label}.api_key_env: the judge server at {cfg.base_url} refused the key (HTTP "
                f"{response.status_code}); set the environment variable {cfg.api_key_env} to a valid key"
            )

    def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)

    # -- requests ---------------------------------------------------------------------------------------------
    def post_many(self, bodies: list[dict[str, Any]]) -> list[Reply]:
        """Post every body concurrently (at most ``concurrency`` in flight); one :class:`Reply` per body, in order.

        Raises :class:`RewardUnavailable` when the server has answered nothing for longer than ``max_down_s``.
        """
        if self._loop is None:
            raise RuntimeError("JudgeClient.start() was not called")
        replies = asyncio.run_coroutine_threadsafe(self._post_all(bodies), self._loop).result()
        down = self.down_for()
        if down > self.config.max_down_s:
            raise RewardUnavailable(
                f"{self.label}: the judge server at {self.config.base_url} has answered nothing for {down:.0f} s "
                f"(max_down_s={self.config.max_down_s:g})"
            )
        return replies

    def down_for(self) -> float:
        """Seconds since the first failure in transit not followed by any answer (0 while the server answers)."""
        with self._lock:
            return 0.0 if self._down_since is None else time.monotonic() - self._down_since

    def _mark(self, reason: str | None) -> None:
        with self._lock:
            if reason in DOWN_REASONS:
                self._down_since = self._down_since or time.monotonic()
            else:
                self._down_since = None

    async def _post_all(self, bodies: list[dict[str, Any]]) -> list[Reply]:
        return list(await asyncio.gather(*(self._post(body) for body in bodies)))

    async def _post(self, body: dict[str, Any]) -> Reply:
        """One request: 1. wait for a slot and take a connection; 2. post, classify the outcome; 3. retry transit
        failures with backoff while attempts and ``max_down_s`` allow; 4. give the connection back."""
        cfg = self.config
        reply = Reply()
        async with self._semaphore:  # step 1
            http = self._connection()
            try:
                for attempt in range(cfg.retries + 1):
                    start = time.perf_counter()
                    reply.choice, reply.reason = await self._attempt(http, body)  # step 2
                    reply.latency_s = time.perf_counter() - start
                    self._mark(reply.reason)
                    if reply.reason not in RETRIED_REASONS or attempt == cfg.retries:
                        break
                    if self.down_for() > cfg.max_down_s:
                        break
                    reply.retried.append(reply.reason)  # step 3
                    await asyncio.sleep(cfg.backoff_s * 2**attempt)
            finally:
                self._idle.append(http)  # step 4
        return reply

    async def _attempt(self, http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        try:
            response = await http.post(f"{self.config.base_url}/chat/completions", json=body)
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.ConnectError:
            return None, "unreachable"
        except httpx.HTTPError:  # closed mid-response, protocol errors
            return None, "dropped"
        if response.status_code >= 500:
            return None, "http_5xx"
        if response.status_code >= 400:
            return None, "http_4xx"
        try:
            choice = json.loads(response.content)["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            return None, "malformed_json"
        if not isinstance(choice, dict):
            return None, "malformed_json"
        return choice, None
