"""Each route declared once, beside its view: its address, parameters, body, answers and summary.

A parameter's rule (its type, bounds, default, length) is written once, in a Param: the route's
check (`Param.parse`, which raises BadRequest with the message the client sees) and its OpenAPI
description (`Param.schema`) both come from it, and web/openapi.py renders every declared route.
Parameters whose bounds are settings (top_k's limit, the hybrid's default weights) read them
from the Config the app was made with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint
from werkzeug.exceptions import BadRequest

from config import Config
from recommender.storage.feedback import EARLIEST_TS
from recommender.validation import id_control
from web.params import MAX_FILTER_VALUES, MAX_ID_LENGTH, checked_id, path_id

Setting = Callable[[Config], Any]  # a value read from the app's Config


@dataclass(frozen=True)
class Param:
    """One parameter: where it is sent, what it means, its schema and its check."""

    name: str
    description: str | Setting
    schema: Setting  # config -> its JSON schema
    parse: Callable[[Any, Config], Any]  # (the value as sent or None, config) -> the value, or 400
    where: str = "query"  # query, path or body
    required: bool = False
    checked: bool = True  # a value can be refused (400)

    def described(self, config: Config) -> dict[str, Any]:
        """The parameter as an OpenAPI parameter object."""
        description = self.description(config) if callable(self.description) else self.description
        return {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "description": description,
            "schema": self.schema(config),
        }


def integer(name: str, description: str | Setting, maximum: int | Setting, default: int | Setting) -> Param:
    """A whole number from 1 to `maximum` (ASCII digits), `default` when absent."""

    def bounds(config: Config) -> tuple[int, int]:
        top = maximum(config) if callable(maximum) else maximum
        return top, min(default(config) if callable(default) else default, top)

    def parse(raw: str | None, config: Config) -> int:
        top, fallback = bounds(config)
        if raw is None:
            return fallback
        if not (raw.isascii() and raw.isdigit()):  # str.isdigit() also takes '²', which int() refuses
            raise BadRequest(f"{name} must be an integer from 1 to {top}; got {raw!r}")
        value = int(raw)
        if not 1 <= value <= top:
            raise BadRequest(f"{name} must be from 1 to {top}; got {value}")
        return value

    def schema(config: Config) -> dict[str, Any]:
        top, fallback = bounds(config)
        return {"type": "integer", "minimum": 1, "maximum": top, "default": fallback}

    return Param(name, description, schema, parse)


def weight(name: str, description: str, default: Setting) -> Param:
    """A finite number >= 0, `default` when absent."""

    def parse(raw: str | None, config: Config) -> float:
        if raw is None:
            return float(default(config))
        try:
            value = float(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a number >= 0; got {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise BadRequest(f"{name} must be a finite number >= 0; got {raw!r}")
        return value

    schema = lambda config: {"type": "number", "minimum": 0, "default": default(config)}  # noqa: E731
    return Param(name, f"{description}, a finite number >= 0", schema, parse)


def identifier(name: str, description: str, required: bool = False) -> Param:
    """An id in the query: at most MAX_ID_LENGTH characters, no control character; None when
    absent or blank (400 if `required`)."""

    def parse(raw: str | None, config: Config) -> str | None:
        value = checked_id(name, raw or "") or None
        if value is None and required:
            raise BadRequest(f"{name} is required")
        return value

    schema = lambda config: {"type": "string", "maxLength": MAX_ID_LENGTH}  # noqa: E731
    return Param(
        name, f"{description} (at most {MAX_ID_LENGTH} characters)", schema, parse, required=required
    )


def in_path(name: str, description: str, checked: bool = True) -> Param:
    """A part of the address: an id (1 to MAX_ID_LENGTH characters, no control character), or
    (`checked` false) any text, such as a console page."""
    if not checked:
        return Param(
            name,
            description,
            lambda config: {"type": "string"},
            lambda raw, config: raw,
            "path",
            checked=False,
        )
    schema = lambda config: {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}  # noqa: E731
    return Param(name, description, schema, lambda raw, config: path_id(raw, name), where="path")


def choice(name: str, description: str, values: Sequence[str] | Setting, check: bool = True) -> Param:
    """One of `values`, or None when absent; `check` false: any other value is taken as absent."""

    def allowed(config: Config) -> list[str]:
        return list(values(config) if callable(values) else values)

    def parse(raw: str | None, config: Config) -> str | None:
        if raw is None or raw in allowed(config):
            return raw
        if not check:
            return None
        raise BadRequest(f"{name} must be one of {', '.join(allowed(config))}; got {raw!r}")

    schema = lambda config: {"type": "string", "enum": allowed(config)}  # noqa: E731
    return Param(name, description, schema, parse, checked=check)


def listed(name: str, description: str) -> Param:
    """Comma-separated values: at most MAX_FILTER_VALUES of at most MAX_ID_LENGTH characters."""

    def parse(raw: str | None, config: Config) -> list[str]:
        if not raw:
            return []
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if len(values) > MAX_FILTER_VALUES or any(len(v) > MAX_ID_LENGTH for v in values):
            raise BadRequest(
                f"{name} takes at most {MAX_FILTER_VALUES} comma-separated values "
                f"of at most {MAX_ID_LENGTH} characters each"
            )
        if id_control(raw):
            raise BadRequest(f"{name} holds a control character (such as NUL); none is allowed")
        return values

    return Param(name, description, lambda config: {"type": "string"}, parse)


def words(name: str, description: str, max_length: int, max_words: int) -> Param:
    """Free text: at most `max_length` characters and `max_words` distinct words, no control character."""

    def parse(raw: str | None, config: Config) -> str:
        text = raw or ""
        if len(text) > max_length:
            raise BadRequest(f"{name} is longer than {max_length} characters")
        if id_control(text):
            raise BadRequest(f"{name} holds a control character (such as NUL); none is allowed")
        if len(set(text.casefold().split())) > max_words:
            raise BadRequest(f"{name} has more than {max_words} distinct words")
        return text

    schema = lambda config: {"type": "string", "maxLength": max_length}  # noqa: E731
    return Param(name, f"{description} (at most {max_length} characters)", schema, parse)


def body_id(name: str, description: str, required: bool = False, limit: int = MAX_ID_LENGTH) -> Param:
    """An id in a JSON body: a non-empty string (an integer is taken as its digits); None when
    absent and not required."""

    def parse(value: Any, config: Config) -> str | None:
        if value is None and not required:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{name} is required: a non-empty string")
        return checked_id(name, value, limit)

    schema = lambda config: {"type": "string", "maxLength": limit, "description": description}  # noqa: E731
    return Param(name, description, schema, parse, where="body", required=required)


def body_choice(name: str, description: str, values: Sequence[str]) -> Param:
    """A required field of a JSON body, one of `values`."""

    def parse(value: Any, config: Config) -> str:
        if value not in values:
            raise BadRequest(f"{name} must be one of {', '.join(values)}; got {value!r}")
        return value

    schema = lambda config: {"type": "string", "enum": list(values), "description": description}  # noqa: E731
    return Param(name, description, schema, parse, where="body", required=True)


def body_time(name: str, description: str) -> Param:
    """An ISO 8601 time in a JSON body, as naive UTC (a time without an offset is UTC); None when absent."""

    def parse(value: Any, config: Config) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise BadRequest(f"{name} must be an ISO 8601 string such as 2024-03-01T14:05:00Z; got {value!r}")
        try:
            parsed = datetime.fromisoformat(value.strip())
            if parsed.tzinfo is not None:  # an offset at the calendar's edge overflows here
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise BadRequest(
                f"{name} must be an ISO 8601 time such as 2024-03-01T14:05:00Z; got {value!r}"
            ) from None
        if parsed < EARLIEST_TS:
            raise BadRequest(f"{name} must be 1970-01-01 or later; got {value!r}")
        return parsed

    schema = lambda config: {"type": "string", "description": description}  # noqa: E731
    return Param(name, description, schema, parse, where="body")


@dataclass(frozen=True)
class Route:
    """One method of one address, as declared."""

    method: str
    rule: str  # Flask's, such as /products/<path:product_id>
    summary: str | Setting
    params: tuple[Param, ...] = ()
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    body: str | None = None  # the JSON body's schema (by name, in the description's components)
    fields: tuple[Param, ...] = ()  # the body's fields, when they are declared here
    security: tuple[str, ...] = ()  # "admin", "events"; "" where sending no token is an option

    @property
    def path(self) -> str:
        """The address as OpenAPI writes it: /products/{product_id}."""
        parts = []
        for part in self.rule.split("/"):
            if part.startswith("<") and part.endswith(">"):
                part = "{" + part[1:-1].split(":")[-1] + "}"
            parts.append(part)
        return "/".join(parts)

    @property
    def query(self) -> tuple[str, ...]:
        """The names of its query parameters."""
        return tuple(p.name for p in self.params if p.where == "query")


ROUTES: list[Route] = []  # every declared route, in the order the blueprints declare them


def route(
    bp: Blueprint, method: str, rule: str, through: Callable | None = None, **declared: Any
) -> Callable:
    """Register the view on `bp` for `method` and `rule`, and declare it (see Route); `through`
    (the view, the declaration) -> the view to register, such as caching.cached()."""
    declaration = Route(method.upper(), rule, **declared)
    ROUTES.append(declaration)

    def decorator(view: Callable) -> Callable:
        served = through(view, declaration) if through is not None else view
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=served, methods=[declaration.method])
        return view

    return decorator


def answer(description: str, schema: str) -> dict[str, Any]:
    """A JSON answer of the schema `schema` (in the description's components)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def error(description: str) -> dict[str, Any]:
    return answer(description, "Error")


def other(description: str, content_type: str) -> dict[str, Any]:
    """An answer that is not JSON: a page, a file, Prometheus text."""
    return {"description": description, "content": {content_type: {}}}
