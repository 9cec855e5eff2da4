"""Every route through the Flask test client: shapes, the cache, the errors."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import sqlalchemy as sa

from app import create_app
from config import Config

ROUTES = [
    "/recommend/content/P1?top_k=3",
    "/recommend/user/U5?top_k=3",
    "/recommend/hybrid?user_id=U5&product_id=P2&top_k=3",
    "/recommend/hybrid?product_id=P2&top_k=3",
    "/recommend/ab?user_id=U5&top_k=3",
]


def check_results(body, k):
    assert isinstance(body["recomm_id"], str) and body["recomm_id"]
    results = body["results"]
    assert len(results) == k
    assert all(set(r) == {"product_id", "title", "score"} for r in results)
    scores = [r["score"] for r in results]
    assert all(math.isfinite(s) for s in scores) and scores == sorted(scores, reverse=True)
    assert len({r["product_id"] for r in results}) == k


def test_health(client):
    body = client.get("/health").get_json()
    assert body["status"] == "ok"
    assert len(body["model_version"]) == 12
    assert body["cache"] == "ok"
    assert (body["products"], body["users"]) == (7, 6)


@pytest.mark.parametrize("url", ROUTES)
def test_routes_answer_then_cache(client, url):
    first = client.get(url)
    assert first.status_code == 200 and first.mimetype == "application/json"
    assert first.get_json()["source"] == "model"
    check_results(first.get_json(), 3)
    second = client.get(url).get_json()
    assert second["source"] == "cache"
    same = lambda body: {k: v for k, v in body.items() if k not in ("source", "recomm_id")}  # noqa: E731
    assert same(second) == same(first.get_json())
    assert second["recomm_id"] != first.get_json()["recomm_id"]  # an id per answer, cached or not


def test_known_answers(client):
    assert client.get("/recommend/content/P1?top_k=1").get_json()["results"][0]["product_id"] == "P2"
    assert client.get("/recommend/user/U5?top_k=1").get_json()["results"][0]["product_id"] == "P4"
    stranger = client.get("/recommend/user/someone-new?top_k=2").get_json()["results"]
    assert [r["product_id"] for r in stranger] == ["P1", "P4"]
    hybrid = client.get("/recommend/hybrid?user_id=U5&product_id=P2&top_k=7").get_json()["results"]
    assert {"P1", "P2"}.isdisjoint(r["product_id"] for r in hybrid)
    assert len(client.get("/recommend/content/P1").get_json()["results"]) == 6  # default 10, catalog of 7


def test_ab_route_reports_a_sticky_variant(client, app):
    router = app.extensions["recommender"].router
    body = client.get("/recommend/ab?user_id=U5&top_k=2").get_json()
    assert body["variant"] == router.assign("U5")
    assert client.get("/recommend/ab?user_id=U5&top_k=2").get_json()["variant"] == body["variant"]


def test_users_whose_ids_look_like_keys_do_not_share_entries(client):
    a = client.get("/recommend/user/U5%7Ctop_k=1?top_k=2").get_json()
    b = client.get("/recommend/user/U5?top_k=2").get_json()
    assert (a["source"], b["source"]) == ("model", "model")
    assert a["results"] != b["results"]  # the odd id is a stranger: best sellers, not U5's answer


def test_cache_disabled_always_uses_the_model(config, fake_redis):
    client = create_app(
        Config(**{**vars(config), "cache_enabled": False}), redis_client=fake_redis
    ).test_client()
    for _ in range(2):
        assert client.get("/recommend/user/U5").get_json()["source"] == "model"
    assert client.get("/health").get_json()["cache"] == "disabled"
    assert fake_redis.dbsize() == 0


def test_redis_outage_changes_nothing_for_callers(client, fake_server):
    assert client.get("/recommend/user/U5?top_k=2").status_code == 200
    fake_server.connected = False
    for url in ROUTES:
        response = client.get(url)
        assert response.status_code == 200
        assert response.get_json()["source"] == "model"
    assert client.get("/health").get_json()["cache"] == "unavailable"


def test_feedback_is_stored(client, config):
    response = client.post(
        "/feedback",
        json={"user_id": "U1", "product_id": "P2", "action": "clicked", "ts": "2024-05-01T10:00:00+02:00"},
    )
    assert response.status_code == 202
    assert response.get_json() == {"status": "received"}
    assert (
        client.post("/feedback", json={"user_id": 17850, "product_id": "P3", "action": "view"}).status_code
        == 202
    )
    with sa.create_engine(config.feedback_db).connect() as conn:
        rows = conn.execute(sa.text("SELECT user_id, product_id, action, ts FROM feedback ORDER BY id")).all()
    assert [tuple(r[:3]) for r in rows] == [("U1", "P2", "clicked"), ("17850", "P3", "view")]
    assert str(rows[0][3]).startswith("2024-05-01 08:00:00")


def test_feedback_store_down_is_503_with_retry_after(client, app):
    with app.extensions["recommender"].feedback.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE feedback")
    response = client.post("/feedback", json={"user_id": "U1", "product_id": "P2", "action": "view"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"]["code"] == 503


VIEW = {"user_id": "U1", "product_id": "P1", "action": "view"}
# Fields that can never be stored (or would break a later rebuild): each a 400, never a 503 or 500.
HOSTILE_FIELDS = [
    ("event_id", "e\x00"),
    ("recomm_id", "r\x1b"),
    ("recomm_id", "r" * 129),
    ("ts", "1000-01-01"),
    ("ts", "1969-12-31T23:59:59Z"),
    ("ts", "0001-01-01T00:00:00+05:00"),  # overflows when moved to UTC
    ("ts", "9999-12-31T23:59:59-05:00"),
]
BAD_REQUESTS = [
    ("GET", "/recommend/content/P9", None, 404),
    ("GET", "/recommend/content/P1?top_k=0", None, 400),
    ("GET", "/recommend/content/P1?top_k=21", None, 400),
    ("GET", "/recommend/content/P1?top_k=abc", None, 400),
    ("GET", "/recommend/content/P1?top_k=2.5", None, 400),
    ("GET", "/recommend/user/U1?top_k=-3", None, 400),
    ("GET", "/recommend/hybrid", None, 400),
    ("GET", "/recommend/hybrid?user_id=U1&product_id=P9", None, 404),
    ("GET", "/recommend/hybrid?user_id=U1&w_content=-1", None, 400),
    ("GET", "/recommend/hybrid?user_id=U1&w_cf=nan", None, 400),
    ("GET", "/recommend/hybrid?user_id=U1&w_cf=inf", None, 400),
    ("GET", "/recommend/hybrid?user_id=U1&w_cf=heavy", None, 400),
    ("GET", "/recommend/hybrid?user_id=U1&w_cf=0&w_content=0", None, 400),
    ("GET", "/recommend/ab", None, 400),
    ("GET", "/recommend/ab?user_id=U1&product_id=P9", None, 404),
    ("GET", "/recommend/ab?user_id=U1&top_k=1000", None, 400),
    ("GET", "/recommend/user/" + "u" * 300, None, 400),  # ids are checked alike in the path and the query
    ("GET", "/recommend/user/U1%00x", None, 400),
    ("GET", "/recommend/content//P1", None, 404),  # an id "/P1", not a redirect to another route
    ("PUT", "/products//P1", None, 404),  # no admin token set: the catalog routes do not exist
    ("GET", "/recommend/content/P1%01", None, 400),
    ("GET", "/recommend/ab?user_id=%00x", None, 400),  # would queue an exposure PostgreSQL cannot store
    ("GET", "/recommend/hybrid?user_id=U1&product_id=P1%00", None, 400),
    ("GET", "/recommend/user/U1?exclude=P2,%00", None, 400),
    ("GET", "/recommend/user/U1?category=Kitchen%7F", None, 400),
    ("GET", "/products?limit=%C2%B2", None, 400),  # '²' passes str.isdigit(), not int()
    ("GET", "/products?limit=%D9%A3", None, 400),  # an Arabic-Indic three
    ("GET", "/products?q=a%00b", None, 400),
    ("GET", "/products?q=" + "+".join("abcdefghijk"), None, 400),  # more than 10 distinct words
    ("GET", "/products/P1%00", None, 400),
    ("GET", "/users/U1%00", None, 400),
    ("GET", "/recommend/hybrid?user_id=" + "u" * 300, None, 400),
    ("GET", "/no/such/route", None, 404),
    ("DELETE", "/health", None, 405),
    ("POST", "/feedback", "not json", 400),
    ("POST", "/feedback", "[1, 2]", 400),
    ("POST", "/feedback", '{"user_id": "U1", "product_id": "P1", "action": "view", "n": NaN}', 400),
    ("POST", "/feedback", {"product_id": "P1", "action": "view"}, 400),
    ("POST", "/feedback", {"user_id": "", "product_id": "P1", "action": "view"}, 400),
    ("POST", "/feedback", {"user_id": True, "product_id": "P1", "action": "view"}, 400),
    ("POST", "/feedback", {"user_id": "U1", "action": "view"}, 400),
    ("POST", "/feedback", {"user_id": "U1", "product_id": "P1"}, 400),
    ("POST", "/feedback", {"user_id": "U1", "product_id": "P1", "action": "like"}, 400),
    ("POST", "/feedback", {"user_id": "U1", "product_id": "P1", "action": "view", "ts": "soon"}, 400),
    ("POST", "/feedback", {"user_id": "U1", "product_id": "P1", "action": "view", "ts": 17}, 400),
    ("POST", "/feedback", {"user_id": "U1", "product_id": "P1", "action": "view", "ts": "2999-01-01"}, 400),
    ("POST", "/feedback", {"user_id": "U1", "product_id": "P9", "action": "view"}, 404),
    ("POST", "/feedback", {"user_id": "u" * 300, "product_id": "P1", "action": "view"}, 400),
    ("POST", "/feedback", {"user_id": "U1\x00", "product_id": "P1", "action": "view"}, 400),
    *(("POST", "/feedback", {**VIEW, field: value}, 400) for field, value in HOSTILE_FIELDS),
    ("POST", "/feedback", "x" * (1024 * 1024 + 1), 413),
]


@pytest.mark.parametrize(("method", "url", "body", "status"), BAD_REQUESTS)
def test_bad_input_gets_a_json_error(client, method, url, body, status):
    kwargs = {"json": body} if isinstance(body, dict) else {"data": body, "content_type": "application/json"}
    response = client.open(url, method=method, **(kwargs if body is not None else {}))
    assert response.status_code == status
    if status != 200:
        error = response.get_json()["error"]
        assert error["code"] == status
        assert isinstance(error["message"], str) and error["message"]


def test_messages_say_what_is_allowed(client):
    message = client.get("/recommend/user/U1?top_k=0").get_json()["error"]["message"]
    assert message == "top_k must be from 1 to 20; got 0"
    message = client.post(
        "/feedback", json={"user_id": "U1", "product_id": "P1", "action": "like"}
    ).get_json()
    assert "view, clicked, add_to_cart, purchase" in message["error"]["message"]


def test_an_unexpected_error_is_a_json_500_without_traceback(app, client, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("model exploded")

    model = app.extensions["recommender"].live.current()
    monkeypatch.setattr(model.strategies[model.user_strategy], "rows", broken)
    response = client.get("/recommend/user/U1")
    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": 500, "message": "internal error; it has been logged"}}
    assert "model exploded" not in response.get_data(as_text=True)
    assert "model exploded" in caplog.text


def test_a_corrupt_cache_entry_is_a_miss(client, app, monkeypatch):
    monkeypatch.setattr(app.extensions["recommender"].cache, "get", lambda key: b"\xff not json")
    body = client.get("/recommend/user/U5?top_k=2").get_json()
    assert body["source"] == "model" and len(body["results"]) == 2


@pytest.mark.parametrize("which", ["products_csv", "interactions_csv"])
def test_a_missing_input_file_stops_the_start_with_its_name(config, fake_redis, tmp_path, which):
    from recommender.errors import DataError

    missing = str(tmp_path / "nowhere.csv")
    with pytest.raises(DataError, match="nowhere.csv: file not found"):
        create_app(Config(**{**vars(config), which: missing}), redis_client=fake_redis)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CACHE_TTL_SECONDS", "abc", "cannot start: CACHE_TTL_SECONDS must be an integer, got 'abc'"),
        ("PRODUCTS_CSV", "/nowhere/products.csv", "cannot start: /nowhere/products.csv: file not found"),
    ],
)
def test_the_server_stops_with_a_message_not_a_traceback(monkeypatch, tmp_path, variable, value, message):
    import app as module

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")  # no products: the CSVs are read
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as stopped:
        module._start()
    assert str(stopped.value) == message


def test_feedback_with_an_event_id_counts_once(client, config):
    event = {"user_id": "U1", "product_id": "P2", "action": "purchase", "event_id": "order-9-line-1"}
    assert client.post("/feedback", json=event).status_code == 202
    assert client.post("/feedback", json=event).status_code == 202  # a retry: acknowledged again
    with sa.create_engine(config.feedback_db).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one() == 1
    bad = {**event, "event_id": "x" * 129}
    assert client.post("/feedback", json=bad).status_code == 400


def ids(response) -> list[str]:
    return [r["product_id"] for r in response.get_json()["results"]]


def test_a_purchase_leaves_the_buyers_next_answers_even_when_cached(client):
    assert ids(client.get("/recommend/user/U5?top_k=3"))[0] == "P4"
    assert client.get("/recommend/user/U5?top_k=3").get_json()["source"] == "cache"
    hybrid = "/recommend/hybrid?user_id=U5&product_id=P2&top_k=5"
    assert "P4" in ids(client.get(hybrid))
    precomputed = "/recommend/hybrid?user_id=U5&top_k=5"  # without a product: a list from the build
    assert "P4" in ids(client.get(precomputed))
    assert (
        client.post("/feedback", json={"user_id": "U5", "product_id": "P4", "action": "purchase"}).status_code
        == 202
    )
    after = client.get("/recommend/user/U5?top_k=3")
    assert after.get_json()["source"] == "model"
    assert "P4" not in ids(after)
    assert "P4" not in ids(client.get(hybrid))
    assert "P4" not in ids(client.get(precomputed))
    assert "P4" not in ids(client.get("/recommend/ab?user_id=U5&top_k=6"))


def test_feedback_of_a_new_user_makes_their_answers_personal(client):
    assert ids(client.get("/recommend/user/newbie?top_k=2")) == ["P1", "P4"]  # best sellers
    client.post("/feedback", json={"user_id": "newbie", "product_id": "P1", "action": "view"})
    after = ids(client.get("/recommend/user/newbie?top_k=2"))
    assert after[0] == "P4" and "P1" not in after  # what sells with P1, never P1 itself


# --- a store with a trained ranker -----------------------------------------------------------


@pytest.fixture
def ranked_client(tmp_path, fake_redis):
    from tests.helpers import synthetic_store

    products, interactions = synthetic_store(tmp_path)
    config = Config(
        products_csv=str(products),
        interactions_csv=str(interactions),
        feedback_db=f"sqlite:///{tmp_path / 'feedback.db'}",
        artifacts_dir=str(tmp_path / "artifacts"),
        ab_variants=(("ranked", 100.0),),
    )
    app = create_app(config, redis_client=fake_redis)
    model = app.extensions["recommender"].live.current()
    assert model.ranked is not None, model.ranker_reason
    return app.test_client(), model


def test_the_ranker_answers_for_users_and_says_so_in_health(ranked_client):
    client, model = ranked_client
    assert client.get("/health").get_json()["ranker"] == {"trained": True, "reason": "trained"}
    ranked = [r.product_id for r in model.ranked_for("V3", None, 5)]
    assert ids(client.get("/recommend/user/V3?top_k=5")) == ranked
    assert ids(client.get("/recommend/hybrid?user_id=V3&top_k=5")) == ranked
    ab = client.get("/recommend/ab?user_id=V3&product_id=S8&top_k=5").get_json()
    assert ab["variant"] == "ranked"
    assert [r["product_id"] for r in ab["results"]] == [r.product_id for r in model.ranked_for("V3", "S8", 5)]


def test_with_a_user_and_their_latest_item_the_hybrid_route_gives_their_ranked_list(ranked_client):
    client, model = ranked_client
    latest = model.catalog.product_ids[model.history.last_item_of("V3")]
    ranked = [r.product_id for r in model.ranked_for("V3", None, 5)]
    assert ids(client.get(f"/recommend/hybrid?user_id=V3&product_id={latest}&top_k=5")) == ranked
    other = next(p for p in ("S8", "S9") if p != latest)
    blend = [r.product_id for r in model.hybrid("V3", other, 5)]
    assert ids(client.get(f"/recommend/hybrid?user_id=V3&product_id={other}&top_k=5")) == blend
    blend = [r.product_id for r in model.hybrid(None, "S8", 5)]
    assert ids(client.get("/recommend/hybrid?product_id=S8&top_k=5")) == blend  # no user: the blend


def test_with_weights_the_hybrid_route_blends(ranked_client):
    client, model = ranked_client
    blend = [r.product_id for r in model.hybrid("V3", "S8", 5, 0.1, 0.9)]
    assert (
        ids(client.get("/recommend/hybrid?user_id=V3&product_id=S8&top_k=5&w_content=0.1&w_cf=0.9")) == blend
    )
    weighted = [r.product_id for r in model.hybrid("V3", None, 5, 0.3, 0.7)]
    assert ids(client.get("/recommend/hybrid?user_id=V3&top_k=5&w_content=0.3&w_cf=0.7")) == weighted


def test_feedback_reaches_the_ranked_answers(ranked_client):
    client, _ = ranked_client
    first = ids(client.get("/recommend/user/V3?top_k=5"))[0]
    assert (
        client.post(
            "/feedback", json={"user_id": "V3", "product_id": first, "action": "purchase"}
        ).status_code
        == 202
    )
    assert first not in ids(client.get("/recommend/user/V3?top_k=5"))  # owned now: it leaves
    stranger = ids(client.get("/recommend/user/newcomer?top_k=5"))
    assert len(stranger) == 5  # what sells now, for someone never seen
    client.post("/feedback", json={"user_id": "newcomer", "product_id": "S2", "action": "add_to_cart"})
    personal = ids(client.get("/recommend/user/newcomer?top_k=5"))
    assert "S2" not in personal and personal != stranger


def test_an_ab_answers_recomm_id_names_its_variant_and_feedback_stores_it(client, app):
    from recommender.experiments.ab_testing import parse_recomm_id

    svc = app.extensions["recommender"]
    for user in ("U1", "U4", "U5", "stranger"):
        body = client.get(f"/recommend/ab?user_id={user}&top_k=2").get_json()
        assert parse_recomm_id(body["recomm_id"]) == (svc.experiment, body["variant"])
        assert body["variant"] == svc.router.assign(user)
    plain = client.get("/recommend/user/U5?top_k=2").get_json()["recomm_id"]
    assert parse_recomm_id(plain) is None  # not an A/B answer
    event = {"user_id": "U5", "product_id": "P4", "action": "clicked", "recomm_id": body["recomm_id"]}
    assert client.post("/feedback", json=event).status_code == 202
    with svc.feedback.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT recomm_id FROM feedback")).scalars().all()
    assert stored == [body["recomm_id"]]


@pytest.mark.parametrize("recomm", [17.5, "", "x" * 200, ["a"]])
def test_a_bad_recomm_id_is_a_400(client, recomm):
    event = {"user_id": "U5", "product_id": "P4", "action": "clicked", "recomm_id": recomm}
    assert client.post("/feedback", json=event).status_code == 400


# --- the cache's tier in each worker's memory --------------------------------------------------


def requests_of(route: str) -> float:
    from prometheus_client import REGISTRY

    labels = {"route": route, "method": "GET", "status": "200"}
    return REGISTRY.get_sample_value("recsys_requests_total", labels) or 0.0


def test_a_repeated_request_is_answered_from_the_workers_memory_before_flask(client, app, monkeypatch):
    first = client.get("/recommend/user/U5?top_k=2", headers={"X-Request-ID": "first"}).get_json()
    svc = app.extensions["recommender"]
    counted = requests_of("/recommend/user/<path:user_id>")

    def no_round_trip(key):
        raise AssertionError("a kept answer needs no Redis")

    with monkeypatch.context() as patched:
        patched.setattr(svc.cache, "get", no_round_trip)
        patched.setattr(app, "full_dispatch_request", lambda: (_ for _ in ()).throw(AssertionError("Flask")))
        again = client.get("/recommend/user/U5?top_k=2", headers={"X-Request-ID": "again"})
    body = again.get_json()
    assert again.status_code == 200 and again.headers["Content-Type"] == "application/json"
    assert again.headers["X-Request-ID"] == "again" and again.headers["X-Content-Type-Options"] == "nosniff"
    assert body["source"] == "cache" and body["results"] == first["results"]
    assert body["recomm_id"] != first["recomm_id"]  # every answer has an id of its own
    assert int(again.headers["Content-Length"]) == len(again.data)
    assert requests_of("/recommend/user/<path:user_id>") - counted == 1  # counted under its route


def test_another_query_or_a_new_model_is_not_answered_from_memory(client, app):
    assert client.get("/recommend/user/U5?top_k=2").get_json()["source"] == "model"
    assert client.get("/recommend/user/U5?top_k=3").get_json()["source"] == "model"
    assert client.get("/recommend/user/U5?top_k=2&category=").get_json()["source"] == "model"
    app.extensions["recommender"].live.current().version = "a-rebuild"
    assert client.get("/recommend/user/U5?top_k=2").get_json()["source"] == "model"


def test_an_ab_answer_from_memory_is_an_exposure_of_its_variant(client):
    answers = [client.get("/recommend/ab?user_id=U5&top_k=2").get_json() for _ in range(3)]
    assert [a["source"] for a in answers] == ["model", "cache", "cache"]
    variant = answers[0]["variant"]
    assert all(a["variant"] == variant and f"-{variant}-" in a["recomm_id"] for a in answers)
    report = client.get("/ab/report").get_json()
    assert report["variants"][variant]["exposures"] == 3 and report["variants"][variant]["users"] == 1


def test_without_the_cache_nothing_is_kept(config, fake_redis):
    client = create_app(replace(config, cache_enabled=False), redis_client=fake_redis).test_client()
    answers = [client.get("/recommend/user/U5?top_k=2").get_json()["source"] for _ in range(3)]
    assert answers == ["model"] * 3
