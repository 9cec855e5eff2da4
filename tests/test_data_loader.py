from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from recommender.data.data_loader import load_catalog, load_interactions
from recommender.errors import DataError, UnknownProductError
from recommender.storage.catalog_changes import Product, fold
from tests.helpers import write

TYPES = ("view", "add_to_cart", "purchase")


def test_catalog_reads_products_in_file_order(store):
    catalog = load_catalog(store[0])
    assert len(catalog) == 7
    assert catalog.position("P1") == 0 and catalog.position("P7") == 6
    assert catalog.titles[3] == "Espresso Coffee Beans"
    assert catalog.categories[6] == "" and catalog.descriptions[6] == ""
    assert "P4" in catalog and "P9" not in catalog
    with pytest.raises(UnknownProductError, match="P9"):
        catalog.position("P9")


def test_titles_only_catalog_and_extra_columns(tmp_path):
    path = write(tmp_path / "p.csv", "product_id,title,stock,colour\nA,Lamp,3,red\nB,Lamp Shade,1,blue\n")
    catalog = load_catalog(path)
    assert list(catalog.product_ids) == ["A", "B"]
    assert list(catalog.categories) == ["", ""]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "p.csv: the file is empty"),
        ("product_id,title\n", "p.csv: no products"),
        ("product_id,name\nA,x\n", "p.csv line 1: missing column\\(s\\) title"),
        (
            "product_id,title\nA,x\nB,y\nA,z\n",
            "p.csv line 4, column product_id: duplicate product_id 'A' \\(first on line 2\\)",
        ),
        ("product_id,title\nA,x\n,y\n", "p.csv line 3, column product_id: empty product_id"),
    ],
)
def test_bad_catalogs_stop_with_file_line_and_column(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        load_catalog(write(tmp_path / "p.csv", text))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.csv: file not found"):
        load_catalog(tmp_path / "nope.csv")


def test_interactions_map_to_catalog_rows(store):
    catalog = load_catalog(store[0])
    frame = load_interactions(store[1], catalog, TYPES)
    assert len(frame) == 13
    assert list(frame.columns) == ["user_id", "item", "interaction_type", "ts"]
    assert frame["item"].iloc[0] == 0
    assert frame["ts"].dtype == "datetime64[ns]"  # UTC, without a zone
    assert str(frame["ts"].iloc[0]) == "2024-01-01 10:00:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "i.csv: the file is empty"),
        ("user_id,product_id,ts\n", "i.csv line 1: missing column\\(s\\) interaction_type"),
        (
            "user_id,product_id,interaction_type,ts\nU1,P1,view,2024-01-01\nU1,P2,view,yesterday\n",
            "i.csv line 3, column ts: 'yesterday' is not an ISO 8601 time",
        ),
        (
            "user_id,product_id,interaction_type,ts\n,P1,view,2024-01-01\n",
            "i.csv line 2, column user_id: empty",
        ),
    ],
)
def test_bad_interactions_stop_with_file_line_and_column(store, tmp_path, text, message):
    catalog = load_catalog(store[0])
    with pytest.raises(DataError, match=message):
        load_interactions(write(tmp_path / "i.csv", text), catalog, TYPES)


def test_unknown_products_and_types_are_skipped_and_counted(store, tmp_path, caplog):
    catalog = load_catalog(store[0])
    text = (
        "user_id,product_id,interaction_type,ts\n"
        "U1,P1,view,2024-01-01T00:00:00Z\n"
        "U1,GONE,view,2024-01-01T00:00:00+02:00\n"
        "U1,GONE,purchase,2024-01-02\n"
        "U1,P2,wishlist,2024-01-02\n"
        "U1,P2,PURCHASE,2024-01-03\n"
    )
    with caplog.at_level(logging.WARNING):
        frame = load_interactions(write(tmp_path / "i.csv", text), catalog, TYPES)
    assert frame["item"].tolist() == [0, 1]
    assert frame["interaction_type"].tolist() == ["view", "purchase"]
    assert "skipped 2 rows whose product_id is not in the catalog (e.g. 'GONE' on line 3)" in caplog.text
    assert "skipped 1 rows whose interaction_type is not one of" in caplog.text


def test_header_only_interactions_is_a_store_without_history(store, tmp_path):
    catalog = load_catalog(store[0])
    frame = load_interactions(
        write(tmp_path / "i.csv", "user_id,product_id,interaction_type,ts\n"), catalog, TYPES
    )
    assert frame.empty


def test_interactions_read_in_chunks_are_the_whole_file(store):
    catalog = load_catalog(store[0])
    whole = load_interactions(store[1], catalog, TYPES)
    for rows in (1, 2, 3, len(whole) + 1):
        chunked = load_interactions(store[1], catalog, TYPES, chunk_rows=rows)
        pd.testing.assert_frame_equal(chunked, whole)


def test_a_user_id_is_held_once_whichever_chunks_it_is_in(store, tmp_path):
    catalog = load_catalog(store[0])
    rows = [
        "U1,P1,view,2024-01-01",
        " U1 ,P2,view,2024-01-02",
        "U2,P1,view,2024-01-03",
        "U1,P1,view,2024-01-04",
    ]
    path = write(tmp_path / "i.csv", "\n".join(["user_id,product_id,interaction_type,ts", *rows]) + "\n")
    users = load_interactions(path, catalog, TYPES, chunk_rows=1)["user_id"].tolist()
    assert users == ["U1", "U1", "U2", "U1"]
    assert users[0] is users[1] is users[3]  # one string, not a copy per chunk


def test_chunks_keep_file_lines_in_errors_and_warnings(store, tmp_path, caplog):
    catalog = load_catalog(store[0])
    rows = [
        "U1,P1,view,2024-01-01",
        "U1,P2,wishlist,2024-01-01",
        "U2,P1,view,2024-01-02",
        "U2,GONE,view,2024-01-02",
        "U2,GONE,view,2024-01-03",
        "U3,P2,purchase,2024-01-04",
    ]
    path = write(tmp_path / "i.csv", "\n".join(["user_id,product_id,interaction_type,ts", *rows]) + "\n")
    with caplog.at_level(logging.WARNING):
        frame = load_interactions(path, catalog, TYPES, chunk_rows=2)
    assert frame["user_id"].tolist() == ["U1", "U2", "U3"]
    assert "skipped 2 rows whose product_id is not in the catalog (e.g. 'GONE' on line 5)" in caplog.text
    assert "skipped 1 rows whose interaction_type is not one of" in caplog.text
    assert "'wishlist' on line 3" in caplog.text

    bad = write(tmp_path / "bad.csv", path.read_text().replace("2024-01-03", "soon"))
    with pytest.raises(DataError, match="bad.csv line 6, column ts: 'soon'"):
        load_interactions(bad, catalog, TYPES, chunk_rows=2)


def test_a_log_whose_rows_are_all_skipped_says_so(store, tmp_path, caplog):
    catalog = load_catalog(store[0])
    path = write(
        tmp_path / "i.csv",
        "user_id,product_id,interaction_type,ts\nU1,GONE,wishlist,2024-01-01\nU1,P1,wishlist,2024-01-01\n",
    )
    with caplog.at_level(logging.WARNING):
        frame = load_interactions(path, catalog, TYPES, chunk_rows=1)
    assert frame.empty and list(frame.columns) == ["user_id", "item", "interaction_type", "ts"]
    assert "i.csv: no usable rows" in caplog.text


def test_a_gzipped_log_reads_as_the_plain_one(store, tmp_path):
    import gzip

    catalog = load_catalog(store[0])
    packed = tmp_path / "interactions.csv.gz"
    packed.write_bytes(gzip.compress(store[1].read_bytes()))
    pd.testing.assert_frame_equal(
        load_interactions(packed, catalog, TYPES), load_interactions(store[1], catalog, TYPES)
    )


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        (
            ["2024-01-01T10:00:00Z", "2024-01-01T12:00:00+02:00"],
            ["2024-01-01 10:00:00", "2024-01-01 10:00:00"],
        ),
        ([" 2024-01-01T10:00:00 ", "2024-01-02"], ["2024-01-01 10:00:00", "2024-01-02 00:00:00"]),
        (["2024-01-01T10:00:00Z", "2024-01-02"], ["2024-01-01 10:00:00", "2024-01-02 00:00:00"]),  # a mix
    ],
)
def test_times_with_and_without_a_zone_are_naive_utc(store, tmp_path, times, expected):
    catalog = load_catalog(store[0])
    rows = [f"U1,P1,view,{t}" for t in times]
    path = write(tmp_path / "i.csv", "\n".join(["user_id,product_id,interaction_type,ts", *rows]) + "\n")
    assert [str(t) for t in load_interactions(path, catalog, TYPES)["ts"]] == expected


@pytest.mark.parametrize(
    "body", [b"U1,P1,view,2024-01-01\nU\xff\xfe,P1,view,2024-01-01\n", b"U1,P1,view,2024-01-01\nU1,P1\n"]
)
def test_bytes_that_are_not_utf8_or_a_short_line_stop_the_read(store, tmp_path, body):
    catalog = load_catalog(store[0])
    path = tmp_path / "i.csv"
    path.write_bytes(b"user_id,product_id,interaction_type,ts\n" + body)
    with pytest.raises(DataError, match="i.csv: not a readable CSV file"):
        load_interactions(path, catalog, TYPES)


def test_a_quoted_value_may_hold_a_line_break(store, tmp_path):
    catalog = load_catalog(store[0])
    path = write(tmp_path / "i.csv", 'user_id,product_id,interaction_type,ts\n"U\n1",P1,view,2024-01-01\n')
    assert load_interactions(path, catalog, TYPES)["user_id"].tolist() == ["U\n1"]


def test_prices_that_are_no_usable_number_are_unknown(tmp_path):
    rows = ["P1,A,12.5", "P2,B,", "P3,C,free", "P4,D,-3", "P5,E,1E100", "P6,F,inf"]
    catalog = load_catalog(write(tmp_path / "p.csv", "\n".join(["product_id,title,price", *rows]) + "\n"))
    assert catalog.prices[0] == 12.5 and np.isnan(catalog.prices[1:]).all()


def test_prices_from_the_catalog_api_beyond_the_models_prices_are_unknown_as_in_the_csv(tmp_path):
    """The API takes any finite price >= 0; one that 32-bit prices cannot hold folds in as unknown."""
    catalog = load_catalog(write(tmp_path / "p.csv", "product_id,title,price\nP1,A,12.5\nP2,B,3\n"))
    changes = [
        (1, Product("P1", "A", price=1e300)),
        (2, Product("P9", "New", price=1e39)),
        (3, Product("P2", "B", price=4.0)),
    ]
    prices = fold(catalog, changes).prices
    assert np.isnan(prices[0]) and prices[1] == 4.0 and np.isnan(prices[2])
