"""Real judge servers for the tests, on 127.0.0.1 only (started and stopped by ``editrl_judges.local_servers``), and a
loopback proxy that delays, drops or garbles what a server answers."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx

from editrl_judges.local_servers import HOST, free_port


class FaultProxy:
    """A loopback HTTP/1.1 proxy in front of ``upstream`` (a base URL's host:port) on its own thread and event loop.

    ``fault`` says what happens to the next ``count`` requests (then they pass): ``delay`` (sleep ``delay_s`` first),
    ``drop`` (close the connection unanswered), ``garble`` (a 200 whose body is not JSON), ``http_500``,
    ``truncate`` (the answer cut to "Th" with finish_reason "length"), ``no_logprobs`` (logprobs removed).
    ``seen`` counts the requests that arrived, ``peak`` the most chat requests in the proxy at once and
    ``connections`` the connections the client opened.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream = f"http://{HOST}:{upstream_port}"
        self.fault: str | None = None
        self.count = 0
        self.delay_s = 0.0
        self.seen = 0
        self.peak = 0
        self.connections = 0
        self._in_flight = 0
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def set(self, fault: str | None, count: int = 10**9, delay_s: float = 0.0) -> None:
        self.fault, self.count, self.delay_s, self.seen, self.peak = fault, count, delay_s, 0, 0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._client = httpx.AsyncClient(timeout=60)
            self._server = await asyncio.start_server(self._serve, HOST, self.port)
            self._ready.set()

        self._loop.run_until_complete(main())
        self._loop.run_forever()

    def close(self) -> None:
        async def shut() -> None:
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            await self._client.aclose()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                length = int({k.lower(): v for k, v in headers.items()}.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                chat = path.endswith("/chat/completions")
                self._in_flight += chat
                self.peak = max(self.peak, self._in_flight)
                try:
                    if not await self._answer(method, path, body, writer):
                        break
                finally:
                    self._in_flight -= chat
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, method: str, path: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        """Forward one request and write the (possibly faulty) answer; False closes the connection."""
        fault = None
        if path.endswith("/chat/completions"):
            self.seen += 1
            if self.count > 0 and self.fault is not None:
                fault, self.count = self.fault, self.count - 1
        if fault == "delay":
            await asyncio.sleep(self.delay_s)
        if fault == "drop":
            return False
        if fault == "http_500":
            status, content = 500, b'{"error": "injected"}'
        elif fault == "garble":
            status, content = 200, b'{"choices": [{"message": {"content": "4"'  # cut mid-object: not JSON
        else:
            response = await self._client.request(method, self.upstream + path, content=body,
                                                  headers={"Content-Type": "application/json"})  # fmt: skip
            status, content = response.status_code, response.content
            if fault in ("truncate", "no_logprobs"):
                data = json.loads(content)
                choice = data["choices"][0]
                choice.pop("logprobs", None)
                if fault == "truncate":
                    choice["message"]["content"], choice["finish_reason"] = "Th", "length"
                content = json.dumps(data).encode()
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(content)}\r\n"
                     f"Connection: keep-alive\r\n\r\n".encode() + content)  # fmt: skip
        await writer.drain()
        return True
