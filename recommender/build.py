"""Build the model artifacts ahead of time, so servers start by loading them.

    python -m recommender.build                      # inputs and settings from the environment
    python -m recommender.build --products P.csv --interactions I.csv --out artifacts/

It reads the same environment variables as the server (PRODUCTS_CSV, INTERACTIONS_CSV,
ARTIFACTS_DIR, INTERACTION_WEIGHTS, ...), so the version it writes is the one the server looks for.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import logs
from config import Config
from recommender.serving.artifacts import save
from recommender.serving.service import ModelSettings, Recommender


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


def main(argv: Sequence[str] | None = None) -> None:
    config = Config.from_env()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", default=config.products_csv)
    parser.add_argument("--interactions", default=config.interactions_csv)
    parser.add_argument(
        "--out", default=config.artifacts_dir, help="artifacts folder (default: ARTIFACTS_DIR)"
    )
    args = parser.parse_args(argv)
    logs.configure(config.log_format)
    started = time.perf_counter()
    model = Recommender.from_csv(args.products, args.interactions, model_settings(config))
    folder = save(model, args.out)
    print(f"model {model.version} in {folder} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
