"""Bearer tokens: the admin token for admin routes and shoppers' data, the events token for feedback."""

from __future__ import annotations

import hmac

from flask import Response, after_this_request, request
from werkzeug.exceptions import NotFound, Unauthorized

from config import Config


def require_token_if_set(config: Config) -> None:
    """The admin token, for a read route that is open only where none is set (a local demo)."""
    no_store()
    if config.admin_token:
        require_admin(config)


def require_admin(config: Config) -> None:
    """404 when no ADMIN_TOKEN is set (the admin routes do not exist then); 401 for a wrong token.
    An admin answer is never kept by a cache on the way (Cache-Control: no-store)."""
    no_store()
    if not config.admin_token:
        raise NotFound()
    if not is_admin(config):
        raise Unauthorized("send the admin token: Authorization: Bearer <ADMIN_TOKEN>")


def no_store() -> None:
    """This request's answer, error or not, says Cache-Control: no-store (no cache on the way keeps it)."""

    @after_this_request
    def mark(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        return response


def is_admin(config: Config) -> bool:
    """Whether the request carries the admin token (one is set)."""
    return config.admin_token is not None and bearer(config.admin_token)


def bearer(token: str) -> bool:
    """Whether the request's Authorization header is `Bearer <token>` (compared in constant time)."""
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
