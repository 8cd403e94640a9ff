"""Structured JSON logs with the current request id attached to every record."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from collections.abc import Callable

import msgspec
from aiohttp.http_exceptions import HttpProcessingError

# The request's id, or the function that makes one: the edge (common/http.py) leaves the id of
# a request that brought none to be made by the first log line or response that needs it.
request_id_var: contextvars.ContextVar[str | Callable[[], str]] = contextvars.ContextVar(
    "request_id", default="-"
)


def current_request_id() -> str:
    """The current request's id, made now (and kept for the rest of the request) if deferred."""
    value = request_id_var.get()
    if isinstance(value, str):
        return value
    made = value()
    request_id_var.set(made)
    return made
_ENCODER = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": current_request_id(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry).decode()


class ClientMistakes(logging.Filter):
    """aiohttp answers a request it cannot parse (broken framing, a compressed body whose stream
    ends early, an oversized header) with its own 400 and logs it as an ERROR with a traceback.
    That is the client's mistake, not the service's: logged as a WARNING, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            # Formatted here: the client's bytes in the error may hold a "%".
            record.msg, record.args = f"{record.getMessage()}: {exc!r}", ()
            record.exc_info = record.exc_text = None
        return True


def quiet_client_mistakes() -> None:
    """Install ClientMistakes on aiohttp's server logger (once)."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientMistakes) for f in server.filters):
        server.addFilter(ClientMistakes())


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_client_mistakes()
