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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from recommender import baselines
from recommender.data_loader import load_catalog, load_interactions
from recommender.metrics import ranking_metrics, temporal_split
from recommender.service import ModelSettings, Recommendation, Recommender

HYBRID_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
EASE_GRID = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
BM25_GRID = (20, 50, 100, 200, 400)
METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")


@dataclass
class Row:
    name: str
    setting: str
    metrics: dict[str, float]
    seconds: float
    group: str = "service"
    extra: dict[str, float] = field(default_factory=dict)


def evaluate(
    products_csv: str | Path,
    interactions_csv: str | Path,
    cutoff: str,
    k: int = 10,
    settings: ModelSettings | None = None,
    hybrid_weights: Sequence[float] = HYBRID_WEIGHTS,
    baselines_on: bool = True,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> tuple[list[Row], dict[str, object]]:
    """Every row of the comparison, and facts about the split."""
    settings = settings or ModelSettings()
    catalog = load_catalog(products_csv)
    interactions = load_interactions(interactions_csv, catalog, settings.interaction_weights.keys())
    split = temporal_split(interactions, pd.Timestamp(cutoff), len(catalog))
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
        "k": k,
        "ranker": ranker_facts(model, users, [split.truth[u] for u in users]),
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
            for lam in EASE_GRID:
                runs.append(
                    ("ease", f"lambda={lam:g}", "baseline", _batch(baselines.ease, binary, rows_of, k, lam))
                )
        else:
            progress(f"EASE skipped: {len(catalog)} items is more than {baselines.EASE_MAX_ITEMS}")

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
    rows = np.array([model.history.user_index[u] for u in users], np.int64)
    candidates, _ = ranked.candidates(model.history.matrix, model.history.last_item, rows)
    n_items = len(model.catalog)
    wanted = np.concatenate([i * n_items + t.astype(np.int64) for i, t in enumerate(truth)])
    found = np.isin(wanted, candidates.rows * n_items + candidates.items)
    facts: dict[str, object] = {
        "trained": ranked.trained,
        "reason": ranked.reason,
        "candidate_recall": round(float(found.mean()), 4) if len(found) else 0.0,
        "candidates_per_user": round(len(candidates) / max(len(users), 1), 1),
    }
    if ranked.ranker is not None:
        facts["objective"] = ranked.ranker.objective
        facts["report"] = ranked.ranker.report
        facts["importance"] = ranked.ranker.importance()
    return facts


def _batch(make, matrix, rows_of, k, setting) -> Callable[[], list[NDArray[np.int32]]]:  # type: ignore[no-untyped-def]
    return lambda: make(matrix, setting)(rows_of, k)


def best_baselines(rows: list[Row]) -> list[Row]:
    """Each baseline's best setting by NDCG (the grid is tuned on the test period: generous to them)."""
    best: dict[str, Row] = {}
    for row in rows:
        if row.group == "baseline" and (
            row.name not in best or row.metrics["ndcg"] > best[row.name].metrics["ndcg"]
        ):
            best[row.name] = row
    return list(best.values())


def table(rows: list[Row], k: int) -> str:
    """A markdown table of the rows."""
    head = [
        "model",
        "setting",
        *(f"{m}@{k}" if m != "coverage" else m for m in METRICS),
        "new shown",
        "new hits",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        values = [f"{row.metrics[m]:.4f}" for m in METRICS]
        new = [str(int(row.metrics.get("new_item_shown", 0))), str(int(row.metrics.get("new_item_hits", 0)))]
        lines.append("| " + " | ".join([row.name, row.setting or "-", *values, *new]) + " |")
    return "\n".join(lines)


def write_report(rows: list[Row], facts: dict[str, object], out_dir: Path, name: str, command: str) -> Path:
    """reports/<name>.md with the tables, and reports/<name>-hybrid.png: NDCG@K against w_content."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = int(facts["k"])  # type: ignore[call-overload]
    out_dir.mkdir(parents=True, exist_ok=True)
    hybrid = [r for r in rows if r.name == "hybrid"]
    weights = [float(r.setting.split()[0].split("=")[1]) for r in hybrid]
    figure, axis = plt.subplots(figsize=(7, 4))
    axis.plot(weights, [r.metrics["ndcg"] for r in hybrid], marker="o", label="hybrid (last item as context)")
    styles = {"collaborative": "-", "popularity": ":", "content": "-."}
    for row in rows:
        if row.name in styles:
            axis.axhline(row.metrics["ndcg"], linestyle=styles[row.name], color="grey", label=row.name)
    for row, colour in zip(best_baselines(rows), ("tab:red", "tab:green"), strict=False):
        axis.axhline(row.metrics["ndcg"], linestyle="--", color=colour, label=f"{row.name} ({row.setting})")
    axis.set_xlabel("w_content (w_cf = 1 - w_content)")
    axis.set_ylabel(f"NDCG@{k}")
    axis.set_title(f"{name}: {facts['test_users']} test users, cutoff {facts['cutoff']}")
    axis.legend(fontsize=8)
    figure.tight_layout()
    png = out_dir / f"{name}-hybrid.png"
    figure.savefig(png, dpi=100)
    plt.close(figure)

    summary = [r for r in rows if r.group == "service" and (r.name != "hybrid" or "default" in r.setting)]
    report = out_dir / f"{name}.md"
    report.write_text(
        f"# Evaluation: {name}\n\n"
        f"Made by `{command}`.\n\n"
        f"{facts['products']} products ({facts['new_items']} with no interaction before the cutoff), "
        f"{facts['train_rows']} training rows before {facts['cutoff']}, {facts['test_users']} test users. "
        f"Metrics at K={k}; recommended lists never contain items the user had before the cutoff.\n\n"
        "## Summary (the service at its default settings, and each baseline at its best setting)\n\n"
        f"{table(summary + best_baselines(rows), k)}\n\n"
        f"![NDCG@{k} against the hybrid weight]({png.name})\n\n"
        f"## All rows\n\n{table(rows, k)}\n"
    )
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", required=True)
    parser.add_argument("--interactions", required=True)
    parser.add_argument("--cutoff", required=True, help="YYYY-MM-DD: train before, test from then on")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write every row to this file")
    parser.add_argument("--report-dir", type=Path, default=Path("reports"))
    parser.add_argument("--name", help="report name (default: the products file's folder)")
    parser.add_argument("--no-baselines", action="store_true", help="skip BM25 item-KNN and EASE")
    args = parser.parse_args(argv)

    rows, facts = evaluate(
        args.products, args.interactions, args.cutoff, args.k, baselines_on=not args.no_baselines
    )
    print(table(rows, args.k))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"facts": facts, "rows": [vars(r) for r in rows]}, indent=2))
    name = args.name or Path(args.products).resolve().parent.name
    command = "python -m recommender.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"report: {write_report(rows, facts, args.report_dir, name, command)}", file=sys.stderr)


if __name__ == "__main__":
    main()
