"""The API description served at /openapi.json (OpenAPI 3.1) and rendered at /docs.

Rendered from the routes' declarations (web/declare.py): each route's address, parameters, body,
answers and summary are declared beside its view, and the same declarations check the requests,
so the description states what this deployment accepts. The answers' shapes are written here.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from typing import Any

from config import Config
from recommender.storage.catalog_changes import LIMITS
from web.declare import Param, Route, error


def spec(config: Config, routes: Sequence[Route]) -> dict[str, Any]:
    """The description of the declared `routes` (declare.ROUTES), with this deployment's settings."""
    paths: dict[str, dict[str, Any]] = {}
    schemas = _schemas()
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, config)
        if route.fields:  # a body declared field by field: its schema comes from the fields
            schemas[route.body] = _object(route.fields, config)
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
            "schemas": schemas,
            "securitySchemes": {
                "admin": {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN"},
                "events": {"type": "http", "scheme": "bearer", "description": "EVENTS_TOKEN"},
            },
        },
    }


def _operation(route: Route, config: Config) -> dict[str, Any]:
    summary = route.summary(config) if callable(route.summary) else route.summary
    parameters = [p.described(config) for p in route.params]
    responses = dict(route.responses)
    if any(p.checked for p in route.params):
        responses.setdefault("400", error("A malformed or out-of-range parameter"))
    operation: dict[str, Any] = {"summary": summary, "parameters": parameters, "responses": responses}
    if route.body is not None:
        schema = {"$ref": f"#/components/schemas/{route.body}"}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if route.security:
        operation["security"] = [{name: []} if name else {} for name in route.security]
    return operation


def _object(fields: Sequence[Param], config: Config) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [f.name for f in fields if f.required],
        "properties": {f.name: f.schema(config) for f in fields},
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


def _schemas() -> dict[str, Any]:
    def strings(*names: str) -> dict[str, Any]:
        return {name: {"type": "string"} for name in names}

    results = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["product_id", "title", "score"],
            "properties": {
                **strings("product_id", "title"),
                "score": {"type": "number"},
                # with details=1
                "category": {"type": "string"},
                "price": {"type": ["number", "null"]},
                "img_url": {"type": "string"},
                "new": {"type": "boolean", "description": "no interaction with the product yet"},
            },
        },
    }
    reload = {
        "type": "object",
        "required": ["state"],
        "properties": {
            "state": {"type": "string", "enum": ["idle", "running", "done", "failed"]},
            **strings("at", "previous", "version", "error", "error_hidden"),
            "seconds": {"type": "number"},
            "pid": {"type": "integer"},
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
                "reload": reload,
                "built": {
                    "type": "object",
                    "description": "when the model was built, in how long, from what",
                    "properties": {
                        "at": {"type": "string", "description": "ISO 8601 UTC"},
                        "seconds": {"type": "number"},
                        "interactions": {"type": "integer"},
                        "from": {"type": "string", "description": '"csv files" or "database"'},
                        "feedback_skipped": {"type": "integer"},
                    },
                },
                "feedback_store": {"type": "string", "enum": ["ok", "unavailable", "unknown"]},
            },
        },
        "Received": {"type": "object", "properties": strings("status")},
        "Overview": _overview_schema(),
        "ABReport": _ab_report_schema(),
        **_product_schemas(),
        "Reload": {
            "type": "object",
            "properties": {**strings("status", "model_version"), "reload": reload},
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


def _overview_schema() -> dict[str, Any]:
    count, ms = {"type": "integer"}, {"type": ["number", "null"]}
    ndcg = {"type": ["number", "null"]}
    return {
        "type": "object",
        "required": ["requests", "cache", "latency", "events", "build"],
        "properties": {
            "requests": {
                "type": "array",
                "description": "per route template, busiest first, since the service started",
                "items": {
                    "type": "object",
                    "required": ["route", "requests", "client_errors", "server_errors", "p50_ms", "p99_ms"],
                    "properties": {
                        "route": {"type": "string"},
                        "requests": count,
                        "client_errors": count,
                        "server_errors": count,
                        "p50_ms": ms,
                        "p99_ms": ms,
                    },
                },
            },
            "cache": {
                "type": "object",
                "required": ["enabled", "hits", "misses", "hit_ratio"],
                "properties": {
                    "enabled": {"type": "boolean"},
                    "hits": count,
                    "misses": count,
                    "hit_ratio": {"type": ["number", "null"]},
                },
            },
            "latency": {
                "type": "object",
                "description": "the recommendation routes' requests per latency bucket",
                "required": ["buckets", "p50_ms", "p99_ms"],
                "properties": {
                    "buckets": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["up_to_ms", "requests"],
                            "properties": {
                                "up_to_ms": {**ms, "description": "null: beyond the last"},
                                "requests": count,
                            },
                        },
                    },
                    "p50_ms": ms,
                    "p99_ms": ms,
                },
            },
            "events": {
                "type": "object",
                "description": "events per hour by action, up to the latest event (UTC)",
                "required": ["until", "hours", "counts", "feedback"],
                "properties": {
                    "until": {"type": ["string", "null"]},
                    "hours": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "each hour's start",
                    },
                    "counts": {
                        "type": "object",
                        "description": "per action, its events in each of the hours",
                        "additionalProperties": {"type": "array", "items": count},
                    },
                    "feedback": {"type": "string", "enum": ["ok", "unavailable"]},
                },
            },
            "build": {
                "type": "object",
                "required": ["model_version", "default_strategy", "why", "check"],
                "properties": {
                    **{name: {"type": "string"} for name in ("model_version", "at", "from", "why")},
                    "default_strategy": {"type": "string", "enum": ["ranked", "collaborative"]},
                    "seconds": {"type": "number"},
                    "interactions": count,
                    "feedback_skipped": count,
                    "check": {
                        "type": ["object", "null"],
                        "description": "the ranker against the untrained blend on the latest window "
                        "held out from its training (null: no ranker)",
                        "properties": {
                            "objective": {"type": "string"},
                            "ranker_ndcg": ndcg,
                            "blend_ndcg": ndcg,
                            "windows": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
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
