"""Private by default, and no single request that can break the store's data: who may read and
write what, stored rows that cannot stop a rebuild, ids that commit out of order, bounded work."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

import pytest
import sqlalchemy as sa

from app import create_app
from recommender.serving.build_lock import BuildLock
from recommender.serving.live_catalog import CATEGORY_ORDERS
from recommender.serving.reload import LiveModel, Reloader
from recommender.storage.catalog_changes import CatalogStore, Product
from recommender.storage.exposures import ExposureLog, exposures_table
from recommender.storage.feedback import FeedbackEvent, FeedbackStore

TOKEN = "adm1n"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
EVENT = {"user_id": "U1", "product_id": "P2", "action": "view"}


@pytest.fixture
def private(config, fake_redis):
    """The service as deployed on the internet: both tokens set."""
    secured = replace(config, admin_token=TOKEN, events_token="ev3nts")
    return create_app(secured, redis_client=fake_redis).test_client()


# --- who may read and write ----------------------------------------------------------------------


def test_a_shoppers_history_needs_the_admin_token_when_one_is_set(private, client):
    assert private.get("/users/U1").status_code == 401
    assert private.get("/users/U1", headers={"Authorization": "Bearer wrong"}).status_code == 401
    shown = private.get("/users/U1", headers=ADMIN)
    assert shown.status_code == 200 and shown.get_json()["events"]
    assert shown.headers["Cache-Control"] == "no-store"
    assert client.get("/users/U1").status_code == 200  # a local demo (no token set): open


def test_feedback_needs_the_events_token_when_one_is_set(private, client):
    assert private.post("/feedback", json=EVENT).status_code == 401
    refused = private.post("/feedback", json=EVENT, headers={"Authorization": "Bearer adm1n"})
    assert refused.status_code == 401 and "EVENTS_TOKEN" in refused.get_json()["error"]["message"]
    assert (
        private.post("/feedback", json=EVENT, headers={"Authorization": "Bearer ev3nts"}).status_code == 202
    )
    assert client.post("/feedback", json=EVENT).status_code == 202  # no token set: open


def test_posts_without_the_events_token_count_against_no_limit(config, fake_redis):
    secured = replace(config, events_token="ev3nts", feedback_rate_limit="2/minute")
    client = create_app(secured, redis_client=fake_redis).test_client()
    assert [client.post("/feedback", json=EVENT).status_code for _ in range(5)] == [401] * 5
    sent = {"Authorization": "Bearer ev3nts"}
    assert [client.post("/feedback", json=EVENT, headers=sent).status_code for _ in range(3)] == [
        202,
        202,
        429,
    ]


def test_a_new_user_id_per_post_is_limited_per_client_address(config, fake_redis):
    limited = replace(config, feedback_rate_limit="100/minute", feedback_client_rate_limit="3/minute")
    client = create_app(limited, redis_client=fake_redis).test_client()
    answers = [client.post("/feedback", json={**EVENT, "user_id": f"new{i}"}) for i in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert "client address" in answers[-1].get_json()["error"]["message"]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    other = client.post("/feedback", json=EVENT, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 202  # another address has its own count


@pytest.mark.parametrize(("proxies", "statuses"), [(0, [202, 429]), (1, [202, 202])])
def test_the_client_address_comes_from_trusted_proxies_only(config, fake_redis, proxies, statuses):
    limited = replace(config, feedback_client_rate_limit="1/minute", trusted_proxies=proxies)
    client = create_app(limited, redis_client=fake_redis).test_client()
    answers = [
        client.post("/feedback", json=EVENT, headers={"X-Forwarded-For": address}).status_code
        for address in ("203.0.113.1", "203.0.113.2")
    ]
    assert answers == statuses  # untrusted: the header is anyone's to forge, so it is not read


# --- stored rows never stop a rebuild ------------------------------------------------------------


def _store_raw(url: str, rows: list[dict]) -> None:
    """Rows as an earlier release, or a person with a database shell, may have stored them."""
    store = FeedbackStore(url)
    table = sa.Table("feedback", sa.MetaData(), autoload_with=store.engine)
    with store.engine.begin() as conn:
        conn.execute(table.insert(), [{"received_at": datetime(2024, 1, 9), **row} for row in rows])
    store.engine.dispose()


def test_unusable_stored_events_are_skipped_and_counted_and_the_rebuild_goes_on(config, make_app, database):
    app = make_app(replace(config, admin_token=TOKEN, feedback_db=database))
    client = app.test_client()
    _store_raw(
        database,
        [
            {"user_id": "U9", "product_id": "P3", "action": "purchase", "ts": datetime(1000, 1, 1)},
            {"user_id": "U9", "product_id": "P3", "action": "purchase", "ts": datetime(1900, 1, 1)},
            {"user_id": "U9", "product_id": "P3", "action": "liked", "ts": datetime(2024, 1, 9)},
            {"user_id": "U8", "product_id": "P3", "action": "purchase", "ts": datetime(2024, 1, 9)},
        ],
    )
    for _ in range(2):  # and the next rebuild too: the rows stay, and stay harmless
        assert client.post("/admin/reload", headers=ADMIN).status_code == 202
        app.extensions["recommender"].reloader.wait(60)
        health = client.get("/health").get_json()
        assert health["reload"]["state"] == "done", health["reload"]
        assert health["built"]["feedback_skipped"] == 3
        assert health["users"] == 7  # U8's usable event is in; U9 had nothing usable


def test_a_failed_rebuild_says_why_only_to_the_admin(config, fake_redis, store):
    app = create_app(replace(config, admin_token=TOKEN), redis_client=fake_redis)
    client = app.test_client()
    products, _ = store
    products.write_text(products.read_text() + "P1,Duplicate,,,1,\n")
    client.post("/admin/reload", headers=ADMIN)
    app.extensions["recommender"].reloader.wait(60)
    public = client.get("/health").get_json()["reload"]
    assert public["state"] == "failed" and "error" not in public and "P1" not in str(public)
    assert "duplicate product_id 'P1'" in client.get("/health", headers=ADMIN).get_json()["reload"]["error"]


def test_one_rebuild_at_a_time_across_processes(model, tmp_path, database):
    engine = sa.create_engine(database)
    release = threading.Event()

    def slow_build():
        release.wait(30)
        return model

    first = Reloader(LiveModel(model, tmp_path / "a"), BuildLock(engine, tmp_path))
    second = Reloader(LiveModel(model, tmp_path / "b"), BuildLock(engine, tmp_path))  # another process
    try:
        assert first.start(slow_build) is True
        assert second.start(lambda: model) is False  # the first holds the lock
    finally:
        release.set()
        first.wait(30)
    assert second.start(lambda: model) is True  # let go once the first is done
    second.wait(30)
    assert second.status()["state"] == "done"
    engine.dispose()


def test_a_rebuild_asked_while_the_database_is_away_is_a_503_not_a_500(config, fake_redis, monkeypatch):
    app = create_app(replace(config, admin_token=TOKEN), redis_client=fake_redis)
    lock = app.extensions["recommender"].reloader.lock
    monkeypatch.setattr(lock, "engine", sa.create_engine("postgresql://root@127.0.0.1:1/nowhere"))
    answer = app.test_client().post("/admin/reload", headers=ADMIN)
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert "no rebuild started" in answer.get_json()["error"]["message"]
    lock.engine.dispose()


# --- ids that commit out of order on PostgreSQL --------------------------------------------------


def _event(user: str) -> FeedbackEvent:
    return FeedbackEvent(user, "P2", "view", datetime(2024, 2, 1), datetime(2024, 2, 1))


def _read_as_a_worker_does(read, first_commit) -> set:
    """What a reader that asks for the rows after the last id it saw ever sees."""
    seen = {row[0]: row for row in read(0)}
    last = max(seen, default=0)
    first_commit()
    seen.update({row[0]: row for row in read(last)})
    return set(seen)


def test_feedback_committed_out_of_id_order_still_reaches_every_worker(postgres_url):
    store = FeedbackStore(postgres_url)
    holder = store.engine.connect()
    transaction = holder.begin()
    store._insert(holder, _event("first"))  # takes an id, not committed yet
    later = threading.Thread(target=store.add, args=(_event("second"),))
    later.start()
    later.join(timeout=1.0)  # without turns it would commit a higher id now

    def commit_first() -> None:
        transaction.commit()
        later.join(timeout=30)

    ids = _read_as_a_worker_does(store.events_after, commit_first)
    holder.close()
    assert len(ids) == 2 == store.count()
    store.close()


def test_catalog_changes_committed_out_of_id_order_still_reach_every_worker(postgres_url):
    store = FeedbackStore(postgres_url)  # makes the tables
    catalog = CatalogStore(store.engine)
    catalog.add(Product("P0", "Zero"))
    holder = store.engine.connect()
    transaction = holder.begin()
    from recommender.storage.catalog_changes import changes_table
    from recommender.storage.schema import in_id_order

    in_id_order(holder, changes_table)
    holder.execute(
        changes_table.insert().values(
            product_id="P1",
            title="One",
            category="",
            description="",
            img_url="",
            available=True,
            changed_at=datetime(2024, 2, 1),
        )
    )
    later = threading.Thread(target=catalog.add, args=(Product("P2", "Two"),))
    later.start()
    later.join(timeout=1.0)

    def commit_first() -> None:
        transaction.commit()
        later.join(timeout=30)

    ids = _read_as_a_worker_does(lambda last: [(i, p) for i, p in catalog.after(last) if i > 1], commit_first)
    holder.close()
    assert len(ids) == 2
    store.close()


# --- a row the database refuses --------------------------------------------------------------------


def test_an_exposure_the_database_refuses_is_dropped_and_the_rest_are_written(postgres_url):
    store = FeedbackStore(postgres_url)
    exposures = ExposureLog(store.engine, interval=3600)
    for user in ("a", "b\x00c", "d"):  # a NUL no PostgreSQL text column can hold
        exposures.record("exp", user, "hybrid")
    assert exposures.flush() == 2
    exposures.record("exp", "e", "hybrid")
    assert exposures.flush() == 1  # nothing stuck behind the refused row
    with store.engine.connect() as conn:
        users = set(conn.execute(sa.select(exposures_table.c.user_id)).scalars())
    assert users == {"a", "d", "e"}
    store.close()


def test_a_recomm_id_naming_names_longer_than_their_columns_is_stored_unattributed(
    config, make_app, database
):
    client = make_app(replace(config, feedback_db=database)).test_client()
    forged = "x" * 100 + "-hybrid-1"  # within recomm_id's 128 characters; its experiment part is not
    assert client.post("/feedback", json={**EVENT, "recomm_id": forged}).status_code == 202
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT recomm_id, ab_experiment FROM feedback")).one()
    engine.dispose()
    assert row == (forged, None)


# --- bounded work, fresh answers, guarded pages ------------------------------------------------


def test_search_work_is_bounded(client, app):
    assert client.get("/products?q=" + "+".join("abcdefghijk")).status_code == 400
    assert client.get("/products?q=" + "+".join(["a"] * 50)).status_code == 200  # one distinct word
    assert len(client.get("/products?q=&limit=2").get_json()["results"]) == 2


def test_category_orders_kept_are_bounded(client, app):
    for i in range(CATEGORY_ORDERS + 20):
        assert client.get(f"/recommend/user/U1?category=Kitchen,c{i}&top_k=2").status_code == 200
    model = app.extensions["recommender"].live.current()
    live = app.extensions["recommender"].live_catalog(model)
    assert len(live._best) <= CATEGORY_ORDERS and len(live._chosen) <= CATEGORY_ORDERS


def test_a_new_price_or_image_alone_is_in_the_next_detailed_answer(config, fake_redis):
    client = create_app(replace(config, admin_token=TOKEN), redis_client=fake_redis).test_client()
    url = "/recommend/content/P2?top_k=3&details=1"

    def price_of(pid: str) -> float | None:
        return next(r["price"] for r in client.get(url).get_json()["results"] if r["product_id"] == pid)

    assert price_of("P1") == 8.5
    assert client.get(url).get_json()["source"] == "cache"
    body = {"title": "Red Ceramic Mug", "category": "Kitchen", "description": "A red ceramic mug for coffee"}
    assert client.put("/products/P1", json={**body, "price": 7.25}, headers=ADMIN).status_code == 200
    assert price_of("P1") == 7.25
    image = {**body, "price": 7.25, "img_url": "https://img.example.com/p1.jpg"}
    client.put("/products/P1", json=image, headers=ADMIN)
    shown = client.get(url).get_json()["results"]
    assert next(r["img_url"] for r in shown if r["product_id"] == "P1") == image["img_url"]


@pytest.mark.parametrize("path", ["/console", "/console/users/U1", "/docs"])
def test_html_pages_say_what_they_may_load_and_that_no_site_may_frame_them(client, path):
    page = client.get(path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    page.close()
