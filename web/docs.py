"""The API's description: /openapi.json, and /docs, the page that shows it."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from config import Config
from web import openapi
from web.console import guarded
from web.params import MAX_BODY_BYTES, MAX_EVENT_ID_LENGTH, MAX_ID_LENGTH
from web.services import services

bp = Blueprint("docs", __name__)


def describe(config: Config) -> dict:
    """The OpenAPI description of this app with this config and these limits."""
    return openapi.spec(
        config, id_length=MAX_ID_LENGTH, event_id_length=MAX_EVENT_ID_LENGTH, body_bytes=MAX_BODY_BYTES
    )


@bp.get("/openapi.json")
def openapi_document() -> dict:
    return describe(services().config)


@bp.get("/docs")
def docs() -> Response:
    page = current_app.response_class(openapi.page(describe(services().config)), mimetype="text/html")
    return guarded(page, openapi.PAGE_POLICY)
