"""The process model, run as real processes: workers sharing one port, signal forwarding, exit
codes, and graceful shutdown (in-flight requests finish, the drain is bounded, cleanup runs).

Which process served a connection is read from /proc (the server side of each TCP connection
and the socket inodes each process holds), so nothing new is exposed over HTTP.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.redis_process import RedisProcess, free_port
from tests.support.paths import ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; Linux only")

SHUTDOWN_TIMEOUT = 3.0
# Drain bound plus interpreter start/stop slack on a busy 2-core machine.
EXIT_BOUND = SHUTDOWN_TIMEOUT + 7.0
_LISTEN, _ESTABLISHED = "0A", "01"

SLOW_APP = '''
"""A test app run through common.serve: /slow answers after SLOW_SECONDS."""
import asyncio
import logging
import os
import sys

from aiohttp import web

from common import serve

log = logging.getLogger("slow_app")


async def slow(request):
    log.info("slow request started")
    await asyncio.sleep(float(os.environ["SLOW_SECONDS"]))
    log.info("slow request finished in %d", os.getpid())
    return web.json_response({"done": True})


async def healthz(request):
    return web.json_response({"status": "ok"})


async def cleanup_ctx(app):
    yield
    log.info("cleanup ran in %d", os.getpid())


def create_app(settings):
    app = web.Application()
    app.router.add_get("/slow", slow)
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.append(cleanup_ctx)
    return app


if __name__ == "__main__":
    serve.main("runtime", create_app, sys.argv[1:])
'''


class Service:
    """One started service process tree and its captured log."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.port = int(env["PORT"])
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "HOST": "127.0.0.1", **env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, condition, what: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            if self.proc.poll() is not None:
                pytest.fail(f"service exited ({self.proc.returncode}) before {what}:\n{self.log()}")
            time.sleep(0.05)  # polling interval for a condition with a deadline
        pytest.fail(f"timed out waiting for {what}:\n{self.log()}")

    def wait_healthy(self) -> None:
        self.wait_for(lambda: _status(self.port, "/healthz") == 200, "/healthz")

    def stop(self) -> None:
        if self.proc.poll() is None:
            for pid in _descendants(self.proc.pid):
                _kill(pid, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    started: list[Service] = []

    def start(args: list[str], **env: str) -> Service:
        service = Service(args, env, tmp_path / f"service-{len(started)}.log")
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


def _status(port: int, path: str) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except FileNotFoundError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except (FileNotFoundError, PermissionError):
        pass
    return inodes


def _tcp_sockets() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every TCP socket in this network namespace."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, remote = (int(addr.rsplit(":", 1)[1], 16) for addr in fields[1:3])
                rows.append((local, remote, fields[3], int(fields[9])))
    return rows


def _listening_pids(root: int, port: int) -> set[int]:
    listeners = {inode for lp, _, st, inode in _tcp_sockets() if lp == port and st == _LISTEN}
    return {pid for pid in _descendants(root) if _socket_inodes(pid) & listeners}


def _serving_pid(candidates: set[int], port: int, client_port: int) -> int:
    """The process holding the server side of the connection from ``client_port``."""
    inodes = {
        inode
        for lp, rp, st, inode in _tcp_sockets()
        if lp == port and rp == client_port and st == _ESTABLISHED
    }
    owners = [pid for pid in candidates if _socket_inodes(pid) & inodes]
    assert len(owners) == 1, (client_port, owners)
    return owners[0]


def _runtime_env(redis_proc: RedisProcess, **extra: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_proc.url,
        "REDIS_KEY_PREFIX": "test",
        "PORT": str(free_port()),
        "SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
        **extra,
    }


def test_two_workers_share_the_port_and_stop_cleanly_on_sigterm(
    start, redis_proc: RedisProcess
) -> None:
    service = start(["-m", "runtime_service", "--workers", "2"], **_runtime_env(redis_proc))
    service.wait_healthy()
    port = service.port
    workers = service.wait_for(
        lambda: (pids := _listening_pids(service.proc.pid, port)) and len(pids) == 2 and pids,
        "both workers listening",
    )
    assert service.proc.pid not in workers  # the parent binds nothing

    # Distinct connections are spread over both workers by the kernel (SO_REUSEPORT); with 40
    # connections, all landing on one of two workers has odds of 2**-39.
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(40)]
    try:
        served_by = set()
        for conn in conns:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b'{"status":"ok"}')
            served_by.add(_serving_pid(workers, port, conn.sock.getsockname()[1]))
    finally:
        for conn in conns:
            conn.close()
    assert served_by == workers
    assert service.log().count("uvloop event loop, SO_REUSEPORT") == 2

    tree = _descendants(service.proc.pid)  # the workers and multiprocessing's helper
    deadline = time.monotonic() + EXIT_BOUND
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(timeout=EXIT_BOUND) == 0, service.log()
    while any(_alive(pid) for pid in tree) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling interval
    assert not [pid for pid in tree if _alive(pid)], service.log()
    assert service.log().count("runtime service stopped") == 2
    assert "all workers stopped" in service.log()


def test_a_worker_dying_stops_the_others_and_the_parent_fails(
    start, redis_proc: RedisProcess
) -> None:
    service = start(["-m", "runtime_service"], **_runtime_env(redis_proc, WORKERS="2"))
    service.wait_healthy()
    workers = service.wait_for(
        lambda: (
            (pids := _listening_pids(service.proc.pid, service.port)) and len(pids) == 2 and pids
        ),
        "both workers listening",
    )
    victim, survivor = sorted(workers)
    os.kill(victim, signal.SIGKILL)
    assert service.proc.wait(timeout=EXIT_BOUND) == 1, service.log()
    assert not _alive(survivor)
    assert f"(pid {victim}) exited unexpectedly with code -9" in service.log()
    assert f"runtime service stopped (pid {survivor})" in service.log()


def test_invalid_worker_count_is_refused(start) -> None:
    service = start(["-m", "management_service", "--workers", "0"], PORT=str(free_port()))
    assert service.proc.wait(timeout=30) == 2
    assert "expected a whole number >= 1" in service.log()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_lets_an_in_flight_request_finish_then_runs_cleanup(
    start, tmp_path: Path, workers: str
) -> None:
    script = tmp_path / "slow_app.py"
    script.write_text(SLOW_APP)
    service = start(
        [str(script)],
        PORT=str(free_port()),
        WORKERS=workers,
        SLOW_SECONDS="1.5",
        SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT),
    )
    service.wait_healthy()
    result: dict[str, object] = {}

    def slow_request() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
        try:
            conn.request("GET", "/slow")
            response = conn.getresponse()
            result["reply"] = (response.status, response.read())
        except OSError as exc:
            result["reply"] = exc
        finally:
            conn.close()

    client = threading.Thread(target=slow_request)
    client.start()
    try:
        service.wait_for(lambda: "slow request started" in service.log(), "the slow request")
        service.proc.send_signal(signal.SIGTERM)
        # The listener closes at once while the request is still being handled.
        service.wait_for(lambda: _status(service.port, "/healthz") is None, "listener closed")
        assert "slow request finished" not in service.log()
    finally:
        client.join(timeout=10)
    assert result["reply"] == (200, b'{"done": true}')
    assert service.proc.wait(timeout=EXIT_BOUND) == 0, service.log()
    log = service.log()
    pid = int(log.split("slow request finished in ", 1)[1].split('"', 1)[0])
    assert log.index(f"slow request finished in {pid}") < log.index(f"cleanup ran in {pid}")
    assert log.count("cleanup ran in") == int(workers)


def test_the_drain_is_bounded_by_shutdown_timeout(start, tmp_path: Path) -> None:
    script = tmp_path / "slow_app.py"
    script.write_text(SLOW_APP)
    service = start([str(script)], PORT=str(free_port()), SLOW_SECONDS="60", SHUTDOWN_TIMEOUT="1")
    service.wait_healthy()
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        conn.request("GET", "/slow")
        service.wait_for(lambda: "slow request started" in service.log(), "the slow request")
        started = time.monotonic()
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=1 + 7.0) == 0, service.log()
        assert time.monotonic() - started >= 1.0  # it did wait for the request
        with pytest.raises((http.client.HTTPException, OSError)):
            conn.getresponse().read()
    finally:
        conn.close()
    assert "slow request finished" not in service.log()
    assert "cleanup ran" in service.log()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (reading and discarding answers)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(4096):
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return False


def test_keepalive_timeout_closes_idle_connections_and_incomplete_request_heads(
    start, tmp_path: Path
) -> None:
    script = tmp_path / "slow_app.py"
    script.write_text(SLOW_APP)
    service = start([str(script)], PORT=str(free_port()), SLOW_SECONDS="0", KEEPALIVE_TIMEOUT="1")
    service.wait_healthy()
    with socket.create_connection(("127.0.0.1", service.port)) as partial, \
            socket.create_connection(("127.0.0.1", service.port)) as idle:
        partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")  # and never the rest
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")  # answered, then idle
        assert _closed_within(partial, 4.0)
        assert _closed_within(idle, 4.0)


def test_the_default_keepalive_timeout_keeps_an_idle_connection_open_for_more_than_seconds(
    start, tmp_path: Path
) -> None:
    # The counterpart of the test above: what closed those connections was the setting.
    script = tmp_path / "slow_app.py"
    script.write_text(SLOW_APP)
    service = start([str(script)], PORT=str(free_port()), SLOW_SECONDS="0")
    service.wait_healthy()
    with socket.create_connection(("127.0.0.1", service.port)) as idle:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert not _closed_within(idle, 3.0)
