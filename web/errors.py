"""Every error leaves as {"error": {"code", "message"}}: domain errors mapped to their status here."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)

from recommender.errors import FeedbackUnavailableError, UnknownProductError
from web.params import MAX_BODY_BYTES

log = logging.getLogger(__name__)

FEEDBACK_RETRY_AFTER_SECONDS = 5
# Messages for errors Flask raises itself (unknown route, wrong method, body too large).
DEFAULT_MESSAGES = {
    404: "no such route; the routes are listed at /docs",
    405: "method not allowed on this route",
    413: f"the request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
}


def register_error_handlers(app: Flask) -> None:
    """Every error as JSON; a 500 is logged, never shown."""

    @app.errorhandler(UnknownProductError)
    def unknown_product(exc: UnknownProductError) -> Response:
        return error_response(NotFound(str(exc)))

    @app.errorhandler(FeedbackUnavailableError)
    def store_down(exc: FeedbackUnavailableError) -> Response:
        response = error_response(ServiceUnavailable(str(exc)))
        response.headers["Retry-After"] = str(FEEDBACK_RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return error_response(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(InternalServerError("internal error; it has been logged"))


def error_response(exc: HTTPException) -> Response:
    """The JSON answer of an HTTP error, with the headers its code calls for."""
    code = exc.code or 500
    message = exc.description
    if message == type(exc).description:  # raised without a message of ours
        message = DEFAULT_MESSAGES.get(code, message)
    response = current_app.json.response({"error": {"code": code, "message": message}})
    response.status_code = code
    for name, value in exc.get_headers():  # Allow on a 405, Retry-After on a 429
        if name.lower() != "content-type":
            response.headers[name] = value
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response
