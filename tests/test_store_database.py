"""Builds from the store's database: once it holds products, the server, the build command and
a reload read the store from it, and answer as a server built from the same CSV files."""

from __future__ import annotations

import dataclasses
import logging
import time

import sqlalchemy as sa

from recommender import build, ingest
from recommender.storage import schema
from recommender.storage.inputs import CsvInputs, DatabaseInputs, inputs_of
from tests.helpers import INTERACTIONS, PRODUCTS, write

ASKED = [
    "/recommend/user/U5?top_k=5",
    "/recommend/user/U6?top_k=5&strategy=hybrid",
    "/recommend/content/P1?top_k=4",
    "/recommend/hybrid?user_id=U1&product_id=P3&top_k=5",
    "/products?q=mug",
]


def ingested(database: str, tmp_path) -> str:
    """The tiny store loaded into the database by the ingestion jobs."""
    products = write(tmp_path / "in-products.csv", PRODUCTS)
    interactions = write(tmp_path / "in-interactions.csv", INTERACTIONS)
    assert ingest.main(["products", str(products), "--database", database]) == 0
    assert ingest.main(["interactions", str(interactions), "--database", database]) == 0
    schema._upgraded.clear()
    return database


def answers(make_app, config) -> dict[str, object]:
    client = make_app(config).test_client()
    found = {}
    for url in ASKED:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_json())
        found[url] = response.get_json()["results"]
    return found


def test_a_server_built_from_the_database_answers_as_one_built_from_the_csv_files(
    database, config, fake_redis, make_app, tmp_path
):
    from_csv = answers(make_app, config)
    ingested(database, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    no_csv = dataclasses.replace(
        config,
        feedback_db=database,
        products_csv=str(elsewhere / "products.csv"),  # not there: the database is read
        interactions_csv=str(elsewhere / "interactions.csv"),
        artifacts_dir=str(tmp_path / "db-artifacts"),
    )
    fake_redis.flushall()  # the fake server of this test alone
    assert answers(make_app, no_csv) == from_csv


def test_the_csv_files_are_read_until_the_database_holds_products(database, store, tmp_path):
    products, interactions = store
    assert inputs_of(database, products, interactions) == CsvInputs(products, interactions)
    ingested(database, tmp_path)
    assert inputs_of(database, products, interactions) == DatabaseInputs(database)


def test_an_unreadable_database_leaves_the_csv_files(store, caplog):
    products, interactions = store
    with caplog.at_level(logging.ERROR):
        found = inputs_of("postgresql+psycopg://nobody@127.0.0.1:1/none", products, interactions)
    assert found == CsvInputs(products, interactions)
    assert "building from the CSV files" in caplog.text


def test_the_version_follows_the_tables(database, tmp_path):
    from recommender.serving.fitting import ModelSettings, model_version

    ingested(database, tmp_path)
    inputs, settings = DatabaseInputs(database), ModelSettings()
    first = model_version(inputs, settings)
    assert model_version(inputs, settings) == first
    more = write(
        tmp_path / "more.csv", "user_id,product_id,interaction_type,ts\nU9,P2,view,2024-02-01T00:00:00\n"
    )
    assert ingest.main(["interactions", str(more), "--database", database]) == 0
    assert model_version(inputs, settings) != first


def test_the_build_command_reads_the_database_and_the_server_loads_its_model(
    database, config, make_app, tmp_path, monkeypatch, capsys
):
    ingested(database, tmp_path)
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("ARTIFACTS_DIR", str(tmp_path / "built"))
    monkeypatch.setenv("NEIGHBOURS", "10")  # as the config fixture
    build.main([])
    printed = capsys.readouterr().out
    assert "of the products and interactions tables of" in printed
    server = dataclasses.replace(config, feedback_db=database, artifacts_dir=str(tmp_path / "built"))
    app = make_app(server)
    (line,) = [line for line in printed.splitlines() if line.startswith("model ")]
    assert line.split()[1] == app.test_client().get("/health").get_json()["model_version"]


def test_a_reload_reads_the_database_and_the_feedback(database, config, make_app, tmp_path):
    ingested(database, tmp_path)
    server = dataclasses.replace(config, feedback_db=database, admin_token="secret")
    app = make_app(server)
    client, auth = app.test_client(), {"Authorization": "Bearer secret"}
    before = client.get("/health").get_json()
    posted = {"user_id": "U7", "product_id": "P3", "action": "purchase"}
    assert client.post("/feedback", json=posted).status_code == 202
    more = write(
        tmp_path / "more.csv", "user_id,product_id,interaction_type,ts\nU8,P6,purchase,2024-02-01T00:00:00\n"
    )
    assert ingest.main(["interactions", str(more), "--database", database]) == 0
    assert client.post("/admin/reload", headers=auth).status_code == 202
    app.extensions["recommender"].reloader.wait(60)
    status = client.get("/admin/reload", headers=auth).get_json()
    assert status["reload"]["state"] == "done", status
    after = client.get("/health").get_json()
    # the ingested shopper (U8) and the one known from posted feedback (U7) are in the new model
    assert (before["users"], after["users"]) == (6, 8)
    assert before["built"]["from"] == after["built"]["from"] == "database"
    assert after["model_version"] != before["model_version"]


def catalog_rows(database: str) -> dict[str, tuple]:
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT product_id, title, price, available FROM products")).all()
    engine.dispose()
    return {row[0]: tuple(row[1:]) for row in found}


def test_catalog_changes_made_through_the_api_land_in_the_products_table(
    database, config, make_app, tmp_path
):
    ingested(database, tmp_path)
    client = make_app(dataclasses.replace(config, feedback_db=database, admin_token="secret")).test_client()
    auth = {"Authorization": "Bearer secret"}
    assert client.put("/products/P9", json={"title": "Tea Pot", "price": 20}, headers=auth).status_code == 201
    assert client.delete("/products/P1", headers=auth).status_code == 200
    rows = catalog_rows(database)
    assert rows["P9"] == ("Tea Pot", 20.0, True)
    assert rows["P1"] == ("Red Ceramic Mug", 8.5, False)


def test_a_store_whose_catalog_is_its_csv_file_keeps_the_products_table_empty(database, config, make_app):
    client = make_app(dataclasses.replace(config, feedback_db=database, admin_token="secret")).test_client()
    auth = {"Authorization": "Bearer secret"}
    assert client.put("/products/P9", json={"title": "Tea Pot"}, headers=auth).status_code == 201
    assert catalog_rows(database) == {}  # the next build still reads products.csv


def test_an_ingested_record_outlasts_an_earlier_api_change(database, config, make_app, tmp_path):
    ingested(database, tmp_path)
    client = make_app(dataclasses.replace(config, feedback_db=database, admin_token="secret")).test_client()
    auth = {"Authorization": "Bearer secret"}
    renamed = {"title": "Scarlet Mug", "category": "Kitchen"}
    assert client.put("/products/P1", json=renamed, headers=auth).status_code == 200
    assert client.get("/products/P1").get_json()["title"] == "Scarlet Mug"
    feed = write(
        tmp_path / "feed.csv",
        "product_id,title,category,price\nP1,Red Mug,Kitchen,9\nP2,Blue Ceramic Mug,Kitchen,8.5\n",
    )
    assert ingest.main(["products", str(feed), "--database", database]) == 0
    deadline = time.monotonic() + 3
    while client.get("/products/P1").get_json()["title"] != "Red Mug" and time.monotonic() < deadline:
        time.sleep(0.1)  # workers read the changes at least once a second
    served = client.get("/products/P1").get_json()
    assert (served["title"], served["price"]) == ("Red Mug", 9.0)
    assert catalog_rows(database)["P1"] == ("Red Mug", 9.0, True)
    again = ingest.main(["products", str(feed), "--database", database])
    assert again == 0
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        changes = conn.execute(sa.text("SELECT product_id, title FROM catalog_changes ORDER BY id")).all()
    engine.dispose()
    assert [tuple(c) for c in changes] == [("P1", "Scarlet Mug"), ("P1", "Red Mug")]  # P2 had none
