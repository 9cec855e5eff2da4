"""The recommendation routes' GETs answered without Flask's request handling.

Flask makes a request object and a context for every request, and a response object for every
answer: on a recommendation that is as much time as the model's own work. `Direct` (WSGI
middleware in front of Flask) matches a GET with the app's own routes; when it matches a cached
route (web/caching.py), the route's `answer_get` answers it from the query, the path's values
and the environ, exactly as the view Flask calls does. Everything else goes to Flask: other
routes and methods, addresses Flask would redirect, and every request the route refuses (a 400,
an unknown product, an error), which Flask then answers again with its error.

Most of these addresses need no URL map to match (`Shortcuts`): a route's fixed address is looked
up, and a route whose address ends in a path parameter is known by its fixed start. Any other
address is matched by the map, as Flask matches it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from werkzeug.wrappers import Request

from web import monitoring
from web.caching import Asked, send_json
from web.services import services_of


class Direct:
    """WSGI middleware: a GET of a cached route answered by the route's `answer_get`; anything
    else, or anything it refuses, answered by Flask."""

    def __init__(self, app: Flask) -> None:
        self.wsgi_app = app.wsgi_app
        self.svc = services_of(app)
        # The app's own routes: what Flask would match is what is matched here.
        self.routes = app.url_map.bind("localhost")
        self.answers: dict[str, Callable[..., bytes]] = {
            endpoint: view.answer_get
            for endpoint, view in app.view_functions.items()
            if hasattr(view, "answer_get")
        }
        # The first parts of their addresses ("recommend"): other requests go to Flask unmatched.
        self.heads = {_head(r.rule) for r in app.url_map.iter_rules() if r.endpoint in self.answers}
        self.shortcuts = Shortcuts(list(app.url_map.iter_rules()), self.answers.keys())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET" and _head(environ.get("PATH_INFO", "")) in self.heads:
            body = self._answer(environ)
            if body is not None:
                return send_json(body, start_response)
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ: dict[str, Any]) -> bytes | None:
        """The route's answer, or None: Flask answers (another route, a redirect, a refusal)."""
        path = request_path(environ)
        found = self.shortcuts.match(path)
        if found is not None:
            rule, view_args = found
        else:
            try:
                rule, view_args = self.routes.match(path, "GET", return_rule=True)
            except HTTPException:  # no such route, another method, a redirect (RequestRedirect)
                return None
        answer = self.answers.get(rule.endpoint or "")
        if answer is None:
            return None
        try:
            body = answer(self.svc, Asked(query_args(environ), view_args, environ, rule.endpoint, "GET"))
        except Exception:  # noqa: BLE001  # refused or failed: Flask answers again, with its error
            return None
        environ[monitoring.ROUTE] = rule.rule
        return body


class Shortcuts:
    """What the URL map would match for the common addresses of some routes, without the map.

    A GET route with a fixed address (/recommend/hybrid) is found by it. A GET route whose address
    is a fixed start and one path parameter (/recommend/user/<path:user_id>) is found by that start,
    when no other route could match an address with that start: the rest of the address is the
    parameter. An address holding "//" or ending in "/" is left to the map, which may redirect it.
    """

    def __init__(self, rules: list[Rule], endpoints: Collection[str]) -> None:
        self.fixed: dict[str, Rule] = {}
        self.starts: list[tuple[str, str, Rule]] = []  # (fixed start, parameter, route)
        for rule in rules:
            if rule.endpoint not in endpoints or "GET" not in (rule.methods or ()) or rule.defaults:
                continue
            if "<" not in rule.rule:
                self.fixed[rule.rule] = rule
                continue
            ends_in_path = _ENDS_IN_PATH.fullmatch(rule.rule)
            if ends_in_path is None:
                continue
            start, name = ends_in_path.groups()
            if not any(other is not rule and _may_match(other, start) for other in rules):
                self.starts.append((start, name, rule))

    def match(self, path: str) -> tuple[Rule, dict[str, str]] | None:
        """The route and its path parameters, as the map would match them; None: ask the map."""
        rule = self.fixed.get(path)
        if rule is not None:
            return rule, {}
        if path.endswith("/") or "//" in path:
            return None
        for start, name, rule in self.starts:
            if path.startswith(start):
                return rule, {name: path[len(start) :]}
        return None


_ENDS_IN_PATH = re.compile(r"([^<>]*/)<path:(\w+)>")


def _may_match(rule: Rule, start: str) -> bool:
    """Whether `rule` may match an address that begins with `start`: its address begins with it,
    or its fixed part (up to its first parameter) is the beginning of `start`."""
    fixed, parameter, _ = rule.rule.partition("<")
    return rule.rule.startswith(start) or (bool(parameter) and start.startswith(fixed))


def request_path(environ: dict[str, Any]) -> str:
    """The request's path as werkzeug's Request.path decodes it (what Flask matches)."""
    return "/" + (environ.get("PATH_INFO") or "").encode("latin1").decode(errors="replace").lstrip("/")


def query_args(environ: dict[str, Any]) -> Mapping[str, str]:
    """The query's parameters, each with its first value, as werkzeug's Request.args gives them.

    A query of plain characters (ASCII, without "%" escapes or "+" for a space), as the routes' own
    ids and numbers are, is split here; any other is parsed by werkzeug.
    """
    query = environ.get("QUERY_STRING", "")
    if not query.isascii() or "%" in query or "+" in query:
        return Request(environ, populate_request=False).args
    args: dict[str, str] = {}
    for field in query.split("&"):
        if field:  # "a&&b": no empty names
            name, _, value = field.partition("=")
            args.setdefault(name, value)
    return args


def _head(path: str) -> str:
    """The first part of an address: "recommend" of /recommend/user/U1."""
    return path.split("/", 2)[1] if path.startswith("/") else ""


def answer_directly(app: Flask) -> None:
    """Put `Direct` in front of `app`'s Flask handling."""
    app.wsgi_app = Direct(app)  # type: ignore[method-assign]
