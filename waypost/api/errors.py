"""Every error leaves the API in Event Cast's shape: ``{"uuid", "status", "reason"}``."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from waypost.api.responses import Json
from waypost.errors import DatabaseUnavailable, WaypostError
from waypost.services.inputs import validation_reason

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """The error body of every route (Bring Event Cast's shape; ``status`` is a string)."""

    uuid: str = Field(description="Identifier of the failing request, also in X-Request-Id")
    status: str = Field(description="The HTTP status code, as a string")
    reason: str = Field(description="What went wrong, naming the field where there is one")


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _doc("Invalid request; the reason names the field"),
    401: _doc("Missing authentication headers, or a wrong or mismatched credential"),
    429: _doc("Too many requests; try again after Retry-After seconds"),
    503: _doc("The database is unavailable; try again after Retry-After seconds"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _doc("Not found, or another tenant's")}


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def error_response(
    request: Request, status: int, reason: str, headers: Mapping[str, str] | None = None
) -> Json:
    body = {"uuid": request_id(request), "status": str(status), "reason": reason}
    return Json(body, status_code=status, headers=headers)


def _validation_reason(exc: RequestValidationError) -> str:
    return validation_reason(exc.errors())


def _release(exc: BaseException) -> None:
    """Drop the locals of the finished frames a rejected request's error passed through
    (``clear_frames`` skips the still running frame that called the handler).

    FastAPI raises a bad body's error from a local (``validation_error = ...; raise
    validation_error``), so the error's traceback holds the frame that holds the error: a
    reference cycle that kept the body, its decoded text and whatever was parsed from it
    alive until the cyclic garbage collector next ran, about 20 MB for each 10 MB body.
    """
    traceback.clear_frames(exc.__traceback__)


def install_error_handlers(app: FastAPI) -> None:
    async def on_waypost_error(request: Request, exc: Exception) -> Json:
        assert isinstance(exc, WaypostError)
        # An outage is logged once by the store, not once per request it fails.
        if exc.status >= 500 and not isinstance(exc, DatabaseUnavailable):
            log.error("request_failed request_id=%s reason=%s", request_id(request), exc.reason)
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return error_response(request, exc.status, exc.reason, headers)

    async def on_validation(request: Request, exc: Exception) -> Json:
        assert isinstance(exc, RequestValidationError)
        _release(exc)
        return error_response(request, 400, _validation_reason(exc))

    async def on_http(request: Request, exc: Exception) -> Json:
        assert isinstance(exc, StarletteHTTPException)
        _release(exc)
        return error_response(request, exc.status_code, str(exc.detail), exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> Json:
        log.exception("request_crashed request_id=%s", request_id(request))
        return error_response(request, 500, "internal error; try again a bit later")

    app.add_exception_handler(WaypostError, on_waypost_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
