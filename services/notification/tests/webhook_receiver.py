"""Webhook receivers for tests: real HTTP servers on free loopback ports (asyncio streams, HTTP/1.1
with keep-alive). ``Receiver`` records each request and answers ``status``; ``DeadEndpoint``
accepts connections and never answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["DeadEndpoint", "Received", "Receiver", "dead_endpoint", "receiver"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    port: int = 0
    status: int = 200
    answer: bytes = b'{"ok": true}'
    requests: list[Received] = field(default_factory=list)

    def url(self, path: str = "/hooks") -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(path, headers, body))
                length = len(self.answer)
                head_out = f"HTTP/1.1 {self.status} X\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
                writer.write(head_out.encode() + self.answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def receiver(status: int = 200) -> AsyncIterator[Receiver]:
    r = Receiver(status=status)
    server = await asyncio.start_server(r.handle, r.host, 0)
    r.port = server.sockets[0].getsockname()[1]
    try:
        yield r
    finally:
        server.close()


@dataclass
class DeadEndpoint:
    host: str = "127.0.0.1"
    port: int = 0
    connections: int = 0
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    def url(self, path: str = "/hooks") -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)  # accepted, read, never answered


@asynccontextmanager
async def dead_endpoint() -> AsyncIterator[DeadEndpoint]:
    d = DeadEndpoint()
    server = await asyncio.start_server(d.handle, d.host, 0)
    d.port = server.sockets[0].getsockname()[1]
    try:
        yield d
    finally:
        for w in d._writers:
            w.close()
        server.close()
