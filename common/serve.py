"""Run a service: one process by default, or N worker processes sharing the port on one host.

In Kubernetes each pod runs one process and the tier scales by replicas. ``--workers N`` (or
``WORKERS``) is for a single host: the parent binds nothing, spawns N workers that each bind the
port with SO_REUSEPORT (the kernel spreads connections), forwards SIGTERM/SIGINT to them and
waits. A worker that dies on its own stops the others and the parent exits non-zero, so a
supervisor restarts the whole set instead of running short-handed.

Shutdown (each process): the first SIGTERM/SIGINT closes the listener, in-flight requests get up
to ``shutdown_timeout`` seconds, then the cleanup contexts close Redis and the subscription.
Repeated signals are ignored, so a signal delivered twice (terminal Ctrl-C reaches the whole
process group, and the parent forwards it too) cannot cut the drain short.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait

import msgspec
from aiohttp import web
from aiohttp.web_runner import GracefulExit

from common.logs import setup_logging
from common.settings import Settings

AppFactory = Callable[[Settings], web.Application]

log = logging.getLogger(__name__)

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# Past the workers' own drain, cleanup contexts get this long before the parent kills them.
_KILL_GRACE = 10.0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def parse_args(service: str, argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"{service}-service",
        description=f"Run the {service} API. Configuration comes from environment variables.",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="processes sharing the port on this host (default: $WORKERS, else 1)",
    )
    return parser.parse_args(argv)


def main(service: str, factory: AppFactory, argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m <service>_service`` and the console scripts."""
    args = parse_args(service, argv)
    settings = Settings.from_env(service)
    if args.workers is not None:
        settings = msgspec.structs.replace(settings, workers=args.workers)
    setup_logging(settings.log_level)
    if settings.workers == 1:
        run(factory, settings)
    else:
        sys.exit(supervise(factory, settings))


def new_event_loop() -> tuple[asyncio.AbstractEventLoop, str]:
    """uvloop when installed (not on Windows), else the standard loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop(), "asyncio"
    return uvloop.new_event_loop(), "uvloop"


async def _freeze_startup_objects(app: web.Application) -> None:
    # Everything alive once the app has started (modules, clients, caches) lives for the whole
    # process: moved out of the collector's sight, it is not rescanned by every full collection.
    gc.freeze()


def run(factory: AppFactory, settings: Settings, *, reuse_port: bool = False) -> None:
    """Serve ``factory(settings)`` in this process until SIGTERM/SIGINT, then drain and clean up."""
    loop, loop_name = new_event_loop()
    stopping = False

    def on_signal(sig: signal.Signals) -> None:
        nonlocal stopping
        if stopping:
            log.debug("%s ignored: shutdown already in progress", sig.name)
            return
        stopping = True
        log.info(
            "%s received: no new connections, draining for up to %.0f s",
            sig.name,
            settings.shutdown_timeout,
        )
        raise GracefulExit  # leaves run_app's loop; run_app then drains and runs cleanup

    for sig in _STOP_SIGNALS:
        # Not on Windows, where Ctrl-C stops run_app through KeyboardInterrupt instead.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal, sig)
    log.info(
        "%s service on %s:%d (pid %d, %s event loop%s)",
        settings.service,
        settings.host,
        settings.port,
        os.getpid(),
        loop_name,
        ", SO_REUSEPORT" if reuse_port else "",
    )
    app = factory(settings)
    app.on_startup.append(_freeze_startup_objects)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        keepalive_timeout=settings.keepalive_timeout,
        reuse_port=reuse_port or None,
        handle_signals=False,
        access_log=None,
        print=None,
        loop=loop,
    )
    log.info("%s service stopped (pid %d)", settings.service, os.getpid())


def _worker(factory: AppFactory, settings: Settings) -> None:
    setup_logging(settings.log_level)
    run(factory, settings, reuse_port=True)
    # Drained and cleaned up; the parent's re-sent stop signals must not kill the exit itself.
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def supervise(factory: AppFactory, settings: Settings) -> int:
    """Run ``settings.workers`` worker processes; return the parent's exit code."""
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_worker, args=(factory, settings), name=f"{settings.service}-worker-{n}")
        for n in range(1, settings.workers + 1)
    ]
    stop_signal: signal.Signals | None = None

    def stop_all(signum: int) -> None:
        for proc in workers:
            if proc.pid is not None and proc.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop_signal
        if stop_signal is None:
            stop_signal = signal.Signals(signum)
            log.info("%s received: stopping %d workers", stop_signal.name, len(workers))
        stop_all(signum)

    # While starting, the parent holds stop signals pending (handled once every pid is known)
    # and workers inherit "ignore" until their event loop installs its handlers, so no process
    # dies half-started; stop signals are re-sent until every worker is gone.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        for proc in workers:
            proc.start()
        for sig in _STOP_SIGNALS:
            signal.signal(sig, on_signal)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    log.info(
        "%s service: %d workers (pids %s) sharing port %d",
        settings.service,
        len(workers),
        ", ".join(str(proc.pid) for proc in workers),
        settings.port,
    )

    failed = False
    deadline: float | None = None
    exited: set[multiprocessing.process.BaseProcess] = set()
    while len(exited) < len(workers):
        # The timeout bounds how late a re-sent stop signal or the kill deadline is acted on.
        wait([proc.sentinel for proc in workers if proc.exitcode is None], timeout=1.0)
        for proc in workers:
            if proc.exitcode is None or proc in exited:
                continue
            exited.add(proc)
            if stop_signal is None:
                log.error(
                    "worker %s (pid %d) exited unexpectedly with code %s: stopping the others",
                    proc.name,
                    proc.pid,
                    proc.exitcode,
                )
                failed = True
                stop_signal = signal.SIGTERM
            elif proc.exitcode not in (0, -stop_signal):  # a re-sent signal may land late
                log.error(
                    "worker %s (pid %d) exited with code %s", proc.name, proc.pid, proc.exitcode
                )
                failed = True
        if stop_signal is not None:
            stop_all(stop_signal)
            if deadline is None:
                deadline = time.monotonic() + settings.shutdown_timeout + _KILL_GRACE
        if deadline is not None and time.monotonic() > deadline:
            for proc in workers:
                if proc.exitcode is None:
                    log.error(
                        "worker %s (pid %d) did not stop in time: killed", proc.name, proc.pid
                    )
                    proc.kill()
            deadline = float("inf")
    log.info("%s service: all workers stopped", settings.service)
    return 1 if failed else 0
