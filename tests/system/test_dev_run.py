"""``make run`` (deploy/dev_run.py), run as a real process tree on free ports: it starts Redis
and both services, writes working development data, survives a restart with the same data, and
a stop signal leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from common.redis_process import find_redis_server, free_port
from tests.support.paths import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")

SCRIPT = ROOT / "deploy" / "dev_run.py"
READY_LINE = "Development stack is up"
# Two interpreters starting on a busy 2-core machine, plus Redis.
START_BOUND = 60.0
STOP_BOUND = 30.0
ALL_SCOPES = {"web_widgets:read", "web_widgets:manage", "agents:read", "agents:manage"}


def request(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class DevRun:
    """One ``dev_run.py`` process with its ports, run directory and captured output."""

    def __init__(self, run_dir: Path, log: Path, **env: str) -> None:
        self.run_dir = run_dir
        self.redis_port = free_port()
        self.management_port = free_port()
        self.runtime_port = free_port()
        self.webhooks_port = free_port()
        self.demo_port = free_port()
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT)],
            cwd=ROOT,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "DEV_RUN_DIR": str(run_dir),
                "DEV_REDIS_PORT": str(self.redis_port),
                "DEV_MANAGEMENT_PORT": str(self.management_port),
                "DEV_RUNTIME_PORT": str(self.runtime_port),
                "DEV_WEBHOOKS_PORT": str(self.webhooks_port),
                "DEV_DEMO_PORT": str(self.demo_port),
                "SHUTDOWN_TIMEOUT": "3",
                **env,
            },
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def ports(self) -> list[int]:
        return [self.redis_port, self.management_port, self.runtime_port, self.webhooks_port]

    @property
    def management(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def runtime(self) -> str:
        return f"http://127.0.0.1:{self.runtime_port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, bound: float) -> None:
        deadline = time.monotonic() + bound
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}:\n{self.output()}")
            time.sleep(0.05)  # polling interval for a condition with a deadline

    def wait_up(self) -> dict[str, str]:
        def up() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"dev_run exited ({self.proc.returncode}):\n{self.output()}")
            return READY_LINE in self.output()

        self.wait_for(up, "the ready banner", START_BOUND)
        return json.loads((self.run_dir / "dev-data.json").read_text())

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=STOP_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"dev_run did not stop within {STOP_BOUND} s:\n{self.output()}")

    def close(self) -> None:
        # SIGTERM first: the services and Redis run in their own process groups, so only
        # dev_run's own shutdown stops them; SIGKILL is the last resort.
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_BOUND)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def dev_run(tmp_path: Path) -> Iterator[Callable[..., DevRun]]:
    started: list[DevRun] = []

    def start(run_dir: Path | None = None, **env: str) -> DevRun:
        run = DevRun(run_dir or tmp_path / "run", tmp_path / f"dev-run-{len(started)}.log", **env)
        started.append(run)
        return run

    yield start
    for run in started:
        run.close()


def assert_webhooks_reach_the_demo_page(run: DevRun, data: dict[str, str]) -> None:
    """The loop closes: a conversation start reaches the demo page's receiver through the
    worker, verified with the secret make run registered (one endpoint, whatever the runs)."""
    assert "delivers to the page's receiver" in run.output()
    auth = {"Authorization": f"Bearer {data['api_key']}"}
    status, endpoints = request(f"{run.management}/core/webhooks", headers=auth)
    assert status == 200 and len(endpoints) == 1
    status, started = request(
        f"{run.runtime}/core/public/web-widgets/{data['widget_id']}/conversations",
        method="POST", body={"user_id": "visitor-" + "0" * 32},
    )
    assert status in (200, 201), started

    def delivered() -> bool:
        _, items = request(f"http://127.0.0.1:{run.demo_port}/webhooks.json")
        return any(item["type"] == "conversation.started" and item["verified"] for item in items)

    run.wait_for(delivered, "the delivery on the demo page", 30)


def assert_dev_data_works(run: DevRun, data: dict[str, str]) -> None:
    auth = {"Authorization": f"Bearer {data['api_key']}"}
    status, widgets = request(f"{run.management}/core/web-widgets", headers=auth)
    assert status == 200
    assert data["widget_id"] in [widget["id"] for widget in widgets]

    status, version = request(
        f"{run.management}/core/agents/{data['agent_id']}/versions/{data['agent_version_id']}",
        headers=auth,
    )
    assert status == 200
    assert version["published"] is True
    assert version["config"]["livekit_agent_name"] == "dev-agent"

    status, widget = request(f"{run.runtime}/core/public/web-widgets/{data['widget_id']}")
    assert status == 200
    assert widget["published"] is True
    assert widget["domains"] == []
    assert widget["organization_id"] == data["organization_id"]


@pytest.mark.skipif(find_redis_server() is None, reason="needs a redis-server binary")
def test_starts_everything_keeps_data_across_restarts_and_stops_cleanly(dev_run, tmp_path):
    first = dev_run()
    data = first.wait_up()
    output = first.output()
    assert data["api_key"].startswith("ak_")
    assert data["api_key"] in output and data["widget_id"] in output
    assert "created now" in output
    for path in ("/healthz", "/readyz"):
        assert request(first.management + path)[0] == 200
        assert request(first.runtime + path)[0] == 200
    assert_dev_data_works(first, data)
    assert_webhooks_reach_the_demo_page(first, data)

    # The key carries all four scopes: an agent can be created with it.
    auth = {"Authorization": f"Bearer {data['api_key']}"}
    status, agent = request(
        f"{first.management}/core/agents", method="POST", headers=auth, body={"name": "more"}
    )
    assert status == 201, agent

    assert first.stop(signal.SIGINT) == 0
    assert not any(listening(port) for port in first.ports)
    assert (tmp_path / "run" / "redis" / "dump.rdb").exists()

    # Same run directory: Redis reloads its data, and the saved key and ids are reused.
    second = dev_run(tmp_path / "run")
    assert second.wait_up() == data
    assert "kept from the last run" in second.output()
    assert_dev_data_works(second, data)
    assert_webhooks_reach_the_demo_page(second, data)
    assert request(f"{second.management}/core/agents/{agent['id']}", headers=auth)[0] == 200
    assert second.stop(signal.SIGTERM) == 0
    assert not any(listening(port) for port in second.ports)


def test_fakeredis_fallback_serves_and_invalidates(dev_run):
    run = dev_run(DEV_REDIS="fakeredis")
    data = run.wait_up()
    assert "fakeredis TCP server" in run.output()
    assert_dev_data_works(run, data)

    # A management write reaches the runtime's cache through fakeredis's pub/sub.
    status, _ = request(
        f"{run.management}/core/web-widgets/{data['widget_id']}",
        method="PUT",
        headers={"Authorization": f"Bearer {data['api_key']}"},
        body={"published": False},
    )
    assert status == 200
    public = f"{run.runtime}/core/public/web-widgets/{data['widget_id']}"
    run.wait_for(lambda: request(public)[0] == 404, "the unpublished widget to disappear", 10)

    assert run.stop(signal.SIGTERM) == 0
    assert not any(listening(port) for port in run.ports)


def test_a_busy_port_is_refused_before_anything_starts(dev_run):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = dev_run(DEV_REDIS_PORT=str(port))
        assert run.proc.wait(timeout=STOP_BOUND) == 1
    output = run.output()
    assert f"Redis port {port}" in output and "DEV_REDIS_PORT" in output
    assert READY_LINE not in output
    assert not listening(run.management_port) and not listening(run.runtime_port)
