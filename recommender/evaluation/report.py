"""The evaluation's report: tables across cutoffs, the ranker's facts, and a plot of the hybrid weight."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")
IMPORTANCE_ROWS = 12


@dataclass
class Row:
    name: str
    setting: str
    metrics: dict[str, float]
    seconds: float
    group: str = "service"
    extra: dict[str, float] = field(default_factory=dict)


# One evaluation: its rows and the facts of its split (cutoff, users, the ranker...).
Run = tuple[list[Row], dict[str, object]]


def best_baselines(rows: list[Row]) -> list[Row]:
    """Each baseline's best setting by NDCG (the grid is tuned on the test period: generous to them)."""
    best: dict[str, Row] = {}
    for row in rows:
        if row.group == "baseline" and (
            row.name not in best or row.metrics["ndcg"] > best[row.name].metrics["ndcg"]
        ):
            best[row.name] = row
    return list(best.values())


def summary(rows: list[Row]) -> list[Row]:
    """The service at its default settings, and each baseline at its best setting."""
    service = [r for r in rows if r.group == "service" and (r.name != "hybrid" or "default" in r.setting)]
    return service + best_baselines(rows)


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
        values = [_metric(row, m) for m in METRICS]
        new = [str(int(row.metrics.get("new_item_shown", 0))), str(int(row.metrics.get("new_item_hits", 0)))]
        lines.append("| " + " | ".join([row.name, row.setting or "-", *values, *new]) + " |")
    return "\n".join(lines)


def _metric(row: Row, name: str) -> str:
    """The metric; NDCG over several seeds as its mean with the lowest and highest seed's."""
    value = f"{row.metrics[name]:.4f}"
    if name == "ndcg" and row.extra.get("seeds", 1) > 1:
        value += f" [{row.extra['ndcg_min']:.4f}, {row.extra['ndcg_max']:.4f}]"
    return value


def across(runs: list[Run], k: int) -> str:
    """NDCG@k (and new-product hits) of each summary row at every cutoff, side by side."""
    cutoffs = [str(facts["cutoff"]) for _, facts in runs]
    lines = [
        "| model | setting | " + " | ".join(f"NDCG@{k} {c} (new hits)" for c in cutoffs) + " |",
        "|" + "---|" * (2 + len(cutoffs)),
    ]
    keys: list[tuple[str, str]] = []
    cells: dict[tuple[str, str], list[str]] = {}
    for i, (rows, _) in enumerate(runs):
        for row in summary(rows):
            key = (row.name, "best of its grid" if row.group == "baseline" else row.setting or "-")
            if key not in cells:
                keys.append(key)
                cells[key] = ["-"] * len(runs)
            hits = int(row.metrics.get("new_item_hits", 0))
            setting = f" [{row.setting}]" if row.group == "baseline" else ""
            cells[key][i] = f"{_metric(row, 'ndcg')} ({hits}){setting}"
    for key in keys:
        lines.append("| " + " | ".join([*key, *cells[key]]) + " |")
    return "\n".join(lines)


def ranker_section(runs: list[Run]) -> str:
    """How the ranker was chosen at each cutoff, its candidates' recall, and what it relied on."""
    lines = [
        "| cutoff | ranker | objective | held-out NDCG@10 (binary / lambdarank / blend) "
        "| candidates per user | candidate recall |",
        "|---|---|---|---|---|---|",
    ]
    importance: list[tuple[str, dict[str, float]]] = []
    seeded = [
        (f"{facts['cutoff']}" + (f" (seed {seed})" if "ranker_by_seed" in facts else ""), ranker)
        for _, facts in runs
        for seed, ranker in enumerate(facts.get("ranker_by_seed") or [facts["ranker"]])  # type: ignore[arg-type]
    ]
    for cutoff, ranker in seeded:
        report = ranker.get("report", {})
        held = report.get("held_out_ndcg", {})
        figures = " / ".join(
            [*(f"{held[o]:.4f}" if o in held else "-" for o in ("binary", "lambdarank"))]
            + [f"{report['held_out_blend_ndcg']:.4f}" if report else "-"]
        )
        state = "trained" if ranker["trained"] else f"not trained: {ranker['reason']}"
        recall = ranker["candidate_recall"]
        lines.append(
            f"| {cutoff} | {state} | {ranker.get('objective') or '-'} | {figures} "
            f"| {ranker['candidates_per_user'] or '-'} | {'-' if recall is None else f'{recall:.4f}'} |"
        )
        if ranker.get("importance"):
            importance.append((cutoff, ranker["importance"]))
    if importance:
        lines += ["", "Feature importance (share of the total gain), largest first:", ""]
        lines.append("| rank | " + " | ".join(c for c, _ in importance) + " |")
        lines.append("|" + "---|" * (1 + len(importance)))
        for rank in range(IMPORTANCE_ROWS):
            cells = []
            for _, shares in importance:
                name, share = list(shares.items())[rank] if rank < len(shares) else ("-", 0.0)
                cells.append(f"{name} {share:.3f}")
            lines.append(f"| {rank + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: list[Run], path: Path, name: str) -> None:
    """NDCG@K against the hybrid's w_content at each cutoff, with the other rows as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4), squeeze=False)
    for axis, (rows, facts) in zip(axes[0], runs, strict=True):
        hybrid = [r for r in rows if r.name == "hybrid"]
        weights = [float(r.setting.split()[0].split("=")[1]) for r in hybrid]
        ndcg = [r.metrics["ndcg"] for r in hybrid]
        axis.plot(weights, ndcg, marker="o", label="hybrid (last item as context)")
        styles = {"collaborative": "-", "popularity": ":", "content": "-."}
        for row in rows:
            if row.name in styles:
                axis.axhline(row.metrics["ndcg"], linestyle=styles[row.name], color="grey", label=row.name)
        ranked = next((r for r in rows if r.name == "ranked"), None)
        if ranked is not None:
            axis.axhline(ranked.metrics["ndcg"], color="tab:purple", label="ranked")
        for row, colour in zip(best_baselines(rows), ("tab:red", "tab:green"), strict=False):
            label = f"{row.name} ({row.setting})"
            axis.axhline(row.metrics["ndcg"], linestyle="--", color=colour, label=label)
        axis.set_xlabel("w_content (w_cf = 1 - w_content)")
        axis.set_ylabel(f"NDCG@{facts['k']}")
        axis.set_title(f"{name}: cutoff {facts['cutoff']}, {facts['test_users']} test users")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_report(runs: list[Run], out_dir: Path, name: str, command: str) -> Path:
    """reports/<name>.md with the tables of every cutoff, and reports/<name>-hybrid.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    k = int(runs[0][1]["k"])  # type: ignore[call-overload]
    png = out_dir / f"{name}-hybrid.png"
    plot(runs, png, name)
    parts = [
        f"# Evaluation: {name}\n",
        f"Made by `{command}`.\n",
        f"Metrics at K={k}; recommended lists never contain items the user had before the cutoff. "
        "Baselines are at the best setting of their grid, tuned on the test period itself (generous "
        "to them). New hits: recommended products that had no interaction before the cutoff and "
        "that the user then took." + _horizon(runs[0][1].get("horizon_days")) + "\n",
        f"## Across cutoffs\n\n{across(runs, k)}\n",
        f"## The ranker\n\n{ranker_section(runs)}\n",
        f"![NDCG@{k} against the hybrid weight]({png.name})\n",
    ]
    for rows, facts in runs:
        parts.append(
            f"## Cutoff {facts['cutoff']}\n\n"
            f"{facts['products']} products ({facts['new_items']} with no interaction before the cutoff), "
            f"{facts['train_rows']} training rows, {facts['test_users']} test users.\n\n"
            f"{table(summary(rows), k)}\n\n"
            f"<details><summary>All rows</summary>\n\n{table(rows, k)}\n\n</details>\n"
        )
    report = out_dir / f"{name}.md"
    report.write_text("\n".join(parts))
    return report


def _horizon(days: object) -> str:
    """The sentence that says the test period was cut short, if it was."""
    return f" Test period: the {days} days after each cutoff (not the rest of the log)." if days else ""


def replay_table(rows: dict[str, dict[str, dict[str, float]]], owned: dict[str, int], k: int) -> str:
    """Per player: NDCG@k over all baskets and by shopper, launched products' hits, owned answers."""
    head = (
        f"| player | NDCG@{k} all | known shoppers | new shoppers | their first baskets | launched hits "
        "| answers with an owned product |"
    )
    lines = [head, "|---|---|---|---|---|---|---|"]
    for name, segments in rows.items():
        cells = []
        for segment in ("all", "known", "new", "first"):
            figures = segments[segment]
            cell = f"{figures['ndcg']:.4f}"
            if "ndcg_min" in figures:
                cell += f" [{figures['ndcg_min']:.4f}, {figures['ndcg_max']:.4f}]"
            cells.append(f"{cell} ({int(figures['baskets'])})")
        hits = int(segments["all"]["launched_hits"])
        lines.append(f"| {name} | {' | '.join(cells)} | {hits} | {owned[name]} |")
    return "\n".join(lines)


def plot_replay(daily: dict[str, list[float]], cutoff: str, path: Path, name: str, k: int) -> None:
    """Each player's mean NDCG@k per day of the replay."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4))
    for player, curve in daily.items():
        axis.plot(range(1, len(curve) + 1), curve, marker=".", label=player)
    axis.set_xlabel(f"day after {cutoff}")
    axis.set_ylabel(f"NDCG@{k} of the day's baskets")
    axis.set_title(f"{name}: replay from {cutoff}")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_replay_report(runs: list, out_dir: Path, name: str, command: str) -> Path:  # list[ReplayRun]
    """reports/<name>-replay.md with each replay's table, and a plot of its days."""
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [
        f"# Replay: {name}\n",
        f"Made by `{command}`.\n",
        "The service built at the cutoff answers each basket through `GET /recommend/user` before the "
        "basket is posted to `POST /feedback`; products enter the catalog (`PUT /products`) on the day "
        "they were first taken. NDCG is per basket, on the products new to that shopper; the service's "
        "figure is the mean over its ranker seeds, with the lowest and highest seed's in brackets, and "
        "the baskets counted in parentheses. Peers: EASE fitted at the cutoff with each shopper's "
        "events folded in (filled up with popularity), and the best sellers of the 30 days before "
        "each day.\n",
    ]
    for run in runs:
        facts = run.facts
        k = int(facts["k"])
        png = out_dir / f"{name}-replay-{facts['cutoff']}.png"
        plot_replay(run.daily, str(facts["cutoff"]), png, name, k)
        rebuild = f", rebuilt every {facts['rebuild_every']} days" if facts["rebuild_every"] else ""
        parts.append(
            f"## {facts['days']} days from {facts['cutoff']}{rebuild}\n\n"
            f"{facts['products_at_cutoff']} products at the cutoff, {facts['launched']} launched during the "
            f"period; {facts['events']} events; {facts['baskets']} baskets with a product new to the "
            f"shopper ({facts['known_baskets']} by shoppers known at the cutoff, {facts['new_baskets']} by "
            f"new ones, {facts['first_baskets']} of them a new shopper's first).\n\n"
            f"{replay_table(run.rows, run.owned_answers, k)}\n\n"
            f"![NDCG@{k} per day]({png.name})\n"
        )
    report = out_dir / f"{name}-replay.md"
    report.write_text("\n".join(parts))
    return report
