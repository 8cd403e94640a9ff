"""The private redis-server the tests, ``make run`` and ``make bench`` start for themselves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis

from common.redis_process import RedisProcess


def test_a_port_another_server_holds_is_refused_and_that_server_left_alone(
    redis_proc: RedisProcess,
) -> None:
    other = redis.Redis(port=redis_proc.port)
    other.set("theirs", "kept")
    # That server answers PING on the port before ours fails to bind it.
    second = RedisProcess(port=redis_proc.port)
    try:
        with pytest.raises(RuntimeError, match="exited"):
            second.start(timeout=5)
        assert second.proc is None
        assert other.get("theirs") == b"kept"
    finally:
        second.cleanup()
        other.close()


def test_a_server_that_never_answers_is_stopped_when_start_gives_up(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    silent = tmp_path / "silent-redis-server"
    silent.write_text(f'#!/bin/sh\necho $$ > "{pid_file}"\nexec sleep 60\n')
    silent.chmod(0o755)
    process = RedisProcess(binary=str(silent), data_dir=tmp_path / "data")
    with pytest.raises(RuntimeError, match="did not start"):
        process.start(timeout=0.5)
    assert process.proc is None
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # stopped and reaped, not left running
        os.kill(pid, 0)


def test_start_returns_a_server_that_answers(tmp_path: Path) -> None:
    process = RedisProcess(data_dir=tmp_path / "data").start()
    try:
        client = redis.Redis(port=process.port)
        assert process.proc is not None
        assert client.info("server")["process_id"] == process.proc.pid
        client.close()
    finally:
        process.cleanup()
    assert process.proc is None
