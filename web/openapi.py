"""The API description served at /openapi.json (OpenAPI 3.1) and rendered at /docs.

Written by hand, from the same settings the routes check (top_k's limit, the default hybrid
weights, the A/B variants), so it states what this deployment accepts. A test compares its paths
and methods with the app's routes. About 600 lines: every route's description, written out; the
routes' query parameters are checked in web/ask.py and described here, each rule in both places.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

from config import Config
from recommender.serving.service import STRATEGIES
from recommender.storage.catalog_changes import LIMITS
from recommender.storage.feedback import ACTIONS


def spec(config: Config, *, id_length: int, event_id_length: int, body_bytes: int) -> dict[str, Any]:
    """The description; the limits are the HTTP layer's own (web/docs.py passes them)."""
    top_k = _query(
        "top_k",
        f"how many results, 1 to {config.max_top_k}",
        {"type": "integer", "minimum": 1, "maximum": config.max_top_k, "default": min(10, config.max_top_k)},
    )
    text = {"type": "string", "maxLength": id_length}
    count = {"type": "integer", "minimum": 1}
    user = _query("user_id", f"the user (at most {id_length} characters)", text)
    product = _query("product_id", f"the product (at most {id_length} characters)", text)
    recommendations = _answer("Recommendations, best first", "Recommendations")
    with_variant = _answer("Recommendations, best first, and the user's variant", "VariantRecommendations")
    variants = ", ".join(f"{name} ({weight:g})" for name, weight in config.ab_variants)
    filters = [
        _query(
            "category",
            "comma-separated categories (any case): results only from them; the list is refilled "
            "from deeper in the answer, then from best sellers within them",
            {"type": "string"},
        ),
        _query("exclude", "comma-separated product ids never returned (at most 500)", {"type": "string"}),
        _query(
            "details",
            "1: each result also carries category, price, img_url and new (no interaction yet)",
            {"type": "string", "enum": ["0", "1", "true", "false"]},
        ),
    ]
    paths = {
        "/health": {
            "get": _operation(
                "The service is up: the model version, the cache's state, catalog and user counts, "
                "whether a ranker was trained (and why not)",
                responses={"200": _answer("Up", "Health")},
            )
        },
        "/recommend/content/{product_id}": {
            "get": _operation(
                "Products most like this one by their text, never the product itself",
                [_path("product_id", "the product"), top_k, *filters],
                {"200": recommendations, "404": _error("Unknown product")},
            )
        },
        "/recommend/user/{user_id}": {
            "get": _operation(
                "Items for this user that they do not have yet, ordered by the learned ranker when the "
                "model has one (else by the collaborative model); what sells for a user never seen",
                [
                    _path("user_id", "the user"),
                    top_k,
                    _query(
                        "strategy",
                        "answer with this strategy instead of the default "
                        "(ranked when trained, else collaborative)",
                        {
                            "type": "string",
                            "enum": list(STRATEGIES),
                        },
                    ),
                    *filters,
                ],
                {"200": recommendations},
            )
        },
        "/recommend/hybrid": {
            "get": _operation(
                "A blend of items like the product (content) and items for the user (collaborative); "
                "give user_id, product_id or both. Each list is scaled to [0, 1] before weighting. "
                "With user_id, no weights, and no product_id or the user's latest item, a model with a "
                "trained ranker answers with the user's ranked list instead.",
                [
                    user,
                    product,
                    top_k,
                    _weight("w_content", "weight of the content part", config.hybrid_w_content),
                    _weight("w_cf", "weight of the collaborative part", config.hybrid_w_cf),
                    *filters,
                ],
                {"200": recommendations, "404": _error("Unknown product")},
            )
        },
        "/recommend/ab": {
            "get": _operation(
                f"The answer of the user's A/B variant (MD5 of salt and user; variants {variants}; "
                "the first is the control)",
                [{**user, "required": True}, product, top_k, *filters],
                {"200": with_variant, "404": _error("Unknown product")},
            )
        },
        "/products": {
            "get": _operation(
                "Search the catalog: products whose title holds every word of q (any case), best "
                "sellers first; withdrawn products left out; an empty q gives the best sellers",
                [
                    _query(
                        "q",
                        "words of the title (at most 200 characters)",
                        {**text, "maxLength": 200},
                    ),
                    _query(
                        "limit",
                        "how many, 1 to 100",
                        {**count, "maximum": 100, "default": 20},
                    ),
                ],
                {"200": _answer("Matching products", "ProductList")},
            )
        },
        "/users/{user_id}": {
            "get": {
                **_operation(
                    "The user's latest events (from the log the model was built on, and feedback stored "
                    "since), newest first, and their A/B variant",
                    [_path("user_id", "the user")],
                    {
                        "200": _answer("The user", "User"),
                        "401": _error("ADMIN_TOKEN is set and the request does not carry it"),
                        "404": _error("A user never seen"),
                    },
                ),
                "security": [{}, {"admin": []}],
            }
        },
        "/console": {"get": _page("The console: overview")},
        "/console/{page}": {
            "get": _page(
                "The console's pages: products/<product_id>, users/<user_id>, experiment", parameter="page"
            )
        },
        "/console/static/{name}": {"get": _page("The console's script and style", "a file", "name")},
        "/products/{product_id}": {
            "get": _operation(
                "The product as it is served now (fields changed through this API included)",
                [_path("product_id", "the product")],
                {"200": _answer("The product", "Product"), "404": _error("Unknown product")},
            ),
            "put": {
                **_operation(
                    "Add or replace a product (admin): stored durably, then served by every worker and "
                    "replica within a second; its text places it among similar products",
                    [_path("product_id", "the product")],
                    {
                        "200": _answer("Replaced", "ProductChange"),
                        "201": _answer("Added", "ProductChange"),
                        "401": _error("Missing or wrong admin token"),
                        "404": _error("ADMIN_TOKEN is not set: the catalog routes do not exist"),
                        "503": _error("The database is unavailable: nothing was stored, retry"),
                    },
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProductBody"}}},
                },
                "security": [{"admin": []}],
            },
            "delete": {
                **_operation(
                    "Withdraw a product (admin): no answer contains it from the next second on; its "
                    "history still counts. A PUT with available true brings it back",
                    [_path("product_id", "the product")],
                    {
                        "200": _answer("Withdrawn", "ProductChange"),
                        "401": _error("Missing or wrong admin token"),
                        "404": _error("Unknown product, or ADMIN_TOKEN is not set"),
                        "503": _error("The database is unavailable: nothing was stored, retry"),
                    },
                ),
                "security": [{"admin": []}],
            },
        },
        "/ab/report": {
            "get": {
                **_operation(
                    "The current experiment (AB_VARIANTS and AB_SALT): per variant, users exposed, "
                    "exposures, clicks, carts, purchases and revenue, counted after each user's first "
                    "exposure and from answers whose recomm_id the events quote; each variant against "
                    "the control (two-proportion z-test, lift with its 95% interval, users needed at "
                    "80% power); a sample-ratio check of the split",
                    responses={
                        "200": _answer("The report", "ABReport"),
                        "401": _error("ADMIN_TOKEN is set and the request does not carry it"),
                        "503": _error("The feedback store is unavailable, retry"),
                    },
                ),
                "security": [{}, {"admin": []}],
            }
        },
        "/feedback": {
            "post": {
                **_operation(
                    "Store an interaction durably; it shapes the user's next answers",
                    responses={
                        "202": _answer("Stored (committed)", "Received"),
                        "401": _error("EVENTS_TOKEN is set and the request does not carry it"),
                        "404": _error("Unknown product"),
                        "413": _error(f"Body over {body_bytes} bytes"),
                        "429": _error("Over the events limit per user_id or per client address"),
                        "503": _error("The feedback store is unavailable: nothing was stored, retry"),
                    },
                ),
                "security": [{}, {"events": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Feedback"}}},
                },
            }
        },
        "/admin/reload": {
            "post": _admin(
                "Rebuild the models from the CSVs and the stored feedback, in the background",
                "202",
                "Started, or already running",
            ),
            "get": _admin("The state of the last rebuild", "200", "The state"),
        },
        "/openapi.json": {
            "get": _operation("This description", responses={"200": {"description": "OpenAPI 3.1"}})
        },
        "/metrics": {
            "get": _operation(
                "Request counts and latencies by route, cache hits and misses, feedback events stored "
                "(Prometheus text format; under gunicorn, all workers added up)",
                responses={"200": {"description": "Prometheus text format", "content": {"text/plain": {}}}},
            )
        },
        "/docs": {
            "get": _operation(
                "This description as a page",
                responses={"200": {"description": "HTML", "content": {"text/html": {}}}},
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Recommendation service",
            "version": "1.0.0",
            "description": "Content-based, collaborative and hybrid product recommendations, "
            "with a Redis cache, an A/B router and durable feedback. Every error is "
            '{"error": {"code", "message"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(event_id_length),
            "securitySchemes": {
                "admin": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"},
                "events": {"type": "http", "scheme": "bearer", "description": "EVENTS_TOKEN"},
            },
        },
    }


STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
    "code{background:#f3f3f3;padding:0 .2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
)
# What the page may load: its own style, nothing else; no page may frame it.
PAGE_POLICY = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def page(document: dict[str, Any]) -> str:
    """A self-contained HTML page listing every route of `document` (no scripts, works offline)."""
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(document['info']['title'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{esc(document['info']['title'])}</h1><p>{esc(document['info']['description'])}</p>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI 3.1).</p>",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parts.append(
                f"<h2><code>{method.upper()} {esc(path)}</code></h2><p>{esc(operation['summary'])}</p>"
            )
            parameters = operation.get("parameters", [])
            if parameters:
                parts.append("<table><tr><th>parameter</th><th>in</th><th>required</th><th>meaning</th></tr>")
                for p in parameters:
                    default = p["schema"].get("default")
                    meaning = p["description"] + (f" (default {default})" if default is not None else "")
                    required = "yes" if p.get("required") else "no"
                    parts.append(
                        f"<tr><td><code>{esc(p['name'])}</code></td><td>{p['in']}</td>"
                        f"<td>{required}</td><td>{esc(meaning)}</td></tr>"
                    )
                parts.append("</table>")
            answers = ", ".join(
                f"{code} {esc(r['description'])}" for code, r in operation["responses"].items()
            )
            parts.append(f"<p>Answers: {answers}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _operation(
    summary: str, parameters: list[dict[str, Any]] | None = None, responses: dict[str, Any] | None = None
) -> dict[str, Any]:
    answers = dict(responses or {})
    if parameters:
        answers.setdefault("400", _error("A malformed or out-of-range parameter"))
    return {"summary": summary, "parameters": parameters or [], "responses": answers}


def _page(summary: str, what: str = "HTML", parameter: str | None = None) -> dict[str, Any]:
    parameters = [_path(parameter, "the rest of the address")] if parameter else None
    page = _operation(summary, parameters, {"200": {"description": what, "content": {"text/html": {}}}})
    page["responses"].pop("400", None)
    return page


def _admin(summary: str, code: str, description: str) -> dict[str, Any]:
    return {
        **_operation(
            summary,
            responses={
                code: _answer(description, "Reload"),
                "401": _error("Missing or wrong admin token"),
                "404": _error("ADMIN_TOKEN is not set: the admin routes do not exist"),
            },
        ),
        "security": [{"admin": []}],
    }


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _weight(name: str, description: str, default: float) -> dict[str, Any]:
    return _query(
        name, f"{description}, a finite number >= 0", {"type": "number", "minimum": 0, "default": default}
    )


def _answer(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _error(description: str) -> dict[str, Any]:
    return _answer(description, "Error")


def _schemas(event_id_length: int) -> dict[str, Any]:
    def strings(*names: str) -> dict[str, Any]:
        return {name: {"type": "string"} for name in names}

    results = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["product_id", "title", "score"],
            "properties": {**strings("product_id", "title"), "score": {"type": "number"}},
        },
    }
    source = {"type": "string", "enum": ["model", "cache"]}
    recomm = {
        "type": "string",
        "description": "this answer's id: send it with the feedback events that come from it",
    }
    return {
        "Recommendations": {
            "type": "object",
            "required": ["source", "recomm_id", "results"],
            "properties": {"source": source, "recomm_id": recomm, "results": results},
        },
        "VariantRecommendations": {
            "type": "object",
            "required": ["source", "recomm_id", "variant", "results"],
            "properties": {
                "source": source,
                "recomm_id": recomm,
                "variant": {"type": "string"},
                "results": results,
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "model_version"],
            "properties": {
                **strings("status", "model_version"),
                "cache": {"type": "string", "enum": ["ok", "unavailable", "disabled"]},
                "products": {"type": "integer"},
                "users": {"type": "integer"},
                "ranker": {
                    "type": "object",
                    "required": ["trained", "reason"],
                    "properties": {"trained": {"type": "boolean"}, "reason": {"type": "string"}},
                },
                "reload": {"type": "object"},
                "built": {"type": "object", "description": "at, seconds, interactions"},
                "feedback_store": {"type": "string", "enum": ["ok", "unavailable", "unknown"]},
            },
        },
        "Feedback": {
            "type": "object",
            "required": ["user_id", "product_id", "action"],
            "properties": {
                **strings("user_id", "product_id"),
                "action": {"type": "string", "enum": list(ACTIONS)},
                "ts": {
                    "type": "string",
                    "description": "ISO 8601; default: now; "
                    "from 1970-01-01 to 5 minutes ahead of the server's clock",
                },
                "recomm_id": {
                    "type": "string",
                    "maxLength": event_id_length,
                    "description": "the recomm_id of the answer the event came from",
                },
                "event_id": {
                    "type": "string",
                    "maxLength": event_id_length,
                    "description": "a retry with it is stored once",
                },
            },
        },
        "Received": {"type": "object", "properties": strings("status")},
        "ABReport": _ab_report_schema(),
        **_product_schemas(),
        "Reload": {
            "type": "object",
            "properties": {**strings("status", "model_version"), "reload": {"type": "object"}},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
                }
            },
        },
    }


def _ab_report_schema() -> dict[str, Any]:
    number, count = {"type": ["number", "null"]}, {"type": "integer"}
    test = {
        "type": "object",
        "description": "against the control (null for the control)",
        "properties": {
            "p_value": {**number, "description": "two-proportion z-test, two-sided"},
            "lift": {**number, "description": "rate / control rate - 1"},
            "lift_ci": {"type": ["array", "null"], "items": {"type": "number"}, "description": "95%"},
            "users_needed": {"type": ["integer", "null"], "description": "per variant, 80% power"},
            "more_users_needed": {"type": ["integer", "null"]},
        },
    }
    counts = {name: count for name in ("clicks", "add_to_cart", "conversions")}
    variant = {
        "type": "object",
        "required": ["users", "exposures", "clicks", "conversions", "ctr", "p_value"],
        "properties": {
            "weight": {"type": "number"},
            "users": {**count, "description": "users shown this variant"},
            "exposures": {**count, "description": "answers shown"},
            **counts,
            "revenue": {**number, "description": "purchases times catalog price; null without prices"},
            "ctr": {**number, "description": "clicks per exposure"},
            "click_rate": {**number, "description": "share of users who clicked (the tested rate)"},
            "conversion_rate": {**number, "description": "share of users who bought"},
            **test["properties"],
            "conversion": {**test, "description": "conversion_rate against the control's"},
            "from_recommendations": {
                "type": "object",
                "description": "events quoting the recomm_id of this variant's answers",
                "properties": {**counts, "revenue": number, "ctr": number},
            },
        },
    }
    return {
        "type": "object",
        "required": ["experiment", "control", "variants", "sample_ratio", "warnings"],
        "properties": {
            "experiment": {"type": "string", "description": "the prefix of this experiment's recomm_ids"},
            "control": {"type": "string"},
            "since": {"type": ["string", "null"], "description": "first exposure, ISO 8601 UTC"},
            "metric": {"type": "string"},
            "variants": {"type": "object", "additionalProperties": variant},
            "sample_ratio": {
                "type": "object",
                "properties": {
                    "p_value": number,
                    "mismatch": {"type": "boolean", "description": "chi-square p < 0.001"},
                    "expected_users": {"type": "object", "additionalProperties": {"type": "number"}},
                },
            },
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    }


def _product_schemas() -> dict[str, Any]:
    fields = {name: {"type": "string", "maxLength": limit} for name, limit in LIMITS.items()}
    fields["img_url"]["description"] = "an http:// or https:// address"
    fields |= {
        "price": {"type": ["number", "null"], "minimum": 0},
        "available": {"type": "boolean", "default": True},
    }
    listed = {k: v for k, v in fields.items() if k not in ("available", "description")}
    product = {
        "type": "object",
        "required": ["product_id", "title", "category", "price", "available"],
        "properties": {"product_id": {"type": "string"}, **fields},
    }
    return {
        "ProductBody": {
            "type": "object",
            "required": ["title"],
            "additionalProperties": False,
            "properties": {**fields, "title": {**fields["title"], "minLength": 1}},
        },
        "Product": product,
        "ProductList": {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["product_id", "title", "category", "price", "img_url"],
                        "properties": {
                            "product_id": {"type": "string"},
                            **listed,
                        },
                    },
                }
            },
        },
        "User": {
            "type": "object",
            "required": ["user_id", "variant", "events"],
            "properties": {
                "user_id": {"type": "string"},
                "variant": {"type": "string"},
                "items": {"type": "integer"},
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["product_id", "action", "ts", "source"],
                        "properties": {
                            "product_id": {"type": "string"},
                            "title": {"type": ["string", "null"]},
                            "action": {"type": "string"},
                            "ts": {"type": "string"},
                            "source": {"type": "string", "enum": ["log", "feedback"]},
                        },
                    },
                },
            },
        },
        "ProductChange": {
            "type": "object",
            "properties": {"status": {"type": "string"}, "product": product},
        },
    }
