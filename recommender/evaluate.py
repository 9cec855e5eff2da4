"""Offline evaluation of the served models against standard baselines, on a temporal split.

    python -m recommender.evaluate --products P.csv --interactions I.csv --cutoff 2011-06-01 --k 10

Trains on interactions before the cutoff and asks, for every user who had history before it and
took new items after it, for k items they do not have yet. The rows named `popularity`, `content`,
`collaborative` and `hybrid` call the same Recommender methods the routes call; the hybrid rows
pass the user's latest item before the cutoff as product_id (the context of a product page).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recommender.data.data_loader import load_catalog, load_interactions
from recommender.evaluation import baselines
from recommender.evaluation.metrics import ranking_metrics, temporal_split
from recommender.evaluation.replay import replay
from recommender.evaluation.report import Row, Run, replay_table, table, write_replay_report, write_report
from recommender.serving.service import ModelSettings, Recommendation, Recommender

HYBRID_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
EASE_GRID = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
EASE_LARGE_LAMBDA = 500.0  # over EASE_MAX_ITEMS products: one fit, where the grids above are flat
BM25_GRID = (20, 50, 100, 200, 400)


def evaluate(
    products_csv: str | Path,
    interactions_csv: str | Path,
    cutoff: str,
    k: int = 10,
    settings: ModelSettings | None = None,
    hybrid_weights: Sequence[float] = HYBRID_WEIGHTS,
    baselines_on: bool = True,
    horizon_days: int | None = None,
    ease_grid: Sequence[float] = EASE_GRID,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> tuple[list[Row], dict[str, object]]:
    """Every row of the comparison, and facts about the split (EASE is tried at each lambda of
    `ease_grid` on catalogs up to EASE_MAX_ITEMS products)."""
    settings = settings or ModelSettings()
    catalog = load_catalog(products_csv)
    interactions = load_interactions(interactions_csv, catalog, settings.interaction_weights.keys())
    split = temporal_split(interactions, pd.Timestamp(cutoff), len(catalog), horizon_days)
    if not split.truth:
        raise SystemExit(f"no test users: nobody with history before {cutoff} took a new item after it")
    started = time.perf_counter()
    model = Recommender.fit(catalog, split.train, settings, version=f"train<{cutoff}")
    history = model.history
    progress(
        f"built the service's models on {len(split.train)} rows in {time.perf_counter() - started:.1f} s"
    )
    users = list(split.truth)
    facts: dict[str, object] = {
        "products": len(catalog),
        "train_rows": len(split.train),
        "test_users": len(users),
        "new_items": int(split.new_items.sum()),
        "cutoff": cutoff,
        "horizon_days": horizon_days,
        "k": k,
        "ranker": ranker_facts(model, users, [split.truth[u] for u in users]),
        "default": model.user_strategy,
    }

    def served(call: Callable[[str], list[Recommendation]]) -> list[NDArray[np.int32]]:
        return [np.array([catalog.index[r.product_id] for r in call(u)], dtype=np.int32) for u in users]

    runs: list[tuple[str, str, str, Callable[[], list[NDArray[np.int32]]]]] = [
        ("popularity", "", "service", lambda: served(lambda u: model.by_strategy("popularity", u, None, k))),
        ("content", "user profile", "service", lambda: served(lambda u: model.content_for(u, None, k))),
        (
            "collaborative",
            "item-item regression",
            "service",
            lambda: served(lambda u: model.by_strategy("collaborative", u, None, k)),
        ),
    ]
    last_item = {u: catalog.product_ids[history.last_item_of(u)] for u in users}
    for w in hybrid_weights:
        default = np.isclose([w, 1 - w], [settings.w_content, settings.w_cf]).all()
        runs.append(
            (
                "hybrid",
                f"w_content={w:g} w_cf={1 - w:g}" + (" (default)" if default else ""),
                "service",
                lambda w=w: served(lambda u: model.hybrid(u, last_item[u], k, w_content=w, w_cf=1 - w)),
            )
        )
    runs += [
        (
            "default",
            "/recommend/user as served",  # (which strategy that is: the facts' "default")
            "service",
            lambda: served(lambda u: model.by_strategy(model.user_strategy, u, None, k)),
        ),
        ("ranked", "/recommend/user", "service", lambda: served(lambda u: model.ranked_for(u, None, k))),
        (
            "ranked",
            "last item as product_id",
            "service",
            lambda: served(lambda u: model.ranked_for(u, last_item[u], k)),
        ),
    ]
    if baselines_on:
        rows_of = np.array([history.user_index[u] for u in users])
        binary = history.matrix.copy()
        binary.data[:] = 1.0
        for neighbours in BM25_GRID:
            runs.append(
                (
                    "bm25 item-knn",
                    f"K={neighbours}",
                    "baseline",
                    _batch(baselines.bm25_item_knn, binary, rows_of, k, neighbours),
                )
            )
        if len(catalog) <= baselines.EASE_MAX_ITEMS:
            for lam in ease_grid:
                runs.append(
                    ("ease", f"lambda={lam:g}", "baseline", _batch(baselines.ease, binary, rows_of, k, lam))
                )
        else:  # one fit: a dense inverse of 20,000 products takes minutes
            setting = f"lambda={EASE_LARGE_LAMBDA:g}, the {baselines.EASE_MAX_ITEMS} most taken products"
            scorer = lambda: baselines.ease_on_most_taken(binary, EASE_LARGE_LAMBDA)  # noqa: E731
            runs.append(("ease", setting, "baseline", lambda: scorer()(rows_of, k)))

    rows = []
    truth = [split.truth[u] for u in users]
    for i, (name, setting, group, run) in enumerate(runs, 1):
        started = time.perf_counter()
        recommended = run()
        metrics = ranking_metrics(recommended, truth, k, len(catalog), split.new_items)
        rows.append(Row(name, setting, metrics, time.perf_counter() - started, group))
        progress(
            f"[{i}/{len(runs)}] {name} {setting}: ndcg@{k} {metrics['ndcg']:.4f} ({rows[-1].seconds:.1f} s)"
        )
    return rows, facts


def ranker_facts(model: Recommender, users: list[str], truth: list[NDArray[np.int32]]) -> dict[str, object]:
    """Whether a ranker was trained (and why not), its candidates' recall of the truth, feature importance."""
    ranked = model.ranked
    if ranked is None:
        return {
            "trained": False,
            "reason": model.ranker_reason,
            "candidate_recall": None,
            "candidates_per_user": None,
        }
    rows = np.array([model.history.user_index[u] for u in users], np.int64)
    candidates, _ = ranked.candidates(model.history.matrix, model.history.last_item, rows)
    n_items = len(model.catalog)
    wanted = np.concatenate([i * n_items + t.astype(np.int64) for i, t in enumerate(truth)])
    found = np.isin(wanted, candidates.rows * n_items + candidates.items)
    facts: dict[str, object] = {
        "trained": True,
        "reason": model.ranker_reason,
        "candidate_recall": round(float(found.mean()), 4) if len(found) else 0.0,
        "candidates_per_user": round(len(candidates) / max(len(users), 1), 1),
    }
    facts["objective"] = ranked.ranker.objective
    facts["report"] = ranked.ranker.report
    facts["importance"] = ranked.ranker.importance()
    return facts


def mean_of_seeds(seeded: list[tuple[list[Row], dict[str, object]]]) -> tuple[list[Row], dict[str, object]]:
    """The rows of several seeds as one: each metric's mean over the seeds that have the row (the
    baselines are run once), with NDCG's lowest and highest in `extra`; the first seed's facts,
    with every seed's NDCG of the ranked rows."""
    if len(seeded) == 1:
        return seeded[0]
    first, facts = seeded[0]
    merged = []
    for row in first:
        same = [r for rows, _ in seeded for r in rows if (r.name, r.setting) == (row.name, row.setting)]
        metrics = {m: float(np.mean([r.metrics[m] for r in same])) for m in row.metrics}
        ndcgs = [r.metrics["ndcg"] for r in same]
        extra = {"ndcg_min": min(ndcgs), "ndcg_max": max(ndcgs), "seeds": len(same)}
        seconds = float(np.mean([r.seconds for r in same]))
        merged.append(Row(row.name, row.setting, metrics, seconds, row.group, extra))
    facts = {
        **facts,
        "seeds": len(seeded),
        "default_by_seed": [seed_facts.get("default") for _, seed_facts in seeded],
        "ranker_by_seed": [seed_facts["ranker"] for _, seed_facts in seeded],
        "ranked_ndcg_by_seed": {
            row.setting: [
                r.metrics["ndcg"]
                for rows, _ in seeded
                for r in rows
                if r.name == row.name == "ranked" and r.setting == row.setting
            ]
            for row in first
            if row.name == "ranked"
        },
    }
    return merged, facts


def _batch(make, matrix, rows_of, k, setting) -> Callable[[], list[NDArray[np.int32]]]:  # type: ignore[no-untyped-def]
    return lambda: make(matrix, setting)(rows_of, k)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", required=True)
    parser.add_argument("--interactions", required=True)
    parser.add_argument(
        "--cutoff", required=True, help="YYYY-MM-DD: train before, test from then on (several: a,b,c)"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write every row to this file")
    parser.add_argument("--report-dir", type=Path, default=Path("reports"))
    parser.add_argument("--name", help="report name (default: the products file's folder)")
    parser.add_argument("--no-baselines", action="store_true", help="skip BM25 item-KNN and EASE")
    parser.add_argument(
        "--horizon",
        type=int,
        metavar="DAYS",
        help="test on what users took within DAYS of the cutoff (default: all after it)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        metavar="N",
        help="train the ranker with seeds 0..N-1 and report the mean (and the spread) of each row",
    )
    parser.add_argument(
        "--replay",
        type=int,
        metavar="DAYS",
        help="replay DAYS days from each cutoff through the service, day by day, against peers",
    )
    parser.add_argument(
        "--rebuild-every",
        type=int,
        metavar="DAYS",
        help="with --replay: rebuild the service's models every DAYS days (default: never)",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.replay is not None and args.replay < 1:
        parser.error("--replay must be at least 1 day")
    if args.rebuild_every is not None and (args.replay is None or args.rebuild_every < 1):
        parser.error("--rebuild-every needs --replay and at least 1 day")
    cutoffs = [c.strip() for c in args.cutoff.split(",") if c.strip()]
    name = args.name or Path(args.products).resolve().parent.name
    command = "python -m recommender.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.replay is not None:
        replays = [
            replay(
                args.products,
                args.interactions,
                cutoff,
                args.replay,
                args.k,
                seeds=args.seeds,
                rebuild_every=args.rebuild_every,
                peers=not args.no_baselines,
            )
            for cutoff in cutoffs
        ]
        for run in replays:
            print(f"replay from {run.facts['cutoff']}\n{replay_table(run.rows, run.owned_answers, args.k)}\n")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"replays": [vars(run) for run in replays]}, indent=2))
        print(f"report: {write_replay_report(replays, args.report_dir, name, command)}", file=sys.stderr)
        return

    runs: list[Run] = []
    for cutoff in cutoffs:
        seeded = [
            evaluate(
                args.products,
                args.interactions,
                cutoff,
                args.k,
                settings=ModelSettings(ranker_seed=seed),
                baselines_on=not args.no_baselines and seed == 0,  # baselines have no seed
                horizon_days=args.horizon,
            )
            for seed in range(args.seeds)
        ]
        rows, facts = mean_of_seeds(seeded)
        print(f"cutoff {cutoff}\n{table(rows, args.k)}\n")
        runs.append((rows, facts))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        cutoffs = [{"facts": facts, "rows": [vars(r) for r in rows]} for rows, facts in runs]
        args.json.write_text(json.dumps({"cutoffs": cutoffs}, indent=2))
    print(f"report: {write_report(runs, args.report_dir, name, command)}", file=sys.stderr)


if __name__ == "__main__":
    main()
