"""/openapi.json and /docs: the description covers every route, is valid OpenAPI 3.1, states this
deployment's limits, and the service's real answers match the shapes it describes."""

from __future__ import annotations

import re
from dataclasses import replace

import jsonschema
import pytest
from openapi_spec_validator import validate

from app import create_app
from web.docs import describe

ADMIN = {"Authorization": "Bearer s3cret"}


def described(document: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}


def test_every_route_of_the_app_is_described_and_nothing_else(app) -> None:
    routes = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert described(describe(app.extensions["recommender"].config)) == routes


def test_the_description_is_valid_openapi_and_served_as_json(client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    validate(document)  # raises on an invalid document
    assert document["openapi"] == "3.1.0"


def test_it_states_the_limits_and_defaults_of_this_deployment(config, fake_redis) -> None:
    app = create_app(
        replace(config, max_top_k=7, hybrid_w_content=0.3, hybrid_w_cf=0.7), redis_client=fake_redis
    )
    document = app.test_client().get("/openapi.json").get_json()
    hybrid = {p["name"]: p["schema"] for p in document["paths"]["/recommend/hybrid"]["get"]["parameters"]}
    assert hybrid["top_k"] == {"type": "integer", "minimum": 1, "maximum": 7, "default": 7}
    assert hybrid["w_content"]["default"] == 0.3 and hybrid["w_cf"]["default"] == 0.7


@pytest.mark.parametrize(
    ("method", "url", "route", "body", "code"),
    [
        ("GET", "/health", "/health", None, "200"),
        ("GET", "/recommend/content/P1?top_k=3", "/recommend/content/{product_id}", None, "200"),
        ("GET", "/recommend/content/NOPE", "/recommend/content/{product_id}", None, "404"),
        ("GET", "/recommend/user/U1?top_k=3", "/recommend/user/{user_id}", None, "200"),
        ("GET", "/recommend/user/U1?top_k=0", "/recommend/user/{user_id}", None, "400"),
        ("GET", "/recommend/hybrid?user_id=U1&product_id=P1", "/recommend/hybrid", None, "200"),
        ("GET", "/recommend/ab?user_id=U1", "/recommend/ab", None, "200"),
        ("POST", "/feedback", "/feedback", {"user_id": "U1", "product_id": "P2", "action": "clicked"}, "202"),
        (
            "POST",
            "/feedback",
            "/feedback",
            {"user_id": "U1", "product_id": "NOPE", "action": "clicked"},
            "404",
        ),
        ("POST", "/admin/reload", "/admin/reload", None, "401"),
        ("GET", "/admin/reload", "/admin/reload", None, "200"),
        ("GET", "/ab/report", "/ab/report", None, "200"),
        ("PUT", "/products/N1", "/products/{product_id}", {"title": "Mug", "price": 3}, "201"),
        ("PUT", "/products/P1", "/products/{product_id}", {"title": "Red Mug"}, "200"),
        ("PUT", "/products/P1", "/products/{product_id}", {"title": ""}, "400"),
        ("DELETE", "/products/P1", "/products/{product_id}", None, "200"),
        ("GET", "/products/P1", "/products/{product_id}", None, "200"),
        (
            "GET",
            "/recommend/user/U1?category=Kitchen,Coffee&exclude=P2",
            "/recommend/user/{user_id}",
            None,
            "200",
        ),
        ("GET", "/ab/report", "/ab/report", None, "401"),
    ],
)
def test_real_answers_match_the_described_shapes(config, fake_redis, method, url, route, body, code) -> None:
    app = create_app(replace(config, admin_token="s3cret"), redis_client=fake_redis)
    admin = route in ("/admin/reload", "/ab/report") and code == "200" or method in ("PUT", "DELETE")
    headers = ADMIN if admin else {}
    client = app.test_client()
    if route == "/ab/report":  # a report with something in it
        for user in ("U1", "U2", "U3", "U4", "U5", "U6"):
            client.get(f"/recommend/ab?user_id={user}")
        client.post("/feedback", json={"user_id": "U1", "product_id": "P6", "action": "purchase"})
    response = client.open(url, method=method, json=body, headers=headers)
    assert str(response.status_code) == code
    document = describe(app.extensions["recommender"].config)
    schema = document["paths"][route][method.lower()]["responses"][code]["content"]["application/json"][
        "schema"
    ]
    jsonschema.validate(response.get_json(), {**schema, "components": document["components"]})


def test_a_shape_that_differs_from_the_description_is_caught(config) -> None:
    document = describe(config)
    schema = {"$ref": "#/components/schemas/Recommendations", "components": document["components"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"source": "model", "results": [{"product_id": "P1", "score": 1.0}]}, schema)


def test_the_docs_page_lists_every_route_and_escapes_text(client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for method, path in described(client.get("/openapi.json").get_json()):
        assert f"<code>{method} {path}</code>" in page
    assert "<script" not in page
    assert "{&quot;error&quot;: {&quot;code&quot;" in page  # the description's JSON, escaped


def test_the_documented_id_length_is_the_one_enforced(client) -> None:
    parameters = client.get("/openapi.json").get_json()["paths"]["/recommend/hybrid"]["get"]["parameters"]
    limit = next(p["schema"]["maxLength"] for p in parameters if p["name"] == "user_id")
    assert client.get(f"/recommend/hybrid?user_id={'u' * limit}").status_code == 200
    assert client.get(f"/recommend/hybrid?user_id={'u' * (limit + 1)}").status_code == 400
