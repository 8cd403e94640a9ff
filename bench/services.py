"""The processes a benchmark run needs: a private Redis, the services and the baseline app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.cpus import pin

ROOT = Path(__file__).resolve().parent.parent
LIVEKIT_KEY = "bench-livekit-key"
LIVEKIT_SECRET = "bench-livekit-secret-0123456789abcdef0123456789"
RATE_LIMITED = ("START", "LIST", "FEEDBACK", "FEEDBACK_PER_CONVERSATION")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(redis_url: str, port: int) -> dict[str, str]:
    """The services' environment: defaults, plus what a benchmark must pin down.

    Rate limits are off: the load comes from one address, and a limit would measure 429s.
    """
    return {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": "bench",
        "LOG_LEVEL": "WARNING",
        "LIVEKIT_URL": "wss://livekit.bench.invalid",
        "LIVEKIT_API_KEY": LIVEKIT_KEY,
        "LIVEKIT_API_SECRET": LIVEKIT_SECRET,
        "WORKERS": "1",
        **{f"RATE_LIMIT_{name}": "off" for name in RATE_LIMITED},
    }


@dataclass
class Process:
    name: str
    args: list[str]
    port: int
    env: dict[str, str]
    ready_path: str = "/readyz"
    cpus: frozenset[int] | None = None  # where it runs (bench.cpus), else anywhere
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> Process:
        self.proc = subprocess.Popen(
            [sys.executable, *self.args], cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
            preexec_fn=pin(self.cpus),
        )
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.base_url + self.ready_path, timeout=1):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:  # the baseline answers 404 on /readyz: it is up
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} was not ready within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def service(
    name: str, module: str, redis_url: str, cpus: frozenset[int] | None = None
) -> Process:
    port = free_port()
    return Process(name, ["-m", module], port, service_env(redis_url, port), cpus=cpus)


def baseline(bodies: Path, cpus: frozenset[int] | None = None) -> Process:
    port = free_port()
    return Process(
        "baseline", ["-m", "bench.baseline_app", str(port), str(bodies)], port,
        dict(os.environ), cpus=cpus,
    )
