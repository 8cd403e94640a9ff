"""The one error type handlers raise, and the bodies every error is encoded as
(common.bodies ``error_response``, which the edge in common.http calls): ``{"detail": str}``, or
for a 422 ``{"detail": [{loc, msg, type}]}``. Both OpenAPI documents' error schemas are generated
from these Structs (common.openapi)."""

from __future__ import annotations

import msgspec


class ValidationIssue(msgspec.Struct):
    """One problem: where (`loc`, e.g. `["body", "domains", 0]`), what (`msg`), its kind."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorDetail(msgspec.Struct):
    """An error: `detail` says what went wrong."""

    detail: str


class ValidationErrorDetail(msgspec.Struct):
    """Invalid path, query or body: `detail` lists each problem."""

    detail: list[ValidationIssue]


Detail = str | list[ValidationIssue]


def error_body(detail: Detail) -> ErrorDetail | ValidationErrorDetail:
    return ErrorDetail(detail) if isinstance(detail, str) else ValidationErrorDetail(detail)


class ApiError(Exception):
    """An HTTP status with a client-facing ``detail`` (a string, or a list of 422 issues)."""

    def __init__(self, status: int, detail: Detail, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def not_found(what: str = "Not found") -> ApiError:
    return ApiError(404, what)
