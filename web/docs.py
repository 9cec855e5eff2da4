"""The API's description: /openapi.json, and /docs, the page that shows it."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from config import Config
from web import openapi
from web.console import guarded
from web.declare import ROUTES, other, route
from web.services import services

bp = Blueprint("docs", __name__)


def describe(config: Config) -> dict:
    """The OpenAPI description of every declared route, with this config's settings. The routes
    are declared as their blueprints are imported, which the app factory does."""
    return openapi.spec(config, ROUTES)


@route(
    bp,
    "GET",
    "/openapi.json",
    summary="This description",
    responses={"200": {"description": "OpenAPI 3.1"}},
)
def openapi_document() -> dict:
    return describe(services().config)


@route(
    bp,
    "GET",
    "/docs",
    summary="This description as a page",
    responses={"200": other("HTML", "text/html")},
)
def docs() -> Response:
    page = current_app.response_class(openapi.page(describe(services().config)), mimetype="text/html")
    return guarded(page, openapi.PAGE_POLICY)


# python -m web.docs: the description at the default settings (what the console's types are made from)
if __name__ == "__main__":
    import json

    import web.factory  # noqa: F401  (importing the app factory declares every route)

    print(json.dumps(describe(Config()), indent=2, sort_keys=True))
