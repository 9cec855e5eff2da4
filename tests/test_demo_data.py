"""The shipped demo store is what the generator makes, and has the structure the README promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parent.parent / "data"


def test_shipped_files_are_reproducible(tmp_path):
    subprocess.run([sys.executable, str(DATA / "generate_demo.py"), "--out", str(tmp_path)], check=True)
    for name in ("products.csv", "interactions.csv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), f"stale data/{name}: make data"


def test_demo_store_size_and_ids():
    products = pd.read_csv(DATA / "products.csv", dtype=str)
    interactions = pd.read_csv(DATA / "interactions.csv", dtype=str)
    assert len(products) >= 5000 and len(interactions) >= 50000
    assert {"P001", "P002"} <= set(products["product_id"])
    assert {"U001", "U002"} <= set(interactions["user_id"])
    assert set(interactions["interaction_type"]) == {"view", "add_to_cart", "purchase"}
    months = pd.to_datetime(interactions["ts"]).dt.to_period("M").nunique()
    assert months >= 5
    assert products["category"].nunique() >= 10


@pytest.fixture(scope="module")
def model_on_demo(demo_model):
    return demo_model


def test_similar_items_share_the_category(model_on_demo):
    same = [
        model_on_demo.catalog.categories[model_on_demo.catalog.position(r.product_id)]
        for pid in ("P001", "P900", "P2500")
        for r in model_on_demo.similar(pid, 5)
    ]
    categories = model_on_demo.catalog.categories
    assert same[:5] == [categories[model_on_demo.catalog.position("P001")]] * 5
    assert len(same) == 15


def test_user_recommendations_follow_their_tastes(model_on_demo):
    catalog, history = model_on_demo.catalog, model_on_demo.history
    tastes = set(catalog.categories[history.items_of("U001")[0]])
    results = model_on_demo.for_user("U001", 10)
    assert sum(catalog.categories[catalog.position(r.product_id)] in tastes for r in results) >= 8
