"""Hostile input, generated (hypothesis): no route answers 500 or shows a traceback, the CSV
loader fails only with DataError, and no cached answer is served to a request that differs."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import quote, urlencode

import fakeredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from config import Config
from recommender.data.data_loader import load_catalog, load_interactions
from recommender.errors import DataError
from tests.helpers import INTERACTIONS, PRODUCTS, postgres_schema, write

ANSWERS = {200, 201, 202, 400, 401, 404, 405, 413, 429}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.one_of(
    st.sampled_from(["U1", "U5", "P1", "P4", "", " ", "P7", "nobody", "U1\x00", "\x00x", "P1\x1b", "U\x7f"]),
    st.text(max_size=300),
)
# Times as clients send them: offsets at the calendar's edges, before 1970, far ahead, garbage.
times = st.one_of(
    st.sampled_from(
        [
            "2024-01-01",
            "2099-01-01T00:00:00Z",
            "yesterday",
            "1000-01-01",
            "1969-12-31T23:59:59Z",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "2024-02-30T00:00:00",
        ]
    ),
    st.builds(
        lambda moment, offset: moment.isoformat() + offset,
        st.datetimes(),
        st.sampled_from(["", "Z", "+05:00", "-14:00", "+23:59", "-23:59"]),
    ),
)
numbers = st.one_of(
    st.sampled_from(["0", "1", "5", "100", "101", "-1", "1e9", "nan", "inf", "0.5", "", "abc"]),
    st.text(max_size=20),
)
values = st.one_of(ids, numbers)
params = st.dictionaries(
    st.sampled_from(
        [
            "user_id",
            "product_id",
            "top_k",
            "w_content",
            "w_cf",
            "category",
            "exclude",
            "details",
            "strategy",
            "q",
            "limit",
        ]
    ),
    values,
    max_size=6,
)
routes = st.sampled_from(
    [
        "/recommend/content/{id}",
        "/recommend/user/{id}",
        "/recommend/hybrid",
        "/recommend/ab",
        "/products",
        "/products/{id}",
        "/users/{id}",
        "/ab/report",
        "/health",
        "/console/{id}",
    ]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
feedback_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "user_id": json_values | ids,
            "product_id": json_values | st.sampled_from(["P1", "P2", "NOPE"]),
            "action": json_values | st.sampled_from(["view", "clicked", "purchase", "buy"]),
            "ts": json_values | times,
            "event_id": json_values | ids,
            "recomm_id": json_values | ids,
        },
    ),
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    """The suite's database: a SQLite file, or a schema of its own in the machine's PostgreSQL
    (PostgreSQL refuses what SQLite keeps, a NUL for one)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('hostile-db') / 'feedback.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture(scope="module")
def apps(tmp_path_factory, database):
    folder = tmp_path_factory.mktemp("hostile")
    config = Config(
        products_csv=str(write(folder / "products.csv", PRODUCTS)),
        interactions_csv=str(write(folder / "interactions.csv", INTERACTIONS)),
        feedback_db=database,
        artifacts_dir=str(folder / "artifacts"),
        neighbours=10,
        max_top_k=20,
        admin_token="s3cret",
        feedback_rate_limit=None,
        feedback_client_rate_limit=None,
    )
    cached = create_app(config, redis_client=fakeredis.FakeRedis())
    uncached = create_app(replace(config, cache_enabled=False))
    yield cached.test_client(), uncached.test_client()
    for app in (cached, uncached):
        services = app.extensions["recommender"]
        services.exposures.flush()  # written before the schema goes
        services.feedback.close()


def checked(response) -> None:
    assert response.status_code in ANSWERS, (response.status_code, response.get_data(as_text=True))
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    if response.status_code >= 400:
        error = json.loads(text)["error"]
        assert error["code"] == response.status_code and error["message"]


@FUZZ
@given(route=routes, path_id=ids, query=params)
def test_no_get_answers_500_or_a_traceback(apps, route, path_id, query):
    client, _ = apps
    url = route.replace("{id}", quote(path_id, safe="")) + "?" + urlencode(query)
    response = client.get(url)
    checked(response)
    response.close()


@FUZZ
@given(body=feedback_bodies)
def test_no_feedback_body_answers_500(apps, body):
    client, _ = apps
    checked(client.post("/feedback", data=json.dumps(body), content_type="application/json"))


@FUZZ
@given(
    path_id=ids,
    body=json_values
    | st.fixed_dictionaries(
        {"title": json_values | ids},
        optional={"price": json_values, "category": ids, "description": ids, "img_url": ids},
    ),
)
def test_no_product_body_answers_500(apps, path_id, body):
    client, _ = apps
    url = "/products/" + quote(path_id or "x", safe="")
    checked(
        client.put(
            url,
            data=json.dumps(body),
            content_type="application/json",
            headers={"Authorization": "Bearer s3cret"},
        )
    )


@FUZZ
@given(
    requests=st.lists(
        st.tuples(
            st.sampled_from(["/recommend/user/{id}", "/recommend/hybrid", "/recommend/content/P1"]),
            ids,
            params,
        ),
        min_size=2,
        max_size=6,
    )
)
def test_a_cached_answer_is_only_ever_the_answer_to_the_same_request(apps, requests):
    cached, uncached = apps
    for route, path_id, query in requests:
        url = route.replace("{id}", quote(path_id, safe="")) + "?" + urlencode(query)
        got, expected = cached.get(url), uncached.get(url)
        assert got.status_code == expected.status_code, url
        if got.status_code == 200:
            strip = lambda body: {k: v for k, v in body.items() if k not in ("source", "recomm_id")}  # noqa: E731
            assert strip(got.get_json()) == strip(expected.get_json()), url


@FUZZ
@given(path_id=ids, route=st.sampled_from(["/products/{id}", "/admin/reload"]))
def test_no_delete_or_admin_call_answers_500(apps, path_id, route):
    client, _ = apps
    admin = {"Authorization": "Bearer s3cret"}
    if route == "/admin/reload":
        checked(client.get(route, headers=admin))
        sent = "".join(c for c in path_id if c not in "\r\n")  # what a header can carry at all
        checked(client.get(route, headers={"Authorization": f"Bearer {sent}"}))
        return
    checked(client.delete(route.replace("{id}", quote(path_id or "x", safe="")), headers=admin))


def test_a_rebuild_from_everything_stored_above_succeeds(apps):
    """What the requests above stored (events, catalog changes, exposures) breaks no rebuild."""
    client, _ = apps
    admin = {"Authorization": "Bearer s3cret"}
    assert client.post("/admin/reload", headers=admin).status_code == 202
    client.application.extensions["recommender"].reloader.wait(120)
    status = client.get("/admin/reload", headers=admin).get_json()["reload"]
    assert status["state"] == "done", status
    assert client.get("/ab/report", headers=admin).status_code == 200


@settings(max_examples=150, deadline=None)
@given(
    header=st.sampled_from(
        ["product_id,title,category,description,price,img_url", "product_id,title", "title", ""]
    ),
    rows=st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=7), max_size=6),
    log_rows=st.lists(st.lists(st.text(max_size=25), min_size=0, max_size=5), max_size=6),
)
def test_the_csv_loader_fails_only_with_a_data_error(tmp_path_factory, header, rows, log_rows):
    folder = tmp_path_factory.mktemp("csv")
    products = folder / "products.csv"
    interactions = folder / "interactions.csv"
    products.write_text("\n".join([header, *(",".join(json.dumps(c) for c in row) for row in rows)]) + "\n")
    interactions.write_text(
        "\n".join(
            [
                "user_id,product_id,interaction_type,ts",
                *(",".join(json.dumps(c) for c in r) for r in log_rows),
            ]
        )
        + "\n"
    )
    try:
        catalog = load_catalog(products)
        load_interactions(interactions, catalog, ["view", "clicked", "add_to_cart", "purchase"])
    except DataError:
        pass
