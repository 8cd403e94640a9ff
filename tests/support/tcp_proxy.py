"""A TCP proxy for tests, in front of a real server, that can break the connections through it.

Modes (``proxy.mode = ...``, from any thread; takes effect at once):

- ``forward``: bytes pass both ways.
- ``reset``: every connection, open or new, is reset (RST), as a load balancer or a Redis proxy
  whose backend is down does, or a server at ``maxclients`` after ``CLIENT KILL``.
- ``refuse``: nothing listens on the port (connection refused); open connections are reset.
- ``blackhole``: connections are accepted and nothing is ever answered. An open connection is
  held from the first byte it would have carried, and stays held after ``forward`` returns (the
  bytes it lost would desynchronize it); one that carried nothing meanwhile forwards again.

It runs its own event loop in a thread, so it works the same whichever loop the code under test
uses, and from synchronous tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from concurrent.futures import Future
from typing import Any, Literal

Mode = Literal["forward", "reset", "refuse", "blackhole"]
MODES: tuple[Mode, ...] = ("forward", "reset", "refuse", "blackhole")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST rather than a FIN: linger on, with a zero timeout."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One client connection and its upstream one."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.held = False

    def reset(self) -> None:
        _reset(self.client)
        if self.upstream is not None:
            self.upstream.transport.abort()


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int, port: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = port
        self._mode: Mode = "forward"
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.accepted = 0  # connections accepted, for tests that check the client reconnected

    # --- control (any thread) ----------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        assert mode in MODES, mode
        self._call(self._switch(mode))

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._switch("refuse"))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, work: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(work, self._loop)
        return future.result(10)

    # --- the proxy's own loop ----------------------------------------------------------------

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )
            self.port = self._server.sockets[0].getsockname()[1]

    async def _switch(self, mode: Mode) -> None:
        self._mode = mode
        if mode == "refuse" and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        elif mode != "refuse":
            await self._listen()
        if mode in ("reset", "refuse"):
            for link in list(self._links):
                link.reset()
            self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._mode == "reset":
            _reset(writer)
            return
        link = _Link(writer)
        self._links.add(link)
        try:
            if self._mode == "blackhole":
                link.held = True
            else:
                try:
                    up_reader, link.upstream = await asyncio.open_connection(*self.upstream)
                except OSError:  # the server behind is down: as it would look without us
                    _reset(writer)
                    return
                await asyncio.gather(
                    self._pump(link, up_reader, writer),
                    self._pump(link, reader, link.upstream),
                )
                return
            while await reader.read(65536):  # held: read and drop, answer nothing
                pass
        except (OSError, asyncio.IncompleteReadError):
            link.reset()
        finally:
            self._links.discard(link)
            if not writer.is_closing():
                writer.close()

    async def _pump(
        self, link: _Link, source: asyncio.StreamReader, sink: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await source.read(65536):
                if link.held or self._mode == "blackhole":
                    link.held = True
                    continue
                sink.write(data)
                await sink.drain()
        except OSError:
            link.reset()
        finally:
            # A FIN passes through as a FIN, except to a held client: it hears nothing.
            if not (link.held and sink is link.client) and not sink.is_closing():
                sink.close()
