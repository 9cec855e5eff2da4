"""The live catalog (PUT / DELETE /products) and the per-request filters, through the routes."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from app import create_app
from config import Config
from tests.helpers import synthetic_store

ADMIN = {"Authorization": "Bearer s3cret"}
MUG = {"title": "Green Ceramic Mug", "category": "Kitchen", "description": "A green ceramic mug for coffee"}
ROUTES = [
    "/recommend/content/P1?top_k=4",
    "/recommend/content/P2?top_k=4",
    "/recommend/user/U5?top_k=4",
    "/recommend/user/stranger?top_k=4",
    "/recommend/hybrid?user_id=U5&top_k=4",
    "/recommend/hybrid?user_id=U5&product_id=P2&top_k=4",
    "/recommend/hybrid?product_id=P1&top_k=4",
    *[f"/recommend/ab?user_id={u}&top_k=4" for u in ("U1", "U5", "U6", "x1", "x2", "x3")],
]


@pytest.fixture
def admin_app(config, fake_redis):
    return create_app(replace(config, admin_token="s3cret"), redis_client=fake_redis)


@pytest.fixture
def admin(admin_app):
    return admin_app.test_client()


def ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [r["product_id"] for r in response.get_json()["results"]]


def stored_changes(app) -> int:
    engine = app.extensions["recommender"].feedback.engine
    with engine.connect() as conn:
        try:
            return conn.execute(sa.text("SELECT count(*) FROM catalog_changes")).scalar_one()
        except sa.exc.OperationalError:
            return 0


def test_an_added_product_is_served_from_its_text_at_once(admin):
    response = admin.put("/products/N1", json=MUG, headers=ADMIN)
    assert response.status_code == 201 and response.get_json()["status"] == "created"
    own = ids(admin.get("/recommend/content/N1?top_k=3"))
    assert own[:2] == ["P1", "P2"] or own[:2] == ["P2", "P1"]  # the other ceramic mugs
    assert ids(admin.get("/recommend/content/P1?top_k=3"))[0] == "N1"  # the nearest to the red mug now
    # U5 has the red mug only: the new mug takes an early place in their personal answers.
    hybrid = ids(admin.get("/recommend/hybrid?user_id=U5&top_k=5"))
    assert hybrid.index("N1") <= 2
    assert admin.get("/products/N1").get_json() == {
        "product_id": "N1",
        **MUG,
        "price": None,
        "img_url": "",
        "available": True,
    }
    assert admin.put("/products/N1", json={**MUG, "price": 7.5}, headers=ADMIN).status_code == 200
    assert admin.get("/products/N1").get_json()["price"] == 7.5
    feedback = {"user_id": "U9", "product_id": "N1", "action": "clicked"}
    assert admin.post("/feedback", json=feedback).status_code == 202  # a product the service knows now


STRATEGIES = ("content", "collaborative", "hybrid", "popularity", "ranked")


@pytest.mark.parametrize("action", ["purchase", "view"])
def test_an_added_product_the_user_has_is_never_offered_back_on_any_route(admin, action):
    admin.put("/products/N1", json=MUG, headers=ADMIN)
    personal = [
        *(f"/recommend/user/U5?top_k=6&strategy={s}" for s in STRATEGIES),
        "/recommend/hybrid?user_id=U5&top_k=6",
        "/recommend/hybrid?user_id=U5&product_id=P2&top_k=6",
        "/recommend/hybrid?user_id=U5&product_id=N1&top_k=6",
        "/recommend/ab?user_id=U5&top_k=6",
        "/recommend/ab?user_id=U5&product_id=P1&top_k=6",
        "/recommend/user/U5?top_k=6&category=Kitchen",
    ]
    assert "N1" in ids(admin.get(personal[2]))  # the new mug is offered to U5 (red mug) at first
    for url in personal:
        admin.get(url)  # and cached
    assert (
        admin.post("/feedback", json={"user_id": "U5", "product_id": "N1", "action": action}).status_code
        == 202
    )
    for url in personal:
        assert "N1" not in ids(admin.get(url)), url


def test_a_changed_title_is_served_and_its_text_placed_again(admin):
    body = {
        "title": "Garden Trowel Deluxe Mug",
        "category": "Kitchen",
        "description": "ceramic mug",
        "price": 9,
    }
    assert admin.put("/products/P6", json=body, headers=ADMIN).status_code == 200
    results = admin.get("/recommend/content/P1?top_k=4").get_json()["results"]
    titles = {r["product_id"]: r["title"] for r in results}
    assert titles.get("P6") == "Garden Trowel Deluxe Mug"
    assert "P1" in ids(admin.get("/recommend/content/P6?top_k=3"))


def test_a_withdrawn_product_leaves_every_route_cached_or_not_and_comes_back(admin):
    before = {url: ids(admin.get(url)) for url in ROUTES}
    assert any("P4" in found for found in before.values())
    assert all(admin.get(url).get_json()["source"] == "cache" for url in ROUTES)
    assert admin.delete("/products/P4", headers=ADMIN).status_code == 200
    for url in ROUTES:
        answer = admin.get(url)
        assert "P4" not in ids(answer), url
        assert len(ids(answer)) == len(before[url]), url  # filled up again
    assert admin.get("/products/P4").get_json()["available"] is False
    back = {"title": "Espresso Coffee Beans", "category": "Coffee", "available": True}
    assert admin.put("/products/P4", json=back, headers=ADMIN).status_code == 200
    assert any("P4" in ids(admin.get(url)) for url in ROUTES)


def test_an_added_then_withdrawn_product_is_never_shown(admin):
    admin.put("/products/N1", json=MUG, headers=ADMIN)
    assert admin.delete("/products/N1", headers=ADMIN).status_code == 200
    assert all("N1" not in ids(admin.get(url)) for url in ROUTES)
    assert ids(admin.get("/recommend/content/N1?top_k=3"))  # still known: its neighbours answer


def test_changes_survive_a_restart_and_a_rebuild_folds_them_in(admin, admin_app, config, fake_redis):
    admin.put("/products/N1", json=MUG, headers=ADMIN)
    admin.delete("/products/P4", headers=ADMIN)
    restarted = create_app(replace(config, admin_token="s3cret"), redis_client=fake_redis).test_client()
    assert ids(restarted.get("/recommend/content/P1?top_k=3"))[0] == "N1"
    assert all("P4" not in ids(restarted.get(url)) for url in ROUTES)
    old = restarted.get("/health").get_json()["model_version"]
    assert restarted.post("/admin/reload", headers=ADMIN).status_code == 202
    svc = restarted.application.extensions["recommender"]
    svc.reloader.wait(60)
    model = svc.live.current()
    assert model.version != old and "N1" in model.catalog.index  # part of the model now
    assert ids(restarted.get("/recommend/content/P1?top_k=3"))[0] == "N1"
    assert all("P4" not in ids(restarted.get(url)) for url in ROUTES)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"title": ""},
        {"title": "x" * 1001},
        {"title": "Mug", "price": -1},
        {"title": "Mug", "price": "12"},
        {"title": "Mug", "price": True},
        {"title": "Mug", "available": "yes"},
        {"title": "Mug", "img_url": "javascript:alert(1)"},
        {"title": "Mug", "colour": "green"},
        {"title": 12},
    ],
)
def test_a_bad_body_is_a_400_and_nothing_is_stored(admin, admin_app, body):
    response = admin.put("/products/N1", json=body, headers=ADMIN)
    assert response.status_code == 400 and response.get_json()["error"]["message"]
    assert stored_changes(admin_app) == 0
    assert admin.get("/products/N1").status_code == 404


def test_the_catalog_routes_need_the_admin_token(admin, client):
    assert admin.put("/products/N1", json=MUG).status_code == 401
    assert admin.delete("/products/P1").status_code == 401
    assert admin.delete("/products/NOPE", headers=ADMIN).status_code == 404
    assert client.put("/products/N1", json=MUG).status_code == 404  # no ADMIN_TOKEN: no such route


@pytest.fixture
def shop(tmp_path, fake_redis):
    products, interactions = synthetic_store(tmp_path, users=120, products=40)
    config = Config(
        products_csv=str(products),
        interactions_csv=str(interactions),
        feedback_db=f"sqlite:///{tmp_path / 'feedback.db'}",
        artifacts_dir=str(tmp_path / "artifacts"),
        ranker=False,
        admin_token="s3cret",
    )
    return create_app(config, redis_client=fake_redis).test_client()


SHOP_ROUTES = [
    "/recommend/content/S1?top_k=8",
    "/recommend/user/V3?top_k=8",
    "/recommend/user/stranger?top_k=8",
    "/recommend/hybrid?user_id=V3&top_k=8",
    "/recommend/hybrid?user_id=V3&product_id=S2&top_k=8",
    "/recommend/ab?user_id=V3&top_k=8",
    "/recommend/ab?user_id=V4&top_k=8",
]


@pytest.mark.parametrize("url", SHOP_ROUTES)
def test_a_category_filter_returns_only_that_category_at_full_length(shop, url):
    for wanted in ("Garden", "garden,Toys"):
        found = ids(shop.get(f"{url}&category={wanted}"))
        allowed = {w.casefold() for w in wanted.split(",")}
        assert len(found) == 8 and len(set(found)) == 8
        for pid in found:
            assert shop.get(f"/products/{pid}").get_json()["category"].casefold() in allowed


@pytest.mark.parametrize("url", SHOP_ROUTES)
def test_excluded_products_are_never_returned_and_the_list_stays_full(shop, url):
    first = ids(shop.get(url))
    found = ids(shop.get(f"{url}&exclude={','.join(first[:3])}"))
    assert len(found) == 8 and not set(first[:3]) & set(found)
    assert found[:5] == first[3:]  # the same answer, further down


@pytest.mark.parametrize("url", SHOP_ROUTES)
def test_a_category_filter_with_excluded_products_leaves_them_out(shop, url):
    first = ids(shop.get(f"{url}&category=garden,Toys"))
    found = ids(shop.get(f"{url}&category=garden,Toys&exclude={','.join(first[:3])}"))
    assert len(found) == 8 and not set(first[:3]) & set(found)
    assert found[:5] == first[3:]


def test_scores_stay_in_order_under_filters(shop):
    for url in SHOP_ROUTES:
        scores = [r["score"] for r in shop.get(f"{url}&category=Books").get_json()["results"]]
        assert scores == sorted(scores, reverse=True), url


def test_a_product_moved_to_another_category_is_filtered_by_its_new_one(shop):
    moved = ids(shop.get("/recommend/user/V3?top_k=8&category=Garden"))[0]
    title = shop.get(f"/products/{moved}").get_json()["title"]
    moving = shop.put(f"/products/{moved}", json={"title": title, "category": "Toys"}, headers=ADMIN)
    assert moving.status_code == 200
    assert moved not in ids(shop.get("/recommend/user/V3?top_k=8&category=Garden"))
    assert moved in ids(shop.get("/recommend/user/V3?top_k=40&category=toys"))


def test_a_filter_naming_no_category_of_the_catalog_answers_empty(shop):
    assert ids(shop.get("/recommend/user/V3?category=Nothing")) == []


def test_filters_are_checked(shop):
    too_many = ",".join(f"p{i}" for i in range(501))
    assert shop.get(f"/recommend/user/V3?exclude={too_many}").status_code == 400
    assert shop.get(f"/recommend/user/V3?category={'x' * 300}").status_code == 400


def test_prices_are_served_as_the_catalog_wrote_them(admin, tmp_path, fake_redis):
    assert admin.get("/products/P1").get_json()["price"] == 8.5
    products = tmp_path / "priced.csv"
    products.write_text("product_id,title,price\nA,Tea cup,5.33\nB,Tea pot,19.99\n")
    interactions = tmp_path / "none.csv"
    interactions.write_text("user_id,product_id,interaction_type,ts\n")
    config = Config(
        products_csv=str(products),
        interactions_csv=str(interactions),
        feedback_db=f"sqlite:///{tmp_path / 'p.db'}",
        artifacts_dir=str(tmp_path / "priced-artifacts"),
    )
    priced = create_app(config, redis_client=fake_redis).test_client()
    assert [r["price"] for r in priced.get("/products?q=tea").get_json()["results"]] == [5.33, 19.99]
    shop_price = admin.get("/products?q=knife").get_json()["results"][0]["price"]
    assert shop_price == 30.0
    results = admin.get("/recommend/content/P1?top_k=3&details=1").get_json()["results"]
    assert all(r["price"] is None or r["price"] == round(r["price"], 2) for r in results)
