"""What a user's list costs when it is summed per request rather than looked up from the build.

    python -m recommender.build --products P --interactions I --out /tmp/model
    python bench/user_lists.py /tmp/model/<version>     # a saved model's folder

Times, per user (a random 3,000, each asked once before the timed pass so the pages they touch
are in memory): the text-profile list summed from the text neighbours of the user's products
(what the content and hybrid answers do for a user with feedback since the build, and for every
user of a model saved before stores with more than TEXT_LISTS_MAX_USERS users kept the lists),
the collaborative list looked up, and the answers that use them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommender.models.merging import gather, top_n  # noqa: E402
from recommender.serving.artifacts import load  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", type=Path, help="a saved model's folder")
    parser.add_argument("--users", type=int, default=3000)
    args = parser.parse_args()
    model = load(args.folder)
    ids = list(model.history.user_index)
    rng = np.random.default_rng(0)
    users = [ids[i] for i in rng.choice(len(ids), min(args.users, len(ids)), replace=False)]
    product = model.catalog.product_ids[0]

    def summed(user: str) -> None:
        items, weights = model.history.items_of(user)
        top_n(*gather(model.similar_items, items, weights, exclude=items), 100)

    timed: dict[str, Callable[[str], object]] = {
        "text-profile list summed now (100 items)": summed,
        "collaborative list looked up (100 items)": lambda u: model.user_cf.of(
            model.history.user_index[u], 100
        ),
        "content answer, user only (top_k=10)": lambda u: model.content_for(u, None, 10),
        "hybrid answer, user and product (top_k=10)": lambda u: model.hybrid(u, product, 10),
        "collaborative answer (top_k=10)": lambda u: model.for_user(u, 10),
    }
    for f in timed.values():  # the pages these users touch, in memory before timing
        for user in users:
            f(user)
    sizes = [len(model.history.items_of(u)[0]) for u in users]
    kept = "kept" if model.user_text.table.k else "not kept"
    print(f"{len(users)} users, {np.mean(sizes):.1f} products each on average; text-profile lists {kept}")
    for name, f in timed.items():
        started = time.perf_counter()
        for user in users:
            f(user)
        print(f"{name}: {(time.perf_counter() - started) / len(users) * 1e6:.0f} us per user")


if __name__ == "__main__":
    main()
