"""POST /admin/reload: rebuild from the CSVs and stored feedback, switch every process, keep serving."""

from __future__ import annotations

import time

import pytest

from app import create_app
from config import Config
from recommender.serving.artifacts import save
from recommender.serving.fitting import ModelSettings
from recommender.serving.reload import LiveModel
from recommender.serving.service import Recommender
from recommender.serving.signal import ChangeSignal

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin_config(config):
    return Config(**{**vars(config), "admin_token": TOKEN})


@pytest.fixture
def admin_app(admin_config, fake_redis):
    return create_app(admin_config, redis_client=fake_redis)


def reload(app, client):
    response = client.post("/admin/reload", headers=AUTH)
    assert response.status_code == 202
    app.extensions["recommender"].reloader.wait(60)
    return client.get("/admin/reload", headers=AUTH).get_json()


def test_admin_routes_do_not_exist_without_a_token(client):
    assert client.post("/admin/reload").status_code == 404
    assert client.post("/admin/reload", headers=AUTH).status_code == 404
    assert client.get("/admin/reload").get_json()["error"]["code"] == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_a_missing_or_wrong_token_is_401(admin_app, header):
    headers = {"Authorization": header} if header else {}
    response = admin_app.test_client().post("/admin/reload", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.get_json()["error"]["message"]


def test_reload_takes_new_products_and_stored_feedback(admin_app, admin_config, store):
    client = admin_app.test_client()
    before = client.get("/health").get_json()
    cached = client.get("/recommend/user/U5?top_k=2").get_json()
    assert client.get("/recommend/user/U5?top_k=2").get_json()["source"] == "cache"
    products, _ = store
    products.write_text(products.read_text() + "P8,Green Ceramic Mug,Kitchen,A green ceramic mug,9,\n")
    client.post("/feedback", json={"user_id": "U9", "product_id": "P3", "action": "purchase"})

    status = reload(admin_app, client)
    assert status["reload"]["state"] == "done"
    after = client.get("/health").get_json()
    assert after["model_version"] == status["reload"]["version"] != before["model_version"]
    assert (after["products"], after["users"]) == (8, 7)  # the new product; U9 from stored feedback
    assert "P8" in [
        r["product_id"] for r in client.get("/recommend/content/P1?top_k=3").get_json()["results"]
    ]
    fresh = client.get("/recommend/user/U5?top_k=2").get_json()
    assert fresh["source"] == "model" and cached["source"] == "model"  # old entries are not reused


def test_a_bad_csv_keeps_the_old_model_serving(admin_app, store):
    client = admin_app.test_client()
    version = client.get("/health").get_json()["model_version"]
    products, _ = store
    products.write_text(products.read_text() + "P1,Duplicate,,,1,\n")
    status = reload(admin_app, client)
    assert status["reload"]["state"] == "failed"
    assert "line 9, column product_id: duplicate product_id 'P1'" in status["reload"]["error"]
    health = client.get("/health").get_json()
    assert health["model_version"] == version and health["reload"]["state"] == "failed"
    assert client.get("/recommend/user/U5?top_k=2").status_code == 200


def test_every_process_switches_to_the_published_model(admin_config, fake_redis, store):
    one = create_app(admin_config, redis_client=fake_redis)  # two workers sharing ARTIFACTS_DIR
    two = create_app(admin_config, redis_client=fake_redis)
    products, _ = store
    products.write_text(products.read_text() + "P8,Green Ceramic Mug,Kitchen,A green ceramic mug,9,\n")
    status = reload(one, one.test_client())
    assert two.test_client().get("/health").get_json()["model_version"] == status["reload"]["version"]
    assert two.test_client().get("/recommend/content/P8?top_k=1").status_code == 200


def test_a_replica_on_another_machine_switches_within_a_second(model, store, tmp_path, monkeypatch):
    here = LiveModel(model, tmp_path / "artifacts")
    there = LiveModel(model, tmp_path / "artifacts")  # sharing the folder from another machine:
    here.news = ChangeSignal(tmp_path / "this machine" / "MODEL_SIGNAL")  # its bumps do not reach here
    assert here.current() is model
    rebuilt = Recommender.from_csv(*store, ModelSettings(neighbours=5))
    save(rebuilt, there.directory)
    there.publish(rebuilt)
    assert here.current() is model  # this machine heard of no publish: CURRENT is looked at once a second
    later = time.monotonic() + 1.1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert here.current().version == rebuilt.version
