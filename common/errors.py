"""The one error type handlers raise; the HTTP edge (common.http) renders it as
``{"detail": ...}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An HTTP status with a client-facing ``detail`` (a string, or a list of 422 issues)."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def not_found(what: str = "Not found") -> ApiError:
    return ApiError(404, what)


def validation_error(loc: list[str | int], msg: str, type_: str = "value_error") -> ApiError:
    return ApiError(422, [{"loc": loc, "msg": msg, "type": type_}])


class Unavailable(ApiError):
    def __init__(self, detail: str = "Service temporarily unavailable") -> None:
        super().__init__(503, detail, {"Retry-After": "1"})
