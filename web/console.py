"""The console: one page and its static files, under a policy that lets it call only this service."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

from web.declare import in_path, other, route

# The console's page, script and style, as built from console/src (`make console`).
CONSOLE = Path(__file__).resolve().parent.parent / "console" / "dist"
# The console loads its own script and style, calls only this service, and shows product images
# from wherever the catalog says they are.
CONSOLE_POLICY = (
    "default-src 'self'; img-src 'self' data: https: http:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

bp = Blueprint("console", __name__)


@route(bp, "GET", "/console", summary="The console: overview", responses={"200": other("HTML", "text/html")})
@route(
    bp,
    "GET",
    "/console/<path:page>",
    summary="The console's pages: products/<product_id>, users/<user_id>, experiment",
    params=(in_path("page", "the rest of the address", checked=False),),
    responses={"200": other("HTML", "text/html")},
)
def console_page(page: str = "") -> Response:
    """The console (one page; its script shows what the address asks for)."""
    return guarded(send_from_directory(CONSOLE, "index.html", max_age=0), CONSOLE_POLICY)


@route(
    bp,
    "GET",
    "/console/static/<path:name>",
    summary="The console's script and style",
    params=(in_path("name", "the rest of the address", checked=False),),
    responses={"200": other("a file", "text/html")},
)
def console_file(name: str) -> Response:
    return send_from_directory(CONSOLE, name, max_age=300)


def guarded(page: Response, policy: str) -> Response:
    """An HTML page that loads only what `policy` allows and that no other site may frame."""
    page.headers["Content-Security-Policy"] = policy
    page.headers["X-Frame-Options"] = "DENY"
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["Referrer-Policy"] = "same-origin"
    return page
