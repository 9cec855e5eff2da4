"""Build the model artifacts ahead of time, so servers start by loading them.

    python -m recommender.build                      # inputs and settings from the environment
    python -m recommender.build --products P.csv --interactions I.csv --out artifacts/

It reads the same environment variables as the server (DATABASE_URL, PRODUCTS_CSV,
INTERACTIONS_CSV, ARTIFACTS_DIR, INTERACTION_WEIGHTS, ...), so the version it writes is the one
the server looks for. Like the server, it reads the store from the database once the database
holds products (see `python -m recommender.ingest`), otherwise from the CSV files.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import logs
from config import Config
from recommender.serving.artifacts import save
from recommender.serving.service import ModelSettings, Recommender
from recommender.storage.inputs import CsvInputs, StoreInputs, inputs_of


def model_settings(config: Config) -> ModelSettings:
    """The model settings a Config asks for."""
    return ModelSettings(
        interaction_weights=dict(config.interaction_weights),
        recency_days=config.recency_days,
        neighbours=config.neighbours,
        w_content=config.hybrid_w_content,
        w_cf=config.hybrid_w_cf,
        new_item_weight=config.new_item_weight,
        ranker=config.ranker,
        ranker_max_users=config.ranker_max_users,
        ranker_seed=config.ranker_seed,
        text_lists_max_users=config.text_lists_max_users,
    )


def store_inputs(config: Config) -> StoreInputs:
    """Where the store is read from: the database once it holds products, else the CSV files."""
    return inputs_of(config.feedback_db, config.products_csv, config.interactions_csv)


def main(argv: Sequence[str] | None = None) -> None:
    config = Config.from_env()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", help="products CSV (default: the database, else PRODUCTS_CSV)")
    parser.add_argument(
        "--interactions", help="interactions CSV (default: the database, else INTERACTIONS_CSV)"
    )
    parser.add_argument(
        "--out", default=config.artifacts_dir, help="artifacts folder (default: ARTIFACTS_DIR)"
    )
    args = parser.parse_args(argv)
    logs.configure(config.log_format)
    started = time.perf_counter()
    if args.products or args.interactions:
        inputs: StoreInputs = CsvInputs(
            Path(args.products or config.products_csv), Path(args.interactions or config.interactions_csv)
        )
    else:
        inputs = store_inputs(config)
    model = Recommender.from_inputs(inputs, model_settings(config))
    folder = save(model, args.out)
    print(
        f"model {model.version} of {inputs.description} in {folder} ({time.perf_counter() - started:.1f} s)"
    )


if __name__ == "__main__":
    main()
