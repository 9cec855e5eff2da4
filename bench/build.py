"""Build benchmark: time and peak memory of `python -m recommender.build` against catalog size,
and the collaborative fit beside implicit's item-KNN fit on the same matrix, in one run (with the
cosine pass the collaborative fit starts from, timed alone: one top-100 sparse product, the work
an item-KNN fit does).

    python bench/build.py                          # 5K (the demo store) and 100K products
    python bench/build.py --sizes 5000,100000,1000000

Synthetic stores come from data/generate_demo.py (kept under --stores between runs):
5K is the shipped demo store; 100K products have 200K users and 5M interactions; 1M products
have 1M users and 20M interactions. With --flat the stores have a flatter popularity curve,
longer descriptions and more interactions (85 per product: at 100K the top 1% of products hold
30% of the buyers, the median product has 21 and users 28): the regression's hardest case.

    python bench/build.py --sizes 100000 --flat --no-versus
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memory import PeakSampler

ROOT = Path(__file__).resolve().parent.parent
STORES = {100_000: (200_000, 5_000_000), 1_000_000: (1_000_000, 20_000_000)}
FLAT = ["--skew", "0.85", "--phrases", "6"]  # generator options of a --flat store

# Runs one build in a fresh process and prints its seconds and peak resident memory as JSON.
BUILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from recommender.build import main
started = time.perf_counter()
main(["--products", {products!r}, "--interactions", {interactions!r}, "--out", {out!r}])
print("STATS " + json.dumps({{"seconds": time.perf_counter() - started}}))
"""

# Fits the collaborative model and implicit's item-KNN on the same user-item matrix.
VERSUS = """
import json, sys, time, warnings
sys.path.insert(0, {root!r})
from recommender.build import model_settings
from config import Config
from recommender.models.collaborative import ItemItemModel, CollaborativeConfig
from recommender.data.data_loader import load_catalog, load_interactions
from recommender.data.history import UserHistory
from recommender.models.neighbours import top_k_neighbours
from sklearn.preprocessing import normalize
from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
from implicit.utils import ParameterWarning
warnings.simplefilter("ignore", ParameterWarning)
settings = model_settings(Config())
catalog = load_catalog({products!r})
rows = load_interactions({interactions!r}, catalog, settings.interaction_weights)
history = UserHistory.build(rows, len(catalog), settings.history)
matrix = history.matrix.copy()
matrix.data[:] = 1.0
out = {{}}
started = time.perf_counter()
ItemItemModel(CollaborativeConfig(neighbours=settings.neighbours)).fit(history)
out["ours"] = time.perf_counter() - started
# The first step of that fit alone: the cosine pass that finds each item's 100 candidates.
started = time.perf_counter()
unit = normalize(matrix.T.tocsr())
top_k_neighbours(unit, unit, 100)
out["pass"] = time.perf_counter() - started
for name, model in (("cosine", CosineRecommender(K=100)), ("bm25", BM25Recommender(K=100))):
    started = time.perf_counter()
    model.fit(matrix, show_progress=False)
    out[name] = time.perf_counter() - started
print("STATS " + json.dumps(out))
"""


def store(size: int, folder: Path, flat: bool = False) -> tuple[Path, Path]:
    if size == 5000 and not flat:
        return ROOT / "data" / "products.csv", ROOT / "data" / "interactions.csv"
    users, interactions = STORES.get(size, (2 * size, 50 * size))
    if flat:
        users, interactions = 2 * size, 85 * size
    target = folder / f"store-{size}{'-flat' if flat else ''}"
    if not (target / "interactions.csv").exists():
        print(f"generating {size} products, {users} users, {interactions} rows ...", file=sys.stderr)
        generator = [sys.executable, str(ROOT / "data" / "generate_demo.py")]
        sizes = ["--products", str(size), "--users", str(users), "--interactions", str(interactions)]
        subprocess.run([*generator, *sizes, *(FLAT if flat else []), "--out", str(target)], check=True)
    return target / "products.csv", target / "interactions.csv"


def run(code: str) -> dict[str, float]:
    """Run code in a fresh process (its log goes to stderr as it comes); its STATS line, and the
    peak memory of it and its children together."""
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen([sys.executable, "-c", code], stdout=out, cwd=ROOT, text=True)
        with PeakSampler(process.pid) as memory:
            process.wait()
        out.seek(0)
        stdout = out.read()
    line = next((x for x in stdout.splitlines() if x.startswith("STATS ")), None)
    if line is None:
        raise SystemExit(f"benchmark step failed (exit {process.returncode}):\n{stdout[-2000:]}")
    return {**json.loads(line[6:]), "peak_gb": memory.peak}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="5000,100000")
    parser.add_argument("--stores", type=Path, default=Path(tempfile.gettempdir()) / "recsys-bench")
    parser.add_argument("--no-versus", action="store_true", help="skip the implicit comparison")
    parser.add_argument("--flat", action="store_true", help="stores with a flatter popularity curve")
    args = parser.parse_args()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        products, interactions = store(size, args.stores, args.flat)
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            build = run(
                BUILD.format(root=str(ROOT), products=str(products), interactions=str(interactions), out=out)
            )
            print(f"{size}: built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        versus = {} if args.no_versus else run(
            VERSUS.format(root=str(ROOT), products=str(products), interactions=str(interactions))
        )  # fmt: skip
        rows.append((size, build, versus))

    head = [
        "products",
        "build s",
        "peak GB (all processes)",
        "collaborative fit s",
        "its cosine pass alone s",
        "implicit cosine fit s",
        "implicit BM25 fit s",
    ]
    print("\n| " + " | ".join(head) + " |")
    print("|---|---|---|---|---|---|---|")
    for size, build, versus in rows:
        fits = [f"{versus[k]:.1f}" if k in versus else "-" for k in ("ours", "pass", "cosine", "bm25")]
        print(f"| {size:,} | {build['seconds']:.1f} | {build['peak_gb']:.2f} | " + " | ".join(fits) + " |")


if __name__ == "__main__":
    main()
